/**
 * Direct stacks talking IPv6 over the in-memory switch in virtual time: link-local DAD then ping6
 * both ways, large (fragmented) pings, static addresses, loopback, the start-up log.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Datagram, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "@mirage-ts/runtime";
import { seededRandom } from "../src/prng.ts";
import { connectDirectStackV4V6, directStackOptionsProblem } from "../src/stack/connect.ts";
import { linkLocalAddress } from "../src/ndp/addresses.ts";
import { createPrng } from "../src/prng.ts";
import { lan, memoryLog, settle } from "./support/stacks.ts";
import { readAll } from "./support/tcp.ts";

const v6 = (text: string): Ipv6Address => Ipv6Address.of(text);
const ip4 = (text: string): Ipv4Address => Ipv4Address.of(text);
const randomBytes = (seed: number, length: number): Uint8Array => createPrng(seed).fill(new Uint8Array(length));

test("two stacks pass DAD on their link-local addresses, then ping6 each other both ways", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  await vt.advance(3000);
  const llA = linkLocalAddress(a.netif.mac);
  const llB = linkLocalAddress(b.netif.mac);
  assert.deepEqual(
    a.ipv6.addresses().map((x) => [x.address.toString(), x.state, x.origin]),
    [[llA.toString(), "preferred", "link-local"]],
  );
  const data = randomBytes(1, 56);
  const reply = await settle(vt, a.icmp6.ping(llB, { data, sequence: 7 }));
  assert.deepEqual(reply.data, data);
  assert.equal(reply.sequence, 7);
  assert.ok(reply.src.equals(llB));
  assert.equal(reply.hopLimit, 64);
  const back = await settle(vt, b.icmp6.ping(llA));
  assert.equal(back.data.length, 56);
  assert.ok(a.log.lines.some((l) => l.includes(`IPv6 ${llA.toString()} (link-local)`)), "the address is logged when ready");
  const entry = a.ndp.entries().find((e) => e.ip.equals(llB));
  assert.ok(entry !== undefined && entry.mac !== undefined && entry.mac.equals(b.netif.mac));
  assert.ok(a.ip.addresses().some((x) => x.equals(llA)));
  assert.ok(a.ip.config().ipv6 !== undefined);
});

test("an 8 KB ping6 is fragmented both ways and reassembled", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  const b = stack("10.0.0.2/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::2/64") } });
  await vt.advance(3000);
  const data = randomBytes(2, 8000);
  const reply = await settle(vt, a.icmp6.ping(v6("2001:db8::2"), { data }));
  assert.deepEqual(reply.data, data);
  assert.equal(a.stats().ipv6!.txFragments, 6);
  assert.equal(b.stats().ipv6!.rxReassembled, 1);
  assert.equal(b.stats().ipv6!.txFragments, 6);
  assert.equal(a.stats().ipv6!.rxReassembled, 1);
});

test("TCP over IPv6: an echo between two stacks, 200 KB each way, and the same listener serves IPv4", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  const b = stack("10.0.0.2/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::2/64") } });
  await vt.advance(3000);
  b.tcp.listen(7, async (flow) => {
    for (;;) {
      const chunk = await flow.read();
      if (chunk === null) break;
      await flow.write(chunk);
    }
    await flow.close();
  });
  for (const dst of [v6("2001:db8::2"), linkLocalAddress(b.netif.mac), ip4("10.0.0.2")]) {
    const data = randomBytes(3, 200_000);
    const flow = await settle(vt, a.tcp.connect(dst, 7));
    assert.equal(flow.remote.address.toString(), dst.toString());
    const received = settle(vt, readAll(flow));
    await settle(vt, flow.write(data));
    await settle(vt, flow.shutdown("write"));
    assert.deepEqual(await received, data);
    await settle(vt, flow.close());
  }
  assert.ok(a.stats().tcp6!.connectionsOpened === 2 && a.stats().tcp.connectionsOpened === 1, "both families carried segments");
});

test("UDP over IPv6: a datagram and its answer; a closed port draws an ICMPv6 port unreachable", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  const b = stack("10.0.0.2/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::2/64") } });
  await vt.advance(3000);
  const got: Datagram[] = [];
  b.udp.listen(5353, async (d) => {
    got.push(d);
    await b.udp.send({ dst: d.src, dstPort: d.srcPort, data: d.data.slice().reverse() });
  });
  const answers: Datagram[] = [];
  a.udp.listen(4000, (d) => void answers.push(d));
  await settle(vt, a.udp.send({ dst: v6("2001:db8::2"), dstPort: 5353, srcPort: 4000, data: Uint8Array.of(1, 2, 3) }));
  await vt.advance(100);
  assert.equal(got.length, 1);
  assert.ok(got[0]!.src.equals(v6("2001:db8::1")));
  assert.deepEqual([...answers[0]!.data], [3, 2, 1]);
  await settle(vt, a.udp.send({ dst: v6("2001:db8::2"), dstPort: 9, data: Uint8Array.of(1) }));
  await vt.advance(100);
  assert.equal(b.stats().icmp6!.txDestinationUnreachable, 1);
  assert.equal(a.stats().icmp6!.rxErrors, 1);
});

test("connect from flat options: both -only keys refused; --ipv6-only has no IPv4; a duplicate --ipv6 fails connect", async () => {
  assert.match(directStackOptionsProblem({ ipv4Only: true, ipv6Only: true }) ?? "", /cannot both be true/);
  assert.equal(directStackOptionsProblem({ ipv6Only: true }), undefined, "--ipv4 does not matter with IPv4 off");
  const { vt, sw, stack } = lan();
  const peer = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  await vt.advance(3000);
  const flat = { clock: vt.clock, time: vt.time, random: seededRandom(9), ipv4: Ipv4Prefix.of("10.0.0.2/24") };
  const only6 = await settle(vt, connectDirectStackV4V6({ ...flat, netif: sw.connect(), ipv6Only: true, ipv6: Ipv6Prefix.of("2001:db8::2/64") }));
  assert.deepEqual(only6.ip.addresses().map((a) => a.family).sort(), [6, 6]);
  const reply = await settle(vt, peer.icmp6.ping(v6("2001:db8::2")));
  assert.ok(reply.src.equals(v6("2001:db8::2")));
  await assert.rejects(settle(vt, peer.icmp.ping(ip4("10.0.0.2"), { timeoutMs: 300 })), /no echo reply/);
  const log = memoryLog();
  await assert.rejects(
    settle(vt, connectDirectStackV4V6({ ...flat, netif: sw.connect(), ipv6: Ipv6Prefix.of("2001:db8::1/64"), log })),
    /IPv6 address 2001:db8::1 is already used on the link \(duplicate address detection\): choose another --ipv6/,
  );
  const only4 = await settle(vt, connectDirectStackV4V6({ ...flat, ipv4: Ipv4Prefix.of("10.0.0.3/24"), netif: sw.connect(), ipv4Only: true, ipv6: Ipv6Prefix.of("2001:db8::3/64"), log }));
  assert.deepEqual(only4.ip.addresses().map(String), ["10.0.0.3"]);
  assert.ok(log.lines.some((l) => l.includes("--ipv6=2001:db8::3/64 is ignored: --ipv4-only=true turns IPv6 off")));
  await only4.disconnect();
  await only6.disconnect();
});

test("a stack reaches its own IPv6 addresses (loopback) and picks the source by scope", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  await vt.advance(3000);
  const self = await settle(vt, a.icmp6.ping(v6("2001:db8::1")));
  assert.ok(self.src.equals(v6("2001:db8::1")));
  assert.equal(a.stats().ipv6!.txLoopback, 2);
  const got: Datagram[] = [];
  a.udp.listen(9999, (d) => void got.push(d));
  await a.udp.send({ dst: linkLocalAddress(a.netif.mac), dstPort: 9999, data: Uint8Array.of(1) });
  await a.udp.send({ dst: v6("2001:db8::1"), dstPort: 9999, data: Uint8Array.of(2) });
  await vt.advance(10);
  assert.deepEqual(got.map((d) => [d.src.toString(), d.data[0]]), [[linkLocalAddress(a.netif.mac).toString(), 1], ["2001:db8::1", 2]]);
  await assert.rejects(a.icmp6.ping(v6("2001:db8:9::1")), /no route to 2001:db8:9::1/);
});

test("the start-up line says where IPv6 addresses come from: static plus SLAAC, SLAAC only, or link-local only", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::2/64") } });
  assert.ok(a.log.lines.some((l) => l.endsWith("IPv4 10.0.0.1/24, IPv6 2001:db8::2/64 (static) + SLAAC")), a.log.lines.join("\n"));
  const b = stack("10.0.0.2/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::3/64"), gateway: v6("fe80::1"), acceptRouterAdvertisements: false } });
  assert.ok(b.log.lines.some((l) => l.endsWith("IPv6 2001:db8::3/64 (static) via fe80::1, router advertisements ignored")));
  const c = stack("10.0.0.3/24");
  assert.ok(c.log.lines.some((l) => l.endsWith("IPv4 10.0.0.3/24, IPv6 by SLAAC")));
  const d = stack("10.0.0.4/24", { ipv6: { acceptRouterAdvertisements: false } });
  assert.ok(d.log.lines.some((l) => l.endsWith("IPv6 link-local only (router advertisements ignored)")));
  await vt.advance(3000);
  await a.disconnect();
  const stopped = a.log.lines.filter((l) => l.includes("TCP stopped"));
  assert.deepEqual(stopped.map((l) => l.match(/(IPv\d) TCP stopped: /)?.[1]).sort(), ["IPv4", "IPv6"], "one line per family, each naming it");
});
