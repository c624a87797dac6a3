/**
 * Two direct stacks (and hand-driven hosts) over the in-memory switch in virtual time: ping with
 * and without fragmentation, UDP echo, ICMP errors, broadcast, routing via a gateway, loopback.
 */
import assert from "node:assert/strict";
import { seededRandom } from "../src/prng.ts";
import { test } from "node:test";
import { type Datagram, FlowError, Ipv4Address } from "@mirage-ts/runtime";
import { createPrng } from "../src/prng.ts";
import { withFaults } from "../src/link/faults.ts";
import { parsePcap, withPcap } from "../src/link/pcap.ts";
import { parseEthernet } from "../src/ethernet/wire.ts";
import { parseIpv4 } from "../src/ipv4/wire.ts";
import { DestinationUnreachableCode, parseIcmpV4, parseQuotedIpv4 } from "../src/icmpv4/wire.ts";
import { parseUdp } from "../src/udp/wire.ts";
import { internetChecksum, pseudoHeaderSumV4 } from "../src/checksum.ts";
import { EPHEMERAL_PORT_MIN } from "../src/udp/engine.ts";
import { ip, lan, settle, shortDrain } from "./support/stacks.ts";
import { rawHost, udpOf } from "./support/raw-host.ts";

const randomBytes = (seed: number, length: number): Uint8Array => createPrng(seed).fill(new Uint8Array(length));

/** Frames captured on a netif, decoded down to IPv4 (undefined entries for non-IPv4 frames). */
function captured(chunks: Uint8Array[]) {
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) bytes.set(c, (at += c.length) - c.length);
  const pcap = parsePcap(bytes);
  assert.ok(pcap.ok);
  return pcap.value.records.map((r) => {
    const eth = parseEthernet(r.data);
    assert.ok(eth.ok);
    const packet = eth.value.etherType === 0x0800 ? parseIpv4(eth.value.payload) : undefined;
    return { eth: eth.value, ip: packet?.ok ? packet.value : undefined, length: r.data.length };
  });
}

test("two stacks ping each other, and the reply echoes the data exactly", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  const data = randomBytes(7, 56);
  const reply = await settle(vt, a.icmp.ping(ip("10.0.0.2"), { data, sequence: 1 }));
  assert.deepEqual(reply.data, data);
  assert.equal(reply.sequence, 1);
  assert.ok(reply.src.equals(ip("10.0.0.2")));
  assert.equal(reply.ttl, 64);
  const back = await settle(vt, b.icmp.ping(ip("10.0.0.1")));
  assert.equal(back.data.length, 56);
  assert.equal(b.stats().icmp.txEchoReplies, 1);
  assert.equal(a.stats().icmp.txEchoReplies, 1);
});

test("an 8000-byte ping is fragmented both ways and reassembled, its data echoed byte for byte", async () => {
  const { vt, sw, stack } = lan();
  const chunks: Uint8Array[] = [];
  const a = stack("10.0.0.1/24", { netif: withPcap(sw.connect(), (c) => chunks.push(c), vt.clock) });
  const b = stack("10.0.0.2/24");
  const data = randomBytes(8, 8000);
  const reply = await settle(vt, a.icmp.ping(ip("10.0.0.2"), { data }));
  assert.deepEqual(reply.data, data);
  // 8008 bytes of ICMP in 1480-byte pieces: 6 fragments each way.
  assert.equal(a.stats().ipv4.txFragments, 6);
  assert.equal(b.stats().ipv4.rxReassembled, 1);
  assert.equal(b.stats().ipv4.txFragments, 6);
  assert.equal(a.stats().ipv4.rxReassembled, 1);
  const fragments = captured(chunks).filter((f) => f.ip !== undefined);
  assert.equal(fragments.length, 12);
  for (const f of fragments) assert.ok(f.length <= 1514, "every frame fits the MTU");
  const sent = fragments.filter((f) => f.ip!.src.equals(ip("10.0.0.1")));
  assert.deepEqual(sent.map((f) => f.ip!.fragmentOffset), [0, 1480, 2960, 4440, 5920, 7400]);
  assert.deepEqual(sent.map((f) => f.ip!.moreFragments), [true, true, true, true, true, false]);
  assert.equal(new Set(sent.map((f) => f.ip!.identification)).size, 1);
});

