/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum.
 *
 * Sums are kept unfolded as plain numbers while accumulating (a double holds any realistic
 * packet's sum exactly) and folded once at the end, so pieces (pseudo-header, header, payload)
 * can be summed separately and added.
 */
import type { IpAddress } from "@mirage-ts/runtime";

/**
 * The sum of `length` bytes from `offset` as big-endian 16-bit words (an odd last byte is padded
 * with 0), plus `initial`. The result is only defined up to folding: pieces summed apart add up
 * (fold the total once), and `foldSum` of it equals that of the plain word-by-word sum.
 *
 * This is most of the cost of receiving and sending a segment, so large inputs are summed as
 * native 32-bit words through a Uint32Array over the buffer (RFC 1071 §2: the one's complement
 * sum does not depend on byte order or word width, up to a final byte swap): four bytes per load
 * and one addition, about three times as fast as byte loads. Short inputs (headers) take the
 * byte loop.
 */
export function sumBytes(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  const end = Math.min(offset + length, bytes.length);
  const start = Math.max(0, offset);
  if (end - start < WORDS_MIN_LENGTH) return initial + sumByteLoop(bytes, start, end);
  let i = start;
  // Loose bytes, summed as big-endian words relative to `start`: even positions are high bytes.
  let sum = 0;
  const base = bytes.byteOffset;
  while (((base + i) & 3) !== 0) {
    sum += ((i - start) & 1) === 0 ? bytes[i]! << 8 : bytes[i]!;
    i++;
  }
  const words = (end - i) >> 2;
  const view = wordView(bytes.buffer, base + i + 4 * words);
  let w = (base + i) >> 2;
  const wordsEnd = w + words;
  const unrolledEnd = w + (words & ~3);
  // At most 2^14 words of under 2^32 in a 64 KiB datagram: the double stays exact.
  let words32 = 0;
  for (; w < unrolledEnd; w += 4) words32 += view[w]! + view[w + 1]! + view[w + 2]! + view[w + 3]!;
  for (; w < wordsEnd; w++) words32 += view[w]!;
  // Folded, that is the sum of the native-order 16-bit words: big-endian words as seen from
  // `start` once swapped when the host is little-endian and the block starts at an even
  // position (or big-endian and odd: the high and low bytes of the words change places).
  let folded = foldSum(words32);
  if ((((i - start) & 1) === 0) === LITTLE_ENDIAN) folded = ((folded & 0xff) << 8) | (folded >>> 8);
  sum += folded;
  i += 4 * words;
  for (; i < end; i++) sum += ((i - start) & 1) === 0 ? bytes[i]! << 8 : bytes[i]!;
  return initial + sum;
}

/** Below this many bytes the byte loop is as fast as the word loop's set-up. */
const WORDS_MIN_LENGTH = 64;

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Uint32Array views over whole ArrayBuffers, the two last used (a stack sums in its receive
 * buffer and its send buffer, turn about), so that summing makes no view object per call.
 */
let viewA: Uint32Array = new Uint32Array(0);
let viewB: Uint32Array = new Uint32Array(0);

/** A Uint32Array over `buffer` that reaches at least byte `needEnd`. */
function wordView(buffer: ArrayBufferLike, needEnd: number): Uint32Array {
  if (viewA.buffer === buffer && viewA.byteLength >= needEnd) return viewA;
  if (viewB.buffer === buffer && viewB.byteLength >= needEnd) {
    const v = viewB;
    viewB = viewA;
    viewA = v;
    return v;
  }
  viewB = viewA;
  viewA = new Uint32Array(buffer, 0, buffer.byteLength >> 2);
  return viewA;
}

/** The byte-at-a-time sum: high and low bytes apart (no shift or OR per word), eight bytes per turn. */
function sumByteLoop(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
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
  return high * 256 + low;
}

/** Folds carries into 16 bits (the one's complement sum). */
export function foldSum(sum: number): number {
  // Division keeps this exact above 2^32, where bit operators would truncate (2^32 ≡ 1 modulo
  // 0xffff, so the 32-bit halves add); below, shifts.
  while (sum > 0xffffffff) sum = (sum % 0x100000000) + Math.floor(sum / 0x100000000);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
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
