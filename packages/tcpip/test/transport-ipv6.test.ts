/**
 * TCP and UDP over IPv6 addresses (2001:db8::/32, fe80::/64) through the real engines, over two
 * in-memory IpLayer endpoints (support/ip-layer-pair.ts) in virtual time; and the dual-stack
 * facades (stack/dual-transport.ts) in front of one engine per family.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { type Datagram, FlowError, type IpAddress, Ipv4Address, Ipv6Address, type TcpFlow } from "@mirage-ts/runtime";
import { checksumValid } from "../src/checksum.ts";
import type { IpLayer } from "../src/ip-layer.ts";
import { IpProtocol } from "../src/ipv4/wire.ts";
import { seededRandom } from "../src/prng.ts";
import { createDualTcp, createDualUdp } from "../src/stack/dual-transport.ts";
import { type TcpEngine, createTcp } from "../src/tcp/engine.ts";
import { tcpFlowInfo } from "../src/tcp/flow.ts";
import { type UdpEngine, createUdp } from "../src/udp/engine.ts";
import { createVirtualTime } from "../src/testing/virtual-time.ts";
import { get16, set16 } from "../src/bytes.ts";
import { internetChecksum, pseudoHeaderSum } from "../src/checksum.ts";
import { ipv4LayerPair, ipv6LayerPair } from "./support/ip-layer-pair.ts";
import { settle } from "./support/stacks.ts";
import { readAll } from "./support/tcp.ts";

const v6 = (s: string): Ipv6Address => Ipv6Address.of(s);
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

let seed = 1;
function engines<A>(ip: IpLayer<A>, vt: ReturnType<typeof createVirtualTime>): { tcp: TcpEngine; udp: UdpEngine } {
  const random = seededRandom(seed++);
  const tcp = createTcp({ ip, clock: vt.clock, time: vt.time, random });
  const udp = createUdp({ ip, random });
  tcp.start();
  udp.start();
  return { tcp, udp };
}

/** Two hosts joined by IPv6: a (2001:db8::1, fe80::1) and b (2001:db8::2, fe80::2). */
function v6Hosts(options: { mtu?: number; owned?: boolean } = {}) {
  const vt = createVirtualTime();
  const link = ipv6LayerPair({ time: vt.time, ...options });
  const a = engines(link.a, vt);
  const b = engines(link.b, vt);
  return { vt, link, a, b, settle: <T>(p: Promise<T>, limitMs = 600_000) => settle(vt, p, limitMs, 5) };
}

test("TCP over IPv6: handshake, a request and a reply, endpoints with IPv6 addresses, a clean close", async () => {
  const { a, b, settle } = v6Hosts();
  const accepted: TcpFlow[] = [];
  b.tcp.listen(80, async (flow) => {
    accepted.push(flow);
    const request = await readAll(flow);
    await flow.write(bytes(`got ${text(request)}`));
    await flow.close();
  });
  const flow = await settle(a.tcp.connect(v6("2001:db8::2"), 80));
  assert.ok(flow.remote.address.equals(v6("2001:db8::2")));
  assert.equal(flow.remote.port, 80);
  assert.ok(flow.local.address.equals(v6("2001:db8::1")), String(flow.local.address));
  assert.ok(flow.local.port >= 49152);
  await flow.write(bytes("hello"));
  await flow.shutdown("write");
  assert.equal(text(await settle(readAll(flow))), "got hello");
  await flow.close();
  assert.equal(accepted.length, 1);
  assert.ok(accepted[0]!.remote.address.equals(v6("2001:db8::1")));
  assert.equal(accepted[0]!.remote.port, flow.local.port);
  // The client sent the first FIN, so it waits in TIME-WAIT; connections are named with the address in brackets.
  assert.deepEqual(b.tcp.connections(), []);
  assert.deepEqual(a.tcp.connections(), [{ state: "TIME-WAIT", local: `[2001:db8::1]:${flow.local.port}`, remote: "[2001:db8::2]:80" }]);
});

