/**
 * Neighbour discovery messages (RFC 4861 §4): router solicitation and advertisement, neighbour
 * solicitation and advertisement, redirect (parsed, never sent by a host). They are ICMPv6
 * messages: the checksum covers the IPv6 pseudo-header. Parsing checks what makes the bytes
 * unreadable (checksum, code 0, lengths, options); `ndpValidityProblem` adds RFC 4861's checks
 * that need the IPv6 header (hop limit 255, source and destination rules).
 */
import { Ipv6Address, type Result } from "@mirage-ts/runtime";
import { get16, get32, set16, set32 } from "../bytes.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";
import { IcmpV6Type, IcmpV6View, icmpV6ChecksumValid } from "../icmpv6/wire.ts";
import { isSolicitedNodeMulticast } from "./addresses.ts";
import { type NdpOption, emitNdpOptions, ndpOptionsLength, parseNdpOptions } from "./options.ts";

/** Neighbour discovery is only accepted with this hop limit: it proves the sender is on-link. */
export const NDP_HOP_LIMIT = 255;

export type NdpMessage =
  | { type: "router-solicitation"; options: NdpOption[] }
  | {
      type: "router-advertisement";
      /** 0: unspecified by this router. */
      curHopLimit: number;
      /** M: addresses are available by DHCPv6. */
      managed: boolean;
      /** O: other configuration is available by DHCPv6. */
      other: boolean;
      /** The default router preference (RFC 4191): 1 high, 0 medium, 3 low (2 is reserved, read as medium). */
      preference: number;
      /** Seconds; 0: not a default router. */
      routerLifetime: number;
      /** Milliseconds; 0: unspecified. */
      reachableTime: number;
      /** Milliseconds; 0: unspecified. */
      retransTimer: number;
      options: NdpOption[];
    }
  | { type: "neighbor-solicitation"; target: Ipv6Address; options: NdpOption[] }
  | {
      type: "neighbor-advertisement";
      /** R: the sender is a router. */
      router: boolean;
      /** S: sent in answer to a solicitation. */
      solicited: boolean;
      /** O: the advertisement overrides a cached link-layer address. */
      override: boolean;
      target: Ipv6Address;
      options: NdpOption[];
    }
  | { type: "redirect"; target: Ipv6Address; destination: Ipv6Address; options: NdpOption[] };

/** Where the options start in each message (after the ICMPv6 header and fixed fields). */
const OPTIONS_AT = { "router-solicitation": 8, "router-advertisement": 16, "neighbor-solicitation": 24, "neighbor-advertisement": 24, redirect: 40 } as const;

const TYPES = {
  [IcmpV6Type.routerSolicitation]: "router-solicitation",
  [IcmpV6Type.routerAdvertisement]: "router-advertisement",
  [IcmpV6Type.neighborSolicitation]: "neighbor-solicitation",
  [IcmpV6Type.neighborAdvertisement]: "neighbor-advertisement",
  [IcmpV6Type.redirect]: "redirect",
} as const satisfies Record<number, NdpMessage["type"]>;

/** True for the ICMPv6 types of neighbour discovery (133 to 137). */
export function isNdpType(icmpType: number): boolean {
  return icmpType >= IcmpV6Type.routerSolicitation && icmpType <= IcmpV6Type.redirect;
}

/** Parses a whole neighbour discovery message (ICMPv6 bytes from `src` to `dst`), verifying its checksum. */
export function parseNdp(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): Result<NdpMessage, DecodeError> {
  if (bytes.length < 4) return decodeError("ndp", "truncated", `an ICMPv6 message needs 4 bytes, got ${bytes.length}`);
  const view = new IcmpV6View(bytes);
  const icmpType = view.type();
  if (!isNdpType(icmpType)) return decodeError("ndp", "unsupported", `ICMPv6 type ${icmpType} is not neighbour discovery`);
  const type = TYPES[icmpType as keyof typeof TYPES];
  const optionsAt = OPTIONS_AT[type];
  if (bytes.length < optionsAt) return decodeError("ndp", "truncated", `a ${type} needs ${optionsAt} bytes, got ${bytes.length}`);
  if (!icmpV6ChecksumValid(bytes, src, dst)) return decodeError("ndp", "bad-checksum", `ICMPv6 checksum 0x${view.checksum().toString(16)} is wrong`);
  if (view.code() !== 0) return decodeError("ndp", "bad-field", `a ${type} with code ${view.code()}`);
  const options = parseNdpOptions(bytes.subarray(optionsAt));
  if (!options.ok) return options;
  switch (type) {
    case "router-solicitation":
      return { ok: true, value: { type, options: options.value } };
    case "router-advertisement": {
      const flags = bytes[5]!;
      const preference = (flags >> 3) & 3;
      return {
        ok: true,
        value: {
          type,
          curHopLimit: bytes[4]!,
          managed: (flags & 0x80) !== 0,
          other: (flags & 0x40) !== 0,
          preference: preference === 2 ? 0 : preference,
          routerLifetime: get16(bytes, 6),
          reachableTime: get32(bytes, 8),
          retransTimer: get32(bytes, 12),
          options: options.value,
        },
      };
    }
    case "neighbor-solicitation":
      return { ok: true, value: { type, target: Ipv6Address.ofBytes(bytes, 8), options: options.value } };
    case "neighbor-advertisement": {
      const flags = bytes[4]!;
      return {
        ok: true,
        value: {
          type,
          router: (flags & 0x80) !== 0,
          solicited: (flags & 0x40) !== 0,
          override: (flags & 0x20) !== 0,
          target: Ipv6Address.ofBytes(bytes, 8),
          options: options.value,
        },
      };
    }
    case "redirect":
      return { ok: true, value: { type, target: Ipv6Address.ofBytes(bytes, 8), destination: Ipv6Address.ofBytes(bytes, 24), options: options.value } };
  }
}

