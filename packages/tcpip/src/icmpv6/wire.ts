/**
 * ICMPv6 messages (RFC 4443): echo request and reply, and the four error messages (destination
 * unreachable, packet too big with its MTU, time exceeded, parameter problem with its pointer).
 * The checksum covers the IPv6 pseudo-header (RFC 8200 §8.1, next header 58) and the message.
 * Other types (neighbour discovery, MLD) are returned as "other" with their body for ../ndp.
 *
 * An error message quotes as much of the invoking packet as fits in the minimum MTU of 1280 bytes
 * (RFC 4443 §2.4 (c)): `quoteIpv6Packet`.
 */
import type { Ipv6Address, Result } from "@mirage-ts/runtime";
import { placePayload, set16, set32 } from "../bytes.ts";
import { checksumValid, internetChecksum, pseudoHeaderSum } from "../checksum.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";
import { IcmpView } from "../icmp-view.ts";
import { walkIpv6ExtensionHeaders } from "../ipv6/extension-headers.ts";
import { IPV6_HEADER_LEN, IPV6_MIN_MTU, Ipv6NextHeader, Ipv6View } from "../ipv6/wire.ts";

export const ICMPV6_HEADER_LEN = 8;

export const IcmpV6Type = {
  destinationUnreachable: 1,
  packetTooBig: 2,
  timeExceeded: 3,
  parameterProblem: 4,
  echoRequest: 128,
  echoReply: 129,
  mldQuery: 130,
  mldV1Report: 131,
  mldV1Done: 132,
  routerSolicitation: 133,
  routerAdvertisement: 134,
  neighborSolicitation: 135,
  neighborAdvertisement: 136,
  redirect: 137,
  mldV2Report: 143,
} as const;

export const IcmpV6DestinationUnreachableCode = {
  noRoute: 0,
  adminProhibited: 1,
  beyondScope: 2,
  address: 3,
  port: 4,
  sourcePolicy: 5,
  rejectRoute: 6,
} as const;

export const IcmpV6TimeExceededCode = { hopLimit: 0, reassembly: 1 } as const;

// Parameter problem codes: ParameterProblemCode in ../ipv6/extension-headers.ts, where they arise.

/** The most of an invoking packet an error message carries: 1280 less the IPv6 and ICMPv6 headers. */
export const ICMPV6_ERROR_QUOTE_LIMIT = IPV6_MIN_MTU - IPV6_HEADER_LEN - ICMPV6_HEADER_LEN;

/** Field access over an ICMPv6 message at `offset`; no validation, bounds-safe. */
export class IcmpV6View extends IcmpView {
  /** Recomputes the checksum over `length` bytes after an in-place change. */
  fillChecksum(length: number, src: Ipv6Address, dst: Ipv6Address): void {
    set16(this.bytes, this.offset + 2, 0);
    set16(this.bytes, this.offset + 2, internetChecksum(this.bytes, this.offset, length, pseudoHeaderSum(src, dst, Ipv6NextHeader.icmpv6, length)));
  }
}

interface EchoFields {
  identifier: number;
  sequence: number;
  data: Uint8Array;
}

export type IcmpV6Message =
  | ({ type: "echo-request" } & EchoFields)
  | ({ type: "echo-reply" } & EchoFields)
  /** `original`: as much of the invoking packet as fits 1280 bytes, IPv6 header first. */
  | { type: "destination-unreachable"; code: number; original: Uint8Array }
  | { type: "packet-too-big"; mtu: number; original: Uint8Array }
  | { type: "time-exceeded"; code: number; original: Uint8Array }
  | { type: "parameter-problem"; code: number; pointer: number; original: Uint8Array }
  /** Neighbour discovery, MLD and anything else: decoded by their own codecs from `message`. */
  | { type: "other"; icmpType: number; code: number; message: Uint8Array };

/** True when the message (all of `bytes`) has a correct checksum for a packet from `src` to `dst`. */
export function icmpV6ChecksumValid(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): boolean {
  return checksumValid(bytes, 0, bytes.length, pseudoHeaderSum(src, dst, Ipv6NextHeader.icmpv6, bytes.length));
}

