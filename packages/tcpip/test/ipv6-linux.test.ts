/**
 * The IPv6, ICMPv6, NDP and MLD codecs against real packets sent by the Linux kernel
 * (fixtures/ipv6-capture.sh): every field we parse must equal what Wireshark decodes, checksums
 * must be judged as Wireshark judges them, emitting what we parsed must give back the kernel's
 * bytes exactly, and the kernel's own ICMPv6 errors must agree with what our extension header
 * walker says about the packets that caused them.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Ipv6Address, MacAddress } from "@mirage-ts/runtime";
import { EtherType, parseEthernet } from "../src/ethernet/wire.ts";
import { get16 } from "../src/bytes.ts";
import { parsePcap } from "../src/link/pcap.ts";
import { parseUdp } from "../src/udp/wire.ts";
import { IPV6_HEADER_LEN, Ipv6NextHeader, emitIpv6, parseIpv6, type Ipv6Packet } from "../src/ipv6/wire.ts";
import { type Ipv6ExtensionWalk, walkIpv6ExtensionHeaders } from "../src/ipv6/extension-headers.ts";
import { createIpv6ReassemblyState, ipv6ReassemblyStep, type Ipv6ReassemblyState, type ReassembledIpv6Packet } from "../src/ipv6/reassembly.ts";
import { ICMPV6_ERROR_QUOTE_LIMIT, emitIcmpV6, parseIcmpV6, parseQuotedIpv6, quoteIpv6Packet } from "../src/icmpv6/wire.ts";
import { emitNdp, findNdpOption, isNdpType, ndpValidityProblem, parseNdp } from "../src/ndp/wire.ts";
import { emitMldV2Report, parseMldV2Report } from "../src/ndp/mld.ts";
import { ipv6MulticastMac, isSolicitedNodeMulticast, linkLocalAddress, modifiedEui64, slaacAddress, solicitedNodeMulticast } from "../src/ndp/addresses.ts";

const FIELD_NAMES = [
  "frame", "ethDst", "ethSrc", "ethType",
  "tclass", "flow", "plen", "nxt", "hlim", "src", "dst",
  "fragOffset", "fragMore", "fragId", "fragNxt", "routerAlert",
  "icmpType", "icmpCode", "icmpChecksum", "icmpChecksumStatus",
  "echoId", "echoSeq", "mtu", "pointer",
  "nsTarget", "naTarget", "naR", "naS", "naO",
  "raHopLimit", "raM", "raO", "raLifetime", "raReachable", "raRetrans",
  "optTypes", "optLinkAddr", "optMtu",
  "prefix", "prefixLength", "prefixL", "prefixA", "prefixValid", "prefixPreferred",
  "mldRecords", "mldRecordTypes", "mldGroups",
  "udpSrcPort", "udpDstPort", "udpChecksumStatus",
] as const;

type Fields = Record<(typeof FIELD_NAMES)[number], string>;

function load(): { bytes: Uint8Array; tshark: Fields }[] {
  const pcap = parsePcap(new Uint8Array(readFileSync(new URL("./fixtures/ipv6-linux.pcap", import.meta.url))));
  if (!pcap.ok) throw new Error(pcap.error);
  const lines = readFileSync(new URL("./fixtures/ipv6-linux-fields.tsv", import.meta.url), "utf8").trimEnd().split("\n");
  assert.equal(lines.length, pcap.value.records.length);
  return pcap.value.records.map((record, i) => {
    const cells = lines[i]!.split("\t");
    return { bytes: record.data, tshark: Object.fromEntries(FIELD_NAMES.map((name, k) => [name, cells[k] ?? ""])) as Fields };
  });
}

/** tshark lists every occurrence (the quoted packet of an error comes second); the first is the packet's own. */
const first = (cell: string): string => cell.split(",")[0]!;
const all = (cell: string): string[] => (cell === "" ? [] : cell.split(","));
const num = (cell: string): number => Number(first(cell));
const flag = (cell: string): boolean => first(cell) === "1" || first(cell) === "True";