test("the largest ping (65507 data bytes) goes through; a bigger one is refused", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  stack("10.0.0.2/24", { reassembly: { maxFragments: 64 } });
  const data = randomBytes(9, 65507);
  const reply = await settle(vt, a.icmp.ping(ip("10.0.0.2"), { data, timeoutMs: 5000 }));
  assert.deepEqual(reply.data, data);
  await assert.rejects(a.icmp.ping(ip("10.0.0.2"), { size: 65508 }), RangeError);
});

test("a flood of 10,000 pings, one in flight at a time, loses none", async () => {
  const { vt, sw, stack } = lan({ drain: shortDrain });
  // 50 µs each way: 10,000 pings in two seconds, as `ping -f` against a fast host.
  const a = stack("10.0.0.1/24", { netif: withFaults(sw.connect(), { seed: 3, delayMs: 0.05 }, { time: vt.time }) });
  const b = stack("10.0.0.2/24");
  await settle(vt, a.arp.query(ip("10.0.0.2")));
  let replies = 0;
  for (let seq = 0; seq < 10_000; seq++) {
    const ping = a.icmp.ping(ip("10.0.0.2"), { sequence: seq, size: 56 });
    await vt.advance(0.2); // the round trip is 0.1 ms; the margin absorbs floating-point drift
    const reply = await ping;
    if (reply.sequence === seq) replies++;
  }
  assert.equal(replies, 10_000);
  assert.equal(b.stats().icmp.rateLimitedEcho, 0);
  assert.ok(vt.now() >= 2000, "the flood took virtual time");
});

test("echo replies have their own token bucket: a burst beyond it is cut, then it refills", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24", { icmp: { echoRatePerSecond: 10, echoBurst: 5 } });
  await settle(vt, a.arp.query(ip("10.0.0.2")));
  const pings = Array.from({ length: 8 }, (_, i) => a.icmp.ping(ip("10.0.0.2"), { sequence: 100 + i, timeoutMs: 50 }).then(() => "reply", () => "lost"));
  await vt.advance(100);
  const outcomes = await Promise.all(pings);
  assert.equal(outcomes.filter((o) => o === "reply").length, 5);
  assert.equal(b.stats().icmp.rateLimitedEcho, 3);
  await vt.advance(1000);
  await settle(vt, a.icmp.ping(ip("10.0.0.2"), { sequence: 200 }));
});

test("UDP echo between two stacks, from 1 byte to 8 KB (fragmented) and to 65507 bytes", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  b.udp.listen(7, (d) => b.udp.send({ dst: d.src, dstPort: d.srcPort, srcPort: 7, data: d.data }));
  const received: Datagram[] = [];
  a.udp.listen(5000, (d) => {
    received.push(d);
  });
  const sizes = [1, 1472, 1473, 8192, 65507];
  for (const [i, size] of sizes.entries()) {
    const data = randomBytes(100 + i, size);
    await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 7, srcPort: 5000, data });
    await vt.advance(10);
    const d = received.at(-1)!;
    assert.equal(received.length, i + 1, `echo of ${size} bytes`);
    assert.deepEqual(d.data, data);
    assert.ok(d.src.equals(ip("10.0.0.2")) && d.srcPort === 7 && d.dstPort === 5000 && d.dst.equals(ip("10.0.0.1")));
  }
  assert.ok(b.stats().ipv4.rxReassembled >= 3);
});

test("without srcPort, each datagram leaves from a random ephemeral port in 49152-65535", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  const ports: number[] = [];
  b.udp.listen(9, (d) => {
    ports.push(d.srcPort);
  });
  for (let i = 0; i < 50; i++) await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 9, data: Uint8Array.of(i) });
  await vt.advance(10);
  assert.equal(ports.length, 50);
  for (const p of ports) assert.ok(p >= EPHEMERAL_PORT_MIN && p <= 65535, `port ${p}`);
  assert.ok(new Set(ports).size > 40, "ports vary");
});

