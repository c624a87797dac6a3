/** `--link-faults=SPEC`: the parser, and the netif it makes (passed through untouched when absent). */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { seededRandom } from "../src/prng.ts";
import { createSwitch } from "../src/link/switch.ts";
import { LINK_FAULTS_SYNTAX, connectLinkFaultsNetif, formatLinkFaults, parseLinkFaults } from "../src/stack/link-faults.ts";
import { createVirtualTime } from "../src/testing/virtual-time.ts";
import { memoryLog } from "./support/stacks.ts";
import { frameOf } from "./support/frames.ts";

test("reads every fault, as fractions or percentages, and the seed", () => {
  const r = parseLinkFaults("loss=0.01,reorder=1%,duplicate=0.5%,corrupt=.02,seed=7");
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.deepEqual(r.value, { faults: { loss: 0.01, reorder: 0.01, duplicate: 0.005, corrupt: 0.02 }, seed: 7 });
  const all = parseLinkFaults(" delay=2 , jitter=0.5,reorder-delay=3,mtu=1280,direction=rx");
  assert.ok(all.ok, all.ok ? "" : all.error);
  assert.deepEqual(all.value, { faults: { delayMs: 2, jitterMs: 0.5, reorderMs: 3, mtu: 1280, direction: "rx" }, seed: undefined });
  assert.deepEqual(parseLinkFaults(""), { ok: true, value: { faults: {}, seed: undefined } });
});

test("a bad SPEC is rejected with what is wrong and the syntax", () => {
  for (const [spec, why] of [
    ["loss", /"loss" is not NAME=VALUE/],
    ["loss=2", /loss: "2" is not a probability from 0 to 1/],
    ["loss=150%", /loss: "150%" is not a probability from 0 to 1/],
    ["loss=-0.1", /loss: "-0.1" is not a probability/],
    ["loss=abc", /loss: "abc" is not a probability/],
    ["lose=0.1", /unknown fault "lose"/],
    ["loss=0.1,loss=0.2", /"loss" is given twice/],
    ["seed=1.5", /seed: "1.5" is not a seed/],
    ["seed=4294967296", /is not a seed/],
    ["mtu=20", /an MTU of 20 is outside 68\.\.65535/],
    ["direction=up", /"up" is not a direction/],
    ["delay=1e3", /"1e3" is not a number of milliseconds/],
    ["loss=0.1,", /"" is not NAME=VALUE/],
    ["__proto__=1", /unknown fault "__proto__"/],
  ] as const) {
    const r = parseLinkFaults(spec);
    assert.equal(r.ok, false, spec);
    if (!r.ok) {
      assert.match(r.error, why, spec);
      assert.ok(r.error.startsWith("--link-faults: "), r.error);
      assert.ok(r.error.endsWith(LINK_FAULTS_SYNTAX), "the error shows the syntax");
    }
  }
});

test("property: any string is parsed or rejected with a message, never a throw", () => {
  const names = fc.constantFrom("loss", "duplicate", "reorder", "corrupt", "delay", "jitter", "reorder-delay", "mtu", "direction", "seed", "x", "");
  const values = fc.oneof(fc.string(), fc.double().map(String), fc.nat().map(String), fc.constantFrom("1%", "both", "tx", "rx", "0.5", ""));
  const specs = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.array(fc.tuple(names, values).map(([n, v]) => `${n}=${v}`)).map((items) => items.join(",")));
  fc.assert(
    fc.property(specs, (spec) => {
      const r = parseLinkFaults(spec);
      if (r.ok) {
        // What was accepted formats back to a SPEC that parses to the same thing.
        const again = parseLinkFaults(formatLinkFaults(r.value));
        assert.deepEqual(again, r);
        for (const p of [r.value.faults.loss, r.value.faults.duplicate, r.value.faults.reorder, r.value.faults.corrupt]) {
          if (p !== undefined) assert.ok(p >= 0 && p <= 1);
        }
      } else {
        assert.equal(typeof r.error, "string");
        assert.ok(r.error.length > LINK_FAULTS_SYNTAX.length);
      }
    }),
    { numRuns: 2000 },
  );
});

test("absent or empty: the netif passes through untouched and nothing is logged", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const raw = sw.connect();
  for (const spec of [undefined, ""]) {
    const log = memoryLog();
    const netif = connectLinkFaultsNetif({ netif: raw, spec, time: vt.time, random: seededRandom(1), log });
    assert.equal(netif.faultStats(), undefined);
    assert.equal(netif.mac, raw.mac);
    assert.equal(netif.mtu, raw.mtu);
    await netif.disconnect();
    assert.deepEqual(log.lines, []);
  }
});

test("a SPEC wraps the netif: loss=100% drops everything sent, the stats are logged at info on disconnect", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const a = sw.connect();
  const b = sw.connect();
  let received = 0;
  b.listen((frames) => (received += frames.length));
  const log = memoryLog();
  const netif = connectLinkFaultsNetif({ netif: a, spec: "loss=100%,direction=tx", time: vt.time, random: seededRandom(1), log });
  assert.match(log.lines[0] ?? "", /^info link faults on .*: loss=1,direction=tx,seed=\d+$/, "the seed drawn from Random is logged, so a run can be repeated");
  for (let i = 0; i < 10; i++) netif.write(frameOf(b.mac, a.mac, i));
  await vt.runUntilIdle();
  assert.equal(received, 0);
  assert.equal(netif.faultStats()?.lost, 10);
  await netif.disconnect();
  assert.match(log.lines.at(-1) ?? "", /^info link faults: lost 10, duplicated 0, reordered 0, corrupted 0, delayed 0, too big 0$/);
  // The TAP underneath is the runtime's to disconnect: still usable.
  assert.equal(a.write(frameOf(b.mac, a.mac, 11)), true);
});

test("an invalid SPEC makes connecting fail with the parser's message (a boot error)", () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  assert.throws(() => connectLinkFaultsNetif({ netif: sw.connect(), spec: "loss=2", time: vt.time, random: seededRandom(1) }), /--link-faults: loss: "2" is not a probability.*the syntax is/);
});