const frames = load();
const ipOf = (bytes: Uint8Array): Ipv6Packet => {
  const eth = parseEthernet(bytes);
  assert.ok(eth.ok && eth.value.etherType === EtherType.ipv6);
  const ip = parseIpv6(eth.value.payload);
  assert.ok(ip.ok, ip.ok ? "" : ip.error.message);
  return ip.value;
};
const walkOf = (ip: Ipv6Packet): Ipv6ExtensionWalk => {
  const walk = walkIpv6ExtensionHeaders(ip.payload, ip.nextHeader);
  assert.ok(walk.ok, walk.ok ? "" : walk.error.message);
  return walk.value;
};
const byFrame = (n: number) => frames[n - 1]!;

test("the capture holds the expected kinds of packets", () => {
  const types = new Set(frames.flatMap(({ tshark }) => all(tshark.icmpType).slice(0, 1)));
  for (const t of ["1", "2", "3", "4", "128", "129", "133", "134", "135", "136", "143"]) assert.ok(types.has(t), `an ICMPv6 type ${t}`);
  assert.ok(frames.some(({ tshark }) => tshark.fragMore === "1"), "a fragment");
  assert.ok(frames.some(({ tshark }) => tshark.fragOffset === "0" && tshark.fragMore === "0"), "an atomic fragment");
  assert.ok(frames.some(({ tshark }) => first(tshark.nxt) === "17"), "UDP");
  assert.ok(frames.some(({ tshark }) => first(tshark.src) === "::" && tshark.icmpType === "135"), "a DAD solicitation");
});