test("an ephemeral source port is never one a listener holds", async () => {
  const { vt, stack } = lan();
  let draws: number[] = [];
  const base = seededRandom(5);
  const random = { ...base, uint32: () => draws.shift() ?? base.uint32() };
  const a = stack("10.0.0.1/24", { random });
  const b = stack("10.0.0.2/24");
  a.udp.listen(EPHEMERAL_PORT_MIN, () => {});
  a.udp.listen(EPHEMERAL_PORT_MIN + 1, () => {});
  const ports: number[] = [];
  b.udp.listen(9, (d) => void ports.push(d.srcPort));
  // The first draws land on ports the sender listens on; the third is free.
  draws = [0, 1, 2];
  await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 9, data: Uint8Array.of(1) });
  assert.deepEqual(draws, [], "three draws were made");
  await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 9, data: Uint8Array.of(2) });
  await vt.advance(10);
  assert.deepEqual(ports, [EPHEMERAL_PORT_MIN + 2, ports[1]]);
  assert.ok(ports[1]! >= EPHEMERAL_PORT_MIN + 2, `port ${ports[1]}`);
});

test("UDP to a closed port draws an ICMP port unreachable quoting the datagram; unlisten closes a port", async () => {
  const { vt, sw, stack } = lan();
  const chunks: Uint8Array[] = [];
  const a = stack("10.0.0.1/24", { netif: withPcap(sw.connect(), (c) => chunks.push(c), vt.clock) });
  const b = stack("10.0.0.2/24");
  let delivered = 0;
  b.udp.listen(4000, () => {
    delivered++;
  });
  await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 4000, srcPort: 1234, data: Uint8Array.of(1) });
  await vt.advance(10);
  assert.equal(delivered, 1);
  b.udp.unlisten(4000);
  await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 4000, srcPort: 1234, data: Uint8Array.of(2) });
  await vt.advance(10);
  assert.equal(delivered, 1);
  assert.equal(b.stats().udp.rxNoListener, 1);
  assert.equal(b.stats().icmp.txDestinationUnreachable, 1);
  const icmp = captured(chunks).filter((f) => f.ip?.protocol === 1);
  assert.equal(icmp.length, 1);
  const message = parseIcmpV4(icmp[0]!.ip!.payload);
  assert.ok(message.ok && message.value.type === "destination-unreachable");
  assert.equal(message.value.code, DestinationUnreachableCode.port);
  const quoted = parseQuotedIpv4(message.value.original);
  assert.ok(quoted.ok);
  assert.ok(quoted.value.src.equals(ip("10.0.0.1")) && quoted.value.dst.equals(ip("10.0.0.2")));
  assert.equal(quoted.value.protocol, 17);
  assert.equal((quoted.value.transport[0]! << 8) | quoted.value.transport[1]!, 1234);
  assert.equal((quoted.value.transport[2]! << 8) | quoted.value.transport[3]!, 4000);
  assert.equal(a.stats().icmp.rxErrors, 1);
});

test("ICMP errors are rate limited (burst 50, then 1000/s)", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  await settle(vt, a.arp.query(ip("10.0.0.2")));
  for (let i = 0; i < 200; i++) await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 9999, data: Uint8Array.of(i) });
  await vt.flush();
  assert.equal(b.stats().icmp.txDestinationUnreachable, 50);
  assert.equal(b.stats().icmp.rateLimitedErrors, 150);
  await vt.advance(10); // 10 ms at 1000/s: 10 more tokens
  for (let i = 0; i < 20; i++) await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 9999, data: Uint8Array.of(i) });
  await vt.flush();
  assert.equal(b.stats().icmp.txDestinationUnreachable, 60);
});

test("broadcast: UDP to 255.255.255.255 and to the directed broadcast is received; no ICMP error or echo reply for broadcasts", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  const c = stack("10.0.0.3/24");
  const host = rawHost(sw.connect());
  const seen: string[] = [];
  for (const [name, s] of [["b", b], ["c", c]] as const) s.udp.listen(6000, (d) => void seen.push(`${name} ${d.dst}`));
  await a.udp.send({ dst: Ipv4Address.broadcast, dstPort: 6000, data: Uint8Array.of(1) });
  await a.udp.send({ dst: ip("10.0.0.255"), dstPort: 6000, data: Uint8Array.of(2) });
  await vt.advance(10);
  assert.deepEqual(seen.sort(), ["b 10.0.0.255", "b 255.255.255.255", "c 10.0.0.255", "c 255.255.255.255"]);
  const broadcastFrames = host.packets.filter((p) => p.dstMac.isBroadcast() && p.packet.protocol === 17);
  assert.equal(broadcastFrames.length, 2, "both went to the Ethernet broadcast address");
  await a.udp.send({ dst: Ipv4Address.broadcast, dstPort: 6001, data: Uint8Array.of(3) });
  await vt.advance(10);
  assert.equal(b.stats().icmp.txDestinationUnreachable + c.stats().icmp.txDestinationUnreachable, 0);
  await assert.rejects(settle(vt, a.icmp.ping(ip("10.0.0.255"), { timeoutMs: 100 })), (e: unknown) => e instanceof FlowError && e.code === "timeout");
  assert.equal(b.stats().icmp.rxBroadcastEchoIgnored, 1);
});