test("TCP over IPv6 link-local addresses: the source is the link-local one, and the MSS comes from the layer's MTU", async () => {
  const { a, b, settle } = v6Hosts({ mtu: 1280 });
  let serverFlow: TcpFlow | undefined;
  b.tcp.listen(22, (flow) => {
    serverFlow = flow;
    void flow.write(bytes("SSH-2.0-test\r\n")).then(() => flow.close());
  });
  const flow = await settle(a.tcp.connect(v6("fe80::2"), 22));
  assert.ok(flow.local.address.equals(v6("fe80::1")), String(flow.local.address));
  assert.equal(text(await settle(readAll(flow))), "SSH-2.0-test\r\n");
  const info = tcpFlowInfo(flow)!;
  // 1280 - 40 (IPv6) - 20 (TCP): what we announce; what we send also leaves room for timestamps.
  assert.equal(info.ourMss, 1220);
  assert.equal(info.sndMss, 1220 - 12);
  assert.equal(tcpFlowInfo(serverFlow!)!.ourMss, 1220);
  assert.ok(b.tcp.connections().every((c) => c.local.startsWith("[fe80::2]:22")));
});

test("TCP over IPv6: 4 MB each way with matching SHA-256 and no retransmission", async () => {
  const { a, b, link, settle } = v6Hosts();
  const up = pattern(4 << 20, 1);
  const down = pattern(4 << 20, 2);
  let serverDone: (hash: string) => void = () => {};
  const serverGot = new Promise<string>((resolve) => (serverDone = resolve));
  b.tcp.listen(5001, async (flow) => {
    const [got] = await Promise.all([readAll(flow), flow.write(down).then(() => flow.shutdown("write"))]);
    serverDone(sha(got));
  });
  const flow = await settle(a.tcp.connect(v6("2001:db8::2"), 5001));
  const [got] = await settle(Promise.all([readAll(flow), flow.write(up).then(() => flow.shutdown("write"))]));
  assert.equal(sha(got), sha(down));
  assert.equal(await settle(serverGot), sha(up));
  const info = tcpFlowInfo(flow)!;
  assert.equal(info.retransmits, 0);
  assert.equal(info.bytesSent, up.length);
  assert.equal(info.bytesReceived, down.length);
  assert.equal(info.sndMss, 1500 - 40 - 20 - 12);
  // Acknowledged data told the layer that the peer is reachable (RFC 4861 §7.3.1), on both sides.
  assert.ok(link.a.counters.confirmed > 0 && link.b.counters.confirmed > 0);
});

test("TCP over IPv6 with 2% of the datagrams lost both ways: 1 MB each way still matches", async () => {
  const { a, b, link, settle } = v6Hosts();
  const rng = seededRandom(99);
  link.a.filter = () => rng.uint32() % 100 >= 2;
  link.b.filter = () => rng.uint32() % 100 >= 2;
  const up = pattern(1 << 20, 3);
  const down = pattern(1 << 20, 4);
  b.tcp.listen(5001, async (flow) => {
    const [got] = await Promise.all([readAll(flow), flow.write(down).then(() => flow.shutdown("write"))]);
    assert.equal(sha(got), sha(up));
  });
  const flow = await settle(a.tcp.connect(v6("2001:db8::2"), 5001));
  const [got] = await settle(Promise.all([readAll(flow), flow.write(up).then(() => flow.shutdown("write"))]));
  assert.equal(sha(got), sha(down));
  assert.ok(link.a.counters.dropped + link.b.counters.dropped > 0);
  assert.ok(a.tcp.stats().retransmits + b.tcp.stats().retransmits > 0);
});

test("TCP over IPv6: a closed port answers RST and the connect is refused", async () => {
  const { a, b, link, settle } = v6Hosts();
  link.b.record = true;
  const r = await settle(a.tcp.connect(v6("2001:db8::2"), 81).then(() => "connected", (e: unknown) => e));
  assert.ok(r instanceof FlowError, String(r));
  assert.equal(r.code, "refused");
  assert.match(r.message, /\[2001:db8::2\]:81/);
  assert.equal(b.tcp.stats().txResets, 1);
  const rst = link.b.sent.find((d) => d.protocol === IpProtocol.tcp)!;
  assert.ok(rst.dst.equals(v6("2001:db8::1")) && rst.src.equals(v6("2001:db8::2")));
  assert.equal(rst.payload[13]! & 0x04, 0x04, "RST flag");
  assert.ok(checksumValid(rst.payload, 0, rst.payload.length, pseudoHeaderSum(rst.src, rst.dst, IpProtocol.tcp, rst.payload.length)));
});

