import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv4Address } from "@mirage-ts/runtime";
import { type Ipv4Packet, IpProtocol, parseIpv4, isFragment } from "../src/ipv4/wire.ts";
import { parseEthernet } from "../src/ethernet/wire.ts";
import { parseIcmpV4, parseQuotedIpv4 } from "../src/icmpv4/wire.ts";
import { emitIpv4Fragment, planFragments } from "../src/ipv4/fragmentation.ts";
import {
  type ReassemblyAction,
  type ReassemblyState,
  createReassemblyState,
  reassemblyNextDeadline,
  reassemblyStep,
} from "../src/ipv4/reassembly.ts";
import { loadLinuxCapture } from "./support/linux-capture.ts";
import { ipv4Arb, u16 } from "./support/arbitraries.ts";

const SRC = Ipv4Address.of("10.0.0.1");
const DST = Ipv4Address.of("10.0.0.2");

function datagram(payload: Uint8Array, identification = 1): Ipv4Packet {
  return { src: SRC, dst: DST, protocol: IpProtocol.udp, ttl: 64, tos: 0, identification, dontFragment: false, moreFragments: false, fragmentOffset: 0, payload };
}

/** Cuts `packet` for `mtu` and parses each piece back, as a receiver would see them. */
function fragmentsOf(packet: Ipv4Packet, mtu: number): Ipv4Packet[] {
  return planFragments(packet.payload.length, mtu).map((piece) => {
    const bytes = new Uint8Array(20 + piece.length);
    emitIpv4Fragment(packet, piece, bytes);
    const parsed = parseIpv4(bytes);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
    return parsed.value;
  });
}

function feed(state: ReassemblyState, now: number, packets: readonly Ipv4Packet[]) {
  const actions: ReassemblyAction[] = [];
  for (const packet of packets) {
    const r = reassemblyStep(state, now, { type: "fragment", packet });
    state = r.state;
    actions.push(...r.actions);
  }
  return { state, actions };
}

test("planFragments cuts to the MTU, 8-byte aligned, covering the payload exactly", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65515 }), fc.integer({ min: 68, max: 9000 }), (length, mtu) => {
      const pieces = planFragments(length, mtu);
      let next = 0;
      for (const [i, p] of pieces.entries()) {
        assert.equal(p.offset, next);
        assert.ok(20 + p.length <= mtu);
        assert.equal(p.moreFragments, i < pieces.length - 1);
        if (p.moreFragments) assert.equal(p.length % 8, 0);
        next += p.length;
      }
      assert.equal(next, length);
    }),
  );
  assert.deepEqual(planFragments(100, 27), []);
});

test("the Linux kernel's fragments reassemble into its 3 KB echo request and reply", () => {
  const fragments = loadLinuxCapture()
    .map(({ bytes }) => parseEthernet(bytes))
    .flatMap((eth) => (eth.ok ? [parseIpv4(eth.value.payload)] : []))
    .flatMap((ip) => (ip.ok && isFragment(ip.value) ? [ip.value] : []));
  assert.equal(fragments.length, 6);
  const { state, actions } = feed(createReassemblyState(), 0, [...fragments].reverse());
  assert.equal(state.datagrams.size, 0);
  const expected = new Uint8Array(3072).map((_, i) => i & 0xff);
  const messages = actions.map((a) => {
    assert.equal(a.type, "reassembled");
    if (a.type !== "reassembled") return "";
    const icmp = parseIcmpV4(a.packet.payload);
    assert.ok(icmp.ok, "the checksum over all the pieces is right");
    assert.ok(icmp.value.type === "echo-request" || icmp.value.type === "echo-reply");
    assert.deepEqual(icmp.value.data, expected);
    return icmp.value.type;
  });
  assert.deepEqual(messages.sort(), ["echo-reply", "echo-request"]);
});

