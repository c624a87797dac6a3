/**
 * IPv6 reassembly as a pure state machine: fragments made by our own fragmentation (any MTU,
 * any order, duplicated) come back whole; overlaps drop the datagram (RFC 5722); atomic fragments
 * pass alone (RFC 6946); RFC 8200's parameter problems and RFC 7112's incomplete first fragment
 * are reported; time and memory are bounded.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv6Address } from "@mirage-ts/runtime";
import { type Ipv6Header, parseIpv6 } from "../src/ipv6/wire.ts";
import { walkIpv6ExtensionHeaders } from "../src/ipv6/extension-headers.ts";
import { type Ipv6FragmentSource, emitIpv6Fragment, ipv6FragmentLength, planIpv6Fragments } from "../src/ipv6/fragment.ts";
import {
  type Ipv6ReassemblyAction,
  type Ipv6ReassemblyEvent,
  type Ipv6ReassemblyState,
  createIpv6ReassemblyState,
  ipv6ReassemblyNextDeadline,
  ipv6ReassemblyStep,
} from "../src/ipv6/reassembly.ts";
import { MLD_HOP_BY_HOP } from "../src/ndp/mld.ts";

const A = Ipv6Address.of("2001:db8::1");
const B = Ipv6Address.of("2001:db8::2");
const header: Ipv6Header = { src: A, dst: B, nextHeader: 17, hopLimit: 64, trafficClass: 0, flowLabel: 5 };

/** A UDP-looking fragmentable part of `length` bytes (an 8-byte header, so RFC 7112 is satisfied). */
const udpLike = (length: number, seed = 1): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);

/** The wire fragments of `source` for `mtu`, as the events the engine feeds. */
function fragmentsOf(source: Ipv6FragmentSource, mtu: number): Ipv6ReassemblyEvent[] {
  const plan = planIpv6Fragments(source.unfragmentable.length, source.fragmentable.length, mtu);
  assert.ok(plan?.fragmented === true);
  return plan.pieces.map((piece) => {
    const bytes = new Uint8Array(ipv6FragmentLength(source, piece));
    emitIpv6Fragment(source, piece, bytes);
    return eventOf(bytes);
  });
}

function eventOf(bytes: Uint8Array): Ipv6ReassemblyEvent {
  const ip = parseIpv6(bytes);
  assert.ok(ip.ok);
  const walk = walkIpv6ExtensionHeaders(ip.value.payload, ip.value.nextHeader);
  assert.ok(walk.ok && walk.value.fragment !== undefined);
  return {
    type: "fragment",
    header: ip.value,
    unfragmentable: ip.value.payload.subarray(0, walk.value.fragment.offset - 8),
    fragment: walk.value.fragment.header,
    data: ip.value.payload.subarray(walk.value.fragment.offset),
    packet: bytes,
  };
}

function feed(events: readonly Ipv6ReassemblyEvent[], state: Ipv6ReassemblyState = createIpv6ReassemblyState(), now = 0) {
  const actions: Ipv6ReassemblyAction[] = [];
  for (const e of events) {
    const step = ipv6ReassemblyStep(state, now, e);
    state = step.state;
    actions.push(...step.actions);
  }
  return { state, actions };
}

const source = (fragmentable: Uint8Array, identification = 7, unfragmentable: Uint8Array = new Uint8Array(0)): Ipv6FragmentSource => ({
  header: { ...header, nextHeader: unfragmentable.length > 0 ? 0 : 44 },
  unfragmentable,
  fragmentableNextHeader: 17,
  fragmentable,
  identification,
});

test("fragments of any MTU, in any order and duplicated, reassemble to the original", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1281, max: 9000 }),
      fc.integer({ min: 1300, max: 20000 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 1000 }),
      fc.boolean(),
      (length, mtu, withHopByHop, seed, duplicate) => {
        fc.pre(40 + (withHopByHop ? 8 : 0) + length > mtu);
        const s = source(udpLike(length, seed), seed, withHopByHop ? MLD_HOP_BY_HOP : new Uint8Array(0));
        const events = fragmentsOf(s, mtu);
        const order = [...events].sort((x, y) => ((x.type === "fragment" ? x.data[3]! : 0) ^ seed) - ((y.type === "fragment" ? y.data[3]! : 0) ^ seed));
        const fed = duplicate ? [order[0]!, ...order] : order;
        const { state, actions } = feed(fed);
        const done = actions.filter((a) => a.type === "reassembled");
        assert.equal(done.length, 1);
        assert.equal(actions.length, 1);
        const r = done[0]!.type === "reassembled" ? done[0]!.packet : undefined;
        assert.ok(r !== undefined);
        assert.deepEqual(r.payload, s.fragmentable);
        assert.equal(r.nextHeader, 17);
        assert.equal(r.atomic, false);
        assert.equal(r.unfragmentable.length, withHopByHop ? 8 : 0);
        assert.ok(r.header.src.equals(A) && r.header.dst.equals(B));
        assert.equal(state.datagrams.size, 0);
        assert.equal(state.bytes, 0);
      },
    ),
    { numRuns: 200 },
  );
});

