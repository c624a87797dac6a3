import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv4Address, MacAddress } from "@mirage-ts/runtime";
import {
  type ArpAction,
  type ArpEvent,
  type ArpState,
  arpLookup,
  arpNextDeadline,
  arpStep,
  createArpState,
  ipv4MulticastMac,
} from "../src/arp/state-machine.ts";
import type { ArpPacket } from "../src/arp/wire.ts";

const ME = MacAddress.of("02:00:00:00:00:01");
const MY_IP = Ipv4Address.of("10.0.0.2");
const PEER = MacAddress.of("02:00:00:00:00:09");
const PEER_IP = Ipv4Address.of("10.0.0.9");
const OTHER_IP = Ipv4Address.of("10.0.0.77");

const fresh = (overrides: Partial<Parameters<typeof createArpState>[0]> = {}) =>
  createArpState<string>({ mac: ME, addresses: [MY_IP], ...overrides });

function reply(from: MacAddress, fromIp: Ipv4Address, to = ME, toIp = MY_IP): ArpEvent<string> {
  return { type: "received", packet: { operation: "reply", senderMac: from, senderIp: fromIp, targetMac: to, targetIp: toIp } };
}
function requestFrom(from: MacAddress, fromIp: Ipv4Address, target: Ipv4Address): ArpEvent<string> {
  return { type: "received", packet: { operation: "request", senderMac: from, senderIp: fromIp, targetMac: MacAddress.zero, targetIp: target } };
}

/** Runs events in order, returning the final state and every action. */
function run(state: ArpState<string>, steps: Array<[number, ArpEvent<string>]>) {
  const actions: Array<ArpAction<string>> = [];
  for (const [now, event] of steps) {
    const r = arpStep(state, now, event);
    state = r.state;
    actions.push(...r.actions);
  }
  return { state, actions };
}

const sends = (actions: readonly ArpAction<string>[]) => actions.filter((a): a is Extract<ArpAction<string>, { type: "send" }> => a.type === "send");

test("start announces every address with a gratuitous request to broadcast", () => {
  const second = Ipv4Address.of("10.0.1.2");
  const { actions } = arpStep(fresh({ addresses: [MY_IP, second] }), 0, { type: "start" });
  assert.equal(actions.length, 2);
  for (const [i, a] of sends(actions).entries()) {
    const ip = [MY_IP, second][i]!;
    assert.ok(a.dst.isBroadcast());
    assert.equal(a.packet.operation, "request");
    assert.ok(a.packet.senderIp.equals(ip) && a.packet.targetIp.equals(ip));
    assert.ok(a.packet.senderMac.equals(ME) && a.packet.targetMac.equals(MacAddress.zero));
  }
});

test("resolving queues packets behind one broadcast request and releases them, in order, on the reply", () => {
  let { state, actions } = run(fresh(), [
    [0, { type: "resolve", ip: PEER_IP, packet: "p1" }],
    [10, { type: "resolve", ip: PEER_IP, packet: "p2" }],
  ]);
  const requests = sends(actions);
  assert.equal(requests.length, 1, "one request for both packets");
  assert.ok(requests[0]!.dst.isBroadcast());
  assert.deepEqual(
    { op: requests[0]!.packet.operation, sender: requests[0]!.packet.senderIp.toString(), target: requests[0]!.packet.targetIp.toString() },
    { op: "request", sender: "10.0.0.2", target: "10.0.0.9" },
  );
  assert.equal(arpLookup(state, 10, PEER_IP), undefined);
  ({ state, actions } = run(state, [[20, reply(PEER, PEER_IP)]]));
  assert.deepEqual(actions, [{ type: "resolved", ip: PEER_IP, mac: PEER, packets: ["p1", "p2"] }]);
  assert.ok(arpLookup(state, 20, PEER_IP)?.equals(PEER));
  assert.equal(state.pending.size, 0);
  const hit = arpStep(state, 30, { type: "resolve", ip: PEER_IP, packet: "p3" });
  assert.deepEqual(hit.actions, [{ type: "resolved", ip: PEER_IP, mac: PEER, packets: ["p3"] }]);
  assert.equal(hit.state, state, "a cache hit changes nothing");
});

test("requests are retried every retryIntervalMs, then the address is unreachable and its packets dropped", () => {
  let state = fresh({ retryIntervalMs: 1000, requestAttempts: 3 });
  ({ state } = arpStep(state, 0, { type: "resolve", ip: PEER_IP, packet: "p" }));
  const times: number[] = [];
  const outcomes: Array<ArpAction<string>> = [];
  for (let deadline = arpNextDeadline(state); deadline !== undefined; deadline = arpNextDeadline(state)) {
    const r = arpStep(state, deadline, { type: "tick" });
    state = r.state;
    for (const a of r.actions) {
      if (a.type === "send") times.push(deadline);
      else outcomes.push(a);
    }
  }
  assert.deepEqual(times, [1000, 2000], "two retries after the first request");
  assert.deepEqual(outcomes, [{ type: "unreachable", ip: PEER_IP, packets: ["p"] }]);
  assert.equal(outcomes.length, 1);
  assert.equal(state.pending.size, 0);
});