test("TCP over IPv6: half-close, the client's FIN ends the server's reads while the server keeps writing", async () => {
  const { a, b, settle } = v6Hosts();
  b.tcp.listen(7, async (flow) => {
    const request = await readAll(flow); // ends with the client's FIN
    for (let i = 0; i < 3; i++) await flow.write(bytes(`${i}:${text(request)};`));
    await flow.close();
  });
  const flow = await settle(a.tcp.connect(v6("2001:db8::2"), 7));
  await flow.write(bytes("ping"));
  await flow.shutdown("write");
  await assert.rejects(flow.write(bytes("late")), FlowError);
  assert.equal(text(await settle(readAll(flow))), "0:ping;1:ping;2:ping;");
});

test("TCP over IPv6: segments with a bad checksum are dropped", async () => {
  const { b, link } = v6Hosts();
  b.tcp.listen(80, () => {});
  const syn = new Uint8Array(20);
  set16(syn, 0, 40000);
  set16(syn, 2, 80);
  syn[12] = 5 << 4;
  syn[13] = 0x02;
  set16(syn, 14, 65535);
  set16(syn, 16, 0x1234); // wrong
  link.b.inject(IpProtocol.tcp, v6("2001:db8::1"), v6("2001:db8::2"), syn);
  assert.equal(b.tcp.stats().rxBadChecksum, 1);
  assert.equal(b.tcp.connections().length, 0);
});

test("UDP over IPv6: echo, with the datagram's addresses as IPv6 addresses", async () => {
  const { a, b, vt } = v6Hosts();
  b.udp.listen(7, (d) => b.udp.send({ dst: d.src, dstPort: d.srcPort, srcPort: 7, data: d.data }));
  const replies: Datagram[] = [];
  a.udp.listen(5353, (d) => void replies.push(d));
  await a.udp.send({ dst: v6("2001:db8::2"), dstPort: 7, srcPort: 5353, data: bytes("echo me") });
  await a.udp.send({ dst: v6("fe80::2"), dstPort: 7, srcPort: 5353, data: bytes("link-local") });
  await vt.advance(1);
  await vt.advance(1);
  assert.deepEqual(replies.map((d) => text(d.data)), ["echo me", "link-local"]);
  assert.ok(replies[0]!.src.equals(v6("2001:db8::2")) && replies[0]!.dst.equals(v6("2001:db8::1")));
  assert.ok(replies[1]!.src.equals(v6("fe80::2")) && replies[1]!.dst.equals(v6("fe80::1")));
  assert.equal(replies[0]!.srcPort, 7);
});

test("UDP over IPv6: the checksum is mandatory, a zero one is refused, and a computed zero is sent as 0xffff", async () => {
  const { a, b, link } = v6Hosts();
  const got: string[] = [];
  b.udp.listen(9000, (d) => void got.push(text(d.data)));
  const src = v6("2001:db8::1");
  const dst = v6("2001:db8::2");
  const datagram = (payload: Uint8Array, checksum: "right" | "zero" | "wrong"): Uint8Array => {
    const d = new Uint8Array(8 + payload.length);
    set16(d, 0, 1234);
    set16(d, 2, 9000);
    set16(d, 4, d.length);
    d.set(payload, 8);
    if (checksum === "right") {
      const c = internetChecksum(d, 0, d.length, pseudoHeaderSum(src, dst, IpProtocol.udp, d.length));
      set16(d, 6, c === 0 ? 0xffff : c);
    } else if (checksum === "wrong") set16(d, 6, 0xbeef);
    return d;
  };
  link.b.inject(IpProtocol.udp, src, dst, datagram(bytes("zero"), "zero"));
  link.b.inject(IpProtocol.udp, src, dst, datagram(bytes("wrong"), "wrong"));
  link.b.inject(IpProtocol.udp, src, dst, datagram(bytes("right"), "right"));
  assert.deepEqual(got, ["right"]);
  assert.equal(b.udp.stats().rxBadChecksum, 2);

  // Two data bytes chosen so that the one's complement sum is 0xffff: the checksum computes to 0.
  link.a.record = true;
  const probe = datagram(Uint8Array.of(0, 0), "zero");
  set16(probe, 0, 4321);
  // The checksum with zero data is the complement of the folded sum: as the data word, it makes the sum 0xffff.
  const complement = internetChecksum(probe, 0, probe.length, pseudoHeaderSum(src, dst, IpProtocol.udp, probe.length));
  const data = Uint8Array.of(complement >> 8, complement & 0xff);
  await a.udp.send({ dst, dstPort: 9000, srcPort: 4321, data });
  const sent = link.a.sent.at(-1)!;
  assert.equal(get16(sent.payload, 6), 0xffff);
  assert.ok(checksumValid(sent.payload, 0, sent.payload.length, pseudoHeaderSum(src, dst, IpProtocol.udp, sent.payload.length)));
});

