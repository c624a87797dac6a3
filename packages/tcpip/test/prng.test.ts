import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { createPrng, seededRandom } from "../src/prng.ts";

test("the same seed gives the same sequence; different seeds differ", () => {
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      const a = createPrng(seed);
      const b = createPrng(seed);
      const c = createPrng(seed + 1);
      const xs = Array.from({ length: 8 }, () => a.nextUint32());
      assert.deepEqual(Array.from({ length: 8 }, () => b.nextUint32()), xs);
      assert.notDeepEqual(Array.from({ length: 8 }, () => c.nextUint32()), xs);
      for (const x of xs) assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
    }),
  );
});

test("values are spread: floats in [0,1), ints in range, bytes roughly uniform", () => {
  const prng = createPrng(7);
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const f = prng.nextFloat();
    assert.ok(f >= 0 && f < 1);
    buckets[Math.floor(f * 10)]!++;
  }
  for (const b of buckets) assert.ok(b > 9_500 && b < 10_500, `bucket ${b}`);
  for (let i = 0; i < 1000; i++) {
    const n = prng.nextInt(6);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 6);
  }
  assert.throws(() => prng.nextInt(0), RangeError);
  const bytes = prng.fill(new Uint8Array(65_536 + 3));
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  for (const c of counts) assert.ok(c > 150 && c < 370, `byte count ${c}`);
});

test("seededRandom is a deterministic Random device", async () => {
  const a = seededRandom(1);
  const b = seededRandom(1);
  assert.deepEqual(a.bytes(13), b.bytes(13));
  assert.equal(a.uint32(), b.uint32());
  const into = new Uint8Array(5);
  assert.equal(a.fill(into), into);
  await a.disconnect();
});