test("any order, with duplicates, reassembles into the original datagram (exactly once without duplicates)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9000 }).map((n) => new Uint8Array(n).map((_, i) => (i * 31 + (i >> 8)) & 0xff)),
      fc.integer({ min: 68, max: 1500 }),
      u16,
      fc.array(fc.nat(), { maxLength: 5 }),
      fc.nat(),
      (payload, mtu, identification, duplicates, seed) => {
        const original = datagram(payload, identification);
        const pieces = fragmentsOf(original, mtu);
        fc.pre(pieces.length > 1 && pieces.length <= 64);
        const order = [...pieces, ...duplicates.map((d) => pieces[d % pieces.length]!)];
        // A deterministic shuffle from the seed.
        for (let i = order.length - 1, s = seed; i > 0; i--, s = (s * 1103515245 + 12345) >>> 0) {
          const j = s % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const { state, actions } = feed(createReassemblyState(), 0, order);
        assert.ok(actions.every((a) => a.type === "reassembled"));
        // Duplicates that arrive after completion can form a second complete copy, as on Linux.
        assert.ok(actions.length >= 1);
        if (duplicates.length === 0) assert.equal(actions.length, 1);
        for (const a of actions) {
          const packet = (a as Extract<ReassemblyAction, { type: "reassembled" }>).packet;
          assert.deepEqual(packet.payload, payload);
          assert.equal(packet.identification, identification);
          assert.equal(packet.moreFragments, false);
          assert.equal(packet.fragmentOffset, 0);
        }
        // Every duplicate after completion starts a new partial datagram that will time out.
        assert.equal(state.bytes, [...state.datagrams.values()].reduce((n, d) => n + d.bytes, 0));
      },
    ),
    { numRuns: 200 },
  );
});

test("an overlapping fragment drops the whole datagram; an exact duplicate does not", () => {
  const pieces = fragmentsOf(datagram(new Uint8Array(3000).fill(7)), 1500);
  const overlapping = { ...pieces[1]!, fragmentOffset: pieces[1]!.fragmentOffset - 8 };
  const { state, actions } = feed(createReassemblyState(), 0, [pieces[0]!, pieces[0]!, overlapping, pieces[1]!, pieces[2]!]);
  assert.deepEqual(actions.map((a) => (a.type === "dropped" ? a.reason : a.type)), ["overlap"]);
  assert.equal(state.datagrams.size, 1, "what came after the drop waits alone, to time out");
});

test("a datagram that does not complete times out, quoting fragment zero when it arrived", () => {
  const pieces = fragmentsOf(datagram(new Uint8Array(3000).map((_, i) => i)), 1500);
  let { state } = feed(createReassemblyState({ timeoutMs: 30_000 }), 1000, [pieces[0]!, pieces[2]!]);
  ({ state } = feed(state, 2000, fragmentsOf(datagram(new Uint8Array(3000), 2), 1500).slice(1)));
  assert.equal(reassemblyNextDeadline(state), 31_000);
  let r = reassemblyStep(state, 30_999, { type: "tick" });
  assert.deepEqual(r.actions, []);
  r = reassemblyStep(r.state, 31_000, { type: "tick" });
  assert.equal(r.actions.length, 1);
  const timedOut = r.actions[0]!;
  assert.ok(timedOut.type === "timed-out" && timedOut.quote !== undefined);
  assert.equal(timedOut.id.identification, 1);
  const quoted = parseQuotedIpv4(timedOut.quote);
  assert.ok(quoted.ok);
  assert.ok(quoted.value.src.equals(SRC) && quoted.value.dst.equals(DST));
  assert.deepEqual([...quoted.value.transport], [0, 1, 2, 3, 4, 5, 6, 7]);
  r = reassemblyStep(r.state, 32_000, { type: "tick" });
  assert.deepEqual(r.actions.map((a) => a.type === "timed-out" && a.quote), [undefined], "no fragment zero, no quote");
  assert.equal(r.state.datagrams.size, 0);
  assert.equal(r.state.bytes, 0);
  assert.equal(reassemblyNextDeadline(r.state), undefined);
});

test("limits: fragments per datagram, datagrams in progress, bytes held", () => {
  const many = fragmentsOf(datagram(new Uint8Array(2000)), 100);
  const f = feed(createReassemblyState({ maxFragments: 10 }), 0, many);
  assert.deepEqual(f.actions.filter((a) => a.type === "dropped").map((a) => a.type === "dropped" && a.reason)[0], "too-many-fragments");

  const firsts = [1, 2, 3].map((id) => fragmentsOf(datagram(new Uint8Array(3000), id), 1500)[0]!);
  const d = feed(createReassemblyState({ maxDatagrams: 2 }), 0, firsts);
  assert.deepEqual(d.actions, [{ type: "dropped", id: { src: SRC, dst: DST, protocol: 17, identification: 1 }, reason: "too-many-datagrams" }]);
  assert.deepEqual([...d.state.datagrams.values()].map((x) => x.header.identification).sort(), [2, 3]);

  const m = feed(createReassemblyState({ maxBytes: 3000 }), 0, firsts);
  assert.deepEqual(m.actions.map((a) => a.type === "dropped" && [a.reason, a.id.identification]), [["memory", 1]]);
  assert.ok(m.state.bytes <= 3000);
  const huge = feed(createReassemblyState({ maxBytes: 1000 }), 0, [firsts[0]!]);
  assert.deepEqual(huge.actions.map((a) => a.type === "dropped" && a.reason), ["memory"]);
  assert.equal(huge.state.bytes, 0);
});