/** Parses a whole ICMPv6 message (the upper-layer bytes of an IPv6 packet from `src` to `dst`), verifying its checksum. */
export function parseIcmpV6(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): Result<IcmpV6Message, DecodeError> {
  if (bytes.length < 4) return decodeError("icmpv6", "truncated", `an ICMPv6 message needs 4 bytes, got ${bytes.length}`);
  const view = new IcmpV6View(bytes);
  if (!icmpV6ChecksumValid(bytes, src, dst)) {
    return decodeError("icmpv6", "bad-checksum", `ICMPv6 checksum 0x${view.checksum().toString(16)} is wrong`);
  }
  const type = view.type();
  const code = view.code();
  if (type === IcmpV6Type.echoRequest || type === IcmpV6Type.echoReply || type < 128) {
    if (bytes.length < ICMPV6_HEADER_LEN) {
      return decodeError("icmpv6", "truncated", `an ICMPv6 type ${type} message needs 8 bytes, got ${bytes.length}`);
    }
  }
  const body = bytes.subarray(Math.min(ICMPV6_HEADER_LEN, bytes.length));
  switch (type) {
    case IcmpV6Type.echoRequest:
    case IcmpV6Type.echoReply:
      if (code !== 0) return decodeError("icmpv6", "bad-field", `echo message with code ${code}`);
      return {
        ok: true,
        value: { type: type === IcmpV6Type.echoRequest ? "echo-request" : "echo-reply", identifier: view.identifier(), sequence: view.sequence(), data: body },
      };
    case IcmpV6Type.destinationUnreachable:
      return { ok: true, value: { type: "destination-unreachable", code, original: body } };
    case IcmpV6Type.packetTooBig:
      return { ok: true, value: { type: "packet-too-big", mtu: view.restOfHeader(), original: body } };
    case IcmpV6Type.timeExceeded:
      return { ok: true, value: { type: "time-exceeded", code, original: body } };
    case IcmpV6Type.parameterProblem:
      return { ok: true, value: { type: "parameter-problem", code, pointer: view.restOfHeader(), original: body } };
    default:
      // RFC 4443 §2.4 (a)/(b): an unknown error type goes to the upper layer, an unknown informational one is dropped;
      // both are the engine's to judge.
      return { ok: true, value: { type: "other", icmpType: type, code, message: bytes } };
  }
}

/** True for the error types (below 128). */
export function isIcmpV6Error(type: number): boolean {
  return type < 128;
}

/** The length `emitIcmpV6` writes. */
export function icmpV6Length(message: IcmpV6Message): number {
  switch (message.type) {
    case "echo-request":
    case "echo-reply":
      return ICMPV6_HEADER_LEN + message.data.length;
    case "other":
      return message.message.length;
    default:
      return ICMPV6_HEADER_LEN + message.original.length;
  }
}

/**
 * Writes the message at `into[offset..]` with its checksum over the pseudo-header of `src` and
 * `dst`, and returns its length. Bodies are copied unless already in place. An "other" message
 * is written as its bytes with the checksum recomputed. Throws RangeError when `into` is too small.
 */
