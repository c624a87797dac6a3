/**
 * ICMPv6 of the direct stack against a hand-driven host: Packet Too Big lowers the path MTU (never
 * below 1280), errors are rate-limited and never answer multicast, unknown Next Header draws a
 * parameter problem, multicast echo is answered from a unicast address; and the families turned
 * off (ipv4: false, ipv6: false) answer nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FlowError, Ipv4Address, Ipv6Address, Ipv6Prefix, MacAddress } from "@mirage-ts/runtime";
import { ARP_PACKET_LEN, emitArp } from "../src/arp/wire.ts";
import { EtherType, emitEthernet, parseEthernet } from "../src/ethernet/wire.ts";
import { IcmpV6Type } from "../src/icmpv6/wire.ts";
import { IPV6_HEADER_LEN, Ipv6NextHeader, emitIpv6, ipv6Length } from "../src/ipv6/wire.ts";
import { IPV6_ALL_NODES, ipv6MulticastMac, linkLocalAddress, solicitedNodeMulticast } from "../src/ndp/addresses.ts";
import { emitUdp, udpLength } from "../src/udp/wire.ts";
import { lan, settle } from "./support/stacks.ts";
import { rawIpv6Host } from "./support/raw-ipv6-host.ts";

const v6 = (text: string): Ipv6Address => Ipv6Address.of(text);
const ME = v6("2001:db8::1");
const PEER = v6("2001:db8::9");

async function setup() {
  const l = lan();
  const peer = rawIpv6Host(l.sw.connect(), [PEER]);
  const s = l.stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  await l.vt.advance(3000);
  return { ...l, peer, s };
}

test("Packet Too Big lowers the path MTU (never below 1280) and later packets are fragmented to fit", async () => {
  const { vt, peer, s } = await setup();
  void s.icmp6.ping(PEER, { size: 1400, timeoutMs: 50 }).catch(() => {});
  await vt.advance(100);
  const big = peer.packets.find((p) => p.packet.nextHeader === Ipv6NextHeader.icmpv6 && p.packet.payload[0] === IcmpV6Type.echoRequest)!;
  assert.equal(big.packet.payload.length, 1408, "1400 data bytes fit the 1500 link MTU in one packet");
  const bytes = new Uint8Array(ipv6Length(big.packet));
  emitIpv6(big.packet, bytes);
  // A forged report about a packet we never sent (its source is not ours) changes nothing.
  const forged = bytes.slice();
  forged.set(v6("2001:db8::77").bytes, 8);
  peer.sendIcmp(s.netif.mac, PEER, ME, { type: "packet-too-big", mtu: 1280, original: forged.subarray(0, 1232) });
  await vt.advance(10);
  assert.equal(s.stats().ipv6!.pathMtuUpdates, 0);
  peer.sendIcmp(s.netif.mac, PEER, ME, { type: "packet-too-big", mtu: 1000, original: bytes.subarray(0, 1232) });
  await vt.advance(10);
  assert.equal(s.stats().ipv6!.pathMtuUpdates, 1);
  assert.equal(s.stats().icmp6!.rxPacketTooBig, 2);
  const count = peer.packets.length;
  void s.icmp6.ping(PEER, { size: 1400, timeoutMs: 50 }).catch(() => {});
  await vt.advance(100);
  const fragments = peer.packets.slice(count).filter((p) => p.packet.nextHeader === Ipv6NextHeader.fragment);
  assert.equal(fragments.length, 2);
  for (const f of fragments) assert.ok(IPV6_HEADER_LEN + f.packet.payload.length <= 1280, "each fragment fits 1280 (a report of 1000 counts as 1280)");
  // Other destinations keep the link MTU.
  assert.equal(s.stats().ipv6!.txFragments, 2);
});

test("ICMPv6 errors are rate-limited (a burst of 50), and never sent about a packet to a group", async () => {
  const { vt, peer, s } = await setup();
  const udp = (dst: Ipv6Address): Uint8Array => {
    const d = { srcPort: 1234, dstPort: 9, payload: Uint8Array.of(1, 2, 3) };
    const out = new Uint8Array(udpLength(d));
    emitUdp(d, out, 0, PEER, dst);
    return out;
  };
  for (let i = 0; i < 200; i++) peer.sendIpv6(s.netif.mac, { src: PEER, dst: ME, nextHeader: Ipv6NextHeader.udp, payload: udp(ME) });
  await vt.advance(1);
  const unreachables = () => peer.icmp().filter((m) => m.message.type === "destination-unreachable").length;
  assert.equal(unreachables(), 50);
  assert.equal(s.stats().icmp6!.rateLimitedErrors, 150);
  await vt.advance(1000);
  peer.sendIpv6(s.netif.mac, { src: PEER, dst: ME, nextHeader: Ipv6NextHeader.udp, payload: udp(ME) });
  await vt.advance(1);
  assert.equal(unreachables(), 51, "the bucket refills");
  const m = peer.icmp().find((x) => x.message.type === "destination-unreachable")!;
  assert.ok(m.message.type === "destination-unreachable" && m.message.code === 4 && m.packet.src.equals(ME));

  // An unknown upper layer: parameter problem code 1 pointing at the Next Header field, unicast only.
  peer.sendIpv6(s.netif.mac, { src: PEER, dst: ME, nextHeader: 253, payload: new Uint8Array(8) });
  peer.sendIpv6(ipv6MulticastMac(IPV6_ALL_NODES), { src: PEER, dst: IPV6_ALL_NODES, nextHeader: 253, payload: new Uint8Array(8) });
  peer.sendIpv6(ipv6MulticastMac(IPV6_ALL_NODES), { src: PEER, dst: IPV6_ALL_NODES, nextHeader: Ipv6NextHeader.udp, payload: udp(IPV6_ALL_NODES) });
  await vt.advance(10);
  const problems = peer.icmp().filter((x) => x.message.type === "parameter-problem");
  assert.equal(problems.length, 1);
  assert.ok(problems[0]!.message.type === "parameter-problem" && problems[0]!.message.code === 1 && problems[0]!.message.pointer === 6);
  assert.equal(unreachables(), 51, "no port unreachable about a datagram to a group");
});

test("an echo request to all-nodes is answered from the link-local address", async () => {
  const { vt, peer, s } = await setup();
  peer.sendIcmp(ipv6MulticastMac(IPV6_ALL_NODES), peer.linkLocal, IPV6_ALL_NODES, { type: "echo-request", identifier: 1, sequence: 2, data: Uint8Array.of(9, 9) });
  await vt.advance(10);
  const reply = peer.icmp().find((x) => x.message.type === "echo-reply");
  assert.ok(reply !== undefined && reply.packet.src.equals(linkLocalAddress(s.netif.mac)), "checksum verified by the parser, source unicast");
});

test("ipv6: false (--ipv4-only): nothing IPv6 is sent or answered; ping6 says IPv6 is off", async () => {
  const { vt, sw, stack } = lan();
  const peer = rawIpv6Host(sw.connect());
  const s = stack("10.0.0.1/24", { ipv6: false });
  await vt.advance(3000);
  const ll = linkLocalAddress(s.netif.mac);
  peer.sendNdp(ipv6MulticastMac(solicitedNodeMulticast(ll)), peer.linkLocal, solicitedNodeMulticast(ll), {
    type: "neighbor-solicitation",
    target: ll,
    options: [{ type: "source-link-layer-address", mac: peer.mac }],
  });
  peer.sendIcmp(ipv6MulticastMac(IPV6_ALL_NODES), peer.linkLocal, IPV6_ALL_NODES, { type: "echo-request", identifier: 1, sequence: 1, data: new Uint8Array(4) });
  await vt.advance(3000);
  assert.equal(peer.packets.length, 0, "not one IPv6 packet from the stack");
  await assert.rejects(s.icmp6.ping(peer.linkLocal), (e: Error) => e instanceof FlowError && /IPv6 is turned off/.test(e.message));
  assert.deepEqual(s.ipv6.addresses(), []);
  assert.equal(s.ip.config().ipv6, undefined);
  assert.ok(s.stats().ethernet.rxNotForUs >= 2, "its groups were never joined");
  await assert.rejects(s.tcp.connect(peer.linkLocal, 80), /IPv6 is turned off/);
});

test("ipv4: false (--ipv6-only): ARP and IPv4 are not answered, IPv6 works", async () => {
  const { vt, sw, stack } = lan();
  const watcher = sw.connect();
  const seen: number[] = [];
  watcher.listen((frames) => {
    for (const f of frames) {
      const eth = parseEthernet(f);
      if (eth.ok) seen.push(eth.value.etherType);
    }
  });
  const s = stack("10.0.0.1/24", { ipv4: false });
  const peer = stack("10.0.0.2/24");
  await vt.advance(3000);
  // An ARP request for the address the stack would have had.
  const arp = new Uint8Array(14 + ARP_PACKET_LEN);
  emitArp({ operation: "request", senderMac: watcher.mac, senderIp: Ipv4Address.of("10.0.0.9"), targetMac: MacAddress.of("00:00:00:00:00:00"), targetIp: Ipv4Address.of("10.0.0.1") }, arp, 14);
  emitEthernet({ dst: MacAddress.broadcast, src: watcher.mac, etherType: EtherType.arp, payload: arp.subarray(14) }, arp);
  watcher.write(arp);
  await assert.rejects(settle(vt, peer.icmp.ping(Ipv4Address.of("10.0.0.1"), { timeoutMs: 500 })), /no echo reply/);
  const reply = await settle(vt, peer.icmp6.ping(linkLocalAddress(s.netif.mac)));
  assert.ok(reply.src.equals(linkLocalAddress(s.netif.mac)));
  assert.equal(s.stats().arp.requestsSent + s.stats().arp.repliesSent + s.stats().arp.received, 0, "the stack neither heard nor sent ARP");
  assert.equal(s.stats().ipv4.txPackets, 0);
  assert.equal(s.ip.config().ipv4, undefined);
  assert.ok(s.ip.addresses().every((a) => a.family === 6));
  await assert.rejects(s.icmp.ping(Ipv4Address.of("10.0.0.2")), /IPv4 is turned off/);
  await assert.rejects(s.udp.send({ dst: Ipv4Address.of("10.0.0.2"), dstPort: 9, data: new Uint8Array(1) }), /IPv4 is turned off/);
  assert.ok(seen.includes(EtherType.ipv6));
});
