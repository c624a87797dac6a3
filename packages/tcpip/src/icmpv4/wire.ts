/**
 * ICMPv4 messages (RFC 792): echo request and reply, destination unreachable (with the RFC 1191
 * next-hop MTU for "fragmentation needed") and time exceeded. The checksum covers the whole
 * message. Other types are refused with "unsupported": this stack neither needs nor answers them.
 */
import { Ipv4Address, type Result } from "@mirage-ts/runtime";
import { get16, get32, placePayload, set16, set32 } from "../bytes.ts";
import { checksumValid, internetChecksum } from "../checksum.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";
import { IcmpView } from "../icmp-view.ts";

export const ICMPV4_HEADER_LEN = 8;

export const IcmpV4Type = { echoReply: 0, destinationUnreachable: 3, echoRequest: 8, timeExceeded: 11 } as const;

export const DestinationUnreachableCode = {
  net: 0,
  host: 1,
  protocol: 2,
  port: 3,
  fragmentationNeeded: 4,
  sourceRouteFailed: 5,
  adminProhibited: 13,
} as const;

export const TimeExceededCode = { ttl: 0, reassembly: 1 } as const;

/** Field access over an ICMPv4 message at `offset`; no validation, bounds-safe. */
export class IcmpV4View extends IcmpView {
  /** Recomputes the checksum over `length` bytes (the whole message) after an in-place change. */
  fillChecksum(length: number): void {
    set16(this.bytes, this.offset + 2, 0);
    set16(this.bytes, this.offset + 2, internetChecksum(this.bytes, this.offset, length));
  }
}

interface IcmpV4EchoFields {
  identifier: number;
  sequence: number;
  data: Uint8Array;
}

export type IcmpV4Message =
  | ({ type: "echo-request" } & IcmpV4EchoFields)
  | ({ type: "echo-reply" } & IcmpV4EchoFields)
  | {
      type: "destination-unreachable";
      code: number;
      /** The next-hop MTU of a "fragmentation needed" (code 4) message (RFC 1191); 0 otherwise. */
      nextHopMtu: number;
      /** The quoted original datagram: its IP header and at least 8 bytes of its payload. */
      original: Uint8Array;
    }
  | { type: "time-exceeded"; code: number; original: Uint8Array };

/** Parses a whole ICMPv4 message (the IPv4 payload), verifying its checksum. */
export function parseIcmpV4(bytes: Uint8Array): Result<IcmpV4Message, DecodeError> {
  if (bytes.length < ICMPV4_HEADER_LEN) {
    return decodeError("icmpv4", "truncated", `an ICMPv4 message needs ${ICMPV4_HEADER_LEN} bytes, got ${bytes.length}`);
  }
  const view = new IcmpV4View(bytes);
  if (!checksumValid(bytes, 0, bytes.length)) {
    return decodeError("icmpv4", "bad-checksum", `ICMPv4 checksum 0x${view.checksum().toString(16)} is wrong`);
  }
  const type = view.type();
  const body = bytes.subarray(ICMPV4_HEADER_LEN);
  switch (type) {
    case IcmpV4Type.echoRequest:
    case IcmpV4Type.echoReply:
      if (view.code() !== 0) return decodeError("icmpv4", "bad-field", `echo message with code ${view.code()}`);
      return {
        ok: true,
        value: {
          type: type === IcmpV4Type.echoRequest ? ("echo-request" as const) : ("echo-reply" as const),
          identifier: view.identifier(),
          sequence: view.sequence(),
          data: body,
        },
      };
    case IcmpV4Type.destinationUnreachable:
      return {
        ok: true,
        value: {
          type: "destination-unreachable",
          code: view.code(),
          nextHopMtu: view.code() === DestinationUnreachableCode.fragmentationNeeded ? view.sequence() : 0,
          original: body,
        },
      };
    case IcmpV4Type.timeExceeded:
      return { ok: true, value: { type: "time-exceeded", code: view.code(), original: body } };
    default:
      return decodeError("icmpv4", "unsupported", `ICMPv4 type ${type} is not handled`);
  }
}

