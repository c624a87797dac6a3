/**
 * Neighbour discovery options (RFC 4861 §4.6): type, length in units of 8 bytes, data. A zero
 * length is an error (the message must be discarded: a zero length would loop a parser forever),
 * as is an option running past the message. Known options are checked for their fixed length;
 * unknown ones are kept as bytes (RFC 4861: receivers ignore options they do not know).
 * Link-layer addresses are Ethernet MACs (the option is then 8 bytes long).
 */
import { Ipv6Address, Ipv6Prefix, MacAddress, type Result } from "@mirage-ts/runtime";
import { get32, set16, set32 } from "../bytes.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";

export const NdpOptionType = {
  sourceLinkLayerAddress: 1,
  targetLinkLayerAddress: 2,
  prefixInformation: 3,
  redirectedHeader: 4,
  mtu: 5,
} as const;

/** A lifetime of all ones: infinity (RFC 4861 §4.6.2). */
export const NDP_INFINITE_LIFETIME = 0xffffffff;

export interface NdpPrefixInformation {
  type: "prefix-information";
  prefix: Ipv6Prefix;
  /** L: the prefix is on-link. */
  onLink: boolean;
  /** A: the prefix may be used for stateless address autoconfiguration. */
  autonomous: boolean;
  /** Seconds; 0xffffffff is infinity. */
  validLifetime: number;
  /** Seconds; 0xffffffff is infinity. */
  preferredLifetime: number;
}

export type NdpOption =
  | { type: "source-link-layer-address"; mac: MacAddress }
  | { type: "target-link-layer-address"; mac: MacAddress }
  | NdpPrefixInformation
  | { type: "mtu"; mtu: number }
  /** The redirected header option of a redirect: as much of the redirected packet as fits. */
  | { type: "redirected-header"; packet: Uint8Array }
  /** An option this stack does not interpret; `data` is what follows the type and length bytes. */
  | { type: "unknown"; optionType: number; data: Uint8Array };

/** Parses the options filling `bytes` entirely. */
export function parseNdpOptions(bytes: Uint8Array): Result<NdpOption[], DecodeError> {
  const options: NdpOption[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) return decodeError("ndp", "truncated", `an option at ${at} needs 2 bytes, ${bytes.length - at} left`);
    const type = bytes[at]!;
    const length = bytes[at + 1]! * 8;
    if (length === 0) return decodeError("ndp", "bad-length", `option ${type} at ${at} has length 0`);
    if (at + length > bytes.length) return decodeError("ndp", "truncated", `option ${type} of ${length} bytes at ${at}, ${bytes.length - at} left`);
    const option = bytes.subarray(at, at + length);
    const fixed = (expected: number): { ok: false; error: DecodeError } | undefined =>
      length === expected ? undefined : decodeError("ndp", "bad-length", `option ${type} is ${length} bytes, not ${expected}`);
    switch (type) {
      case NdpOptionType.sourceLinkLayerAddress:
      case NdpOptionType.targetLinkLayerAddress: {
        const bad = fixed(8);
        if (bad !== undefined) return bad;
        const mac = MacAddress.ofBytes(option, 2);
        options.push(type === NdpOptionType.sourceLinkLayerAddress ? { type: "source-link-layer-address", mac } : { type: "target-link-layer-address", mac });
        break;
      }
      case NdpOptionType.prefixInformation: {
        const bad = fixed(32);
        if (bad !== undefined) return bad;
        const prefixLength = option[2]!;
        if (prefixLength > 128) return decodeError("ndp", "bad-field", `prefix length ${prefixLength} is above 128`);
        const flags = option[3]!;
        options.push({
          type: "prefix-information",
          prefix: Ipv6Prefix.make(Ipv6Address.ofBytes(option, 16), prefixLength),
          onLink: (flags & 0x80) !== 0,
          autonomous: (flags & 0x40) !== 0,
          validLifetime: get32(option, 4),
          preferredLifetime: get32(option, 8),
        });
        break;
      }
      case NdpOptionType.mtu: {
        const bad = fixed(8);
        if (bad !== undefined) return bad;
        options.push({ type: "mtu", mtu: get32(option, 4) });
        break;
      }
      case NdpOptionType.redirectedHeader:
        options.push({ type: "redirected-header", packet: option.subarray(8) });
        break;
      default:
        options.push({ type: "unknown", optionType: type, data: option.subarray(2) });
    }
    at += length;
  }
  return { ok: true, value: options };
}

/** The bytes `emitNdpOption` writes. */
export function ndpOptionLength(option: NdpOption): number {
  switch (option.type) {
    case "source-link-layer-address":
    case "target-link-layer-address":
    case "mtu":
      return 8;
    case "prefix-information":
      return 32;
    case "redirected-header":
      return 8 + roundUp8(option.packet.length);
    case "unknown":
      return roundUp8(2 + option.data.length);
  }
}

const roundUp8 = (n: number): number => (n + 7) & ~7;

/** Writes one option at `into[offset..]` (padded with zeros to a multiple of 8) and returns its length. */
export function emitNdpOption(option: NdpOption, into: Uint8Array, offset: number): number {
  const length = ndpOptionLength(option);
  if (length > 255 * 8) throw new RangeError(`an NDP option of ${length} bytes exceeds 2040`);
  if (offset + length > into.length) throw new RangeError(`an NDP option needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  into.fill(0, offset, offset + length);
  into[offset + 1] = length / 8;
  switch (option.type) {
    case "source-link-layer-address":
    case "target-link-layer-address":
      into[offset] = option.type === "source-link-layer-address" ? NdpOptionType.sourceLinkLayerAddress : NdpOptionType.targetLinkLayerAddress;
      into.set(option.mac.toBytes(), offset + 2);
      break;
    case "prefix-information":
      into[offset] = NdpOptionType.prefixInformation;
      into[offset + 2] = option.prefix.length;
      into[offset + 3] = (option.onLink ? 0x80 : 0) | (option.autonomous ? 0x40 : 0);
      set32(into, offset + 4, option.validLifetime);
      set32(into, offset + 8, option.preferredLifetime);
      into.set(option.prefix.address.bytes, offset + 16);
      break;
    case "mtu":
      into[offset] = NdpOptionType.mtu;
      set16(into, offset + 2, 0);
      set32(into, offset + 4, option.mtu);
      break;
    case "redirected-header":
      into[offset] = NdpOptionType.redirectedHeader;
      into.set(option.packet, offset + 8);
      break;
    case "unknown":
      into[offset] = option.optionType;
      into.set(option.data, offset + 2);
      break;
  }
  return length;
}

/** Writes `options` one after the other at `into[offset..]`; returns the bytes written. */
export function emitNdpOptions(options: readonly NdpOption[], into: Uint8Array, offset: number): number {
  let at = offset;
  for (const option of options) at += emitNdpOption(option, into, at);
  return at - offset;
}

export function ndpOptionsLength(options: readonly NdpOption[]): number {
  let n = 0;
  for (const option of options) n += ndpOptionLength(option);
  return n;
}
