import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { createVirtualTime } from "../src/testing/virtual-time.ts";

test("timers fire in due order, ties in scheduling order, with the clock at their due time", async () => {
  fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 40 }), async (delays) => {
      const vt = createVirtualTime({ startMs: 1000 });
      const fired: Array<[number, number]> = [];
      delays.forEach((d, i) => vt.time.schedule(d, () => fired.push([i, vt.clock.now()])));
      assert.equal(vt.pending(), delays.length);
      await vt.advance(50);
      const expected = delays.map((d, i) => [i, 1000 + d] as [number, number]).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
      assert.deepEqual(fired, expected);
      assert.equal(vt.now(), 1050);
      assert.equal(vt.pending(), 0);
    }),
  );
});

test("advance stops at its target; cancelled timers never fire", async () => {
  const vt = createVirtualTime();
  const fired: string[] = [];
  vt.time.schedule(10, () => fired.push("a"));
  const b = vt.time.schedule(20, () => fired.push("b"));
  vt.time.schedule(30, () => fired.push("c"));
  await vt.advance(15);
  assert.deepEqual(fired, ["a"]);
  assert.equal(vt.now(), 15);
  b.cancel();
  b.cancel();
  assert.equal(vt.pending(), 1);
  assert.equal(vt.nextTimerAt(), 30);
  await vt.advance(100);
  assert.deepEqual(fired, ["a", "c"]);
  assert.equal(vt.nextTimerAt(), undefined);
});

test("sleep resolves in virtual time, and code after the await sees the right clock", async () => {
  const vt = createVirtualTime();
  const seen: number[] = [];
  const worker = (async () => {
    for (let i = 0; i < 3; i++) {
      await vt.time.sleep(100);
      seen.push(vt.clock.now());
    }
  })();
  await vt.advance(250);
  assert.deepEqual(seen, [100, 200]);
  await vt.runUntilIdle();
  await worker;
  assert.deepEqual(seen, [100, 200, 300]);
  assert.equal(vt.posixClock.now(), 1_704_067_200_000 + 300);
  assert.equal(vt.clock.elapsedNs(), 300_000_000);
});

test("sleep rejects with an AbortError when its signal aborts, and the timer is dropped", async () => {
  const vt = createVirtualTime();
  const controller = new AbortController();
  const sleeping = vt.time.sleep(1000, controller.signal);
  controller.abort();
  await assert.rejects(sleeping, (e: Error) => e.name === "AbortError");
  assert.equal(vt.pending(), 0);
  await assert.rejects(vt.time.sleep(1, controller.signal), { name: "AbortError" });
});

test("runUntilIdle refuses to loop forever on a self-re-arming timer", async () => {
  const vt = createVirtualTime();
  const tick = (): void => void vt.time.schedule(1000, tick);
  tick();
  await assert.rejects(vt.runUntilIdle({ maxTimers: 50 }), /more than 50 timers/);
  await assert.rejects(vt.runUntilIdle({ untilMs: 60_000 }), /past untilMs/);
});

test("flush fires what is due now without moving the clock", async () => {
  const vt = createVirtualTime({ startMs: 5 });
  const fired: number[] = [];
  vt.time.schedule(0, () => {
    fired.push(1);
    vt.time.schedule(0, () => fired.push(2));
  });
  vt.time.schedule(1, () => fired.push(3));
  assert.equal(await vt.flush(), 2);
  assert.deepEqual(fired, [1, 2]);
  assert.equal(vt.now(), 5);
});