for (const { bytes, tshark } of frames) {
  test(`frame ${tshark.frame}: fields equal tshark's and re-emitting gives the same bytes`, () => {
    const eth = parseEthernet(bytes);
    assert.ok(eth.ok);
    assert.equal(eth.value.etherType, Number(tshark.ethType));
    const ip = ipOf(bytes);
    assert.equal(ip.trafficClass, num(tshark.tclass));
    assert.equal(ip.flowLabel, num(tshark.flow));
    assert.equal(ip.payload.length, num(tshark.plen));
    assert.equal(ip.nextHeader, num(tshark.nxt));
    assert.equal(ip.hopLimit, num(tshark.hlim));
    assert.equal(ip.src.toString(), first(tshark.src));
    assert.equal(ip.dst.toString(), first(tshark.dst));
    const again = new Uint8Array(IPV6_HEADER_LEN + ip.payload.length);
    emitIpv6(ip, again);
    assert.deepEqual(again, eth.value.payload.subarray(0, again.length));
    if (ip.dst.isMulticast()) assert.equal(ipv6MulticastMac(ip.dst).toString(), tshark.ethDst, "33:33 and the group's low 32 bits");

    const walked = walkIpv6ExtensionHeaders(ip.payload, ip.nextHeader);
    if (!walked.ok) {
      // Linux refused it too: the next frame is its parameter problem, with the same code and pointer.
      const answer = byFrame(Number(tshark.frame) + 1).tshark;
      assert.equal(first(answer.icmpType), "4");
      assert.ok(walked.error.parameterProblem !== undefined, walked.error.message);
      assert.equal(walked.error.parameterProblem.code, num(answer.icmpCode));
      assert.equal(walked.error.parameterProblem.pointer, num(answer.pointer));
      return;
    }
    const walk = walked.value;
    if (walk.routerAlert !== undefined) assert.equal(walk.routerAlert, num(tshark.routerAlert));
    else assert.equal(tshark.routerAlert, "");
    if (walk.fragment !== undefined) {
      assert.equal(walk.fragment.header.fragmentOffset, num(tshark.fragOffset) * 8);
      assert.equal(walk.fragment.header.moreFragments, flag(tshark.fragMore));
      assert.equal(walk.fragment.header.identification, num(tshark.fragId));
      assert.equal(walk.fragment.header.nextHeader, num(tshark.fragNxt));
      if (walk.fragment.header.fragmentOffset !== 0) return;
    }
    const upper = ip.payload.subarray(walk.offset);
    if (walk.nextHeader === Ipv6NextHeader.udp) {
      const udp = parseUdp(upper, ip.src, ip.dst);
      assert.ok(udp.ok && tshark.udpChecksumStatus === "1");
      assert.equal(udp.value.srcPort, num(tshark.udpSrcPort));
      assert.equal(udp.value.dstPort, num(tshark.udpDstPort));
      return;
    }
    if (walk.nextHeader !== Ipv6NextHeader.icmpv6) {
      // An upper layer nobody here handles: Linux answered with parameter problem code 1 at our pointer.
      const answer = byFrame(Number(tshark.frame) + 1).tshark;
      assert.equal(first(answer.icmpType), "4");
      assert.equal(num(answer.icmpCode), 1);
      assert.equal(walk.nextHeaderPointer, num(answer.pointer));
      return;
    }

    const icmp = parseIcmpV6(upper, ip.src, ip.dst);
    if (walk.fragment?.header.moreFragments === true) {
      assert.equal(tshark.icmpChecksumStatus, "2", "tshark cannot verify a first fragment's checksum either");
      assert.ok(!icmp.ok && icmp.error.code === "bad-checksum");
      return;
    }
    assert.ok(icmp.ok, icmp.ok ? "" : icmp.error.message);
    assert.equal(first(tshark.icmpChecksumStatus), "1");
    const m = icmp.value;
    const out = new Uint8Array(upper.length);
    emitIcmpV6(m, out, 0, ip.src, ip.dst);
    assert.deepEqual(out, upper);
    switch (m.type) {
      case "echo-request":
      case "echo-reply":
        assert.equal(m.type === "echo-request" ? 128 : 129, num(tshark.icmpType));
        assert.equal(m.identifier, num(tshark.echoId));
        assert.equal(m.sequence, num(tshark.echoSeq));
        return;
      case "destination-unreachable":
      case "time-exceeded":
      case "packet-too-big":
      case "parameter-problem": {
        if (m.type === "packet-too-big") assert.equal(m.mtu, num(tshark.mtu));
        if (m.type === "parameter-problem") assert.equal(m.pointer, num(tshark.pointer));
        if (m.type !== "packet-too-big") assert.equal(m.code, num(tshark.icmpCode));
        // The quote is our own packet, cut where RFC 4443 says (Linux quotes the same amount).
        const quoted = parseQuotedIpv6(m.original);
        assert.ok(quoted.ok, quoted.ok ? "" : quoted.error.message);
        assert.equal(quoted.value.src.toString(), "2001:db8:99::1");
        if (quoted.value.protocol === Ipv6NextHeader.udp) {
          assert.equal(get16(quoted.value.transport, 0), num(tshark.udpSrcPort));
          assert.equal(get16(quoted.value.transport, 2), num(tshark.udpDstPort));
        }
        assert.equal(m.original.length, Math.min(ICMPV6_ERROR_QUOTE_LIMIT, m.original.length));
        const sent = frames.find(({ bytes: b }) => {
          const p = ipOf(b);
          return p.src.equals(Ipv6Address.of("2001:db8:99::1")) && Buffer.from(b.subarray(14, 14 + IPV6_HEADER_LEN)).equals(m.original.subarray(0, IPV6_HEADER_LEN));
        });
        if (sent !== undefined && m.type !== "time-exceeded") assert.deepEqual(m.original, quoteIpv6Packet(sent.bytes.subarray(14)));
        return;
      }
      case "other":
        break;
    }
    if (isNdpType(m.icmpType)) {
      const ndp = parseNdp(upper, ip.src, ip.dst);
      assert.ok(ndp.ok, ndp.ok ? "" : ndp.error.message);
      assert.equal(ndpValidityProblem(ndp.value, ip), undefined);
      const back = new Uint8Array(upper.length);
      emitNdp(ndp.value, back, 0, ip.src, ip.dst);
      assert.deepEqual(back, upper);
      const n = ndp.value;
      assert.deepEqual(n.options.map((o) => (o.type === "unknown" ? o.optionType : ["", "source-link-layer-address", "target-link-layer-address", "prefix-information", "redirected-header", "mtu"].indexOf(o.type))), all(tshark.optTypes).map(Number));
      const lla = n.options.find((o) => o.type === "source-link-layer-address" || o.type === "target-link-layer-address");
      if (lla !== undefined && "mac" in lla) assert.equal(lla.mac.toString(), first(tshark.optLinkAddr));
      switch (n.type) {
        case "neighbor-solicitation":
          assert.equal(n.target.toString(), tshark.nsTarget);
          if (ip.dst.isMulticast()) assert.ok(ip.dst.equals(solicitedNodeMulticast(n.target)));
          return;
        case "neighbor-advertisement":
          assert.equal(n.target.toString(), tshark.naTarget);
          assert.deepEqual([n.router, n.solicited, n.override], [flag(tshark.naR), flag(tshark.naS), flag(tshark.naO)]);
          return;
        case "router-advertisement": {
          assert.equal(n.curHopLimit, num(tshark.raHopLimit));
          assert.deepEqual([n.managed, n.other], [flag(tshark.raM), flag(tshark.raO)]);
          assert.equal(n.routerLifetime, num(tshark.raLifetime));
          assert.equal(n.reachableTime, num(tshark.raReachable));
          assert.equal(n.retransTimer, num(tshark.raRetrans));
          assert.equal(findNdpOption(n.options, "mtu")?.mtu, num(tshark.optMtu));
          const pi = findNdpOption(n.options, "prefix-information");
          assert.ok(pi !== undefined);
          assert.equal(pi.prefix.address.toString(), tshark.prefix);
          assert.equal(pi.prefix.length, num(tshark.prefixLength));
          assert.deepEqual([pi.onLink, pi.autonomous], [flag(tshark.prefixL), flag(tshark.prefixA)]);
          assert.deepEqual([pi.validLifetime, pi.preferredLifetime], [num(tshark.prefixValid), num(tshark.prefixPreferred)]);
          return;
        }
        default:
          return;
      }
    }
    assert.equal(m.icmpType, 143, "an MLDv2 report");
    const report = parseMldV2Report(upper, ip.src, ip.dst);
    assert.ok(report.ok, report.ok ? "" : report.error.message);
    assert.equal(report.value.records.length, num(tshark.mldRecords));
    assert.deepEqual(report.value.records.map((r) => String(r.recordType)), all(tshark.mldRecordTypes));
    assert.deepEqual(report.value.records.map((r) => r.group.toString()), all(tshark.mldGroups));
    const back = new Uint8Array(upper.length);
    emitMldV2Report(report.value, back, 0, ip.src, ip.dst);
    assert.deepEqual(back, upper);
  });
}