test("off-link traffic goes to the gateway's MAC (resolved by ARP) and replies come back through it", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.2/24", { gateway: "10.0.0.1" });
  const router = rawHost(sw.connect(), [ip("10.0.0.1")]);
  // The "Internet" behind the router: a UDP echo at 192.0.2.7.
  router.onPacket = (packet, srcMac) => {
    const udp = udpOf(packet);
    if (udp === undefined || !packet.dst.equals(ip("192.0.2.7"))) return;
    router.sendUdp(srcMac, packet.dst, udp.dstPort, packet.src, udp.srcPort, udp.payload);
  };
  const received: Datagram[] = [];
  a.udp.listen(5353, (d) => void received.push(d));
  await a.udp.send({ dst: ip("192.0.2.7"), dstPort: 7, srcPort: 5353, data: Uint8Array.of(42) });
  await vt.advance(10);
  assert.equal(received.length, 1);
  assert.ok(received[0]!.src.equals(ip("192.0.2.7")));
  const out = router.packets.find((p) => p.packet.dst.equals(ip("192.0.2.7")))!;
  assert.ok(out.dstMac.equals(router.mac), "sent to the router's MAC");
  assert.ok(a.arp.entries().some((e) => e.ip.equals(ip("10.0.0.1")) && e.mac.equals(router.mac)), "the gateway is in the ARP cache");
  assert.ok(!a.arp.entries().some((e) => e.ip.equals(ip("192.0.2.7"))), "the off-link destination is never ARPed");
});

test("without a gateway, off-link destinations are unreachable: send rejects with FlowError 'unreachable'", async () => {
  const { stack } = lan();
  const a = stack("10.0.0.2/24");
  await assert.rejects(a.udp.send({ dst: ip("192.0.2.7"), dstPort: 7, data: Uint8Array.of(1) }), (e: unknown) => {
    assert.ok(e instanceof FlowError);
    assert.equal(e.code, "unreachable");
    assert.match(e.message, /not on 10\.0\.0\.0\/24 and no gateway/);
    return true;
  });
  await assert.rejects(a.icmp.ping(ip("8.8.8.8")), (e: unknown) => e instanceof FlowError && e.code === "unreachable");
  assert.equal(a.stats().ipv4.txNoRoute, 2);
});

test("UDP and ping to our own address are delivered locally, never put on the wire", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24");
  const observer = rawHost(sw.connect());
  const received: Datagram[] = [];
  a.udp.listen(8, (d) => void received.push(d));
  await a.udp.send({ dst: ip("10.0.0.1"), dstPort: 8, srcPort: 9, data: Uint8Array.of(5) });
  const reply = await settle(vt, a.icmp.ping(ip("10.0.0.1")));
  assert.equal(reply.data.length, 56);
  assert.equal(received.length, 1);
  assert.ok(received[0]!.src.equals(ip("10.0.0.1")));
  assert.equal(observer.packets.length, 0);
});

test("UDP send validates its arguments: IPv6, ports, size, foreign source address", async () => {
  const { stack } = lan();
  const a = stack("10.0.0.1/24");
  const { Ipv6Address } = await import("@mirage-ts/runtime");
  await assert.rejects(a.udp.send({ dst: Ipv6Address.of("2001:db8::1"), dstPort: 7, data: Uint8Array.of(1) }), /no IPv6 address/);
  await assert.rejects(a.udp.send({ dst: ip("10.0.0.2"), dstPort: 0, data: Uint8Array.of(1) }), RangeError);
  await assert.rejects(a.udp.send({ dst: ip("10.0.0.2"), dstPort: 7, data: new Uint8Array(65508) }), RangeError);
  await assert.rejects(a.udp.send({ dst: ip("10.0.0.2"), dstPort: 7, src: ip("10.0.0.9"), data: Uint8Array.of(1) }), /not an address of this stack/);
  assert.throws(() => a.udp.listen(70000, () => {}), RangeError);
  a.udp.listen(7, () => {});
  assert.throws(() => a.udp.listen(7, () => {}), /already listened/);
});

