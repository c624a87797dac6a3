import assert from "node:assert/strict";
import { test } from "node:test";
import type { Netif } from "@mirage-ts/runtime";
import { type LinkFaultOptions, withFaults } from "../src/link/faults.ts";
import { createSwitch } from "../src/link/switch.ts";
import { createVirtualTime } from "../src/testing/virtual-time.ts";
import { frameOf, recorder, tagOf } from "./support/frames.ts";

/** A sends `count` tagged frames to B through a fault wrapper on A's tx side (or B's rx side). */
async function run(faults: LinkFaultOptions, count: number, side: "tx" | "rx" = "tx", burst = true) {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time, queueLimit: 100_000 });
  const rawA = sw.connect();
  const rawB = sw.connect();
  const a: Netif = side === "tx" ? withFaults(rawA, faults, { time: vt.time }) : rawA;
  const b = side === "rx" ? withFaults(rawB, faults, { time: vt.time }) : rawB;
  const seen = recorder(b);
  const scratch = frameOf(b.mac, a.mac, 0);
  for (let i = 0; i < count; i++) {
    new DataView(scratch.buffer).setUint32(14, i);
    a.write(scratch);
    if (!burst) await vt.advance(1);
  }
  await vt.runUntilIdle();
  return { seen, vt, a, b, scratch };
}

test("the same seed gives the same faults; another seed gives others", async () => {
  const faults = { loss: 0.1, duplicate: 0.1, reorder: 0.1, jitterMs: 3, corrupt: 0.05 };
  const one = await run({ seed: 1, ...faults }, 300);
  const again = await run({ seed: 1, ...faults }, 300);
  const other = await run({ seed: 2, ...faults }, 300);
  assert.deepEqual(again.seen.frames, one.seen.frames);
  assert.notDeepEqual(other.seen.frames, one.seen.frames);
});

test("loss drops about the given fraction; 0 and 1 are exact", async () => {
  assert.equal((await run({ seed: 3, loss: 0 }, 500)).seen.frames.length, 500);
  assert.equal((await run({ seed: 3, loss: 1 }, 500)).seen.frames.length, 0);
  const { seen, a } = await run({ seed: 3, loss: 0.3 }, 5000);
  assert.ok(seen.frames.length > 3300 && seen.frames.length < 3700, `${seen.frames.length} of 5000 delivered`);
  const stats = (a as ReturnType<typeof withFaults>).faultStats();
  assert.equal(stats.lost + seen.frames.length, 5000);
  assert.deepEqual(seen.frames.map(tagOf), [...seen.frames.map(tagOf)].sort((x, y) => x - y), "loss alone keeps the order");
});

test("duplicate delivers frames twice, as separate copies", async () => {
  for (const side of ["tx", "rx"] as const) {
    const vt = createVirtualTime();
    const sw = createSwitch({ time: vt.time });
    const a = sw.connect();
    const b = withFaults(sw.connect(), { seed: 4, duplicate: 1, direction: side === "rx" ? "rx" : "both" }, { time: vt.time });
    const batches: Uint8Array[][] = [];
    b.listen((frames) => batches.push([...frames]));
    if (side === "rx") a.write(frameOf(b.mac, a.mac, 7));
    else b.write(frameOf(a.mac, b.mac, 7));
    await vt.runUntilIdle();
    if (side === "rx") {
      assert.equal(batches.length, 1);
      assert.equal(batches[0]!.length, 2);
      assert.notEqual(batches[0]![0], batches[0]![1]);
      assert.deepEqual(batches[0]![0], batches[0]![1]);
    }
    assert.equal(b.faultStats().duplicated, 1);
  }
  const { seen } = await run({ seed: 4, duplicate: 1 }, 10);
  assert.deepEqual(seen.frames.map(tagOf), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]);
});

test("corrupt flips exactly one bit of a copy, never the sender's buffer", async () => {
  const { seen, scratch } = await run({ seed: 5, corrupt: 1 }, 200);
  assert.equal(seen.frames.length, 200);
  let i = 0;
  for (const got of seen.frames) {
    const expected = scratch.slice();
    new DataView(expected.buffer).setUint32(14, i++);
    let bits = 0;
    for (let k = 0; k < expected.length; k++) for (let x = got[k]! ^ expected[k]!; x; x &= x - 1) bits++;
    assert.equal(bits, 1);
  }
  assert.equal(new DataView(scratch.buffer).getUint32(14), 199, "the sender's buffer holds what it wrote last");
});

test("delay holds every frame for delayMs of virtual time", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const a = withFaults(sw.connect(), { seed: 6, delayMs: 10 }, { time: vt.time });
  const b = sw.connect();
  const seen = recorder(b);
  a.write(frameOf(b.mac, a.mac, 1));
  a.write(frameOf(b.mac, a.mac, 2));
  await vt.advance(9.9);
  assert.equal(seen.frames.length, 0);
  await vt.advance(0.1);
  assert.deepEqual(seen.frames.map(tagOf), [1, 2]);
  assert.equal(a.faultStats().delayed, 2);
});

test("reorder lets later frames overtake, without losing any", async () => {
  const { seen, a } = await run({ seed: 7, reorder: 0.2, reorderMs: 5 }, 200, "tx", false);
  const tags = seen.frames.map(tagOf);
  assert.deepEqual([...tags].sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i));
  assert.notDeepEqual(tags, [...tags].sort((x, y) => x - y));
  assert.ok((a as ReturnType<typeof withFaults>).faultStats().reordered > 0);
});

test("a smaller link MTU is reported and enforced both ways", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const raw = sw.connect();
  const peer = sw.connect();
  const a = withFaults(raw, { seed: 8, mtu: 576 }, { time: vt.time });
  assert.equal(a.mtu, 576);
  const seenA = recorder(a);
  const seenPeer = recorder(peer);
  assert.equal(a.write(frameOf(peer.mac, a.mac, 1, 577)), false);
  assert.ok(a.write(frameOf(peer.mac, a.mac, 2, 576)));
  peer.write(frameOf(a.mac, peer.mac, 3, 1000));
  peer.write(frameOf(a.mac, peer.mac, 4, 500));
  await vt.runUntilIdle();
  assert.deepEqual(seenPeer.frames.map(tagOf), [2]);
  assert.deepEqual(seenA.frames.map(tagOf), [4]);
  assert.equal(a.faultStats().tooBig, 2);
  a.setFaults({ loss: 1 });
  assert.equal(a.mtu, 1500);
  a.write(frameOf(peer.mac, a.mac, 5));
  await vt.runUntilIdle();
  assert.deepEqual(seenPeer.frames.map(tagOf), [2], "setFaults applies at once");
});

test("direction limits faults to one way", async () => {
  const { seen } = await run({ seed: 9, loss: 1, direction: "rx" }, 20, "tx");
  assert.equal(seen.frames.length, 20, "tx is clean when only rx is faulty");
  const { seen: seenRx } = await run({ seed: 9, loss: 1, direction: "rx" }, 20, "rx");
  assert.equal(seenRx.frames.length, 0);
});