test("the queue is bounded: the oldest packets are dropped first", () => {
  const steps: Array<[number, ArpEvent<string>]> = ["a", "b", "c", "d"].map((p) => [0, { type: "resolve", ip: PEER_IP, packet: p }]);
  const { state, actions } = run(fresh({ queueLimit: 2 }), [...steps, [1, reply(PEER, PEER_IP)]]);
  assert.deepEqual(
    actions.filter((a) => a.type !== "send"),
    [
      { type: "dropped", ip: PEER_IP, packets: ["a"], reason: "queue-full" },
      { type: "dropped", ip: PEER_IP, packets: ["b"], reason: "queue-full" },
      { type: "resolved", ip: PEER_IP, mac: PEER, packets: ["c", "d"] },
    ],
  );
  assert.equal(state.cache.size, 1);
});

test("at most maxPending addresses resolve at once", () => {
  const { actions, state } = run(fresh({ maxPending: 1 }), [
    [0, { type: "resolve", ip: PEER_IP, packet: "a" }],
    [0, { type: "resolve", ip: OTHER_IP, packet: "b" }],
  ]);
  assert.deepEqual(actions.at(-1), { type: "dropped", ip: OTHER_IP, packets: ["b"], reason: "too-many-pending" });
  assert.equal(state.pending.size, 1);
});

test("a request for our address is answered and its sender learned", () => {
  const { state, actions } = arpStep(fresh(), 5, requestFrom(PEER, PEER_IP, MY_IP));
  assert.deepEqual(sends(actions).map((a) => [a.dst.toString(), a.packet]), [
    [PEER.toString(), { operation: "reply", senderMac: ME, senderIp: MY_IP, targetMac: PEER, targetIp: PEER_IP }],
  ]);
  assert.ok(arpLookup(state, 5, PEER_IP)?.equals(PEER));
});

test("a request for another host teaches nothing new, but updates what we know (RFC 826 merge)", () => {
  const s0 = fresh();
  const { state: s1, actions } = arpStep(s0, 0, requestFrom(PEER, PEER_IP, OTHER_IP));
  assert.deepEqual(actions, []);
  assert.equal(s1.cache.size, 0);
  const { state: s2 } = arpStep(s1, 0, requestFrom(PEER, PEER_IP, MY_IP));
  const moved = MacAddress.of("02:00:00:00:00:0a");
  // A gratuitous ARP from the peer's new card updates the entry.
  const { state: s3, actions: a3 } = arpStep(s2, 100, {
    type: "received",
    packet: { operation: "request", senderMac: moved, senderIp: PEER_IP, targetMac: MacAddress.zero, targetIp: PEER_IP },
  });
  assert.deepEqual(a3, []);
  assert.ok(arpLookup(s3, 100, PEER_IP)?.equals(moved));
  assert.equal(s3.cache.get(PEER_IP.value)!.expiresAt, 100 + s3.config.cacheTimeoutMs);
});

test("nothing is learned from broadcast or multicast senders, our own MAC, or probes; probes for us are answered", () => {
  for (const bad of [MacAddress.broadcast, MacAddress.of("01:00:5e:00:00:01"), ME]) {
    const { state, actions } = arpStep(fresh(), 0, requestFrom(bad, PEER_IP, MY_IP));
    assert.deepEqual(actions, [], bad.toString());
    assert.equal(state.cache.size, 0);
  }
  const probe = arpStep(fresh(), 0, requestFrom(PEER, Ipv4Address.any, MY_IP));
  assert.equal(probe.state.cache.size, 0);
  assert.deepEqual(sends(probe.actions).map((a) => [a.dst.toString(), a.packet.targetIp.toString()]), [[PEER.toString(), "0.0.0.0"]]);
});

test("another host using our address is reported as a conflict and not learned", () => {
  const { state, actions } = arpStep(fresh(), 0, reply(PEER, MY_IP, MacAddress.broadcast, MY_IP));
  assert.deepEqual(actions, [{ type: "conflict", ip: MY_IP, mac: PEER }]);
  assert.equal(state.cache.size, 0);
});

test("entries expire; an entry in use is refreshed by unicast before it expires", () => {
  const cfg = { cacheTimeoutMs: 60_000, refreshBeforeMs: 5_000 };
  let { state } = arpStep(fresh(cfg), 0, requestFrom(PEER, PEER_IP, MY_IP));
  assert.equal(arpNextDeadline(state), 60_000);
  assert.ok(arpLookup(state, 54_999, PEER_IP), "fresh: fast path");
  assert.equal(arpLookup(state, 55_000, PEER_IP), undefined, "due for refresh: the engine asks");
  const r = arpStep(state, 55_000, { type: "resolve", ip: PEER_IP, packet: "p" });
  assert.deepEqual(r.actions[0], { type: "resolved", ip: PEER_IP, mac: PEER, packets: ["p"] });
  assert.deepEqual(sends(r.actions).map((a) => a.dst.toString()), [PEER.toString()]);
  state = r.state;
  assert.ok(arpLookup(state, 56_000, PEER_IP), "one refresh in flight: fast path again");
  const again = arpStep(state, 56_000, { type: "resolve", ip: PEER_IP, packet: "q" });
  assert.equal(sends(again.actions).length, 0, "no second refresh");
  // The peer answers the refresh: a new lifetime.
  ({ state } = arpStep(state, 57_000, reply(PEER, PEER_IP)));
  assert.ok(arpLookup(state, 110_000, PEER_IP));
  // Unused, it expires.
  ({ state } = arpStep(state, 117_000, { type: "tick" }));
  assert.equal(arpLookup(state, 117_000, PEER_IP), undefined);
  assert.equal(state.cache.size, 0);
  assert.equal(arpNextDeadline(state), undefined);
});

