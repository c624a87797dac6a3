/**
 * The neighbour cache state machine in virtual time: resolution with retransmits and a bounded
 * queue, RFC 4861 §7.2.5's advertisement rules, the NUD cycle REACHABLE → STALE → DELAY → PROBE,
 * learning from solicitations and router messages, ReachableTime randomisation, and invariants
 * under any sequence of events.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv6Address, MacAddress } from "@mirage-ts/runtime";
import {
  type NeighborAction,
  type NeighborCacheState,
  type NeighborEvent,
  createNeighborCacheState,
  neighborEntry,
  neighborLookup,
  neighborNextDeadline,
  neighborStep,
  randomReachableTime,
} from "../src/ndp/neighbor-cache.ts";

const IP = Ipv6Address.of("fe80::1");
const OTHER = Ipv6Address.of("2001:db8::77");
const MAC = MacAddress.of("02:00:00:00:00:01");
const MAC2 = MacAddress.of("02:00:00:00:00:02");
/** random = 2^31: ReachableTime is exactly the base. */
const HALF = 0x80000000;

class Driver {
  state: NeighborCacheState<string>;
  actions: NeighborAction<string>[] = [];
  constructor(config: Parameters<typeof createNeighborCacheState>[0] = {}) {
    this.state = createNeighborCacheState<string>(config, HALF);
  }
  step(now: number, event: NeighborEvent<string>): NeighborAction<string>[] {
    const r = neighborStep(this.state, now, event);
    this.state = r.state;
    this.actions.push(...r.actions);
    return r.actions;
  }
  /** Ticks at every deadline up to `until`, as the engine's timer would. */
  runUntil(until: number): NeighborAction<string>[] {
    const out: NeighborAction<string>[] = [];
    for (let d = neighborNextDeadline(this.state); d !== undefined && d <= until; d = neighborNextDeadline(this.state)) out.push(...this.step(d, { type: "tick" }));
    return out;
  }
  get entry() {
    return neighborEntry(this.state, IP);
  }
}

const na = (over: Partial<Extract<NeighborEvent<string>, { type: "advertisement" }>> = {}): NeighborEvent<string> => ({
  type: "advertisement",
  target: IP,
  mac: MAC,
  router: false,
  solicited: true,
  override: true,
  ...over,
});

test("resolution: multicast solicitations to the solicited-node group every second, then unreachable with the queue", () => {
  const d = new Driver();
  const first = d.step(0, { type: "resolve", ip: IP, packet: "p1" });
  assert.deepEqual(first.map((a) => (a.type === "solicit" ? [a.target.toString(), a.dst.toString(), a.dstMac.toString()] : a.type)), [
    ["fe80::1", "ff02::1:ff00:1", "33:33:ff:00:00:01"],
  ]);
  d.step(10, { type: "resolve", ip: IP, packet: "p2" });
  assert.equal(d.entry?.state, "incomplete");
  assert.equal(neighborLookup(d.state, 10, IP), undefined);
  const later = d.runUntil(10_000);
  assert.deepEqual(later.map((a) => a.type), ["solicit", "solicit", "unreachable"]);
  const gone = later[2]!;
  assert.ok(gone.type === "unreachable" && gone.ip.equals(IP));
  assert.deepEqual(gone.packets, ["p1", "p2"]);
  assert.equal(d.entry, undefined);
  assert.equal(neighborNextDeadline(d.state), undefined, "nothing left to time");
});

test("a solicited advertisement resolves: queued packets are released in order, the entry is REACHABLE", () => {
  const d = new Driver();
  d.step(0, { type: "resolve", ip: IP, packet: "p1" });
  d.step(1, { type: "resolve", ip: IP, packet: "p2" });
  const r = d.step(500, na());
  assert.equal(r.length, 1);
  const a = r[0]!;
  assert.ok(a.type === "resolved" && a.mac.equals(MAC));
  assert.deepEqual(a.packets, ["p1", "p2"]);
  assert.equal(d.entry?.state, "reachable");
  assert.ok(neighborLookup(d.state, 600, IP)?.equals(MAC));
  assert.deepEqual(d.runUntil(1500), [], "no retransmission once resolved");
});

test("an advertisement without a link-layer address, or for nobody we asked about, changes nothing", () => {
  const d = new Driver();
  assert.deepEqual(d.step(0, na({ target: OTHER })), []);
  assert.equal(d.state.entries.size, 0);
  d.step(0, { type: "resolve", ip: IP, packet: "p" });
  assert.deepEqual(d.step(1, na({ mac: undefined })), []);
  assert.equal(d.entry?.state, "incomplete");
  const unsolicited = d.step(2, na({ solicited: false }));
  assert.ok(unsolicited[0]?.type === "resolved");
  assert.equal(d.entry?.state, "stale", "an unsolicited answer proves nothing about reachability");
});

