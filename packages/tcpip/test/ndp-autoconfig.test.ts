/**
 * Autoconfiguration in virtual time: DAD on link-local, static and SLAAC addresses (group joined
 * first, solicitation from ::, duplicates never used), router solicitation at start, router
 * advertisements (default routers, on-link prefixes, SLAAC with lifetimes and the two-hour rule,
 * MTU and timers), and invariants under any sequence of events.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv6Address, Ipv6Prefix, MacAddress } from "@mirage-ts/runtime";
import {
  type AutoconfAction,
  type AutoconfEvent,
  type AutoconfState,
  autoconfNextDeadline,
  autoconfStep,
  createAutoconfState,
  usableAddresses,
} from "../src/ndp/autoconfig.ts";
import { linkLocalAddress, modifiedEui64 } from "../src/ndp/addresses.ts";
import type { NdpPrefixInformation } from "../src/ndp/options.ts";

const MAC = MacAddress.of("02:00:00:00:0a:06");
const LL = linkLocalAddress(MAC);
const STATIC = Ipv6Address.of("2001:db8::42");
const ROUTER = Ipv6Address.of("fe80::1");
const SLAAC = Ipv6Address.of("2001:db8:aa::ff:fe00:a06");
const UNSPECIFIED = Ipv6Address.unspecified;

class Driver {
  state: AutoconfState;
  now = 0;
  constructor(config: Partial<Parameters<typeof createAutoconfState>[0]> = {}, seed = 42) {
    this.state = createAutoconfState({ interfaceId: modifiedEui64(MAC), ...config }, seed);
  }
  step(event: AutoconfEvent): AutoconfAction[] {
    const r = autoconfStep(this.state, this.now, event);
    this.state = r.state;
    return r.actions;
  }
  runUntil(until: number): AutoconfAction[] {
    const out: AutoconfAction[] = [];
    for (let d = autoconfNextDeadline(this.state); d !== undefined && d <= until; d = autoconfNextDeadline(this.state)) {
      this.now = d;
      out.push(...this.step({ type: "tick" }));
    }
    this.now = until;
    return out;
  }
}

const describe = (actions: AutoconfAction[]): string[] =>
  actions.map((a) => {
    switch (a.type) {
      case "join":
      case "leave":
        return `${a.type} ${a.group.toString()}`;
      case "dad-solicit":
        return `dad ${a.target.toString()}`;
      case "address-ready":
      case "address-duplicate":
        return `${a.type} ${a.address.toString()} ${a.origin}`;
      case "address-conflict":
      case "address-deprecated":
      case "address-removed":
        return `${a.type} ${a.address.toString()}`;
      case "router-added":
      case "router-removed":
        return `${a.type} ${a.ip.toString()}`;
      case "prefix-added":
      case "prefix-removed":
        return `${a.type} ${a.prefix.toString()}`;
      default:
        return a.type;
    }
  });

const pi = (over: Partial<NdpPrefixInformation> = {}): NdpPrefixInformation => ({
  type: "prefix-information",
  prefix: Ipv6Prefix.of("2001:db8:aa::/64"),
  onLink: true,
  autonomous: true,
  validLifetime: 86400,
  preferredLifetime: 14400,
  ...over,
});
const ra = (over: Partial<Extract<AutoconfEvent, { type: "router-advertisement" }>> = {}): AutoconfEvent => ({
  type: "router-advertisement",
  src: ROUTER,
  routerLifetime: 1800,
  curHopLimit: 64,
  reachableTime: 0,
  retransTimer: 0,
  mtu: undefined,
  prefixes: [pi()],
  ...over,
});

test("start: groups joined, DAD from :: after a random delay, addresses ready a RetransTimer later; routers solicited", () => {
  const d = new Driver();
  const start = d.step({ type: "start", linkLocal: LL, statics: [{ address: STATIC, prefixLength: 64 }] });
  assert.deepEqual(describe(start), ["join ff02::1:ff00:a06", "join ff02::1:ff00:42"]);
  assert.deepEqual(usableAddresses(d.state), [], "nothing is usable before DAD");
  const first = autoconfNextDeadline(d.state)!;
  assert.ok(first >= 0 && first <= 1000, "the first packets wait a random delay of at most 1 s");
  const actions = describe(d.runUntil(10_000));
  for (const a of [LL, STATIC]) {
    const dad = actions.indexOf(`dad ${a.toString()}`);
    const ready = actions.findIndex((x) => x.startsWith(`address-ready ${a.toString()}`));
    assert.ok(dad >= 0 && ready > dad, `${a.toString()}: DAD, then ready`);
  }
  assert.equal(actions.filter((a) => a === "router-solicit").length, 3, "three router solicitations");
  assert.deepEqual(usableAddresses(d.state).map((a) => a.address.toString()).sort(), [STATIC.toString(), LL.toString()].sort());
  assert.equal(autoconfNextDeadline(d.state), undefined, "nothing more to do");
});

test("router solicitations are 4 s apart and stop when an advertisement arrives", () => {
  const d = new Driver();
  d.step({ type: "start", linkLocal: LL, statics: [] });
  const times: number[] = [];
  for (let t = autoconfNextDeadline(d.state); t !== undefined && t <= 6000; t = autoconfNextDeadline(d.state)) {
    d.now = t;
    if (d.step({ type: "tick" }).some((a) => a.type === "router-solicit")) times.push(t);
  }
  assert.equal(times.length, 2);
  assert.equal(times[1]! - times[0]!, 4000);
  d.now = 6000;
  d.step(ra({ prefixes: [] }));
  assert.ok(!d.runUntil(60_000).some((a) => a.type === "router-solicit"));
  const off = new Driver({ acceptRouterAdvertisements: false });
  off.step({ type: "start", linkLocal: LL, statics: [] });
  assert.ok(!off.runUntil(60_000).some((a) => a.type === "router-solicit"), "--accept-router-advertisements=false");
  assert.deepEqual(off.step(ra()), [], "and advertisements are ignored");
});

test("DAD: another host's solicitation from :: or an advertisement makes a tentative address a duplicate, never used", () => {
  const d = new Driver();
  d.step({ type: "start", linkLocal: LL, statics: [{ address: STATIC, prefixLength: 64 }] });
  assert.deepEqual(d.step({ type: "solicitation", target: STATIC, src: Ipv6Address.of("fe80::9") }), [], "not DAD: no verdict");
  assert.deepEqual(describe(d.step({ type: "solicitation", target: STATIC, src: UNSPECIFIED })), [
    "address-duplicate 2001:db8::42 static",
    "leave ff02::1:ff00:42",
  ]);
  assert.deepEqual(describe(d.step({ type: "advertisement", target: LL })), ["address-duplicate fe80::ff:fe00:a06 link-local", "leave ff02::1:ff00:a06"]);
  const later = describe(d.runUntil(10_000));
  assert.ok(!later.some((a) => a.startsWith("address-ready")), "a duplicate never becomes ready");
  assert.ok(!later.some((a) => a.startsWith("dad ")), "nor is DAD continued");
  assert.deepEqual(usableAddresses(d.state), []);
  assert.deepEqual(d.step({ type: "advertisement", target: STATIC }), [], "nothing more to say about it");
});

test("an advertisement for an address in use after DAD is a conflict, reported for the log", () => {
  const d = new Driver();
  d.step({ type: "start", linkLocal: LL, statics: [] });
  d.runUntil(5000);
  assert.deepEqual(describe(d.step({ type: "advertisement", target: LL })), ["address-conflict fe80::ff:fe00:a06"]);
  assert.equal(usableAddresses(d.state).length, 1);
});

test("a router advertisement: default router, on-link prefix, SLAAC address after DAD, link parameters", () => {
  const d = new Driver();
  d.step({ type: "start", linkLocal: LL, statics: [] });
  d.runUntil(3000);
  const got = d.step(ra({ mtu: 1400, reachableTime: 20_000, retransTimer: 500 }));
  assert.deepEqual(describe(got), ["router-added fe80::1", "link-parameters", "prefix-added 2001:db8:aa::/64", "join ff02::1:ff00:a06"]);
  assert.deepEqual(got[1], { type: "link-parameters", mtu: 1400, curHopLimit: 64, baseReachableTimeMs: 20_000, retransTimerMs: 500 });
  const dad = describe(d.runUntil(6000));
  assert.deepEqual(dad, [`dad ${SLAAC.toString()}`, `address-ready ${SLAAC.toString()} slaac`]);
  assert.deepEqual(usableAddresses(d.state).map((a) => a.address.toString()), [LL.toString(), SLAAC.toString()]);
  // An MTU above the link's, or below 1280, is ignored.
  const big = d.step(ra({ mtu: 9000, curHopLimit: 0, prefixes: [] }));
  assert.ok(!big.some((a) => a.type === "link-parameters"));
  assert.ok(!d.step(ra({ mtu: 1000, curHopLimit: 0, prefixes: [] })).some((a) => a.type === "link-parameters"));
});

test("lifetimes: SLAAC addresses are deprecated then removed; routers and prefixes expire", () => {
  const d = new Driver();
  d.step({ type: "start", linkLocal: LL, statics: [] });
  d.step(ra({ routerLifetime: 30, prefixes: [pi({ validLifetime: 60, preferredLifetime: 20 })] }));
  const timeline = describe(d.runUntil(120_000));
  assert.deepEqual(timeline.filter((a) => !a.startsWith("dad") && !a.startsWith("address-ready") && a !== "router-solicit"), [
    `address-deprecated ${SLAAC.toString()}`,
    "router-removed fe80::1",
    `address-removed ${SLAAC.toString()}`,
    `leave ff02::1:ff00:a06`,
    "prefix-removed 2001:db8:aa::/64",
  ]);
  assert.deepEqual(usableAddresses(d.state).map((a) => a.address.toString()), [LL.toString()], "the link-local address never expires");
});

test("a router lifetime of 0 removes the router; a valid lifetime of 0 removes the on-link prefix", () => {
  const d = new Driver();
  d.step({ type: "start", linkLocal: LL, statics: [] });
  d.step(ra());
  assert.deepEqual(describe(d.step(ra({ routerLifetime: 0, curHopLimit: 0, prefixes: [pi({ validLifetime: 0, preferredLifetime: 0 })] }))), [
    "router-removed fe80::1",
    "prefix-removed 2001:db8:aa::/64",
  ]);
});

test("the two-hour rule: a short valid lifetime cannot cut an address's remaining lifetime below two hours", () => {
  const d = new Driver();
  d.step({ type: "start", linkLocal: LL, statics: [] });
  d.step(ra({ prefixes: [pi({ validLifetime: 86400, preferredLifetime: 14400 })] }));
  d.runUntil(5000);
  const entry = () => d.state.addresses.get(SLAAC.toString())!;
  d.step(ra({ prefixes: [pi({ validLifetime: 10, preferredLifetime: 10 })] }));
  assert.equal(entry().validUntil, d.now + 2 * 3600 * 1000, "cut to two hours, not to 10 s");
  assert.equal(entry().preferredUntil, d.now + 10_000, "the preferred lifetime is taken as advertised");
  d.step(ra({ prefixes: [pi({ validLifetime: 7300, preferredLifetime: 10 })] }));
  assert.equal(entry().validUntil, d.now + 7300 * 1000, "above two hours: taken");
  d.step(ra({ prefixes: [pi({ validLifetime: 0xffffffff, preferredLifetime: 0xffffffff })] }));
  assert.equal(entry().validUntil, Number.POSITIVE_INFINITY);
  // Prefixes SLAAC cannot use: not autonomous, preferred above valid, link-local, not a /64.
  const e = new Driver();
  e.step({ type: "start", linkLocal: LL, statics: [] });
  const none = e.step(
    ra({
      routerLifetime: 0,
      prefixes: [
        pi({ autonomous: false, onLink: false }),
        pi({ preferredLifetime: 90000, onLink: false }),
        pi({ prefix: Ipv6Prefix.of("fe80::/64") }),
        pi({ prefix: Ipv6Prefix.of("2001:db8:bb::/48"), onLink: false }),
      ],
    }),
  );
  assert.deepEqual(describe(none), ["link-parameters"]);
});

test("any sequence of events: never throws, input untouched, duplicates stay unused, deadlines move forward", () => {
  const targets = [LL, STATIC, SLAAC, Ipv6Address.of("2001:db8::9")];
  const eventArb: fc.Arbitrary<AutoconfEvent> = fc.oneof(
    fc.record({ type: fc.constant("solicitation" as const), target: fc.constantFrom(...targets), src: fc.constantFrom(UNSPECIFIED, ROUTER) }),
    fc.record({ type: fc.constant("advertisement" as const), target: fc.constantFrom(...targets) }),
    fc
      .record({ life: fc.nat(3000), valid: fc.oneof(fc.nat(10_000), fc.constant(0xffffffff)), preferred: fc.nat(10_000), l: fc.boolean(), a: fc.boolean(), mtu: fc.option(fc.nat(10_000), { nil: undefined }) })
      .map(({ life, valid, preferred, l, a, mtu }) => ra({ routerLifetime: life, mtu, prefixes: [pi({ validLifetime: valid, preferredLifetime: preferred, onLink: l, autonomous: a })] })),
    fc.constant({ type: "tick" as const }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(eventArb, fc.nat(20_000_000)), { maxLength: 40 }), fc.integer(), (script, seed) => {
      const d = new Driver({}, seed);
      d.step({ type: "start", linkLocal: LL, statics: [{ address: STATIC, prefixLength: 64 }] });
      const duplicates = new Set<string>();
      for (const [event, dt] of script) {
        d.now += dt;
        const before = d.state;
        const snapshot = JSON.stringify([[...before.addresses.entries()], [...before.routers.entries()], [...before.prefixes.entries()]]);
        const actions = d.step(event);
        assert.equal(JSON.stringify([[...before.addresses.entries()], [...before.routers.entries()], [...before.prefixes.entries()]]), snapshot, "the input state is not mutated");
        for (const a of actions) if (a.type === "address-duplicate") duplicates.add(a.address.toString());
        for (const a of actions) if (a.type === "address-ready") assert.ok(!duplicates.has(a.address.toString()));
        for (const u of usableAddresses(d.state)) assert.ok(!duplicates.has(u.address.toString()));
        if (event.type === "tick") {
          const next = autoconfNextDeadline(d.state);
          assert.ok(next === undefined || next > d.now);
        }
      }
    }),
    { numRuns: 300 },
  );
});
