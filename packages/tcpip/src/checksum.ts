/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum.
 *
 * Sums are kept unfolded as plain numbers while accumulating (a double holds any realistic
 * packet's sum exactly) and folded once at the end, so pieces (pseudo-header, header, payload)
 * can be summed separately and added.
 */
import type { IpAddress } from "@mirage-ts/runtime";

/** The unfolded sum of `length` bytes from `offset` as big-endian 16-bit words (an odd last byte is padded with 0). */
export function sumBytes(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  const end = Math.min(offset + length, bytes.length);
  let i = Math.max(0, offset);
  // High and low bytes of the 16-bit words summed apart (no shift or OR per word), eight bytes
  // per turn: this loop is most of the cost of receiving and answering a packet.
  let high = 0;
  let low = 0;
  const blocksEnd = i + ((end - i) & ~7);
  for (; i < blocksEnd; i += 8) {
    high += bytes[i]! + bytes[i + 2]! + bytes[i + 4]! + bytes[i + 6]!;
    low += bytes[i + 1]! + bytes[i + 3]! + bytes[i + 5]! + bytes[i + 7]!;
  }
  const pairsEnd = end - ((end - i) & 1);
  for (; i < pairsEnd; i += 2) {
    high += bytes[i]!;
    low += bytes[i + 1]!;
  }
  if (i < end) high += bytes[i]!;
  return initial + high * 256 + low;
}

/** Folds carries into 16 bits (the one's complement sum). */
export function foldSum(sum: number): number {
  // Division keeps this exact above 2^32, where bit operators would truncate.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for data whose unfolded sum is `sum`. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** The checksum of `bytes[offset..offset+length]`, with `initial` (e.g. a pseudo-header sum) added. */
export function internetChecksum(bytes: Uint8Array, offset = 0, length = bytes.length - offset, initial = 0): number {
  return finishChecksum(sumBytes(bytes, offset, length, initial));
}

/** True when data that includes its own checksum field sums to 0xffff (the check on receive). */
export function checksumValid(bytes: Uint8Array, offset: number, length: number, initial = 0): boolean {
  return foldSum(sumBytes(bytes, offset, length, initial)) === 0xffff;
}

function sumIpv4Value(value: number): number {
  return (value >>> 16) + (value & 0xffff);
}

/**
 * The unfolded sum of the TCP/UDP pseudo-header: RFC 768/793 for IPv4 (source, destination,
 * zero, protocol, length), RFC 8200 §8.1 for IPv6 (source, destination, 32-bit length, next header).
 */
export function pseudoHeaderSum(src: IpAddress, dst: IpAddress, protocol: number, length: number): number {
  if (src.family === 4 && dst.family === 4) {
    return sumIpv4Value(src.value) + sumIpv4Value(dst.value) + protocol + length;
  }
  let sum = protocol + (length >>> 16) + (length & 0xffff);
  for (const a of [src, dst]) {
    if (a.family === 4) sum += sumIpv4Value(a.value);
    else for (let i = 0; i < 8; i++) sum += a.word(i);
  }
  return sum;
}

/** The IPv4 pseudo-header sum from addresses as 32-bit integers (the hot path: no objects). */
export function pseudoHeaderSumV4(src: number, dst: number, protocol: number, length: number): number {
  return sumIpv4Value(src >>> 0) + sumIpv4Value(dst >>> 0) + protocol + length;
}