test("NUD: REACHABLE → STALE after ReachableTime; a packet moves it to DELAY, then PROBE with unicast solicitations", () => {
  const d = new Driver();
  d.step(0, { type: "resolve", ip: IP });
  d.step(0, na());
  d.runUntil(30_000);
  assert.equal(d.entry?.state, "stale");
  assert.equal(neighborLookup(d.state, 30_000, IP), undefined, "the engine asks, to start NUD");
  const send = d.step(31_000, { type: "resolve", ip: IP, packet: "q" });
  assert.deepEqual(send.map((a) => a.type), ["resolved"], "a STALE entry is still used");
  assert.equal(d.entry?.state, "delay");
  assert.ok(neighborLookup(d.state, 31_001, IP)?.equals(MAC));
  const probes = d.runUntil(36_000);
  assert.equal(d.entry?.state, "probe");
  assert.deepEqual(probes.map((a) => (a.type === "solicit" ? [a.dst.toString(), a.dstMac.toString()] : a.type)), [["fe80::1", "02:00:00:00:00:01"]]);
  const rest = d.runUntil(60_000);
  assert.deepEqual(rest.map((a) => a.type), ["solicit", "solicit", "unreachable"]);
  assert.equal(d.entry, undefined);
});

test("NUD: an upper-layer confirmation or a solicited advertisement in DELAY or PROBE makes the neighbour REACHABLE again", () => {
  const d = new Driver();
  d.step(0, { type: "resolve", ip: IP });
  d.step(0, na());
  d.runUntil(30_000);
  d.step(31_000, { type: "resolve", ip: IP });
  d.step(32_000, { type: "confirm", ip: IP });
  assert.equal(d.entry?.state, "reachable");
  assert.deepEqual(d.runUntil(40_000), []);
  d.runUntil(62_000);
  d.step(62_000, { type: "resolve", ip: IP });
  d.runUntil(67_000);
  assert.equal(d.entry?.state, "probe");
  d.step(67_500, na());
  assert.equal(d.entry?.state, "reachable");
});

test("RFC 4861 §7.2.5: a different address without override only casts doubt; with override it replaces", () => {
  const d = new Driver();
  d.step(0, { type: "resolve", ip: IP });
  d.step(0, na());
  d.step(1, na({ mac: MAC2, override: false }));
  assert.equal(d.entry?.state, "stale");
  assert.ok(d.entry?.mac?.equals(MAC), "the cached address is kept");
  d.step(2, na({ mac: MAC2, override: false, solicited: false }));
  assert.ok(d.entry?.mac?.equals(MAC));
  d.step(3, na({ mac: MAC2, override: true, solicited: false }));
  assert.ok(d.entry?.mac?.equals(MAC2));
  assert.equal(d.entry?.state, "stale");
  d.step(4, na({ mac: MAC2, override: false, solicited: true }));
  assert.equal(d.entry?.state, "reachable", "the same address, solicited: confirmed");
});

test("learning from solicitations and router messages: new or changed addresses are STALE; a waiting queue is released", () => {
  const d = new Driver();
  d.step(0, { type: "learned", ip: IP, mac: MAC, router: true });
  assert.deepEqual([d.entry?.state, d.entry?.isRouter], ["stale", true]);
  d.step(1, na({ router: true }));
  d.step(2, { type: "learned", ip: IP, mac: MAC });
  assert.equal(d.entry?.state, "reachable", "the same address changes nothing");
  d.step(3, { type: "learned", ip: IP, mac: MAC2 });
  assert.deepEqual([d.entry?.state, d.entry?.mac?.toString()], ["stale", "02:00:00:00:00:02"]);
  const lost = d.step(4, { type: "learned", ip: IP, mac: MAC2, router: false });
  assert.deepEqual(lost.map((a) => a.type), ["router-lost"], "a router solicitation's source is no router");
  const e = new Driver();
  e.step(0, { type: "resolve", ip: OTHER, packet: "x" });
  const r = e.step(1, { type: "learned", ip: OTHER, mac: MAC });
  assert.ok(r[0]?.type === "resolved" && r[0].packets[0] === "x");
  assert.equal(neighborEntry(e.state, OTHER)?.state, "stale");
});

test("an advertisement clearing the router flag reports the router lost", () => {
  const d = new Driver();
  d.step(0, { type: "resolve", ip: IP });
  d.step(0, na({ router: true }));
  assert.deepEqual(d.step(1, na({ router: false })).map((a) => a.type), ["router-lost"]);
  assert.equal(d.entry?.isRouter, false);
});

