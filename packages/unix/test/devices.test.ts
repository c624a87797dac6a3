import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import fc from "fast-check";
import { connectConsole, connectMonotonicClock, connectPosixClock, connectRandom, connectTime } from "@mirage-ts/unix";

test("console: log adds a newline, write passes bytes and text through", async () => {
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on("data", (c: Buffer) => chunks.push(c));
  const console = connectConsole({ output });
  console.log("hello");
  await console.write(new Uint8Array([0x61, 0x62]));
  await console.write("c");
  await console.disconnect();
  assert.equal(Buffer.concat(chunks).toString(), "hello\nabc");
});

test("monotonic clock: never goes backwards, ms and ns agree", () => {
  const clock = connectMonotonicClock();
  let previous = clock.elapsedNs();
  for (let i = 0; i < 1000; i++) {
    const now = clock.elapsedNs();
    assert.ok(Number.isInteger(now));
    assert.ok(now >= previous);
    previous = now;
  }
  const ms = clock.now();
  const ns = clock.elapsedNs();
  assert.ok(ns / 1e6 >= ms);
  // Two connected clocks share their origin.
  assert.ok(connectMonotonicClock().elapsedNs() >= ns);
});

test("posix clock: the wall clock and the host's UTC offset", () => {
  const clock = connectPosixClock();
  const before = Date.now();
  const now = clock.now();
  assert.ok(now >= before && now <= Date.now());
  const saved = process.env.TZ;
  try {
    process.env.TZ = "Asia/Kolkata";
    assert.equal(clock.currentTzOffsetSeconds(), 5.5 * 3600);
    process.env.TZ = "Etc/GMT+5"; // POSIX names count west positive: this is UTC-5.
    assert.equal(clock.currentTzOffsetSeconds(), -5 * 3600);
    process.env.TZ = "UTC";
    assert.equal(clock.currentTzOffsetSeconds(), 0);
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test("time: sleep resolves after the delay and schedule runs once", async () => {
  const time = connectTime();
  const clock = connectMonotonicClock();
  const start = clock.now();
  await time.sleep(20);
  assert.ok(clock.now() - start >= 19);
  let runs = 0;
  await new Promise<void>((resolve) => time.schedule(5, () => (runs++, resolve())));
  await time.sleep(10);
  assert.equal(runs, 1);
  await time.disconnect();
});

test("time: a cancelled timer never runs", async () => {
  const time = connectTime();
  let ran = false;
  time.schedule(5, () => (ran = true)).cancel();
  await time.sleep(20);
  assert.equal(ran, false);
  await time.disconnect();
});

test("time: sleep rejects with an AbortError when its signal aborts", async () => {
  const time = connectTime();
  const controller = new AbortController();
  const sleeping = time.sleep(60_000, controller.signal);
  controller.abort();
  await assert.rejects(sleeping, { name: "AbortError" });
  await assert.rejects(time.sleep(10, AbortSignal.abort()), { name: "AbortError" });
  await time.disconnect();
});

test("time: disconnect cancels pending sleeps and timers", async () => {
  const time = connectTime();
  let ran = false;
  time.schedule(50, () => (ran = true));
  const sleeping = time.sleep(60_000);
  await time.disconnect();
  await assert.rejects(sleeping, { name: "AbortError" });
  await assert.rejects(time.sleep(1), { name: "AbortError" });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(ran, false);
});

test("random: the OS generator gives distinct values", () => {
  const random = connectRandom();
  const a = random.bytes(32);
  const b = random.bytes(32);
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
  const into = new Uint8Array(16);
  assert.equal(random.fill(into), into);
  const n = random.uint32();
  assert.ok(Number.isInteger(n) && n >= 0 && n <= 0xffffffff);
});

test("random: the same seed gives the same stream, whatever the chunking", () => {
  fc.assert(
    fc.property(fc.string(), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 10 }), (seed, sizes) => {
      const total = sizes.reduce((a, b) => a + b, 0);
      const whole = connectRandom({ seed }).bytes(total);
      const chunked = connectRandom({ seed });
      const parts = sizes.map((n) => chunked.bytes(n));
      assert.deepEqual(Buffer.concat(parts), Buffer.from(whole));
    }),
  );
});

test("random: different seeds give different streams; uint32 is deterministic too", () => {
  const a = connectRandom({ seed: "a" });
  const b = connectRandom({ seed: "b" });
  assert.notDeepEqual(a.bytes(32), b.bytes(32));
  const x = connectRandom({ seed: "same" });
  const y = connectRandom({ seed: "same" });
  const xs = Array.from({ length: 100 }, () => x.uint32());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => y.uint32()));
  assert.ok(xs.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff));
  // Roughly uniform: the top bit is set about half the time.
  const many = connectRandom({ seed: "uniform" });
  let high = 0;
  for (let i = 0; i < 4000; i++) if (many.uint32() >= 0x80000000) high++;
  assert.ok(high > 1700 && high < 2300, `top bit set ${high} times out of 4000`);
});