export function emitIcmpV6(message: IcmpV6Message, into: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): number {
  const length = icmpV6Length(message);
  if (offset + length > into.length) throw new RangeError(`emitIcmpV6 needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  switch (message.type) {
    case "echo-request":
    case "echo-reply":
      into[offset] = message.type === "echo-request" ? IcmpV6Type.echoRequest : IcmpV6Type.echoReply;
      into[offset + 1] = 0;
      set16(into, offset + 4, message.identifier);
      set16(into, offset + 6, message.sequence);
      placePayload(into, offset + ICMPV6_HEADER_LEN, message.data);
      break;
    case "destination-unreachable":
    case "time-exceeded":
      into[offset] = message.type === "destination-unreachable" ? IcmpV6Type.destinationUnreachable : IcmpV6Type.timeExceeded;
      into[offset + 1] = message.code;
      set32(into, offset + 4, 0);
      placePayload(into, offset + ICMPV6_HEADER_LEN, message.original);
      break;
    case "packet-too-big":
      into[offset] = IcmpV6Type.packetTooBig;
      into[offset + 1] = 0;
      set32(into, offset + 4, message.mtu);
      placePayload(into, offset + ICMPV6_HEADER_LEN, message.original);
      break;
    case "parameter-problem":
      into[offset] = IcmpV6Type.parameterProblem;
      into[offset + 1] = message.code;
      set32(into, offset + 4, message.pointer);
      placePayload(into, offset + ICMPV6_HEADER_LEN, message.original);
      break;
    case "other":
      placePayload(into, offset, message.message);
      break;
  }
  new IcmpV6View(into, offset).fillChecksum(length, src, dst);
  return length;
}

/**
 * What an error message quotes of the invoking packet (RFC 4443 §2.4 (c)): as much as fits in
 * 1280 bytes with the error's own IPv6 and ICMPv6 headers, i.e. the first 1232 bytes. `ipPacket`
 * is the whole received IPv6 packet (header first); the result is a subarray of it.
 */
export function quoteIpv6Packet(ipPacket: Uint8Array): Uint8Array {
  return ipPacket.subarray(0, Math.min(ipPacket.length, ICMPV6_ERROR_QUOTE_LIMIT));
}

/**
 * RFC 4443 §2.4 (e): the packets no error message may answer: an ICMPv6 error, a packet to a
 * multicast address (except a packet too big, or a parameter problem about an unrecognised
 * option with high bits 10), or from an address that does not identify one node (unspecified,
 * multicast). `invokingIcmpType` is the ICMPv6 type of the invoking packet when it is ICMPv6.
 */
export function mayAnswerWithError(
  invoking: { src: Ipv6Address; dst: Ipv6Address; invokingIcmpType?: number },
  error: { type: "destination-unreachable" | "packet-too-big" | "time-exceeded" | "parameter-problem"; code?: number; multicastAllowed?: boolean },
): boolean {
  if (invoking.invokingIcmpType !== undefined && isIcmpV6Error(invoking.invokingIcmpType)) return false;
  if (invoking.src.isUnspecified() || invoking.src.isMulticast()) return false;
  if (invoking.dst.isMulticast()) return error.type === "packet-too-big" || (error.type === "parameter-problem" && error.code === 2 && error.multicastAllowed === true);
  return true;
}

/** The parts of a quoted packet an engine needs to find the socket (or path) an error is about. */
export interface QuotedIpv6Packet {
  src: Ipv6Address;
  dst: Ipv6Address;
  /** The upper-layer protocol, after the quoted extension headers. */
  protocol: number;
  /** The quoted upper-layer bytes (empty when the quote is of a fragment other than the first). */
  transport: Uint8Array;
}

/**
 * Reads a quoted packet leniently: the quote may stop before the payload length says, so only
 * the version and the extension headers that are there are checked.
 */
export function parseQuotedIpv6(original: Uint8Array): Result<QuotedIpv6Packet, DecodeError> {
  if (original.length < IPV6_HEADER_LEN) return decodeError("icmpv6", "truncated", `a quoted IPv6 header needs 40 bytes, got ${original.length}`);
  const view = new Ipv6View(original);
  if (view.version() !== 6) return decodeError("icmpv6", "bad-version", `quoted IP version ${view.version()}`);
  const rest = original.subarray(IPV6_HEADER_LEN);
  const walk = walkIpv6ExtensionHeaders(rest, view.nextHeader(), { structureOnly: true });
  if (!walk.ok) return decodeError("icmpv6", walk.error.code, `quoted packet: ${walk.error.message}`);
  const later = walk.value.fragment !== undefined && walk.value.fragment.header.fragmentOffset !== 0;
  return {
    ok: true,
    value: { src: view.src(), dst: view.dst(), protocol: walk.value.nextHeader, transport: later ? rest.subarray(rest.length) : rest.subarray(walk.value.offset) },
  };
}
