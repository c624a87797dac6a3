/**
 * sumBytes sums large inputs as native 32-bit words (checksum.ts): it must give, folded, exactly
 * what the byte-by-byte big-endian sum it replaced gives, for every alignment of the buffer and
 * the offset, every length (odd ones included) and every initial value.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { checksumValid, foldSum, internetChecksum, sumBytes } from "../src/checksum.ts";

/** The implementation before word sums, kept as the oracle. */
function byteSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  const end = Math.min(offset + length, bytes.length);
  let i = Math.max(0, offset);
  let high = 0;
  let low = 0;
  for (; i + 1 < end; i += 2) {
    high += bytes[i]!;
    low += bytes[i + 1]!;
  }
  if (i < end) high += bytes[i]!;
  return initial + high * 256 + low;
}

const caseArb = fc.record({
  bytes: fc.uint8Array({ minLength: 0, maxLength: 4200 }),
  // Where the view starts inside its ArrayBuffer: every alignment modulo 4.
  viewStart: fc.integer({ min: 0, max: 7 }),
  offset: fc.nat({ max: 300 }),
  length: fc.nat({ max: 4200 }),
  initial: fc.oneof(fc.constant(0), fc.nat({ max: 0xffff }), fc.nat({ max: 2 ** 40 })),
});

test("the word sum folds to exactly the byte sum, at every alignment, offset and length", () => {
  fc.assert(
    fc.property(caseArb, ({ bytes, viewStart, offset, length, initial }) => {
      const backing = new Uint8Array(bytes.length + viewStart + 5);
      backing.set(bytes, viewStart);
      const view = backing.subarray(viewStart, viewStart + bytes.length);
      assert.equal(foldSum(sumBytes(view, offset, length, initial)), foldSum(byteSum(view, offset, length, initial)));
      const len = Math.max(0, Math.min(length, view.length - offset));
      assert.equal(internetChecksum(view, offset, len, initial), ~foldSum(byteSum(view, offset, len, initial)) & 0xffff);
    }),
    { numRuns: 3000 },
  );
});

test("the word sum handles the extremes: all ones, all zeros, a 64 KiB datagram, lengths around the word threshold", () => {
  for (const fill of [0x00, 0xff, 0x80, 0x01]) {
    for (const size of [0, 1, 2, 3, 63, 64, 65, 66, 67, 1479, 1480, 1481, 65535, 65536]) {
      for (const shift of [0, 1, 2, 3]) {
        const backing = new Uint8Array(size + 8).fill(fill);
        const view = backing.subarray(shift, shift + size);
        for (const offset of [0, 1, 2, 3]) {
          assert.equal(foldSum(sumBytes(view, offset, size)), foldSum(byteSum(view, offset, size)), `fill ${fill} size ${size} shift ${shift} offset ${offset}`);
        }
      }
    }
  }
});

test("data with its checksum verifies whatever its alignment (a segment in a receive buffer)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 3000 }), fc.integer({ min: 0, max: 7 }), fc.nat({ max: 0xffffff }), (payload, shift, pseudo) => {
      const length = payload.length + (payload.length & 1) + 2;
      const backing = new Uint8Array(length + shift);
      const segment = backing.subarray(shift, shift + length);
      segment.set(payload);
      const c = internetChecksum(segment, 0, length, pseudo);
      segment[length - 2] = c >> 8;
      segment[length - 1] = c & 0xff;
      assert.ok(checksumValid(segment, 0, length, pseudo));
      segment[shift % length] ^= 0x10;
      assert.ok(!checksumValid(segment, 0, length, pseudo), "a flipped bit is caught");
    }),
  );
});

test("buffers of different ArrayBuffers summed in turn give each its own sum (the view cache)", () => {
  const a = new Uint8Array(2000).map((_, i) => (i * 7) & 0xff);
  const b = new Uint8Array(3000).map((_, i) => (i * 13 + 5) & 0xff);
  const c = new Uint8Array(100).map((_, i) => (i * 3 + 1) & 0xff);
  for (let round = 0; round < 3; round++) {
    for (const x of [a, b, c, b, a]) assert.equal(foldSum(sumBytes(x, 1, x.length - 1)), foldSum(byteSum(x, 1, x.length - 1)));
  }
});
