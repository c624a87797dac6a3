/**
 * Walking the IPv6 extension header chain (RFC 8200 §4) of a received packet's payload, in
 * order, with every length checked against the bytes:
 * - hop-by-hop options (only right after the fixed header) and destination options: their TLV
 *   options are walked; Pad1, PadN and Router Alert (RFC 2711, carried by MLD) are known; an
 *   unknown option acts by its two high bits: skip, discard, or discard and answer with an
 *   ICMPv6 parameter problem (always, or only when the destination was not multicast);
 * - routing: ignored when no segments are left; otherwise this host, which forwards nothing,
 *   treats the routing type as unrecognised (parameter problem code 0 at the type field);
 * - fragment: the walk stops there and reports the Fragment header; the engine reassembles and
 *   walks the reassembled payload from the Fragment header's Next Header
 *   (`{ afterFragment: true }`).
 * Any other Next Header value is the upper layer (TCP, UDP, ICMPv6, No Next Header, or one this
 * stack does not know, which the engine answers with parameter problem code 1).
 *
 * Errors carry, beyond the DecodeError, the ICMPv6 parameter problem an engine should send
 * (RFC 4443 §3.4: the pointer counts from the start of the IPv6 header).
 */
import type { Result } from "@mirage-ts/runtime";
import type { DecodeError } from "../decode-error.ts";
import { IPV6_FRAGMENT_HEADER_LEN, type Ipv6FragmentHeader, parseIpv6FragmentHeader } from "./fragment.ts";
import { IPV6_HEADER_LEN, Ipv6NextHeader } from "./wire.ts";

export const ParameterProblemCode = {
  erroneousHeaderField: 0,
  unrecognizedNextHeader: 1,
  unrecognizedOption: 2,
  incompleteHeaderChain: 3,
} as const;

export const Ipv6OptionType = { pad1: 0, padN: 1, routerAlert: 5 } as const;

export interface ParameterProblem {
  code: number;
  /** Offset of the offending byte from the start of the IPv6 header. */
  pointer: number;
  /** An option whose high bits are 11: no ICMPv6 message when the packet's destination was multicast. */
  notIfMulticast: boolean;
}

export interface Ipv6ExtensionError extends DecodeError {
  /** Present when RFC 8200 asks for an ICMPv6 parameter problem in answer; absent means drop silently. */
  readonly parameterProblem?: ParameterProblem;
}

export type Ipv6ExtensionHeaderType = "hop-by-hop" | "routing" | "fragment" | "destination-options";

export interface Ipv6ExtensionHeaderSpan {
  type: Ipv6ExtensionHeaderType;
  /** Offset in the walked payload. */
  offset: number;
  length: number;
}

export interface Ipv6ExtensionWalk {
  /** The headers walked, in order. */
  headers: Ipv6ExtensionHeaderSpan[];
  /** The Next Header value where the walk stopped: the upper-layer protocol, or the fragmentable part's first header. */
  nextHeader: number;
  /** Where that header's bytes start in the walked payload. */
  offset: number;
  /**
   * Where the byte holding `nextHeader` sits, from the start of the IPv6 header: the pointer of
   * the parameter problem (code 1) that answers an upper layer nobody handles.
   */
  nextHeaderPointer: number;
  /** The Fragment header, when the walk stopped at one; `offset` is then the start of the fragment's data. */
  fragment?: { header: Ipv6FragmentHeader; offset: number };
  /** A Router Alert option was present in the hop-by-hop header (RFC 2711 value, e.g. 0 for MLD). */
  routerAlert?: number;
}

export interface Ipv6WalkOptions {
  /**
   * Offset of `payload` from the start of the IPv6 header, for parameter problem pointers: 40 for
   * a received packet's payload; for a reassembled fragmentable part, 40 + the unfragmentable
   * headers + 8, its place in the first fragment (the packet an error would quote).
   */
  base?: number;
  /** The payload is a reassembled fragmentable part: a hop-by-hop or second Fragment header is an error. */
  afterFragment?: boolean;
  /**
   * Where the byte naming the payload's first header sits, from the start of the IPv6 header: 6
   * (the fixed header's Next Header) unless the payload is a reassembled fragmentable part, whose
   * first header the Fragment header named.
   */
  firstNextHeaderPointer?: number;
  /**
   * Check only the structure (lengths, order), not what options and routing headers ask of this
   * node: for a packet quoted in an ICMPv6 error, which this node did not receive.
   */
  structureOnly?: boolean;
}

function failure(code: DecodeError["code"], message: string, parameterProblem?: ParameterProblem): { ok: false; error: Ipv6ExtensionError } {
  return { ok: false, error: parameterProblem === undefined ? { protocol: "ipv6", code, message } : { protocol: "ipv6", code, message, parameterProblem } };
}