test("a full cache evicts the entry closest to expiry", () => {
  const ips = [1, 2, 3].map((n) => Ipv4Address.ofInt(0x0a000100 + n));
  const { state } = run(
    fresh({ maxEntries: 2 }),
    ips.map((ip, i) => [i * 10, requestFrom(MacAddress.ofBytes(Uint8Array.of(2, 0, 0, 0, 1, i)), ip, MY_IP)] as [number, ArpEvent<string>]),
  );
  assert.deepEqual([...state.cache.keys()].sort(), [ips[1]!.value, ips[2]!.value]);
});

test("new addresses are announced; known ones are not", () => {
  const added = Ipv4Address.of("192.168.1.5");
  const { state, actions } = arpStep(fresh(), 0, { type: "set-addresses", addresses: [MY_IP, added] });
  assert.deepEqual(sends(actions).map((a) => a.packet.senderIp.toString()), ["192.168.1.5"]);
  assert.equal(arpStep(state, 0, requestFrom(PEER, PEER_IP, added)).actions.length, 1, "and answered for");
});

test("IPv4 multicast maps to 01:00:5e plus the low 23 bits", () => {
  assert.equal(ipv4MulticastMac(Ipv4Address.of("224.0.0.251")).toString(), "01:00:5e:00:00:fb");
  assert.equal(ipv4MulticastMac(Ipv4Address.of("239.255.255.250")).toString(), "01:00:5e:7f:ff:fa");
});

// ---- properties over random event sequences

const ipArb = fc.constantFrom(PEER_IP, OTHER_IP, Ipv4Address.of("10.0.0.3"), MY_IP, Ipv4Address.any);
const macArb = fc.constantFrom(PEER, MacAddress.of("02:00:00:00:00:0b"), ME, MacAddress.broadcast);
const packetArb: fc.Arbitrary<ArpPacket> = fc.record({
  operation: fc.constantFrom("request" as const, "reply" as const),
  senderMac: macArb,
  senderIp: ipArb,
  targetMac: macArb,
  targetIp: ipArb,
});
const eventArb: fc.Arbitrary<{ dt: number; event: ArpEvent<string> | "resolve" }> = fc.record({
  dt: fc.integer({ min: 0, max: 3000 }),
  event: fc.oneof(
    fc.constant("resolve" as const),
    packetArb.map((packet) => ({ type: "received" as const, packet })),
    fc.constant({ type: "tick" as const }),
    fc.constant({ type: "start" as const }),
  ),
});

test("every queued packet comes out exactly once (released, unreachable or dropped) or is still queued; limits hold; the next deadline is the earliest", () => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 60 }), fc.array(ipArb, { minLength: 60, maxLength: 60 }), (events, targets) => {
      let state = fresh({ queueLimit: 3, maxPending: 2, maxEntries: 2, retryIntervalMs: 1000, requestAttempts: 2, cacheTimeoutMs: 5000, refreshBeforeMs: 1000 });
      let now = 0;
      const given: string[] = [];
      const out: string[] = [];
      events.forEach(({ dt, event }, i) => {
        now += dt;
        const e: ArpEvent<string> = event === "resolve" ? { type: "resolve", ip: targets[i]!, packet: `p${i}` } : event;
        if (e.type === "resolve" && e.packet !== undefined) given.push(e.packet);
        const r = arpStep(state, now, e);
        for (const a of r.actions) if (a.type === "resolved" || a.type === "unreachable" || a.type === "dropped") out.push(...a.packets);
        state = r.state;
        assert.ok(state.cache.size <= 2 && state.pending.size <= 2);
        for (const p of state.pending.values()) assert.ok(p.queue.length <= 3);
        // The Maps stay in deadline order, so the O(1) next deadline is the true minimum.
        const expiries = [...state.cache.values()].map((c) => c.expiresAt);
        const attempts = [...state.pending.values()].map((p) => p.nextAttemptAt);
        assert.deepEqual(expiries, [...expiries].sort((a, b) => a - b));
        assert.deepEqual(attempts, [...attempts].sort((a, b) => a - b));
        const all = [...expiries, ...attempts];
        assert.equal(arpNextDeadline(state), all.length === 0 ? undefined : Math.min(...all));
      });
      for (const p of state.pending.values()) out.push(...p.queue);
      assert.deepEqual([...out].sort(), [...given].sort());
    }),
    { numRuns: 300 },
  );
});