/** The length `emitIcmpV4` writes. */
export function icmpV4Length(message: IcmpV4Message): number {
  return ICMPV4_HEADER_LEN + ("data" in message ? message.data.length : message.original.length);
}

/**
 * Writes the message at `into[offset..]` with its checksum and returns its length. The body is
 * copied unless already in place. Throws RangeError when `into` is too small.
 */
export function emitIcmpV4(message: IcmpV4Message, into: Uint8Array, offset = 0): number {
  const length = icmpV4Length(message);
  if (offset + length > into.length) throw new RangeError(`emitIcmpV4 needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  switch (message.type) {
    case "echo-request":
    case "echo-reply":
      into[offset] = message.type === "echo-request" ? IcmpV4Type.echoRequest : IcmpV4Type.echoReply;
      into[offset + 1] = 0;
      set16(into, offset + 4, message.identifier);
      set16(into, offset + 6, message.sequence);
      placePayload(into, offset + ICMPV4_HEADER_LEN, message.data);
      break;
    case "destination-unreachable":
      into[offset] = IcmpV4Type.destinationUnreachable;
      into[offset + 1] = message.code;
      set16(into, offset + 4, 0);
      set16(into, offset + 6, message.code === DestinationUnreachableCode.fragmentationNeeded ? message.nextHopMtu : 0);
      placePayload(into, offset + ICMPV4_HEADER_LEN, message.original);
      break;
    case "time-exceeded":
      into[offset] = IcmpV4Type.timeExceeded;
      into[offset + 1] = message.code;
      set32(into, offset + 4, 0);
      placePayload(into, offset + ICMPV4_HEADER_LEN, message.original);
      break;
  }
  set16(into, offset + 2, 0);
  set16(into, offset + 2, internetChecksum(into, offset, length));
  return length;
}

/**
 * What an error message quotes of a received datagram (RFC 792): its IP header and the first
 * 8 bytes of its payload (fewer when the payload is shorter). `ipPacket` is the whole received
 * IPv4 packet; the result is a subarray of it.
 */
export function quoteDatagram(ipPacket: Uint8Array): Uint8Array {
  const headerLength = ((ipPacket[0] ?? 0) & 0x0f) * 4;
  const totalLength = get16(ipPacket, 2);
  const end = Math.min(headerLength + 8, totalLength >= headerLength ? totalLength : ipPacket.length, ipPacket.length);
  return ipPacket.subarray(0, Math.max(0, end));
}

/** The parts of a quoted datagram an engine needs to find the socket an error is about. */
export interface QuotedIpv4Datagram {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  /** The quoted transport bytes (usually 8: the UDP header, or TCP's ports and sequence number). */
  transport: Uint8Array;
}

/**
 * Reads a quoted datagram leniently: routers may change a quoted header (TTL, checksum) and quote
 * less than the original total length, so only version and IHL are checked.
 */
export function parseQuotedIpv4(original: Uint8Array): Result<QuotedIpv4Datagram, DecodeError> {
  if (original.length < 20) return decodeError("icmpv4", "truncated", `a quoted IPv4 header needs 20 bytes, got ${original.length}`);
  if (original[0]! >> 4 !== 4) return decodeError("icmpv4", "bad-version", `quoted IP version ${original[0]! >> 4}`);
  const headerLength = (original[0]! & 0x0f) * 4;
  if (headerLength < 20 || headerLength > original.length) {
    return decodeError("icmpv4", "bad-header-length", `quoted IHL ${headerLength / 4} does not fit ${original.length} bytes`);
  }
  return {
    ok: true,
    value: {
      src: Ipv4Address.ofInt(get32(original, 12)),
      dst: Ipv4Address.ofInt(get32(original, 16)),
      protocol: original[9]!,
      transport: original.subarray(headerLength),
    },
  };
}
