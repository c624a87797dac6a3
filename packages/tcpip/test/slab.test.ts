import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SlabAllocator } from "../src/slab.ts";

test("every copy keeps its bytes after the source is reused and many more copies are carved", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 12_000 }), { minLength: 1, maxLength: 200 }), (payloads) => {
      const slab = new SlabAllocator();
      const frame = new Uint8Array(16_000);
      const copies = payloads.map((p) => {
        frame.set(p, 7);
        const c = slab.copy(frame, 7, 7 + p.length);
        frame.fill(0xee); // the netif reuses its buffer for the next frame
        return c;
      });
      copies.forEach((c, i) => assert.deepEqual(c, payloads[i]));
    }),
    { numRuns: 200 },
  );
});

test("small copies share a slab; large ones get their own buffer", () => {
  const slab = new SlabAllocator();
  const src = new Uint8Array(20_000).fill(1);
  const a = slab.copy(src, 0, 100);
  const b = slab.copy(src, 0, 100);
  assert.equal(a.buffer, b.buffer);
  assert.equal(b.byteOffset % 8, 0);
  const big = slab.copy(src, 0, 9000);
  assert.notEqual(big.buffer, a.buffer);
  assert.equal(big.byteLength, 9000);
});