/** The length `emitNdp` writes. */
export function ndpLength(message: NdpMessage): number {
  return OPTIONS_AT[message.type] + ndpOptionsLength(message.options);
}

/**
 * Writes the message at `into[offset..]` with its ICMPv6 checksum over the pseudo-header of `src`
 * and `dst`, and returns its length. Throws RangeError when `into` is too small.
 */
export function emitNdp(message: NdpMessage, into: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): number {
  const length = ndpLength(message);
  if (offset + length > into.length) throw new RangeError(`emitNdp needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  into.fill(0, offset, offset + OPTIONS_AT[message.type]);
  switch (message.type) {
    case "router-solicitation":
      into[offset] = IcmpV6Type.routerSolicitation;
      break;
    case "router-advertisement":
      into[offset] = IcmpV6Type.routerAdvertisement;
      into[offset + 4] = message.curHopLimit;
      into[offset + 5] = (message.managed ? 0x80 : 0) | (message.other ? 0x40 : 0) | ((message.preference & 3) << 3);
      set16(into, offset + 6, message.routerLifetime);
      set32(into, offset + 8, message.reachableTime);
      set32(into, offset + 12, message.retransTimer);
      break;
    case "neighbor-solicitation":
      into[offset] = IcmpV6Type.neighborSolicitation;
      into.set(message.target.bytes, offset + 8);
      break;
    case "neighbor-advertisement":
      into[offset] = IcmpV6Type.neighborAdvertisement;
      into[offset + 4] = (message.router ? 0x80 : 0) | (message.solicited ? 0x40 : 0) | (message.override ? 0x20 : 0);
      into.set(message.target.bytes, offset + 8);
      break;
    case "redirect":
      into[offset] = IcmpV6Type.redirect;
      into.set(message.target.bytes, offset + 8);
      into.set(message.destination.bytes, offset + 24);
      break;
  }
  emitNdpOptions(message.options, into, offset + OPTIONS_AT[message.type]);
  new IcmpV6View(into, offset).fillChecksum(length, src, dst);
  return length;
}

/** The first option of a type, e.g. `findNdpOption(m.options, "source-link-layer-address")`. */
export function findNdpOption<T extends NdpOption["type"]>(options: readonly NdpOption[], type: T): Extract<NdpOption, { type: T }> | undefined {
  return options.find((o): o is Extract<NdpOption, { type: T }> => o.type === type);
}

/**
 * RFC 4861's validity checks that need the IPv6 header (§6.1, §7.1, §8.1): the reason to discard
 * the message silently, or undefined when it is valid.
 */
export function ndpValidityProblem(message: NdpMessage, ip: { src: Ipv6Address; dst: Ipv6Address; hopLimit: number }): string | undefined {
  if (ip.hopLimit !== NDP_HOP_LIMIT) return `hop limit ${ip.hopLimit}, not 255: the sender may not be on-link`;
  const hasSourceLinkLayer = findNdpOption(message.options, "source-link-layer-address") !== undefined;
  switch (message.type) {
    case "router-solicitation":
      if (ip.src.isUnspecified() && hasSourceLinkLayer) return "a router solicitation from :: with a source link-layer address";
      return undefined;
    case "router-advertisement":
    case "redirect":
      if (!ip.src.isLinkLocal()) return `a ${message.type} from ${ip.src.toString()}, not a link-local address`;
      if (message.type === "redirect" && message.destination.isMulticast()) return "a redirect for a multicast destination";
      // §8.1: the target is a router (named by its link-local address) or the destination itself (on-link).
      if (message.type === "redirect" && !message.target.isLinkLocal() && !message.target.equals(message.destination)) {
        return `a redirect to ${message.target.toString()}, neither link-local nor the destination`;
      }
      return undefined;
    case "neighbor-solicitation":
      if (message.target.isMulticast()) return "a neighbour solicitation for a multicast target";
      if (ip.src.isUnspecified()) {
        if (!isSolicitedNodeMulticast(ip.dst)) return "a neighbour solicitation from :: not sent to a solicited-node address";
        if (hasSourceLinkLayer) return "a neighbour solicitation from :: with a source link-layer address";
      }
      return undefined;
    case "neighbor-advertisement":
      if (message.target.isMulticast()) return "a neighbour advertisement for a multicast target";
      if (message.solicited && ip.dst.isMulticast()) return "a solicited neighbour advertisement sent to a multicast address";
      return undefined;
  }
}
