/**
 * The IPv6 fixed header (RFC 8200 §3). Parsing checks the version and that the payload length
 * fits the bytes; bytes past the payload length (Ethernet padding) are not part of the payload.
 * Extension headers are the payload's business (extension-headers.ts). Jumbograms (RFC 2675,
 * payload length 0 with a hop-by-hop jumbo option) are not supported: no link here carries them.
 */
import { Ipv6Address, type Result } from "@mirage-ts/runtime";
import { get16, get32, placePayload, set16, set32 } from "../bytes.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";

export const IPV6_HEADER_LEN = 40;
/** Every IPv6 link carries packets of this size (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
/** The largest payload the 16-bit payload length can announce. */
export const IPV6_MAX_PAYLOAD_LEN = 65535;

/** Next Header values this stack names (IANA "Assigned Internet Protocol Numbers"). */
export const Ipv6NextHeader = {
  hopByHop: 0,
  tcp: 6,
  udp: 17,
  routing: 43,
  fragment: 44,
  esp: 50,
  authentication: 51,
  icmpv6: 58,
  noNextHeader: 59,
  destinationOptions: 60,
} as const;

/** Field access over an IPv6 header at `offset`; no validation, bounds-safe. */
export class Ipv6View {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  version(): number {
    return (this.bytes[this.offset] ?? 0) >> 4;
  }
  /** DSCP << 2 | ECN. */
  trafficClass(): number {
    return (get16(this.bytes, this.offset) >> 4) & 0xff;
  }
  flowLabel(): number {
    return get32(this.bytes, this.offset) & 0xfffff;
  }
  payloadLength(): number {
    return get16(this.bytes, this.offset + 4);
  }
  nextHeader(): number {
    return this.bytes[this.offset + 6] ?? 0;
  }
  hopLimit(): number {
    return this.bytes[this.offset + 7] ?? 0;
  }
  src(): Ipv6Address {
    return Ipv6Address.ofBytes(this.padded(8), 0);
  }
  dst(): Ipv6Address {
    return Ipv6Address.ofBytes(this.padded(24), 0);
  }
  /** The bytes after the fixed header up to the payload length, clamped to the buffer. */
  payload(): Uint8Array {
    const start = Math.min(this.offset + IPV6_HEADER_LEN, this.bytes.length);
    const end = Math.min(start + this.payloadLength(), this.bytes.length);
    return this.bytes.subarray(start, Math.max(start, end));
  }
  setHopLimit(value: number): void {
    if (this.offset + 7 < this.bytes.length) this.bytes[this.offset + 7] = value;
  }
  /** 16 bytes from `at`, zero-filled past the end (Ipv6Address.ofBytes would keep a short slice). */
  private padded(at: number): Uint8Array {
    const out = new Uint8Array(16);
    const start = Math.min(this.offset + at, this.bytes.length);
    out.set(this.bytes.subarray(start, Math.min(start + 16, this.bytes.length)));
    return out;
  }
}

/** The fixed header's fields (the repr without the payload). */
export interface Ipv6Header {
  src: Ipv6Address;
  dst: Ipv6Address;
  /** The first header of the payload: an extension header or the upper-layer protocol. */
  nextHeader: number;
  hopLimit: number;
  /** DSCP << 2 | ECN. */
  trafficClass: number;
  /** 20 bits. */
  flowLabel: number;
}

export interface Ipv6Packet extends Ipv6Header {
  /** Everything after the fixed header up to the payload length (extension headers included); a subarray. */
  payload: Uint8Array;
}

export function parseIpv6(bytes: Uint8Array): Result<Ipv6Packet, DecodeError> {
  if (bytes.length < IPV6_HEADER_LEN) {
    return decodeError("ipv6", "truncated", `an IPv6 header needs ${IPV6_HEADER_LEN} bytes, got ${bytes.length}`);
  }
  const view = new Ipv6View(bytes);
  const version = view.version();
  if (version !== 6) return decodeError("ipv6", "bad-version", `IP version ${version} in an IPv6 packet`);
  const payloadLength = view.payloadLength();
  if (IPV6_HEADER_LEN + payloadLength > bytes.length) {
    return decodeError("ipv6", "truncated", `payload length ${payloadLength} but only ${bytes.length - IPV6_HEADER_LEN} bytes follow the header`);
  }
  return {
    ok: true,
    value: {
      src: Ipv6Address.ofBytes(bytes, 8),
      dst: Ipv6Address.ofBytes(bytes, 24),
      nextHeader: view.nextHeader(),
      hopLimit: view.hopLimit(),
      trafficClass: view.trafficClass(),
      flowLabel: view.flowLabel(),
      payload: bytes.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + payloadLength),
    },
  };
}

/** The length `emitIpv6` writes. */
export function ipv6Length(packet: Ipv6Packet): number {
  return IPV6_HEADER_LEN + packet.payload.length;
}

/**
 * Writes the fixed header and the payload at `into[offset..]` and returns the packet length. The
 * payload is copied unless already in place. Throws RangeError when `into` is too small or the
 * payload exceeds 65535 bytes.
 */
export function emitIpv6(packet: Ipv6Packet, into: Uint8Array, offset = 0): number {
  const length = ipv6Length(packet);
  if (offset + length > into.length) throw new RangeError(`emitIpv6 needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  writeIpv6Header(packet, packet.payload.length, into, offset);
  placePayload(into, offset + IPV6_HEADER_LEN, packet.payload);
  return length;
}

/**
 * Writes only the 40-byte fixed header for a payload of `payloadLength` bytes that the caller
 * places itself. Returns 40. Throws RangeError for a payload length above 65535.
 */
export function writeIpv6Header(header: Ipv6Header, payloadLength: number, into: Uint8Array, offset = 0): number {
  if (payloadLength > IPV6_MAX_PAYLOAD_LEN) throw new RangeError(`an IPv6 payload of ${payloadLength} bytes exceeds 65535`);
  if (offset + IPV6_HEADER_LEN > into.length) throw new RangeError(`an IPv6 header needs 40 bytes at offset ${offset}, buffer has ${into.length}`);
  set32(into, offset, ((6 << 28) | ((header.trafficClass & 0xff) << 20) | (header.flowLabel & 0xfffff)) >>> 0);
  set16(into, offset + 4, payloadLength);
  into[offset + 6] = header.nextHeader;
  into[offset + 7] = header.hopLimit;
  into.set(header.src.bytes, offset + 8);
  into.set(header.dst.bytes, offset + 24);
  return IPV6_HEADER_LEN;
}