test("UDP over IPv6: a closed port is reported through the layer's portUnreachable, multicast is not", async () => {
  const { a, link, vt } = v6Hosts();
  await a.udp.send({ dst: v6("2001:db8::2"), dstPort: 9, srcPort: 1111, data: bytes("anyone?") });
  await a.udp.send({ dst: v6("ff02::1"), dstPort: 9, srcPort: 1111, data: bytes("everyone?") });
  await vt.advance(1);
  assert.equal(link.b.portUnreachables.length, 1);
  const report = link.b.portUnreachables[0]!;
  assert.ok(report.src.equals(v6("2001:db8::1")) && report.dst.equals(v6("2001:db8::2")));
  assert.equal(report.protocol, IpProtocol.udp);
  assert.equal(get16(report.payload, 2), 9);
});

test("UDP over IPv6: errors name the address in brackets; an IPv4 destination is refused by the IPv6 engine", async () => {
  const { a } = v6Hosts();
  await assert.rejects(a.udp.send({ dst: v6("2001:db8::99"), dstPort: 7, data: bytes("x") }), /2001:db8::99/);
  await assert.rejects(a.udp.send({ dst: Ipv4Address.of("10.0.0.2"), dstPort: 7, data: bytes("x") }), /runs over IPv6, not IPv4/);
  await assert.rejects(a.udp.send({ dst: v6("2001:db8::2"), dstPort: 7, src: v6("2001:db8::77"), data: bytes("x") }), /not an address of this stack/);
  await assert.rejects(a.tcp.connect(Ipv4Address.of("10.0.0.2"), 80), /runs over IPv6, not IPv4/);
});

// ---- the dual facades

/** Two hosts with both families: an IPv4 pair (10.0.0.1/.2, addresses as numbers) and an IPv6 pair. */
function dualHosts() {
  const vt = createVirtualTime();
  const link4 = ipv4LayerPair({ time: vt.time });
  const link6 = ipv6LayerPair({ time: vt.time });
  const a4 = engines(link4.a, vt);
  const a6 = engines(link6.a, vt);
  const b4 = engines(link4.b, vt);
  const b6 = engines(link6.b, vt);
  const a = { tcp: createDualTcp(a4.tcp, a6.tcp), udp: createDualUdp(a4.udp, a6.udp) };
  const b = { tcp: createDualTcp(b4.tcp, b6.tcp), udp: createDualUdp(b4.udp, b6.udp) };
  return { vt, a, b, a4, a6, b4, b6, settle: <T>(p: Promise<T>) => settle(vt, p, 60_000, 5) };
}

const family = (a: IpAddress): number => a.family;

