/**
 * Neighbour discovery (RFC 4861), MLDv2 (RFC 3810) and the derived addresses: byte-exact fixtures
 * (messages Linux sent, fixtures/ipv6-linux.pcap, rebuilt from their repr), option validation,
 * RFC 4861's validity checks, property tests for every parser and emit → parse round trips.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv6Address, Ipv6Prefix, MacAddress } from "@mirage-ts/runtime";
import { type NdpOption, emitNdpOptions, ndpOptionsLength, parseNdpOptions } from "../src/ndp/options.ts";
import { type NdpMessage, emitNdp, findNdpOption, ndpLength, ndpValidityProblem, parseNdp } from "../src/ndp/wire.ts";
import {
  type MldV2Report,
  MldRecordType,
  emitMldV2Report,
  mldJoinReport,
  mldLeaveReport,
  mldV2ReportLength,
  parseMldQuery,
  parseMldV2Report,
} from "../src/ndp/mld.ts";
import {
  IPV6_ALL_MLDV2_ROUTERS,
  addressWithInterfaceId,
  ipv6MulticastMac,
  isSolicitedNodeMulticast,
  linkLocalAddress,
  modifiedEui64,
  slaacAddress,
  solicitedNodeMulticast,
} from "../src/ndp/addresses.ts";
import { IcmpV6View } from "../src/icmpv6/wire.ts";
import { assertValueOrTypedError, damaged, ipv6Arb, macArb, u16, u8 } from "./support/arbitraries.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const A = Ipv6Address.of("2001:db8:99::1");
const B = Ipv6Address.of("2001:db8:99::2");
const LL_A = Ipv6Address.of("fe80::ff:fe00:a06");
const LL_B = Ipv6Address.of("fe80::ff:fe00:b06");
const MAC_B = MacAddress.of("02:00:00:00:0b:06");
const ALL_NODES = Ipv6Address.of("ff02::1");

// The ICMPv6 part of frames 16 (B's router advertisement), 3 (A's DAD solicitation, with a
// nonce option of RFC 7527), 19 (B's solicited advertisement) and 1 (A's first MLDv2 report).
const RA = hex(
  "86009ccc4040070800007530000003e80101020000000b0605010000000005dc030440c000015180000038400000000020010db800aa00000000000000000000",
);
const DAD_NS = hex("8700d9640000000020010db80099000000000000000000010e0103c04fdd1149");
const NA = hex("8800fda1e000000020010db80099000000000000000000020201020000000b06");
const MLD_REPORT = hex("8f0063690000000204000000ff0200000000000000000001ff000a0604000000ff0200000000000000000001ff000001");

function emit(message: NdpMessage, src: Ipv6Address, dst: Ipv6Address): Uint8Array {
  const out = new Uint8Array(ndpLength(message));
  assert.equal(emitNdp(message, out, 0, src, dst), out.length);
  return out;
}

test("Linux's router advertisement: every field, and rebuilt byte for byte", () => {
  const message: NdpMessage = {
    type: "router-advertisement",
    curHopLimit: 64,
    managed: false,
    other: true,
    preference: 0,
    routerLifetime: 1800,
    reachableTime: 30000,
    retransTimer: 1000,
    options: [
      { type: "source-link-layer-address", mac: MAC_B },
      { type: "mtu", mtu: 1500 },
      { type: "prefix-information", prefix: Ipv6Prefix.of("2001:db8:aa::/64"), onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 },
    ],
  };
  assert.deepEqual(emit(message, LL_B, ALL_NODES), RA);
  const r = parseNdp(RA, LL_B, ALL_NODES);
  assert.ok(r.ok && r.value.type === "router-advertisement");
  assert.equal(JSON.stringify(r.value), JSON.stringify(message));
  assert.equal(ndpValidityProblem(r.value, { src: LL_B, dst: ALL_NODES, hopLimit: 255 }), undefined);
  assert.match(ndpValidityProblem(r.value, { src: LL_B, dst: ALL_NODES, hopLimit: 254 }) ?? "", /hop limit/);
  assert.match(ndpValidityProblem(r.value, { src: B, dst: ALL_NODES, hopLimit: 255 }) ?? "", /link-local/);
});

test("Linux's DAD solicitation: from ::, to the solicited-node group, an unknown option kept as bytes", () => {
  const dst = solicitedNodeMulticast(A);
  assert.equal(dst.toString(), "ff02::1:ff00:1");
  const r = parseNdp(DAD_NS, Ipv6Address.unspecified, dst);
  assert.ok(r.ok && r.value.type === "neighbor-solicitation");
  assert.ok(r.value.target.equals(A));
  assert.deepEqual(r.value.options, [{ type: "unknown", optionType: 14, data: hex("03c04fdd1149") }]);
  assert.deepEqual(emit(r.value, Ipv6Address.unspecified, dst), DAD_NS);
  assert.equal(ndpValidityProblem(r.value, { src: Ipv6Address.unspecified, dst, hopLimit: 255 }), undefined);
  assert.match(ndpValidityProblem(r.value, { src: Ipv6Address.unspecified, dst: A, hopLimit: 255 }) ?? "", /solicited-node/);
  const withLla: NdpMessage = { ...r.value, options: [{ type: "source-link-layer-address", mac: MAC_B }] };
  assert.match(ndpValidityProblem(withLla, { src: Ipv6Address.unspecified, dst, hopLimit: 255 }) ?? "", /link-layer/);
});

test("Linux's solicited neighbour advertisement: R/S/O flags and the target link-layer address", () => {
  const message: NdpMessage = { type: "neighbor-advertisement", router: true, solicited: true, override: true, target: B, options: [{ type: "target-link-layer-address", mac: MAC_B }] };
  assert.deepEqual(emit(message, B, A), NA);
  const r = parseNdp(NA, B, A);
  assert.ok(r.ok);
  assert.equal(JSON.stringify(r.value), JSON.stringify(message));
  assert.equal(findNdpOption(r.value.options, "target-link-layer-address")?.mac.toString(), "02:00:00:00:0b:06");
  assert.match(ndpValidityProblem(r.value, { src: B, dst: ALL_NODES, hopLimit: 255 }) ?? "", /solicited/);
});

test("router solicitation and redirect", () => {
  const rs: NdpMessage = { type: "router-solicitation", options: [{ type: "source-link-layer-address", mac: MAC_B }] };
  const bytes = emit(rs, LL_B, Ipv6Address.of("ff02::2"));
  assert.deepEqual([...bytes.subarray(0, 8)], [133, 0, ...bytes.subarray(2, 4), 0, 0, 0, 0]);
  assert.equal(bytes.length, 16);
  assert.match(ndpValidityProblem(rs, { src: Ipv6Address.unspecified, dst: ALL_NODES, hopLimit: 255 }) ?? "", /::/);
  const redirect: NdpMessage = {
    type: "redirect",
    target: LL_B,
    destination: Ipv6Address.of("2001:db8:5::1"),
    options: [{ type: "target-link-layer-address", mac: MAC_B }, { type: "redirected-header", packet: new Uint8Array(16).fill(0x60) }],
  };
  const rb = emit(redirect, LL_B, LL_A);
  assert.equal(rb.length, 40 + 8 + 24);
  const r = parseNdp(rb, LL_B, LL_A);
  assert.ok(r.ok && r.value.type === "redirect");
  assert.equal(r.value.destination.toString(), "2001:db8:5::1");
  assert.deepEqual(findNdpOption(r.value.options, "redirected-header")?.packet, new Uint8Array(16).fill(0x60));
  assert.equal(ndpValidityProblem(r.value, { src: LL_B, dst: LL_A, hopLimit: 255 }), undefined);
});

test("options: a zero length, a truncated option and wrong fixed lengths are errors", () => {
  const cases: [number[], string][] = [
    [[1, 0, 0, 0, 0, 0, 0, 0], "bad-length"],
    [[1, 1, 2, 0, 0, 0], "truncated"],
    [[1], "truncated"],
    [[1, 2, ...new Array<number>(14).fill(0)], "bad-length"],
    [[5, 2, ...new Array<number>(14).fill(0)], "bad-length"],
    [[3, 1, 0, 0, 0, 0, 0, 0], "bad-length"],
    [[3, 4, 129, ...new Array<number>(29).fill(0)], "bad-field"],
  ];
  for (const [bytes, code] of cases) {
    const r = parseNdpOptions(new Uint8Array(bytes));
    assert.ok(!r.ok, JSON.stringify(bytes));
    assert.equal(r.error.code, code, JSON.stringify(bytes));
    assert.equal(r.error.protocol, "ndp");
  }
  const message = NA.slice();
  message[25] = 0; // the option's length
  assert.ok(!parseNdp(message, B, A).ok);
});

test("messages: checksum, code and length are checked", () => {
  assert.ok(parseNdp(NA, A, B).ok, "swapped addresses keep the sum");
  const other = parseNdp(NA, LL_A, A);
  assert.ok(!other.ok && other.error.code === "bad-checksum");
  const code = emit({ type: "router-solicitation", options: [] }, LL_A, ALL_NODES);
  code[1] = 1;
  new IcmpV6View(code).fillChecksum(code.length, LL_A, ALL_NODES);
  const c = parseNdp(code, LL_A, ALL_NODES);
  assert.ok(!c.ok && c.error.code === "bad-field");
  const short = parseNdp(NA.subarray(0, 23), B, A);
  assert.ok(!short.ok && short.error.code === "truncated");
  const echo = parseNdp(new Uint8Array([128, 0, 0, 0, 0, 0, 0, 0]), A, B);
  assert.ok(!echo.ok && echo.error.code === "unsupported");
});

test("Linux's MLDv2 report: two CHANGE_TO_EXCLUDE records for solicited-node groups, rebuilt byte for byte", () => {
  const report = mldJoinReport([solicitedNodeMulticast(LL_A), solicitedNodeMulticast(A)]);
  const out = new Uint8Array(mldV2ReportLength(report));
  emitMldV2Report(report, out, 0, Ipv6Address.unspecified, IPV6_ALL_MLDV2_ROUTERS);
  assert.deepEqual(out, MLD_REPORT);
  const r = parseMldV2Report(MLD_REPORT, Ipv6Address.unspecified, IPV6_ALL_MLDV2_ROUTERS);
  assert.ok(r.ok);
  assert.deepEqual(r.value.records.map((x) => [x.recordType, x.group.toString(), x.sources.length]), [
    [MldRecordType.changeToExclude, "ff02::1:ff00:a06", 0],
    [MldRecordType.changeToExclude, "ff02::1:ff00:1", 0],
  ]);
  assert.deepEqual(mldLeaveReport([ALL_NODES]).records.map((x) => x.recordType), [MldRecordType.changeToInclude]);
  const bad = parseMldV2Report(MLD_REPORT, A, IPV6_ALL_MLDV2_ROUTERS);
  assert.ok(!bad.ok && bad.error.code === "bad-checksum" && bad.error.protocol === "mld");
});

function query(body: number[], src = LL_B, dst = ALL_NODES): Uint8Array {
  const bytes = new Uint8Array([130, 0, 0, 0, ...body]);
  new IcmpV6View(bytes).fillChecksum(bytes.length, src, dst);
  return bytes;
}

test("MLD queries: v1 (24 bytes) and v2, with the exponential maximum response code", () => {
  const group = [...solicitedNodeMulticast(A).bytes];
  const v1 = parseMldQuery(query([0x27, 0x10, 0, 0, ...group]), LL_B, ALL_NODES);
  assert.ok(v1.ok);
  assert.deepEqual([v1.value.version, v1.value.maxResponseDelayMs, v1.value.group.toString()], [1, 10000, "ff02::1:ff00:1"]);
  // Code 0x8010: exponent 0, mantissa 0x010: (0x1010) << 3 = 32896 ms. QQIC 0x81: (0x11) << 3 = 136 s.
  const v2 = parseMldQuery(query([0x80, 0x10, 0, 0, ...new Array<number>(16).fill(0), 0x0a, 0x81, 0, 1, ...group]), LL_B, ALL_NODES);
  assert.ok(v2.ok);
  assert.deepEqual(
    [v2.value.version, v2.value.maxResponseDelayMs, v2.value.group.isUnspecified(), v2.value.suppressRouterProcessing, v2.value.robustness, v2.value.queryIntervalS],
    [2, 32896, true, true, 2, 136],
  );
  assert.deepEqual(v2.value.sources.map(String), ["ff02::1:ff00:1"]);
  const odd = parseMldQuery(query([0, 0, 0, 0, ...group, 0]), LL_B, ALL_NODES);
  assert.ok(!odd.ok && odd.error.code === "bad-length");
  const cut = parseMldQuery(query([0, 0, 0, 0, ...group, 0, 0, 0, 2]), LL_B, ALL_NODES);
  assert.ok(!cut.ok && cut.error.code === "truncated");
});

test("addresses: RFC 4291's solicited-node example, 33:33 MACs, modified EUI-64, link-local and SLAAC", () => {
  assert.equal(solicitedNodeMulticast(Ipv6Address.of("4037::1:800:200e:8c6c")).toString(), "ff02::1:ff0e:8c6c");
  assert.ok(isSolicitedNodeMulticast(solicitedNodeMulticast(A)));
  assert.ok(!isSolicitedNodeMulticast(ALL_NODES));
  assert.equal(ipv6MulticastMac(Ipv6Address.of("ff02::1:ff0e:8c6c")).toString(), "33:33:ff:0e:8c:6c");
  assert.equal(ipv6MulticastMac(ALL_NODES).toString(), "33:33:00:00:00:01");
  // RFC 4291 appendix A: 34-56-78-9A-BC-DE becomes 36-56-78-FF-FE-9A-BC-DE.
  assert.deepEqual([...modifiedEui64(MacAddress.of("34:56:78:9a:bc:de"))], [0x36, 0x56, 0x78, 0xff, 0xfe, 0x9a, 0xbc, 0xde]);
  assert.equal(linkLocalAddress(MacAddress.of("52:54:00:12:34:56")).toString(), "fe80::5054:ff:fe12:3456");
  assert.ok(linkLocalAddress(MAC_B).isLinkLocal());
  const id = modifiedEui64(MAC_B);
  assert.equal(slaacAddress(Ipv6Prefix.of("2001:db8:aa::/64"), id)?.toString(), "2001:db8:aa::ff:fe00:b06");
  assert.equal(slaacAddress(Ipv6Prefix.of("2001:db8:aa::/48"), id), undefined, "SLAAC needs a /64");
  assert.throws(() => addressWithInterfaceId(A, new Uint8Array(7)), RangeError);
});

// ---- properties

const lifetimeArb = fc.integer({ min: 0, max: 0xffffffff });
const optionArb: fc.Arbitrary<NdpOption> = fc.oneof(
  macArb.map((mac) => ({ type: "source-link-layer-address" as const, mac })),
  macArb.map((mac) => ({ type: "target-link-layer-address" as const, mac })),
  fc.record({ address: ipv6Arb, length: fc.integer({ min: 0, max: 128 }), onLink: fc.boolean(), autonomous: fc.boolean(), validLifetime: lifetimeArb, preferredLifetime: lifetimeArb }).map(
    ({ address, length, ...rest }) => ({ type: "prefix-information" as const, prefix: Ipv6Prefix.make(address, length), ...rest }),
  ),
  lifetimeArb.map((mtu) => ({ type: "mtu" as const, mtu })),
  fc.uint8Array({ maxLength: 40 }).map((b) => ({ type: "redirected-header" as const, packet: Uint8Array.from([...b, ...new Array<number>((8 - (b.length % 8)) % 8).fill(0)]) })),
  fc.tuple(fc.integer({ min: 6, max: 255 }), fc.integer({ min: 0, max: 5 })).map(([optionType, units]) => ({ type: "unknown" as const, optionType, data: new Uint8Array(units * 8 + 6).fill(optionType) })),
);
const optionsArb = fc.array(optionArb, { maxLength: 4 });
const messageArb: fc.Arbitrary<NdpMessage> = fc.oneof(
  optionsArb.map((options) => ({ type: "router-solicitation" as const, options })),
  fc
    .record({ curHopLimit: u8, managed: fc.boolean(), other: fc.boolean(), preference: fc.constantFrom(0, 1, 3), routerLifetime: u16, reachableTime: lifetimeArb, retransTimer: lifetimeArb, options: optionsArb })
    .map((m) => ({ type: "router-advertisement" as const, ...m })),
  fc.record({ target: ipv6Arb, options: optionsArb }).map((m) => ({ type: "neighbor-solicitation" as const, ...m })),
  fc.record({ router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), target: ipv6Arb, options: optionsArb }).map((m) => ({ type: "neighbor-advertisement" as const, ...m })),
  fc.record({ target: ipv6Arb, destination: ipv6Arb, options: optionsArb }).map((m) => ({ type: "redirect" as const, ...m })),
);
const reportArb: fc.Arbitrary<MldV2Report> = fc.record({
  records: fc.array(
    fc.record({ recordType: fc.integer({ min: 1, max: 6 }), group: ipv6Arb, sources: fc.array(ipv6Arb, { maxLength: 3 }), auxData: fc.integer({ min: 0, max: 3 }).map((w) => new Uint8Array(w * 4).fill(w)) }),
    { maxLength: 4 },
  ),
});

/** NDP values compared through their JSON form (addresses and prefixes serialise to text). */
const same = (a: unknown, b: unknown): void => assert.equal(JSON.stringify(a, (_, v) => (v instanceof Uint8Array ? [...v] : v)), JSON.stringify(b, (_, v) => (v instanceof Uint8Array ? [...v] : v)));

