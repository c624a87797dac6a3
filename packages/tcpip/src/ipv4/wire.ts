/**
 * IPv4 headers (RFC 791). Parsing verifies version, IHL, total length and the header checksum;
 * options are skipped (their length is honoured); bytes past the total length (Ethernet padding)
 * are not part of the payload. Emitting writes a 20-byte header without options.
 */
import { Ipv4Address, type Result } from "@mirage-ts/runtime";
import { get16, get32, placePayload, set16, set32 } from "../bytes.ts";
import { checksumValid, internetChecksum } from "../checksum.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";

export const IPV4_HEADER_LEN = 20;
/** The largest IPv4 datagram (the total length field is 16 bits). */
export const IPV4_MAX_PACKET_LEN = 65535;

export const IpProtocol = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 } as const;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

/** Field access over an IPv4 header at `offset`; no validation, bounds-safe. */
export class Ipv4View {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  version(): number {
    return (this.bytes[this.offset] ?? 0) >> 4;
  }
  /** IHL in bytes. */
  headerLength(): number {
    return ((this.bytes[this.offset] ?? 0) & 0x0f) * 4;
  }
  /** The whole TOS byte: DSCP << 2 | ECN. */
  tos(): number {
    return this.bytes[this.offset + 1] ?? 0;
  }
  totalLength(): number {
    return get16(this.bytes, this.offset + 2);
  }
  identification(): number {
    return get16(this.bytes, this.offset + 4);
  }
  dontFragment(): boolean {
    return (get16(this.bytes, this.offset + 6) & FLAG_DF) !== 0;
  }
  moreFragments(): boolean {
    return (get16(this.bytes, this.offset + 6) & FLAG_MF) !== 0;
  }
  /** The fragment offset in bytes (the field counts 8-byte units). */
  fragmentOffset(): number {
    return (get16(this.bytes, this.offset + 6) & OFFSET_MASK) * 8;
  }
  ttl(): number {
    return this.bytes[this.offset + 8] ?? 0;
  }
  protocol(): number {
    return this.bytes[this.offset + 9] ?? 0;
  }
  checksum(): number {
    return get16(this.bytes, this.offset + 10);
  }
  /** The source address as a 32-bit integer (no allocation). */
  srcValue(): number {
    return get32(this.bytes, this.offset + 12);
  }
  dstValue(): number {
    return get32(this.bytes, this.offset + 16);
  }
  src(): Ipv4Address {
    return Ipv4Address.ofInt(this.srcValue());
  }
  dst(): Ipv4Address {
    return Ipv4Address.ofInt(this.dstValue());
  }
  /** The header checksum is correct over IHL bytes. */
  checksumValid(): boolean {
    return checksumValid(this.bytes, this.offset, this.headerLength());
  }
  /** The bytes from IHL to the total length, clamped to the buffer. */
  payload(): Uint8Array {
    const start = Math.min(this.offset + this.headerLength(), this.bytes.length);
    const end = Math.min(this.offset + this.totalLength(), this.bytes.length);
    return this.bytes.subarray(start, Math.max(start, end));
  }
  setTtl(value: number): void {
    if (this.offset + 8 < this.bytes.length) this.bytes[this.offset + 8] = value;
  }
  setSrcValue(value: number): void {
    set32(this.bytes, this.offset + 12, value);
  }
  setDstValue(value: number): void {
    set32(this.bytes, this.offset + 16, value);
  }
  /** Recomputes the header checksum after fields were changed in place. */
  fillChecksum(): void {
    set16(this.bytes, this.offset + 10, 0);
    set16(this.bytes, this.offset + 10, internetChecksum(this.bytes, this.offset, this.headerLength()));
  }
}

/** What emitIpv4 writes. */
export interface Ipv4Packet {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  ttl: number;
  /** DSCP << 2 | ECN. */
  tos: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In bytes; a multiple of 8. */
  fragmentOffset: number;
  payload: Uint8Array;
}

/** What parseIpv4 returns: the packet plus the received header's length and options. */
export interface ParsedIpv4Packet extends Ipv4Packet {
  headerLength: number;
  /** The option bytes, skipped by this stack (a subarray). */
  options: Uint8Array;
}

