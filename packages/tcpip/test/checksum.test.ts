import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { checksumValid, foldSum, internetChecksum, pseudoHeaderSum, pseudoHeaderSumV4, sumBytes } from "../src/checksum.ts";
import { ipv4Arb, ipv6Arb } from "./support/arbitraries.ts";

/** RFC 1071 §1 computed the slow way: end-around carry after every addition. */
function reference(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return ~sum & 0xffff;
}

test("the RFC 1071 §3 example", () => {
  const bytes = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assert.equal(foldSum(sumBytes(bytes, 0, bytes.length)), 0xddf2);
  assert.equal(internetChecksum(bytes), 0x220d);
});

test("the checksum equals the reference, sums split at even offsets add up, and data with its checksum verifies", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), (bytes, cut) => {
      assert.equal(internetChecksum(bytes), reference(bytes));
      const k = bytes.length === 0 ? 0 : (cut % bytes.length) & ~1;
      assert.equal(foldSum(sumBytes(bytes, 0, k) + sumBytes(bytes, k, bytes.length - k)), foldSum(sumBytes(bytes, 0, bytes.length)));
      const withSum = new Uint8Array(bytes.length + (bytes.length & 1) + 2);
      withSum.set(bytes);
      const c = internetChecksum(withSum);
      withSum[withSum.length - 2] = c >> 8;
      withSum[withSum.length - 1] = c & 0xff;
      assert.ok(checksumValid(withSum, 0, withSum.length));
    }),
  );
});

test("foldSum stays exact for sums above 2^32", () => {
  assert.equal(foldSum(0x1_0000_0000), 1);
  assert.equal(foldSum(0xffff_ffff_ffff), 0xffff);
});

test("the pseudo-header sum equals the sum of the pseudo-header bytes (IPv4 and IPv6)", () => {
  fc.assert(
    fc.property(ipv4Arb, ipv4Arb, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), (src, dst, proto, length) => {
      const bytes = new Uint8Array(12);
      src.toBytes(bytes, 0);
      dst.toBytes(bytes, 4);
      bytes[9] = proto;
      bytes[10] = length >> 8;
      bytes[11] = length & 0xff;
      assert.equal(foldSum(pseudoHeaderSum(src, dst, proto, length)), foldSum(sumBytes(bytes, 0, 12)));
      assert.equal(pseudoHeaderSumV4(src.value, dst.value, proto, length), pseudoHeaderSum(src, dst, proto, length));
    }),
  );
  fc.assert(
    fc.property(ipv6Arb, ipv6Arb, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xfffff }), (src, dst, next, length) => {
      const bytes = new Uint8Array(40);
      src.toBytes(bytes, 0);
      dst.toBytes(bytes, 16);
      new DataView(bytes.buffer).setUint32(32, length);
      bytes[39] = next;
      assert.equal(foldSum(pseudoHeaderSum(src, dst, next, length)), foldSum(sumBytes(bytes, 0, 40)));
    }),
  );
});
