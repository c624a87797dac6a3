/**
 * The fields ICMPv4 and ICMPv6 share (RFC 792, RFC 4443): type, code, checksum, and the
 * "rest of header" word that echo splits into identifier and sequence. Each protocol's view
 * extends this with its own checksum rule (ICMPv6 covers a pseudo-header).
 */
import { get16, get32 } from "./bytes.ts";

/** The fixed part of every ICMP message, both families: type, code, checksum, 4 more bytes. */
export const ICMP_HEADER_LEN = 8;

/** Field access over an ICMP message at `offset`; no validation, bounds-safe. */
export class IcmpView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  type(): number {
    return this.bytes[this.offset] ?? 0;
  }
  code(): number {
    return this.bytes[this.offset + 1] ?? 0;
  }
  checksum(): number {
    return get16(this.bytes, this.offset + 2);
  }
  /** Echo identifier (bytes 4-5). */
  identifier(): number {
    return get16(this.bytes, this.offset + 4);
  }
  /** Echo sequence number (bytes 6-7). */
  sequence(): number {
    return get16(this.bytes, this.offset + 6);
  }
  /** Bytes 4-7: the next-hop or packet-too-big MTU, the parameter-problem pointer, the echo fields. */
  restOfHeader(): number {
    return get32(this.bytes, this.offset + 4);
  }
  body(): Uint8Array {
    return this.bytes.subarray(Math.min(this.offset + ICMP_HEADER_LEN, this.bytes.length));
  }
  setType(value: number): void {
    if (this.offset < this.bytes.length) this.bytes[this.offset] = value;
  }
}