/** Walks the chain of `payload` (the bytes after the fixed header), whose first header is `nextHeader`. */
export function walkIpv6ExtensionHeaders(payload: Uint8Array, nextHeader: number, options: Ipv6WalkOptions = {}): Result<Ipv6ExtensionWalk, Ipv6ExtensionError> {
  const base = options.base ?? IPV6_HEADER_LEN;
  const headers: Ipv6ExtensionHeaderSpan[] = [];
  let routerAlert: number | undefined;
  let offset = 0;
  // Where the Next Header byte naming the current header sits, relative to the payload.
  let nextHeaderPointer = (options.firstNextHeaderPointer ?? 6) - base;
  let current = nextHeader;
  // Each step consumes at least 8 bytes, so the walk ends within payload.length / 8 steps.
  for (;;) {
    switch (current) {
      case Ipv6NextHeader.hopByHop:
      case Ipv6NextHeader.destinationOptions:
      case Ipv6NextHeader.routing: {
        const hopByHop = current === Ipv6NextHeader.hopByHop;
        if (hopByHop && (headers.length > 0 || options.afterFragment === true)) {
          return failure("bad-field", "a hop-by-hop options header not right after the IPv6 header", {
            code: ParameterProblemCode.unrecognizedNextHeader,
            pointer: base + nextHeaderPointer,
            notIfMulticast: false,
          });
        }
        if (offset + 2 > payload.length) return failure("truncated", `an extension header at ${offset} needs 2 bytes, ${payload.length - offset} left`);
        const length = (payload[offset + 1]! + 1) * 8;
        if (offset + length > payload.length) {
          return failure("truncated", `an extension header of ${length} bytes at ${offset}, ${payload.length - offset} left`);
        }
        const type: Ipv6ExtensionHeaderType = hopByHop ? "hop-by-hop" : current === Ipv6NextHeader.routing ? "routing" : "destination-options";
        if (current === Ipv6NextHeader.routing) {
          const segmentsLeft = payload[offset + 3]!;
          if (segmentsLeft !== 0 && options.structureOnly !== true) {
            return failure("unsupported", `routing header type ${payload[offset + 2]!} with ${segmentsLeft} segments left`, {
              code: ParameterProblemCode.erroneousHeaderField,
              pointer: base + offset + 2,
              notIfMulticast: false,
            });
          }
        } else {
          const walked = walkOptions(payload, offset, length, base, options.structureOnly === true);
          if (!walked.ok) return walked;
          if (hopByHop && walked.value !== undefined) routerAlert = walked.value;
        }
        headers.push({ type, offset, length });
        nextHeaderPointer = offset;
        current = payload[offset]!;
        offset += length;
        break;
      }
      case Ipv6NextHeader.fragment: {
        if (options.afterFragment === true) return failure("bad-field", "a Fragment header inside a reassembled payload");
        const header = parseIpv6FragmentHeader(payload.subarray(offset));
        if (!header.ok) return failure("truncated", header.error.message);
        headers.push({ type: "fragment", offset, length: IPV6_FRAGMENT_HEADER_LEN });
        const dataOffset = offset + IPV6_FRAGMENT_HEADER_LEN;
        return ok({
          headers,
          nextHeader: header.value.nextHeader,
          offset: dataOffset,
          nextHeaderPointer: base + offset,
          fragment: { header: header.value, offset: dataOffset },
          routerAlert,
        });
      }
      default:
        return ok({ headers, nextHeader: current, offset, nextHeaderPointer: base + nextHeaderPointer, routerAlert });
    }
  }
}

function ok(walk: Ipv6ExtensionWalk & { routerAlert: number | undefined }): { ok: true; value: Ipv6ExtensionWalk } {
  const { routerAlert, ...rest } = walk;
  return { ok: true, value: routerAlert === undefined ? rest : { ...rest, routerAlert } };
}

/**
 * The TLV options of a hop-by-hop or destination options header at `payload[start..start+length]`.
 * Returns the Router Alert value when there is one.
 */
function walkOptions(payload: Uint8Array, start: number, length: number, base: number, structureOnly: boolean): Result<number | undefined, Ipv6ExtensionError> {
  const end = start + length;
  let routerAlert: number | undefined;
  let at = start + 2;
  while (at < end) {
    const type = payload[at]!;
    if (type === Ipv6OptionType.pad1) {
      at += 1;
      continue;
    }
    if (at + 2 > end) return failure("bad-length", `option ${type} at ${at} has no length byte inside its header`);
    const dataLength = payload[at + 1]!;
    if (at + 2 + dataLength > end) return failure("bad-length", `option ${type} of ${dataLength} bytes runs past its header`);
    if (type === Ipv6OptionType.routerAlert) {
      if (dataLength !== 2) return failure("bad-length", `a router alert option of ${dataLength} bytes, not 2`);
      routerAlert = (payload[at + 2]! << 8) | payload[at + 3]!;
    } else if (type !== Ipv6OptionType.padN && !structureOnly) {
      switch (type >> 6) {
        case 0:
          break;
        case 1:
          return failure("unsupported", `unrecognised option ${type}: discard`);
        case 2:
          return failure("unsupported", `unrecognised option ${type}: discard and report`, {
            code: ParameterProblemCode.unrecognizedOption,
            pointer: base + at,
            notIfMulticast: false,
          });
        default:
          return failure("unsupported", `unrecognised option ${type}: discard and report unless multicast`, {
            code: ParameterProblemCode.unrecognizedOption,
            pointer: base + at,
            notIfMulticast: true,
          });
      }
    }
    at += 2 + dataLength;
  }
  return { ok: true, value: routerAlert };
}
