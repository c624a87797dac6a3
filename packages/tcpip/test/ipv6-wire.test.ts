/**
 * IPv6 header, extension header walker, Fragment header and fragmentation: byte-exact fixtures
 * (packets Linux sent, from fixtures/ipv6-linux.pcap, written out by hand as the repr that must
 * emit them) and the walker's answers for every RFC 8200 §4 case.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ipv6Address } from "@mirage-ts/runtime";
import { IPV6_HEADER_LEN, Ipv6NextHeader, Ipv6View, emitIpv6, parseIpv6, writeIpv6Header } from "../src/ipv6/wire.ts";
import { ParameterProblemCode, walkIpv6ExtensionHeaders } from "../src/ipv6/extension-headers.ts";
import {
  IPV6_FRAGMENT_HEADER_LEN,
  emitIpv6Fragment,
  emitIpv6FragmentHeader,
  ipv6FragmentLength,
  isAtomicFragment,
  parseIpv6FragmentHeader,
  planIpv6Fragments,
} from "../src/ipv6/fragment.ts";
import { MLD_HOP_BY_HOP } from "../src/ndp/mld.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const A = Ipv6Address.of("2001:db8:99::1");
const B = Ipv6Address.of("2001:db8:99::2");

// Frame 36 of the capture without its Ethernet header: an atomic fragment holding an echo request.
const ATOMIC = hex("6009ff1000182c4020010db800990000000000000000000120010db80099000000000000000000023a0000001234abcd80005a6a6d36000761746f6d69632121");
// Frame 40: destination options with option 0x9e (high bits 10: discard and report).
const DSTOPT = hex("6004d05400083c4020010db800990000000000000000000120010db80099000000000000000000023b009e0401020304");
// Frame 42: a type 0 routing header with one segment left.
const ROUTING = hex("6007e1d500182b4020010db800990000000000000000000120010db80099000000000000000000023b0200010000000020010db8009900000000000000000002");

test("the fixed header parses field by field and emits back byte for byte", () => {
  const r = parseIpv6(ATOMIC);
  assert.ok(r.ok);
  const p = r.value;
  assert.deepEqual(
    { tc: p.trafficClass, flow: p.flowLabel, next: p.nextHeader, hop: p.hopLimit, src: p.src.toString(), dst: p.dst.toString(), len: p.payload.length },
    { tc: 0, flow: 0x9ff10, next: 44, hop: 64, src: "2001:db8:99::1", dst: "2001:db8:99::2", len: 24 },
  );
  const out = new Uint8Array(ATOMIC.length);
  assert.equal(emitIpv6({ src: A, dst: B, nextHeader: 44, hopLimit: 64, trafficClass: 0, flowLabel: 0x9ff10, payload: ATOMIC.subarray(40) }, out), ATOMIC.length);
  assert.deepEqual(out, ATOMIC);
  const v = new Ipv6View(ATOMIC);
  assert.equal(v.version(), 6);
  assert.equal(v.payloadLength(), 24);
  assert.deepEqual(v.payload(), ATOMIC.subarray(40));
});

test("traffic class and flow label share their bits without bleeding into the version", () => {
  const out = new Uint8Array(40);
  writeIpv6Header({ src: A, dst: B, nextHeader: 59, hopLimit: 1, trafficClass: 0xb8, flowLabel: 0xfffff }, 0, out);
  assert.deepEqual([...out.subarray(0, 4)], [0x6b, 0x8f, 0xff, 0xff]);
  const r = parseIpv6(out);
  assert.ok(r.ok && r.value.trafficClass === 0xb8 && r.value.flowLabel === 0xfffff);
});

test("the fixed header is refused when short, of another version, or shorter than its payload length; padding is not payload", () => {
  const short = parseIpv6(ATOMIC.subarray(0, 39));
  assert.ok(!short.ok && short.error.code === "truncated" && short.error.protocol === "ipv6");
  const v4 = ATOMIC.slice();
  v4[0] = 0x45;
  const bad = parseIpv6(v4);
  assert.ok(!bad.ok && bad.error.code === "bad-version");
  const cut = parseIpv6(ATOMIC.subarray(0, ATOMIC.length - 1));
  assert.ok(!cut.ok && cut.error.code === "truncated");
  const padded = new Uint8Array(ATOMIC.length + 6);
  padded.set(ATOMIC);
  const r = parseIpv6(padded);
  assert.ok(r.ok && r.value.payload.length === 24);
});

test("the Fragment header: codec and the atomic fragment of the capture", () => {
  const walk = walkIpv6ExtensionHeaders(ATOMIC.subarray(40), 44);
  assert.ok(walk.ok && walk.value.fragment !== undefined);
  const f = walk.value.fragment;
  assert.deepEqual(f.header, { nextHeader: 58, fragmentOffset: 0, moreFragments: false, identification: 0x1234abcd });
  assert.equal(f.offset, 8);
  assert.equal(walk.value.nextHeader, 58);
  assert.ok(isAtomicFragment(f.header));
  const out = new Uint8Array(8);
  emitIpv6FragmentHeader(f.header, out);
  assert.deepEqual(out, ATOMIC.subarray(40, 48));
  const middle = hex("3a0005b9deadbeef");
  const m = parseIpv6FragmentHeader(middle);
  assert.ok(m.ok);
  assert.deepEqual(m.value, { nextHeader: 58, fragmentOffset: 0x5b8, moreFragments: true, identification: 0xdeadbeef });
  assert.ok(!isAtomicFragment(m.value));
  assert.ok(!parseIpv6FragmentHeader(middle.subarray(0, 7)).ok);
});

test("walker: the MLD hop-by-hop header with its Router Alert, then ICMPv6", () => {
  const payload = new Uint8Array([...MLD_HOP_BY_HOP, 143, 0, 0, 0]);
  const walk = walkIpv6ExtensionHeaders(payload, Ipv6NextHeader.hopByHop);
  assert.ok(walk.ok);
  assert.deepEqual(walk.value, {
    headers: [{ type: "hop-by-hop", offset: 0, length: 8 }],
    nextHeader: 58,
    offset: 8,
    nextHeaderPointer: 40,
    routerAlert: 0,
  });
});

test("walker: a chain of destination options, routing (no segments left) and destination options ends at the upper layer", () => {
  const dst1 = [43, 0, 1, 4, 0, 0, 0, 0]; // PadN of 4 bytes
  const routing = [60, 2, 0, 0, ...new Array<number>(4 + 16).fill(0)]; // type 0, segments left 0: ignored
  const dst2 = [17, 1, 0x00, 0, 0x3e, 10, ...new Array<number>(10).fill(7)]; // Pad1, then option 0x3e (high bits 00: skipped)
  const payload = new Uint8Array([...dst1, ...routing, ...dst2, 1, 2, 3, 4]);
  const walk = walkIpv6ExtensionHeaders(payload, Ipv6NextHeader.destinationOptions);
  assert.ok(walk.ok, walk.ok ? "" : walk.error.message);
  assert.deepEqual(walk.value.headers.map((h) => [h.type, h.offset, h.length]), [["destination-options", 0, 8], ["routing", 8, 24], ["destination-options", 32, 16]]);
  assert.equal(walk.value.nextHeader, 17);
  assert.equal(walk.value.offset, 48);
  assert.equal(walk.value.nextHeaderPointer, 40 + 32);
});

test("walker: an unknown Next Header is the upper layer, with the pointer to the byte naming it", () => {
  const walk = walkIpv6ExtensionHeaders(new Uint8Array([253, 0, 1, 4, 0, 0, 0, 0, 9]), Ipv6NextHeader.destinationOptions);
  assert.ok(walk.ok);
  assert.deepEqual([walk.value.nextHeader, walk.value.offset, walk.value.nextHeaderPointer], [253, 8, 40]);
  const none = walkIpv6ExtensionHeaders(new Uint8Array(0), Ipv6NextHeader.noNextHeader);
  assert.ok(none.ok && none.value.nextHeader === 59 && none.value.headers.length === 0 && none.value.nextHeaderPointer === 6);
});

test("walker: the option and routing problems Linux answered carry the parameter problem it sent", () => {
  const dst = walkIpv6ExtensionHeaders(DSTOPT.subarray(40), DSTOPT[6]!);
  assert.ok(!dst.ok);
  assert.deepEqual(dst.error.parameterProblem, { code: ParameterProblemCode.unrecognizedOption, pointer: 42, notIfMulticast: false });
  const rh = walkIpv6ExtensionHeaders(ROUTING.subarray(40), ROUTING[6]!);
  assert.ok(!rh.ok);
  assert.deepEqual(rh.error.parameterProblem, { code: ParameterProblemCode.erroneousHeaderField, pointer: 42, notIfMulticast: false });
});

test("walker: option actions by their high bits", () => {
  const withOption = (type: number) => new Uint8Array([59, 0, type, 2, 0, 0, 1, 0]);
  const skip = walkIpv6ExtensionHeaders(withOption(0x1e), 60);
  assert.ok(skip.ok && skip.value.nextHeader === 59);
  const discard = walkIpv6ExtensionHeaders(withOption(0x5e), 60);
  assert.ok(!discard.ok && discard.error.parameterProblem === undefined && discard.error.code === "unsupported");
  const report = walkIpv6ExtensionHeaders(withOption(0x9e), 60);
  assert.ok(!report.ok && report.error.parameterProblem?.notIfMulticast === false);
  const unlessMulticast = walkIpv6ExtensionHeaders(withOption(0xde), 60);
  assert.ok(!unlessMulticast.ok && unlessMulticast.error.parameterProblem?.notIfMulticast === true);
  assert.equal(unlessMulticast.error.parameterProblem?.pointer, 42);
  // Quoted packets are only read, never acted on.
  assert.ok(walkIpv6ExtensionHeaders(withOption(0x9e), 60, { structureOnly: true }).ok);
});

test("walker: a hop-by-hop header anywhere but first is an unrecognised Next Header at the byte that named it", () => {
  const payload = new Uint8Array([0, 0, 1, 4, 0, 0, 0, 0, 58, 0, 1, 4, 0, 0, 0, 0]);
  const r = walkIpv6ExtensionHeaders(payload, Ipv6NextHeader.destinationOptions);
  assert.ok(!r.ok);
  assert.equal(r.error.code, "bad-field");
  assert.deepEqual(r.error.parameterProblem, { code: ParameterProblemCode.unrecognizedNextHeader, pointer: 40, notIfMulticast: false });
  // After reassembly of a packet with no unfragmentable headers, the Fragment header (at 40) named the first header.
  const afterReassembly = walkIpv6ExtensionHeaders(payload.subarray(8), Ipv6NextHeader.hopByHop, { afterFragment: true, base: 48, firstNextHeaderPointer: 40 });
  assert.ok(!afterReassembly.ok && afterReassembly.error.parameterProblem?.pointer === 40);
  const again = walkIpv6ExtensionHeaders(new Uint8Array(8), Ipv6NextHeader.fragment, { afterFragment: true });
  assert.ok(!again.ok && again.error.code === "bad-field");
});

test("walker: lengths are checked against the bytes and the header", () => {
  const cases: [number[], number, string][] = [
    [[58], 60, "truncated"], // no length byte
    [[58, 1, 1, 4, 0, 0, 0, 0], 60, "truncated"], // announces 16 bytes, has 8
    [[58, 0, 1, 5, 0, 0, 0, 0], 60, "bad-length"], // PadN runs past the header
    [[58, 0, 0, 0, 0, 0, 0, 1], 60, "bad-length"], // an option with no length byte inside the header
    [[58, 0, 5, 3, 0, 0, 0, 0], 0, "bad-length"], // Router Alert of 3 bytes
    [[58, 0, 0, 0], 44, "truncated"], // Fragment header of 4 bytes
  ];
  for (const [bytes, next, code] of cases) {
    const r = walkIpv6ExtensionHeaders(new Uint8Array(bytes), next);
    assert.ok(!r.ok, JSON.stringify(bytes));
    assert.equal(r.error.code, code, JSON.stringify(bytes));
    assert.equal(r.error.parameterProblem, undefined);
  }
});

test("fragmentation plan: pieces are multiples of 8 that fit the MTU with every header", () => {
  assert.deepEqual(planIpv6Fragments(0, 1240, 1280), { fragmented: false });
  const plan = planIpv6Fragments(0, 3008, 1500);
  assert.ok(plan?.fragmented === true);
  // Linux cut its 3008-byte echo the same way: 1448, 1448, 112.
  assert.deepEqual(plan.pieces, [
    { offset: 0, length: 1448, moreFragments: true },
    { offset: 1448, length: 1448, moreFragments: true },
    { offset: 2896, length: 112, moreFragments: false },
  ]);
  const withHopByHop = planIpv6Fragments(8, 2000, 1280);
  assert.ok(withHopByHop?.fragmented === true);
  for (const p of withHopByHop.pieces) {
    assert.ok(40 + 8 + 8 + p.length <= 1280);
    if (p.moreFragments) assert.equal(p.length % 8, 0);
  }
  assert.equal(planIpv6Fragments(1230, 100, 1280), undefined, "no room for 8 bytes");
  assert.equal(planIpv6Fragments(0, 70000, 1500), undefined, "beyond 65535");
});

test("fragments carry the unfragmentable part, chained to the Fragment header, and reproduce Linux's first fragment", () => {
  // Linux's first fragment of its 3000-byte echo (frame 22), header and first bytes.
  const source = {
    header: { src: A, dst: B, nextHeader: 58, hopLimit: 64, trafficClass: 0, flowLabel: 0x16064 },
    unfragmentable: new Uint8Array(0),
    fragmentableNextHeader: 58,
    fragmentable: new Uint8Array(3008).fill(0xab),
    identification: 0xf55e0787,
  };
  const piece = { offset: 0, length: 1448, moreFragments: true };
  const out = new Uint8Array(ipv6FragmentLength(source, piece));
  assert.equal(emitIpv6Fragment(source, piece, out), 1496);
  assert.deepEqual(out.subarray(0, 48), hex("6001606405b02c4020010db800990000000000000000000120010db80099000000000000000000023a000001f55e0787"));
  // With a hop-by-hop header repeated: its Next Header now names the Fragment header.
  const hbh = { ...source, header: { ...source.header, nextHeader: 0 }, unfragmentable: MLD_HOP_BY_HOP };
  const last = { offset: 2896, length: 112, moreFragments: false };
  const frag = new Uint8Array(ipv6FragmentLength(hbh, last));
  emitIpv6Fragment(hbh, last, frag);
  const ip = parseIpv6(frag);
  assert.ok(ip.ok && ip.value.nextHeader === 0);
  const walk = walkIpv6ExtensionHeaders(ip.value.payload, 0);
  assert.ok(walk.ok && walk.value.fragment !== undefined);
  assert.deepEqual(walk.value.fragment.header, { nextHeader: 58, fragmentOffset: 2896, moreFragments: false, identification: 0xf55e0787 });
  assert.equal(walk.value.routerAlert, 0);
  assert.equal(ip.value.payload.length - walk.value.offset, 112);
  assert.equal(MLD_HOP_BY_HOP[0], 58, "the source bytes are not changed");
  assert.equal(IPV6_HEADER_LEN + 8 + IPV6_FRAGMENT_HEADER_LEN + 112, frag.length);
});