test("the queue of a neighbour being resolved is bounded, the oldest packets dropped first", () => {
  const d = new Driver({ queueLimit: 2 });
  d.step(0, { type: "resolve", ip: IP, packet: "a" });
  d.step(0, { type: "resolve", ip: IP, packet: "b" });
  const drop = d.step(0, { type: "resolve", ip: IP, packet: "c" });
  assert.deepEqual(drop, [{ type: "dropped", ip: IP, packets: ["a"], reason: "queue-full" }]);
  const r = d.step(1, na());
  assert.ok(r[0]?.type === "resolved");
  assert.deepEqual(r[0].packets, ["b", "c"]);
  const none = new Driver({ queueLimit: 0 });
  const z = none.step(0, { type: "resolve", ip: IP, packet: "a" });
  assert.deepEqual(z.map((a) => a.type), ["solicit", "dropped"]);
});

test("the cache is bounded: a resolved entry makes room; when all are being resolved, the packet is dropped", () => {
  const d = new Driver({ maxEntries: 2 });
  d.step(0, { type: "learned", ip: OTHER, mac: MAC2 });
  d.step(1, { type: "resolve", ip: IP, packet: "a" });
  const third = Ipv6Address.of("fe80::3");
  d.step(2, { type: "resolve", ip: third, packet: "b" });
  assert.equal(d.state.entries.size, 2);
  assert.equal(neighborEntry(d.state, OTHER), undefined, "the resolved entry went");
  const full = d.step(3, { type: "resolve", ip: Ipv6Address.of("fe80::4"), packet: "c" });
  assert.deepEqual(full.map((a) => a.type === "dropped" && a.reason), ["cache-full"]);
});

test("ReachableTime is drawn uniformly in [0.5, 1.5] × BaseReachableTime, and redrawn when a router changes the base", () => {
  assert.equal(randomReachableTime(30_000, 0), 15_000);
  assert.equal(randomReachableTime(30_000, HALF), 30_000);
  assert.equal(randomReachableTime(30_000, 0xffffffff), 44_999);
  const d = new Driver();
  assert.equal(d.state.reachableTimeMs, 30_000);
  d.step(0, { type: "timers", baseReachableTimeMs: 0, retransTimerMs: 0, random: 0 });
  assert.equal(d.state.reachableTimeMs, 30_000, "0 leaves everything unchanged");
  d.step(0, { type: "timers", baseReachableTimeMs: 10_000, retransTimerMs: 500, random: 0 });
  assert.deepEqual([d.state.reachableTimeMs, d.state.config.retransTimerMs], [5_000, 500]);
  d.step(0, { type: "rerandomize", random: 0xffffffff });
  assert.equal(d.state.reachableTimeMs, 14_999);
  d.step(100, { type: "resolve", ip: IP });
  assert.equal(neighborNextDeadline(d.state), 600, "the new RetransTimer is used");
});

test("any sequence of events: never throws, input untouched, entries consistent with their state", () => {
  const ips = [IP, OTHER, Ipv6Address.of("fe80::3")];
  const macs = [MAC, MAC2];
  const ipArb = fc.constantFrom(...ips);
  const eventArb: fc.Arbitrary<NeighborEvent<number>> = fc.oneof(
    fc.record({ type: fc.constant("resolve" as const), ip: ipArb, packet: fc.nat(99) }),
    fc.record({
      type: fc.constant("advertisement" as const),
      target: ipArb,
      mac: fc.option(fc.constantFrom(...macs), { nil: undefined }),
      router: fc.boolean(),
      solicited: fc.boolean(),
      override: fc.boolean(),
    }),
    fc.record({ type: fc.constant("learned" as const), ip: ipArb, mac: fc.constantFrom(...macs), router: fc.boolean() }),
    fc.record({ type: fc.constant("confirm" as const), ip: ipArb }),
    fc.record({ type: fc.constant("timers" as const), baseReachableTimeMs: fc.nat(60_000), retransTimerMs: fc.nat(3_000), random: fc.nat() }),
    fc.constant({ type: "tick" as const }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(eventArb, fc.nat(20_000)), { maxLength: 60 }), (script) => {
      let state = createNeighborCacheState<number>({ maxEntries: 2, queueLimit: 3 }, 12345);
      let now = 0;
      const released = new Set<number>();
      for (const [event, dt] of script) {
        now += dt;
        const before = JSON.stringify([...state.entries.entries()]);
        const r = neighborStep(state, now, event);
        assert.equal(JSON.stringify([...state.entries.entries()]), before);
        state = r.state;
        assert.ok(state.entries.size <= 2);
        for (const e of state.entries.values()) {
          if (e.state === "incomplete") assert.ok(e.mac === undefined && e.queue.length <= 3);
          else assert.ok(e.mac !== undefined && e.queue.length === 0);
        }
        for (const a of r.actions) if (a.type === "resolved") for (const p of a.packets) released.add(p);
        if (event.type === "tick") for (const e of state.entries.values()) assert.ok(e.deadline > now);
      }
    }),
    { numRuns: 500 },
  );
});
