/**
 * Copies of received payloads, carved from shared slabs. A frame's bytes are only valid during
 * the netif's callback, so a payload handed to the application must be copied; one ArrayBuffer
 * per small copy is most of that cost (measured: ≈1.3 µs for a 1472-byte datagram against
 * ≈0.17 µs from a slab). A slab is never reused once carved, so every copy stays valid for as long
 * as the application holds it; the price, as with Node's own Buffer pool, is that a small retained
 * copy keeps its slab alive.
 *
 * TCP copies each in-order segment's payload after the previous one (`copyAfter`): while the
 * reader has not taken the chunk yet, consecutive segments grow one chunk in place, so a bulk
 * receiver reads a few large chunks per batch instead of one per segment, and no segment costs
 * an ArrayBuffer of its own.
 */
const SLAB_SIZE = 64 * 1024;
/** Copies larger than this get their own buffer, so one slab holds at least eight of them. */
const MAX_POOLED = SLAB_SIZE / 8;

export class SlabAllocator {
  private slab = new Uint8Array(SLAB_SIZE);
  private used = 0;
  /** Where the latest copy carved from the current slab ends (unaligned); -1 when none was. */
  private lastEnd = -1;

  /** A fresh copy of `bytes[start, end)`. */
  copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
    const length = end - start;
    if (length > MAX_POOLED) return bytes.slice(start, end);
    if (this.used + length > SLAB_SIZE) {
      this.slab = new Uint8Array(SLAB_SIZE);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + length);
    out.set(bytes.subarray(start, end));
    this.lastEnd = this.used + length;
    // Keep copies 8-byte aligned so that typed-array views over them stay cheap.
    this.used += (length + 7) & ~7;
    return out;
  }

  /**
   * A copy of `bytes[start, end)` placed right after `previous` when that is still possible:
   * `previous` is the latest copy made here (or a chunk grown from it) and the slab has room.
   * Then the result is `previous` and the new bytes as one view (the caller replaces `previous`
   * by it); otherwise it is a fresh copy of the new bytes alone. `previous` itself is unchanged.
   */
  copyAfter(previous: Uint8Array | undefined, bytes: Uint8Array, start: number, end: number): Uint8Array {
    const length = end - start;
    if (
      previous !== undefined &&
      previous.buffer === this.slab.buffer &&
      previous.byteOffset + previous.length === this.lastEnd &&
      this.lastEnd + length <= SLAB_SIZE
    ) {
      this.slab.set(bytes.subarray(start, end), this.lastEnd);
      this.lastEnd += length;
      this.used = (this.lastEnd + 7) & ~7;
      return new Uint8Array(this.slab.buffer, previous.byteOffset, previous.length + length);
    }
    return this.copy(bytes, start, end);
  }
}