test("parseNdp, parseNdpOptions, parseMldV2Report and parseMldQuery: any bytes give a value or a typed error", () => {
  const validNdp = fc.tuple(messageArb, ipv6Arb, ipv6Arb).map(([m, s, d]) => ({ bytes: emit(m, s, d), s, d }));
  const validMld = fc.tuple(reportArb, ipv6Arb, ipv6Arb).map(([r, s, d]) => {
    const bytes = new Uint8Array(mldV2ReportLength(r));
    emitMldV2Report(r, bytes, 0, s, d);
    return { bytes, s, d };
  });
  const withAddresses = (arb: fc.Arbitrary<{ bytes: Uint8Array; s: Ipv6Address; d: Ipv6Address }>) =>
    fc.oneof(arb, damaged(arb.map((v) => v.bytes)).chain((bytes) => fc.tuple(ipv6Arb, ipv6Arb).map(([s, d]) => ({ bytes, s, d }))));
  fc.assert(
    fc.property(withAddresses(validNdp), fc.nat(), ({ bytes, s, d }, hop) => {
      const r = parseNdp(bytes, s, d);
      assertValueOrTypedError(r, "ndp");
      if (r.ok) ndpValidityProblem(r.value, { src: s, dst: d, hopLimit: hop % 256 });
      assertValueOrTypedError(parseNdpOptions(bytes), "ndp");
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(withAddresses(validMld), ({ bytes, s, d }) => {
      assertValueOrTypedError(parseMldV2Report(bytes, s, d), "mld");
      const asQuery = bytes.slice();
      if (asQuery.length > 0) asQuery[0] = 130;
      assertValueOrTypedError(parseMldQuery(asQuery, s, d), "mld");
    }),
    { numRuns: 1000 },
  );
});

test("NDP: emit then parse gives the message back, options included", () => {
  fc.assert(
    fc.property(messageArb, ipv6Arb, ipv6Arb, fc.nat(9), (m, s, d, at) => {
      const buffer = new Uint8Array(at + ndpLength(m) + 3).fill(0xee);
      assert.equal(emitNdp(m, buffer, at, s, d), ndpLength(m));
      assert.ok(buffer.subarray(at + ndpLength(m)).every((b) => b === 0xee));
      const r = parseNdp(buffer.subarray(at, at + ndpLength(m)), s, d);
      assert.ok(r.ok, r.ok ? "" : r.error.message);
      same(r.value, m);
      const options = new Uint8Array(ndpOptionsLength(m.options));
      emitNdpOptions(m.options, options, 0);
      const o = parseNdpOptions(options);
      assert.ok(o.ok);
      same(o.value, m.options);
    }),
    { numRuns: 1000 },
  );
});

test("MLDv2 report: emit then parse gives it back", () => {
  fc.assert(
    fc.property(reportArb, ipv6Arb, ipv6Arb, (report, s, d) => {
      const bytes = new Uint8Array(mldV2ReportLength(report));
      emitMldV2Report(report, bytes, 0, s, d);
      const r = parseMldV2Report(bytes, s, d);
      assert.ok(r.ok, r.ok ? "" : r.error.message);
      same(r.value, report);
    }),
    { numRuns: 1000 },
  );
});
