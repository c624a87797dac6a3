/**
 * The IPv6 Fragment header (RFC 8200 §4.5) and fragmentation on send. Only the source fragments
 * in IPv6: a packet bigger than the path MTU is cut into an unfragmentable part (the fixed header
 * and the extension headers every node on the path reads: hop-by-hop, routing), repeated in every
 * fragment, and a fragmentable part (the rest) cut into pieces of multiples of 8 bytes, each behind
 * a Fragment header carrying the same identification.
 */
import type { Result } from "@mirage-ts/runtime";
import { get16, get32, set16, set32 } from "../bytes.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";
import { IPV6_HEADER_LEN, IPV6_MAX_PAYLOAD_LEN, type Ipv6Header, Ipv6NextHeader, writeIpv6Header } from "./wire.ts";

export const IPV6_FRAGMENT_HEADER_LEN = 8;

export interface Ipv6FragmentHeader {
  /** The type of the fragmentable part's first header (the upper layer once reassembled). */
  nextHeader: number;
  /** In bytes; a multiple of 8. */
  fragmentOffset: number;
  moreFragments: boolean;
  identification: number;
}

/** Parses the 8-byte Fragment header at the start of `bytes`. The reserved bits are ignored. */
export function parseIpv6FragmentHeader(bytes: Uint8Array): Result<Ipv6FragmentHeader, DecodeError> {
  if (bytes.length < IPV6_FRAGMENT_HEADER_LEN) {
    return decodeError("ipv6", "truncated", `a Fragment header needs 8 bytes, got ${bytes.length}`);
  }
  const word = get16(bytes, 2);
  return {
    ok: true,
    value: { nextHeader: bytes[0]!, fragmentOffset: word & 0xfff8, moreFragments: (word & 1) !== 0, identification: get32(bytes, 4) },
  };
}

/** Writes the 8-byte Fragment header at `into[offset..]`; returns 8. */
export function emitIpv6FragmentHeader(header: Ipv6FragmentHeader, into: Uint8Array, offset = 0): number {
  if (offset + IPV6_FRAGMENT_HEADER_LEN > into.length) throw new RangeError(`a Fragment header needs 8 bytes at offset ${offset}, buffer has ${into.length}`);
  into[offset] = header.nextHeader;
  into[offset + 1] = 0;
  set16(into, offset + 2, (header.fragmentOffset & 0xfff8) | (header.moreFragments ? 1 : 0));
  set32(into, offset + 4, header.identification);
  return IPV6_FRAGMENT_HEADER_LEN;
}

/** An atomic fragment (RFC 6946): offset 0 and no more fragments, processed on its own, never reassembled. */
export function isAtomicFragment(header: Pick<Ipv6FragmentHeader, "fragmentOffset" | "moreFragments">): boolean {
  return header.fragmentOffset === 0 && !header.moreFragments;
}

export interface Ipv6FragmentPiece {
  /** Offset of the piece in the fragmentable part, in bytes. */
  offset: number;
  length: number;
  moreFragments: boolean;
}

/**
 * How to send a packet whose extension headers that must be repeated take `unfragmentableLength`
 * bytes and whose rest takes `fragmentableLength` bytes, on a path of `mtu`:
 * - `{ fragmented: false }` when the whole packet fits;
 * - the pieces otherwise, every piece but the last a multiple of 8 bytes, each fitting `mtu` with
 *   the fixed header, the unfragmentable part and a Fragment header;
 * - `undefined` when it cannot be sent: the unfragmentable part leaves no room for 8 bytes, or
 *   the fragmentable part is beyond what a Fragment offset can address.
 */
export function planIpv6Fragments(
  unfragmentableLength: number,
  fragmentableLength: number,
  mtu: number,
): { fragmented: false } | { fragmented: true; pieces: Ipv6FragmentPiece[] } | undefined {
  if (IPV6_HEADER_LEN + unfragmentableLength + fragmentableLength <= mtu && unfragmentableLength + fragmentableLength <= IPV6_MAX_PAYLOAD_LEN) {
    return { fragmented: false };
  }
  const step = (mtu - IPV6_HEADER_LEN - unfragmentableLength - IPV6_FRAGMENT_HEADER_LEN) & ~7;
  if (step <= 0) return undefined;
  // The reassembled payload (unfragmentable part + fragmentable part) must fit 16 bits.
  if (unfragmentableLength + fragmentableLength > IPV6_MAX_PAYLOAD_LEN) return undefined;
  const pieces: Ipv6FragmentPiece[] = [];
  for (let offset = 0; offset < fragmentableLength; offset += step) {
    const length = Math.min(step, fragmentableLength - offset);
    pieces.push({ offset, length, moreFragments: offset + length < fragmentableLength });
  }
  return { fragmented: true, pieces };
}

/** What one fragment is cut from. */
export interface Ipv6FragmentSource {
  /** The fixed header; its `nextHeader` is the first header after it (unfragmentable or, with none, the fragmentable part's). */
  header: Ipv6Header;
  /**
   * The extension headers repeated in every fragment (whole headers, each with the RFC 8200
   * length byte at +1); empty for none. The last one's Next Header byte is rewritten to 44.
   */
  unfragmentable: Uint8Array;
  /** The type of the fragmentable part's first header. */
  fragmentableNextHeader: number;
  fragmentable: Uint8Array;
  identification: number;
}

/** The length `emitIpv6Fragment` writes for `piece`. */
export function ipv6FragmentLength(source: Pick<Ipv6FragmentSource, "unfragmentable">, piece: Ipv6FragmentPiece): number {
  return IPV6_HEADER_LEN + source.unfragmentable.length + IPV6_FRAGMENT_HEADER_LEN + piece.length;
}

/**
 * Writes one fragment of `source` at `into[offset..]` and returns its length: the fixed header,
 * the unfragmentable headers chained to a Fragment header, and the piece's bytes.
 */
export function emitIpv6Fragment(source: Ipv6FragmentSource, piece: Ipv6FragmentPiece, into: Uint8Array, offset = 0): number {
  const length = ipv6FragmentLength(source, piece);
  if (offset + length > into.length) throw new RangeError(`emitIpv6Fragment needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  const { unfragmentable } = source;
  const firstHeader = unfragmentable.length === 0 ? Ipv6NextHeader.fragment : source.header.nextHeader;
  writeIpv6Header({ ...source.header, nextHeader: firstHeader }, length - IPV6_HEADER_LEN, into, offset);
  let at = offset + IPV6_HEADER_LEN;
  if (unfragmentable.length > 0) {
    into.set(unfragmentable, at);
    // Find the last unfragmentable header to point its Next Header at the Fragment header.
    let last = 0;
    for (let h = 0; h < unfragmentable.length; h += ((unfragmentable[h + 1] ?? 0) + 1) * 8) last = h;
    into[at + last] = Ipv6NextHeader.fragment;
    at += unfragmentable.length;
  }
  at += emitIpv6FragmentHeader(
    { nextHeader: source.fragmentableNextHeader, fragmentOffset: piece.offset, moreFragments: piece.moreFragments, identification: source.identification },
    into,
    at,
  );
  into.set(source.fragmentable.subarray(piece.offset, piece.offset + piece.length), at);
  return length;
}