test("the kernel's addresses are the ones our helpers derive from its MACs", () => {
  const macA = MacAddress.of("02:00:00:00:0a:06");
  const llA = linkLocalAddress(macA);
  assert.equal(llA.toString(), "fe80::ff:fe00:a06");
  assert.ok(frames.some(({ bytes }) => ipOf(bytes).src.equals(llA)), "A sends from it");
  assert.equal(linkLocalAddress(MacAddress.of("02:00:00:00:0b:06")).toString(), "fe80::ff:fe00:b06");
  // A formed its SLAAC address from B's advertisement and ran DAD on it.
  const ra = frames.find(({ tshark }) => tshark.icmpType === "134")!;
  const raIp = ipOf(ra.bytes);
  const parsed = parseNdp(raIp.payload, raIp.src, raIp.dst);
  assert.ok(parsed.ok && parsed.value.type === "router-advertisement");
  const slaac = slaacAddress(findNdpOption(parsed.value.options, "prefix-information")!.prefix, modifiedEui64(macA));
  assert.equal(slaac?.toString(), "2001:db8:aa::ff:fe00:a06");
  assert.ok(frames.some(({ tshark }) => tshark.icmpType === "135" && tshark.src === "::" && tshark.nsTarget === slaac!.toString()), "DAD for the SLAAC address");
  // A's MLD reports join the solicited-node groups of its addresses.
  const joined = new Set(frames.filter(({ tshark }) => tshark.icmpType === "143" && tshark.ethSrc === "02:00:00:00:0a:06").flatMap(({ tshark }) => all(tshark.mldGroups)));
  for (const a of [llA, Ipv6Address.of("2001:db8:99::1")]) assert.ok(joined.has(solicitedNodeMulticast(a).toString()), `joined for ${a.toString()}`);
  assert.ok([...joined].some((g) => isSolicitedNodeMulticast(Ipv6Address.of(g))));
});