export function parseIpv4(bytes: Uint8Array): Result<ParsedIpv4Packet, DecodeError> {
  if (bytes.length < IPV4_HEADER_LEN) {
    return decodeError("ipv4", "truncated", `an IPv4 header needs ${IPV4_HEADER_LEN} bytes, got ${bytes.length}`);
  }
  const view = new Ipv4View(bytes);
  const version = view.version();
  if (version !== 4) return decodeError("ipv4", "bad-version", `IP version ${version} in an IPv4 packet`);
  const headerLength = view.headerLength();
  if (headerLength < IPV4_HEADER_LEN) return decodeError("ipv4", "bad-header-length", `IHL ${headerLength / 4} is below 5`);
  if (headerLength > bytes.length) {
    return decodeError("ipv4", "truncated", `IHL says ${headerLength} header bytes, only ${bytes.length} present`);
  }
  const totalLength = view.totalLength();
  if (totalLength < headerLength) {
    return decodeError("ipv4", "bad-length", `total length ${totalLength} is below the header length ${headerLength}`);
  }
  if (totalLength > bytes.length) {
    return decodeError("ipv4", "truncated", `total length ${totalLength} but only ${bytes.length} bytes present`);
  }
  if (!view.checksumValid()) return decodeError("ipv4", "bad-checksum", `header checksum 0x${view.checksum().toString(16)} is wrong`);
  const fragmentOffset = view.fragmentOffset();
  const payloadLength = totalLength - headerLength;
  if (fragmentOffset + payloadLength > IPV4_MAX_PACKET_LEN) {
    return decodeError("ipv4", "bad-field", `fragment at offset ${fragmentOffset} with ${payloadLength} bytes ends past 65535`);
  }
  return {
    ok: true,
    value: {
      src: view.src(),
      dst: view.dst(),
      protocol: view.protocol(),
      ttl: view.ttl(),
      tos: view.tos(),
      identification: view.identification(),
      dontFragment: view.dontFragment(),
      moreFragments: view.moreFragments(),
      fragmentOffset,
      payload: bytes.subarray(headerLength, totalLength),
      headerLength,
      options: bytes.subarray(IPV4_HEADER_LEN, headerLength),
    },
  };
}

/** True when the packet is a fragment (more to come, or not the first piece). */
export function isFragment(packet: Pick<Ipv4Packet, "moreFragments" | "fragmentOffset">): boolean {
  return packet.moreFragments || packet.fragmentOffset !== 0;
}

/** The length `emitIpv4` writes. */
export function ipv4Length(packet: Ipv4Packet): number {
  return IPV4_HEADER_LEN + packet.payload.length;
}

/**
 * Writes a 20-byte header (no options) and the payload at `into[offset..]`, computing the header
 * checksum; returns the packet length. The payload is copied unless already in place right after
 * the header. Throws RangeError when `into` is too small or the packet exceeds 65535 bytes.
 */
export function emitIpv4(packet: Ipv4Packet, into: Uint8Array, offset = 0): number {
  const length = ipv4Length(packet);
  if (length > IPV4_MAX_PACKET_LEN) throw new RangeError(`an IPv4 packet of ${length} bytes exceeds 65535`);
  if (offset + length > into.length) throw new RangeError(`emitIpv4 needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  placePayload(into, offset + IPV4_HEADER_LEN, packet.payload);
  writeIpv4Header(packet, length, into, offset);
  return length;
}

/**
 * Writes only the 20-byte header for a packet of `totalLength` bytes whose payload the caller
 * places itself (e.g. fragments cut from one buffer). Returns 20.
 */
export function writeIpv4Header(header: Omit<Ipv4Packet, "payload">, totalLength: number, into: Uint8Array, offset = 0): number {
  into[offset] = 0x45;
  into[offset + 1] = header.tos;
  set16(into, offset + 2, totalLength);
  set16(into, offset + 4, header.identification);
  set16(
    into,
    offset + 6,
    (header.dontFragment ? FLAG_DF : 0) | (header.moreFragments ? FLAG_MF : 0) | ((header.fragmentOffset >>> 3) & OFFSET_MASK),
  );
  into[offset + 8] = header.ttl;
  into[offset + 9] = header.protocol;
  set16(into, offset + 10, 0);
  set32(into, offset + 12, header.src.value);
  set32(into, offset + 16, header.dst.value);
  set16(into, offset + 10, internetChecksum(into, offset, IPV4_HEADER_LEN));
  return IPV4_HEADER_LEN;
}