test("a UDP handler that throws or rejects is logged and counted; the stack keeps serving", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  b.udp.listen(1, () => {
    throw new Error("boom");
  });
  b.udp.listen(2, async () => {
    throw new Error("async boom");
  });
  await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 1, data: Uint8Array.of(1) });
  await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 2, data: Uint8Array.of(1) });
  await vt.advance(10);
  assert.equal(b.stats().udp.handlerErrors, 2);
  assert.ok(b.log.lines.some((l) => l.includes("boom")));
  await settle(vt, a.icmp.ping(ip("10.0.0.2")));
});

test("UDP datagrams with a bad checksum are dropped; a zero checksum means none and is accepted", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect(), [ip("10.0.0.9")]);
  const mac = await settle(vt, b.arp.query(ip("10.0.0.9")));
  assert.ok(mac.equals(host.mac));
  const got: number[] = [];
  b.udp.listen(53, (d) => void got.push(d.data[0]!));
  const udp = (value: number, checksum: "good" | "bad" | "none") => {
    const bytes = new Uint8Array(9);
    bytes.set([0x30, 0x39, 0, 53, 0, 9, 0, 0, value]);
    if (checksum !== "none") {
      let c = internetChecksum(bytes, 0, 9, pseudoHeaderSumV4(ip("10.0.0.9").value, ip("10.0.0.2").value, 17, 9));
      if (checksum === "bad") c ^= 0x0101;
      bytes[6] = c >> 8;
      bytes[7] = c & 0xff;
    }
    host.sendIpv4(b.netif.mac, { src: ip("10.0.0.9"), dst: ip("10.0.0.2"), protocol: 17, payload: bytes });
  };
  udp(1, "good");
  udp(2, "bad");
  udp(3, "none");
  await vt.advance(10);
  assert.deepEqual(got, [1, 3]);
  assert.equal(b.stats().udp.rxBadChecksum, 1);
});

test("datagrams for other hosts and from martian sources are dropped", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect(), [ip("10.0.0.9")]);
  const got: string[] = [];
  b.udp.listen(53, (d) => void got.push(`${d.src}`));
  const payload = new Uint8Array(8);
  payload.set([0, 1, 0, 53, 0, 8, 0, 0]);
  host.sendIpv4(b.netif.mac, { src: ip("10.0.0.9"), dst: ip("10.0.0.3"), protocol: 17, payload });
  host.sendIpv4(b.netif.mac, { src: ip("224.0.0.1"), dst: ip("10.0.0.2"), protocol: 17, payload });
  host.sendIpv4(b.netif.mac, { src: ip("10.0.0.255"), dst: ip("10.0.0.2"), protocol: 17, payload });
  host.sendIpv4(b.netif.mac, { src: ip("127.0.0.1"), dst: ip("10.0.0.2"), protocol: 17, payload });
  host.sendIpv4(b.netif.mac, { src: ip("0.1.2.3"), dst: ip("10.0.0.2"), protocol: 17, payload });
  host.sendIpv4(b.netif.mac, { src: ip("10.0.0.2"), dst: ip("10.0.0.2"), protocol: 17, payload });
  host.sendIpv4(b.netif.mac, { src: ip("10.0.0.9"), dst: ip("10.0.0.2"), protocol: 17, payload });
  await vt.advance(10);
  assert.deepEqual(got, ["10.0.0.9"]);
  assert.equal(b.stats().ipv4.rxNotForUs, 1);
  assert.equal(b.stats().ipv4.rxMartian, 5);
});

test("an unknown IP protocol draws a protocol unreachable", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect(), [ip("10.0.0.9")]);
  host.sendIpv4(b.netif.mac, { src: ip("10.0.0.9"), dst: ip("10.0.0.2"), protocol: 253, payload: new Uint8Array(12) });
  await vt.advance(10);
  const errors = host.packets.filter((p) => p.packet.protocol === 1).map((p) => parseIcmpV4(p.packet.payload));
  assert.equal(errors.length, 1);
  assert.ok(errors[0]!.ok && errors[0]!.value.type === "destination-unreachable" && errors[0]!.value.code === DestinationUnreachableCode.protocol);
});