test("inconsistent fragments are dropped: misaligned middle pieces, two different ends, data past the end, past 65535", () => {
  const pieces = fragmentsOf(datagram(new Uint8Array(3000)), 1500);
  const reasons = (packets: Ipv4Packet[]) => feed(createReassemblyState(), 0, packets).actions.map((a) => (a.type === "dropped" ? a.reason : a.type));
  assert.deepEqual(reasons([{ ...pieces[0]!, payload: pieces[0]!.payload.subarray(0, 1001) }]), ["inconsistent"]);
  assert.deepEqual(reasons([pieces[2]!, { ...pieces[2]!, fragmentOffset: pieces[2]!.fragmentOffset + 8 }]), ["inconsistent"]);
  assert.deepEqual(reasons([pieces[2]!, { ...pieces[1]!, fragmentOffset: pieces[2]!.fragmentOffset }]), ["inconsistent"]);
  assert.deepEqual(reasons([{ ...pieces[2]!, fragmentOffset: 65520 }]), ["inconsistent"]);
});

test("random fragments never break the invariants, and never change a previous state", () => {
  const fragArb = fc.record({
    id: fc.integer({ min: 0, max: 3 }),
    src: ipv4Arb,
    units: fc.integer({ min: 0, max: 40 }),
    length: fc.integer({ min: 0, max: 400 }),
    more: fc.boolean(),
    dt: fc.integer({ min: 0, max: 4000 }),
    tick: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(fragArb, { maxLength: 80 }), (events) => {
      let state = createReassemblyState({ maxDatagrams: 3, maxFragments: 6, maxBytes: 2000, timeoutMs: 10_000 });
      let now = 0;
      for (const e of events) {
        now += e.dt;
        const src = e.id === 0 ? e.src : SRC;
        const packet = { ...datagram(new Uint8Array(e.length).fill(e.id), e.id), src, moreFragments: e.more, fragmentOffset: e.units * 8 };
        const before = JSON.stringify([...state.datagrams.entries()]);
        const r = reassemblyStep(state, now, e.tick ? { type: "tick" } : { type: "fragment", packet });
        assert.equal(JSON.stringify([...state.datagrams.entries()]), before);
        state = r.state;
        assert.ok(state.datagrams.size <= 3);
        assert.ok(state.bytes <= 2000);
        assert.equal(state.bytes, [...state.datagrams.values()].reduce((n, d) => n + d.bytes, 0));
        for (const d of state.datagrams.values()) {
          assert.ok(d.fragments.length <= 6);
          for (let i = 1; i < d.fragments.length; i++) {
            const prev = d.fragments[i - 1]!;
            assert.ok(prev.offset + prev.data.length <= d.fragments[i]!.offset, "sorted and disjoint");
          }
        }
        for (const a of r.actions) if (a.type === "reassembled") assert.ok(a.packet.payload.length > 0 || !a.packet.moreFragments);
      }
    }),
    { numRuns: 300 },
  );
});

test("a re-fragmented fragment keeps its base offset and MF flag", () => {
  const whole = datagram(new Uint8Array(64).map((_, i) => i));
  const middle = { ...whole, moreFragments: true, fragmentOffset: 800 };
  const pieces = planFragments(64, 20 + 32);
  const out = pieces.map((p) => {
    const bytes = new Uint8Array(20 + p.length);
    emitIpv4Fragment(middle, p, bytes);
    const r = parseIpv4(bytes);
    assert.ok(r.ok);
    return [r.value.fragmentOffset, r.value.moreFragments];
  });
  assert.deepEqual(out, [[800, true], [832, true]]);
});