function reassemble(frameNumbers: number[]): ReassembledIpv6Packet {
  let state: Ipv6ReassemblyState = createIpv6ReassemblyState();
  const done: ReassembledIpv6Packet[] = [];
  for (const [i, n] of frameNumbers.entries()) {
    const ip = ipOf(byFrame(n).bytes);
    const walk = walkOf(ip);
    assert.ok(walk.fragment !== undefined);
    const step = ipv6ReassemblyStep(state, i, {
      type: "fragment",
      header: ip,
      unfragmentable: ip.payload.subarray(0, walk.fragment.offset - 8),
      fragment: walk.fragment.header,
      data: ip.payload.subarray(walk.fragment.offset),
      packet: byFrame(n).bytes.subarray(14),
    });
    state = step.state;
    for (const a of step.actions) {
      assert.equal(a.type, "reassembled", JSON.stringify(a));
      if (a.type === "reassembled") done.push(a.packet);
    }
  }
  assert.equal(done.length, 1);
  assert.equal(state.datagrams.size, 0);
  return done[0]!;
}

/** The captured fragments, grouped by datagram (source and identification), in capture order. */
function fragmentGroups(): { atomic: number[]; datagrams: number[][] } {
  const groups = new Map<string, number[]>();
  const atomic: number[] = [];
  for (const { bytes, tshark } of frames) {
    const ip = ipOf(bytes);
    const walk = walkIpv6ExtensionHeaders(ip.payload, ip.nextHeader);
    if (!walk.ok || walk.value.fragment === undefined) continue;
    const h = walk.value.fragment.header;
    if (h.fragmentOffset === 0 && !h.moreFragments) atomic.push(Number(tshark.frame));
    else groups.set(`${ip.src.toString()}/${h.identification}`, [...(groups.get(`${ip.src.toString()}/${h.identification}`) ?? []), Number(tshark.frame)]);
  }
  return { atomic, datagrams: [...groups.values()] };
}

test("Linux's 3000-byte echo and its reply reassemble, in any order, and verify", () => {
  const { datagrams } = fragmentGroups();
  assert.equal(datagrams.length, 2, "the request and the reply");
  const kinds: string[] = [];
  for (const group of datagrams) {
    assert.equal(group.length, 3);
    for (const order of [group, [...group].reverse(), [group[2]!, group[0]!, group[1]!]]) {
      const r = reassemble(order);
      assert.equal(r.nextHeader, Ipv6NextHeader.icmpv6);
      assert.equal(r.atomic, false);
      const icmp = parseIcmpV6(r.payload, r.header.src, r.header.dst);
      assert.ok(icmp.ok && (icmp.value.type === "echo-request" || icmp.value.type === "echo-reply"));
      assert.equal(icmp.value.data.length, 3000);
      kinds.push(icmp.value.type);
    }
  }
  assert.deepEqual([...new Set(kinds)].sort(), ["echo-reply", "echo-request"]);
});

test("the atomic fragment Linux answered is handed back at once, and holds a valid echo request", () => {
  const { atomic } = fragmentGroups();
  assert.equal(atomic.length, 1);
  const r = reassemble(atomic);
  assert.equal(r.atomic, true);
  const icmp = parseIcmpV6(r.payload, r.header.src, r.header.dst);
  assert.ok(icmp.ok && icmp.value.type === "echo-request");
  assert.equal(byFrame(atomic[0]! + 1).tshark.icmpType, "129", "and Linux replied");
});