test("dual TCP: one listen answers both families, and connect picks the engine by the address's family", async () => {
  const { a, b, b4, b6, settle } = dualHosts();
  const seen: string[] = [];
  b.tcp.listen(80, async (flow) => {
    seen.push(String(flow.remote.address));
    await flow.write(bytes(`hello IPv${family(flow.local.address)}`));
    await flow.close();
  });
  assert.deepEqual(b.tcp.listening(), [80]);
  assert.deepEqual(b4.tcp.listening(), [80]);
  assert.deepEqual(b6.tcp.listening(), [80]);
  const f4 = await settle(a.tcp.connect(Ipv4Address.of("10.0.0.2"), 80));
  const f6 = await settle(a.tcp.connect(v6("2001:db8::2"), 80));
  assert.equal(family(f4.local.address), 4);
  assert.equal(family(f6.local.address), 6);
  assert.equal(text(await settle(readAll(f4))), "hello IPv4");
  assert.equal(text(await settle(readAll(f6))), "hello IPv6");
  assert.deepEqual(seen.sort(), ["10.0.0.1", "2001:db8::1"]);
  b.tcp.unlisten(80);
  assert.deepEqual(b.tcp.listening(), []);
  const refused = await settle(a.tcp.connect(v6("2001:db8::2"), 80).then(() => "connected", (e: unknown) => e));
  assert.ok(refused instanceof FlowError && refused.code === "refused");
});

test("dual TCP: a port clash on either family is an error and leaves no half-registered listener", async () => {
  const { b, b4, b6 } = dualHosts();
  b6.tcp.listen(443, () => {});
  assert.throws(() => b.tcp.listen(443, () => {}), /already listened/);
  assert.deepEqual(b4.tcp.listening(), [], "the IPv4 registration was undone");
  b4.tcp.listen(8080, () => {});
  assert.throws(() => b.tcp.listen(8080, () => {}), /already listened/);
  assert.deepEqual(b6.tcp.listening(), [443]);
  assert.throws(() => b.tcp.listen(0, () => {}), RangeError);
});

test("dual UDP: one listen answers both families; send picks the engine by the destination's family", async () => {
  const { a, b, vt } = dualHosts();
  const got: string[] = [];
  b.udp.listen(53, (d) => void got.push(`${d.src}>${d.dst}:${text(d.data)}`));
  await a.udp.send({ dst: Ipv4Address.of("10.0.0.2"), dstPort: 53, data: bytes("four") });
  await a.udp.send({ dst: v6("2001:db8::2"), dstPort: 53, data: bytes("six") });
  await vt.advance(1);
  assert.deepEqual(got.sort(), ["10.0.0.1>10.0.0.2:four", "2001:db8::1>2001:db8::2:six"]);
  assert.throws(() => b.udp.listen(53, () => {}), /already listened/);
  b.udp.unlisten(53);
  b.udp.listen(53, () => {});
});

test("dual facades with a family absent fail with a clear error naming the boot key", async () => {
  const { a4, a6 } = dualHosts();
  const only4 = { tcp: createDualTcp(a4.tcp, undefined), udp: createDualUdp(a4.udp, undefined) };
  const only6 = { tcp: createDualTcp(undefined, a6.tcp), udp: createDualUdp(undefined, a6.udp) };
  const e1 = await only4.tcp.connect(v6("2001:db8::2"), 80).then(() => undefined, (e: unknown) => e);
  assert.ok(e1 instanceof FlowError && e1.code === "unreachable");
  assert.match(e1.message, /TCP connect to \[2001:db8::2\]:80: IPv6 is turned off \(--ipv4-only=true\)/);
  const e2 = await only6.tcp.connect(Ipv4Address.of("10.0.0.2"), 80).then(() => undefined, (e: unknown) => e);
  assert.ok(e2 instanceof FlowError && e2.code === "unreachable");
  assert.match(e2.message, /IPv4 is turned off \(--ipv6-only=true\)/);
  await assert.rejects(only4.udp.send({ dst: v6("2001:db8::2"), dstPort: 53, data: bytes("x") }), /UDP send to \[2001:db8::2\]:53: IPv6 is turned off/);
  await assert.rejects(only6.udp.send({ dst: Ipv4Address.of("10.0.0.2"), dstPort: 53, data: bytes("x") }), /IPv4 is turned off/);
  // Listening with one family serves that family only.
  only6.tcp.listen(80, () => {});
  assert.deepEqual(a6.tcp.listening(), [80]);
  assert.deepEqual(a4.tcp.listening(), []);
  const custom = createDualTcp(a4.tcp, undefined, { v6: "IPv6 has no address yet" });
  await assert.rejects(custom.connect(v6("2001:db8::2"), 1), /IPv6 has no address yet/);
});