test("an overlapping fragment drops the whole datagram (RFC 5722)", () => {
  const events = fragmentsOf(source(udpLike(4000)), 1500);
  const first = events[0]!;
  assert.ok(first.type === "fragment");
  const overlapping: Ipv6ReassemblyEvent = { ...first, fragment: { ...first.fragment, fragmentOffset: 8 } };
  const { state, actions } = feed([first, overlapping, ...events.slice(1)]);
  assert.deepEqual(actions[0], { type: "dropped", id: { src: A, dst: B, identification: 7 }, reason: "overlap" });
  assert.ok(!actions.some((a) => a.type === "reassembled"), "what came after the drop does not complete");
  assert.equal(state.datagrams.size, 1);
});

test("an atomic fragment is handed back at once, never mixed with fragments of the same identification", () => {
  const events = fragmentsOf(source(udpLike(3000), 99), 1500);
  const pending = feed([events[0]!]);
  const atomicBytes = new Uint8Array(ipv6FragmentLength(source(udpLike(16)), { offset: 0, length: 16, moreFragments: false }));
  emitIpv6Fragment(source(udpLike(16), 99), { offset: 0, length: 16, moreFragments: false }, atomicBytes);
  const step = ipv6ReassemblyStep(pending.state, 1, eventOf(atomicBytes));
  assert.equal(step.actions.length, 1);
  const a = step.actions[0]!;
  assert.ok(a.type === "reassembled" && a.packet.atomic);
  assert.deepEqual(a.packet.payload, udpLike(16));
  assert.equal(step.state, pending.state, "the datagram in progress is untouched");
  const rest = feed(events.slice(1), step.state);
  assert.ok(rest.actions.some((x) => x.type === "reassembled" && x.packet.payload.length === 3000));
});

test("RFC 8200's parameter problems: a middle fragment not a multiple of 8, a datagram past 65535", () => {
  const events = fragmentsOf(source(udpLike(3000)), 1500);
  const first = events[0]!;
  assert.ok(first.type === "fragment");
  const odd = ipv6ReassemblyStep(createIpv6ReassemblyState(), 0, { ...first, data: first.data.subarray(0, 1001) });
  assert.deepEqual(odd.actions, [{ type: "parameter-problem", id: { src: A, dst: B, identification: 7 }, code: 0, pointer: 4 }]);
  const far = ipv6ReassemblyStep(createIpv6ReassemblyState(), 0, { ...first, fragment: { ...first.fragment, fragmentOffset: 65528 - 8 } });
  assert.deepEqual(far.actions, [{ type: "parameter-problem", id: { src: A, dst: B, identification: 7 }, code: 0, pointer: 42 }]);
  assert.equal(far.state.datagrams.size, 0);
});

test("a first fragment without the whole header chain is answered with code 3 (RFC 7112)", () => {
  const s = { ...source(new Uint8Array(2000)), fragmentableNextHeader: 60 };
  // A destination options header announcing 2040 bytes: the chain does not end in the first fragment.
  s.fragmentable[0] = 17;
  s.fragmentable[1] = 254;
  const first = fragmentsOf(s, 1280)[0]!;
  const step = ipv6ReassemblyStep(createIpv6ReassemblyState(), 0, first);
  assert.deepEqual(step.actions, [{ type: "parameter-problem", id: { src: A, dst: B, identification: 7 }, code: 3, pointer: 0 }]);
  const tcpCut = { ...source(new Uint8Array(2000)), fragmentableNextHeader: 6 };
  const tcpFirst = fragmentsOf(tcpCut, 1280)[0]!;
  assert.ok(tcpFirst.type === "fragment");
  const short = ipv6ReassemblyStep(createIpv6ReassemblyState(), 0, { ...tcpFirst, data: tcpFirst.data.subarray(0, 16) });
  assert.equal(short.actions[0]?.type, "parameter-problem");
});

