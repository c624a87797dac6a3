/**
 * Copies of received payloads, carved from shared slabs. A frame's bytes are only valid during
 * the netif's callback, so a payload handed to the application must be copied; one ArrayBuffer
 * per small copy is most of that cost (measured: ≈1.3 µs for a 1472-byte datagram against
 * ≈0.17 µs from a slab). A slab is never reused once carved, so every copy stays valid for as long
 * as the application holds it; the price, as with Node's own Buffer pool, is that a small retained
 * copy keeps its slab alive.
 */
const SLAB_SIZE = 64 * 1024;
/** Copies larger than this get their own buffer, so one slab holds at least eight of them. */
const MAX_POOLED = SLAB_SIZE / 8;

export class SlabAllocator {
  private slab = new Uint8Array(SLAB_SIZE);
  private used = 0;

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
    // Keep copies 8-byte aligned so that typed-array views over them stay cheap.
    this.used += (length + 7) & ~7;
    return out;
  }
}
