/**
 * UDP datagrams (RFC 768). The checksum covers a pseudo-header (addresses, protocol, UDP length),
 * the header and the payload. Over IPv4 a zero checksum means "none" and is accepted unverified;
 * a computed checksum of zero is sent as 0xffff. Over IPv6 the checksum is mandatory (RFC 8200).
 */
import type { IpAddress, Result } from "@mirage-ts/runtime";
import { get16, placePayload, set16 } from "../bytes.ts";
import { checksumValid, internetChecksum, pseudoHeaderSum } from "../checksum.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";
import { IpProtocol } from "../ipv4/wire.ts";

export const UDP_HEADER_LEN = 8;

/** Field access over a UDP header at `offset`; no validation, bounds-safe. */
export class UdpView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  srcPort(): number {
    return get16(this.bytes, this.offset);
  }
  dstPort(): number {
    return get16(this.bytes, this.offset + 2);
  }
  length(): number {
    return get16(this.bytes, this.offset + 4);
  }
  checksum(): number {
    return get16(this.bytes, this.offset + 6);
  }
  payload(): Uint8Array {
    const start = Math.min(this.offset + UDP_HEADER_LEN, this.bytes.length);
    const end = Math.min(this.offset + this.length(), this.bytes.length);
    return this.bytes.subarray(start, Math.max(start, end));
  }
  setSrcPort(value: number): void {
    set16(this.bytes, this.offset, value);
  }
  setDstPort(value: number): void {
    set16(this.bytes, this.offset + 2, value);
  }
}

export interface UdpPacket {
  srcPort: number;
  dstPort: number;
  /** A subarray of the parsed bytes, up to the UDP length (IP padding excluded). */
  payload: Uint8Array;
}

/**
 * Parses a UDP datagram (the whole IP payload) sent from `src` to `dst`, verifying the checksum
 * when present (always over IPv6).
 */
export function parseUdp(bytes: Uint8Array, src: IpAddress, dst: IpAddress): Result<UdpPacket, DecodeError> {
  if (bytes.length < UDP_HEADER_LEN) {
    return decodeError("udp", "truncated", `a UDP header needs ${UDP_HEADER_LEN} bytes, got ${bytes.length}`);
  }
  const view = new UdpView(bytes);
  const length = view.length();
  if (length < UDP_HEADER_LEN) return decodeError("udp", "bad-length", `UDP length ${length} is below 8`);
  if (length > bytes.length) return decodeError("udp", "truncated", `UDP length ${length} but only ${bytes.length} bytes present`);
  const checksum = view.checksum();
  if (checksum === 0) {
    if (src.family === 6 || dst.family === 6) return decodeError("udp", "bad-checksum", "UDP over IPv6 without a checksum");
  } else if (!checksumValid(bytes, 0, length, pseudoHeaderSum(src, dst, IpProtocol.udp, length))) {
    return decodeError("udp", "bad-checksum", `UDP checksum 0x${checksum.toString(16)} is wrong`);
  }
  return { ok: true, value: { srcPort: view.srcPort(), dstPort: view.dstPort(), payload: bytes.subarray(UDP_HEADER_LEN, length) } };
}

/** The length `emitUdp` writes. */
export function udpLength(packet: UdpPacket): number {
  return UDP_HEADER_LEN + packet.payload.length;
}

/**
 * Writes the datagram at `into[offset..]` with its checksum over the pseudo-header of `src` and
 * `dst` (left 0 when `checksum` is false, IPv4 only) and returns its length. The payload is
 * copied unless already in place. Throws RangeError when `into` is too small or the datagram
 * exceeds 65535 bytes.
 */
export function emitUdp(packet: UdpPacket, into: Uint8Array, offset: number, src: IpAddress, dst: IpAddress, checksum = true): number {
  const length = udpLength(packet);
  if (length > 0xffff) throw new RangeError(`a UDP datagram of ${length} bytes exceeds 65535`);
  if (offset + length > into.length) throw new RangeError(`emitUdp needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  set16(into, offset, packet.srcPort);
  set16(into, offset + 2, packet.dstPort);
  set16(into, offset + 4, length);
  set16(into, offset + 6, 0);
  placePayload(into, offset + UDP_HEADER_LEN, packet.payload);
  if (checksum || src.family === 6 || dst.family === 6) {
    const sum = internetChecksum(into, offset, length, pseudoHeaderSum(src, dst, IpProtocol.udp, length));
    set16(into, offset + 6, sum === 0 ? 0xffff : sum);
  }
  return length;
}