test("a datagram that never completes draws an ICMP time exceeded (reassembly) when fragment zero came", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect(), [ip("10.0.0.9")]);
  const first = { src: ip("10.0.0.9"), dst: ip("10.0.0.2"), protocol: 17, identification: 77, moreFragments: true, payload: new Uint8Array(16) };
  host.sendIpv4(b.netif.mac, first);
  host.sendIpv4(b.netif.mac, { ...first, identification: 78, fragmentOffset: 16, moreFragments: false });
  await vt.advance(29_000);
  assert.equal(host.packets.filter((p) => p.packet.protocol === 1).length, 0);
  await vt.advance(2_000);
  const errors = host.packets.filter((p) => p.packet.protocol === 1).map((p) => parseIcmpV4(p.packet.payload));
  assert.equal(errors.length, 1, "only the datagram whose first fragment arrived is reported");
  const e = errors[0]!;
  assert.ok(e.ok && e.value.type === "time-exceeded" && e.value.code === 1);
  const quoted = parseQuotedIpv4(e.value.original);
  assert.ok(quoted.ok && quoted.value.src.equals(ip("10.0.0.9")));
  assert.equal(b.stats().ipv4.rxReassemblyTimeouts, 2);
});

test("the reply to an echo request carries a valid checksum whatever the request's (incremental update)", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect(), [ip("10.0.0.9")]);
  const { emitIcmpV4 } = await import("../src/icmpv4/wire.ts");
  await settle(vt, b.arp.query(ip("10.0.0.9"))); // else the replies wait in ARP's bounded queue
  const prng = createPrng(5);
  for (let i = 0; i < 300; i++) {
    const data = prng.fill(new Uint8Array(prng.nextInt(40)));
    const message = new Uint8Array(8 + data.length);
    emitIcmpV4({ type: "echo-request", identifier: prng.nextInt(0x10000), sequence: i, data }, message);
    host.sendIpv4(b.netif.mac, { src: ip("10.0.0.9"), dst: ip("10.0.0.2"), protocol: 1, payload: message });
  }
  await vt.advance(10);
  const replies = host.packets.filter((p) => p.packet.protocol === 1).map((p) => parseIcmpV4(p.packet.payload));
  assert.equal(replies.length, 300);
  for (const r of replies) assert.ok(r.ok && r.value.type === "echo-reply", r.ok ? "" : r.error.message);
});

test("UDP through a raw host: the stack's datagrams parse and verify with the codec", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24");
  const host = rawHost(sw.connect(), [ip("10.0.0.9")]);
  await a.udp.send({ dst: ip("10.0.0.9"), dstPort: 99, srcPort: 98, data: randomBytes(1, 3000), ttl: 7 });
  await vt.advance(10);
  const fragments = host.packets.filter((p) => p.packet.protocol === 17);
  assert.equal(fragments.length, 3);
  assert.ok(fragments.every((f) => f.packet.ttl === 7));
  const whole = new Uint8Array(3008);
  for (const f of fragments) whole.set(f.packet.payload, f.packet.fragmentOffset);
  const udp = parseUdp(whole, ip("10.0.0.1"), ip("10.0.0.9"));
  assert.ok(udp.ok);
  assert.deepEqual(udp.value.payload, randomBytes(1, 3000));
});

test("IPv4 options are skipped: a datagram with a 24-byte header is delivered", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect(), [ip("10.0.0.9")]);
  const got: Uint8Array[] = [];
  b.udp.listen(53, (d) => void got.push(d.data));
  const udp = new Uint8Array(11);
  udp.set([0, 1, 0, 53, 0, 11, 0, 0, 7, 8, 9]);
  const frame = new Uint8Array(14 + 24 + udp.length);
  b.netif.mac.toBytes(frame, 0);
  host.mac.toBytes(frame, 6);
  frame.set([0x08, 0x00, 0x46, 0, 0, 24 + udp.length, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 9, 10, 0, 0, 2, 0x94, 0x04, 0, 0], 12);
  const c = internetChecksum(frame, 14, 24);
  frame[24] = c >> 8;
  frame[25] = c & 0xff;
  frame.set(udp, 38);
  host.sendFrame(frame);
  await vt.advance(10);
  assert.deepEqual(got, [Uint8Array.of(7, 8, 9)]);
});
