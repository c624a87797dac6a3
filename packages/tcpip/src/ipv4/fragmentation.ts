/**
 * Fragmentation on send (RFC 791 §3.2): a payload too big for the link is cut into pieces that
 * each fit `mtu` with their header, every piece but the last a multiple of 8 bytes.
 */
import { IPV4_HEADER_LEN, type Ipv4Packet, writeIpv4Header } from "./wire.ts";

export interface FragmentPiece {
  /** Offset of the piece in the original payload, in bytes. */
  offset: number;
  length: number;
  moreFragments: boolean;
}

/**
 * How to cut `payloadLength` bytes for a link of `mtu` (one piece when it fits). Empty when the
 * MTU cannot carry a header and 8 bytes (RFC 791's minimum is 68, so that never happens on a real link).
 */
export function planFragments(payloadLength: number, mtu: number): FragmentPiece[] {
  if (IPV4_HEADER_LEN + payloadLength <= mtu) return [{ offset: 0, length: payloadLength, moreFragments: false }];
  const step = (mtu - IPV4_HEADER_LEN) & ~7;
  if (step <= 0) return [];
  const pieces: FragmentPiece[] = [];
  for (let offset = 0; offset < payloadLength; offset += step) {
    const length = Math.min(step, payloadLength - offset);
    pieces.push({ offset, length, moreFragments: offset + length < payloadLength });
  }
  return pieces;
}

/**
 * Writes one piece of `packet` (header with the piece's offset and MF flag, then its bytes) at
 * `into[offset..]` and returns its length. A packet that is itself a fragment keeps its MF flag
 * on its last piece and its offset as the base (re-fragmenting when forwarding).
 */
export function emitIpv4Fragment(packet: Ipv4Packet, piece: FragmentPiece, into: Uint8Array, offset = 0): number {
  const length = IPV4_HEADER_LEN + piece.length;
  if (offset + length > into.length) throw new RangeError(`emitIpv4Fragment needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  writeIpv4Header(
    { ...packet, moreFragments: piece.moreFragments || packet.moreFragments, fragmentOffset: packet.fragmentOffset + piece.offset },
    length,
    into,
    offset,
  );
  into.set(packet.payload.subarray(piece.offset, piece.offset + piece.length), offset + IPV4_HEADER_LEN);
  return length;
}