test("a datagram not complete in 60 s times out; the first fragment is quoted when it came", () => {
  const events = fragmentsOf(source(udpLike(3000)), 1500);
  const withFirst = feed(events.slice(0, 2), createIpv6ReassemblyState(), 1000);
  assert.equal(ipv6ReassemblyNextDeadline(withFirst.state), 61_000);
  assert.deepEqual(ipv6ReassemblyStep(withFirst.state, 60_999, { type: "tick" }).actions, []);
  const t = ipv6ReassemblyStep(withFirst.state, 61_000, { type: "tick" });
  assert.equal(t.actions.length, 1);
  const a = t.actions[0]!;
  assert.ok(a.type === "timed-out" && a.quote !== undefined);
  const first = events[0]!;
  assert.ok(first.type === "fragment");
  assert.deepEqual(a.quote, first.packet.subarray(0, 1232), "as much of the first fragment as an error can carry");
  assert.equal(t.state.datagrams.size, 0);
  assert.equal(ipv6ReassemblyNextDeadline(t.state), undefined);
  const withoutFirst = feed(events.slice(1), createIpv6ReassemblyState(), 0);
  const u = ipv6ReassemblyStep(withoutFirst.state, 60_000, { type: "tick" });
  assert.ok(u.actions[0]?.type === "timed-out" && u.actions[0].quote === undefined);
});

test("limits: datagrams in progress and bytes held are bounded, the oldest going first", () => {
  const config = { maxDatagrams: 2, maxBytes: 4000 };
  let state = createIpv6ReassemblyState(config);
  const firsts = [1, 2, 3].map((id) => fragmentsOf(source(udpLike(3000), id), 1500)[0]!);
  const actions: Ipv6ReassemblyAction[] = [];
  for (const [i, e] of firsts.entries()) {
    const step = ipv6ReassemblyStep(state, i, e);
    state = step.state;
    actions.push(...step.actions);
  }
  assert.ok(state.datagrams.size <= 2);
  assert.ok(state.bytes <= 4000);
  assert.ok(actions.every((a) => a.type === "dropped" && (a.reason === "too-many-datagrams" || a.reason === "memory")));
  assert.ok(actions.some((a) => a.type === "dropped" && a.id.identification === 1), "the oldest was evicted");
  assert.ok([...state.datagrams.values()].some((d) => d.header.identification === 3), "the newest is kept");
});

test("any sequence of fragments and ticks: never throws, bytes are accounted, limits hold, input is not mutated", () => {
  const ids = fc.integer({ min: 0, max: 3 });
  const fragmentArb = fc.record({
    id: ids,
    unitOffset: fc.integer({ min: 0, max: 8200 }),
    length: fc.integer({ min: 0, max: 3000 }),
    more: fc.boolean(),
    next: fc.constantFrom(17, 6, 58, 60, 59),
  });
  const eventArb = fc.oneof(fragmentArb.map((f) => ({ kind: "fragment" as const, ...f })), fc.constant({ kind: "tick" as const }));
  fc.assert(
    fc.property(fc.array(fc.tuple(eventArb, fc.integer({ min: 0, max: 40_000 })), { maxLength: 40 }), (script) => {
      let state = createIpv6ReassemblyState({ maxBytes: 20_000, maxDatagrams: 3, maxFragments: 8 });
      let now = 0;
      for (const [e, dt] of script) {
        now += dt;
        const event: Ipv6ReassemblyEvent =
          e.kind === "tick"
            ? { type: "tick" }
            : {
                type: "fragment",
                header,
                unfragmentable: new Uint8Array(0),
                fragment: { nextHeader: e.next, fragmentOffset: e.unitOffset * 8, moreFragments: e.more, identification: e.id },
                data: udpLike(e.length),
                packet: new Uint8Array(48 + e.length),
              };
        const before = JSON.stringify([...state.datagrams.keys()]);
        const step = ipv6ReassemblyStep(state, now, event);
        assert.equal(JSON.stringify([...state.datagrams.keys()]), before);
        state = step.state;
        assert.equal(state.bytes, [...state.datagrams.values()].reduce((n, d) => n + d.bytes, 0));
        assert.ok(state.bytes <= 20_000 && state.datagrams.size <= 3);
        for (const d of state.datagrams.values()) assert.ok(d.fragments.length <= 8);
        for (const a of step.actions) if (a.type === "reassembled") assert.ok(a.packet.payload.length <= 65535);
      }
    }),
    { numRuns: 300 },
  );
});
