/** Pieces of the engines on their own: routing, token bucket, deadline timer, Ethernet multicast, stack lifecycle. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv4Address, Ipv4Prefix, MacAddress } from "@mirage-ts/runtime";
import { ROUTE_BROADCAST, ROUTE_LOCAL, ROUTE_MULTICAST, ROUTE_NO_ADDRESS, ROUTE_NONE, ipv4NextHop } from "../src/ipv4/routing.ts";
import { TokenBucket } from "../src/token-bucket.ts";
import { createDeadlineTimer } from "../src/deadline-timer.ts";
import { createEthernet } from "../src/ethernet/engine.ts";
import { createArp } from "../src/arp/engine.ts";
import { createIpv4 } from "../src/ipv4/engine.ts";
import { EtherType, emitEthernet } from "../src/ethernet/wire.ts";
import { createSwitch } from "../src/link/switch.ts";
import { withFaults } from "../src/link/faults.ts";
import { createVirtualTime } from "../src/testing/virtual-time.ts";
import { ip, lan, settle } from "./support/stacks.ts";
import { rawHost } from "./support/raw-host.ts";
import { ipv4Arb } from "./support/arbitraries.ts";

const P = Ipv4Prefix.of("10.0.0.2/24");
const GW = Ipv4Address.of("10.0.0.1");

test("routing: on-link, gateway, broadcast, local, multicast, none", () => {
  assert.equal(ipv4NextHop(P, GW, ip("10.0.0.7").value), ip("10.0.0.7").value);
  assert.equal(ipv4NextHop(P, GW, ip("192.0.2.1").value), GW.value);
  assert.equal(ipv4NextHop(P, undefined, ip("192.0.2.1").value), ROUTE_NONE);
  assert.equal(ipv4NextHop(P, GW, ip("255.255.255.255").value), ROUTE_BROADCAST);
  assert.equal(ipv4NextHop(P, GW, ip("10.0.0.255").value), ROUTE_BROADCAST);
  assert.equal(ipv4NextHop(P, GW, ip("10.0.0.2").value), ROUTE_LOCAL);
  assert.equal(ipv4NextHop(P, GW, ip("224.0.0.251").value), ROUTE_MULTICAST);
  assert.equal(ipv4NextHop(P, GW, ip("127.0.0.1").value), ROUTE_NONE);
  assert.equal(ipv4NextHop(P, GW, 0), ROUTE_NONE);
  assert.equal(ipv4NextHop(undefined, undefined, ip("255.255.255.255").value), ROUTE_BROADCAST);
  assert.equal(ipv4NextHop(undefined, undefined, ip("10.0.0.1").value), ROUTE_NO_ADDRESS);
  // /31 (RFC 3021) and /32 have no directed broadcast.
  assert.equal(ipv4NextHop(Ipv4Prefix.of("10.0.0.0/31"), undefined, ip("10.0.0.1").value), ip("10.0.0.1").value);
  assert.equal(ipv4NextHop(Ipv4Prefix.of("10.0.0.5/32"), GW, ip("10.0.0.6").value), GW.value);
});

test("routing agrees with Ipv4Prefix.contains for any destination", () => {
  fc.assert(
    fc.property(ipv4Arb, fc.integer({ min: 0, max: 30 }), ipv4Arb, (a, length, dst) => {
      const prefix = Ipv4Prefix.make(a, length);
      const hop = ipv4NextHop(prefix, GW, dst.value);
      if (hop >= 0) assert.equal(hop, prefix.contains(dst) ? dst.value : GW.value);
      else if (hop === ROUTE_LOCAL) assert.ok(dst.equals(a));
    }),
  );
});

test("token bucket: burst, then the rate, never above the burst", () => {
  const bucket = new TokenBucket({ ratePerSecond: 1000, burst: 50 }, 0);
  let taken = 0;
  while (bucket.take(0)) taken++;
  assert.equal(taken, 50);
  assert.equal(bucket.take(0.5), false);
  assert.equal(bucket.take(1), true);
  taken = 0;
  for (let t = 1; t <= 1001; t += 0.1) if (bucket.take(t)) taken++;
  assert.ok(taken >= 999 && taken <= 1001, `${taken} in one second`);
  assert.ok(bucket.available(1_000_000) <= 50);
});

test("deadline timer: re-arming the same deadline schedules nothing new; stop disarms for good", async () => {
  const vt = createVirtualTime();
  const fired: number[] = [];
  const timer = createDeadlineTimer(vt.clock, vt.time, () => fired.push(vt.now()), (e) => assert.fail(String(e)));
  timer.arm(100);
  timer.arm(100);
  assert.equal(vt.pending(), 1);
  timer.arm(50);
  assert.equal(vt.pending(), 1);
  await vt.advance(60);
  assert.deepEqual(fired, [50]);
  assert.equal(timer.armedAt(), undefined);
  timer.arm(200);
  timer.stop();
  timer.arm(300);
  await vt.advance(1000);
  assert.deepEqual(fired, [50]);
  assert.equal(vt.pending(), 0);
});

test("deadline timer: what the fired step throws goes to onError and the timer still works", async () => {
  const vt = createVirtualTime();
  const errors: unknown[] = [];
  let calls = 0;
  const timer = createDeadlineTimer(vt.clock, vt.time, () => {
    calls++;
    if (calls === 1) throw new Error("engine bug");
  }, (e) => errors.push(e));
  timer.arm(10);
  await vt.advance(20);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /engine bug/);
  timer.arm(30);
  await vt.advance(20);
  assert.equal(calls, 2, "a later deadline still fires");
});

test("Ethernet engine: a joined multicast group is delivered, and not after leaving it", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const eth = createEthernet({ netif: sw.connect() });
  const sender = sw.connect();
  const got: number[] = [];
  eth.setHandler(0x88b5, (f) => void got.push(f[14]!));
  eth.start();
  const group = MacAddress.of("01:00:5e:00:00:fb");
  const send = (tag: number) => {
    const f = new Uint8Array(60);
    f[14] = tag;
    emitEthernet({ dst: group, src: sender.mac, etherType: 0x88b5, payload: f.subarray(14) }, f);
    sender.write(f);
  };
  send(1);
  await vt.flush();
  eth.joinMulticast(group);
  send(2);
  await vt.flush();
  eth.leaveMulticast(group);
  send(3);
  await vt.flush();
  assert.deepEqual(got, [2]);
  assert.equal(eth.stats().rxNotForUs, 2);
  eth.stop();
  send(4);
  await vt.flush();
  assert.deepEqual(got, [2]);
});

test("the MTU of the link decides fragment sizes (a 576-byte link)", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24", { netif: withFaults(sw.connect(), { seed: 1, mtu: 576 }, { time: vt.time }) });
  const b = stack("10.0.0.2/24", { netif: withFaults(sw.connect(), { seed: 2, mtu: 576 }, { time: vt.time }) });
  const reply = await settle(vt, a.icmp.ping(ip("10.0.0.2"), { size: 2000 }));
  assert.equal(reply.data.length, 2000);
  // 2008 bytes in 552-byte pieces: 4 fragments.
  assert.equal(a.stats().ipv4.txFragments, 4);
  assert.equal(b.stats().ipv4.txFragments, 4);
});

test("listen() resolves on disconnect; disconnect stops every timer and refuses further work", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  await settle(vt, a.icmp.ping(ip("10.0.0.2")));
  // Leave work in progress: an ARP resolution, a ping, a partial datagram.
  const pending = a.icmp.ping(ip("10.0.0.77"), { timeoutMs: 60_000 });
  let listened = false;
  const listening = a.listen().then(() => (listened = true));
  await vt.advance(10);
  assert.equal(listened, false);
  await a.disconnect();
  await b.disconnect();
  await listening;
  assert.ok(listened);
  await assert.rejects(pending, /disconnected/);
  await assert.rejects(a.udp.send({ dst: ip("10.0.0.2"), dstPort: 7, data: Uint8Array.of(1) }), /disconnected/);
  await vt.runUntilIdle();
  assert.equal(vt.pending(), 0);
  await a.disconnect(); // idempotent
});

test("a stopped stack ignores frames (its netif is not disconnected: the runtime owns it)", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect(), [ip("10.0.0.9")]);
  await b.disconnect();
  host.sendIpv4(b.netif.mac, { src: ip("10.0.0.9"), dst: ip("10.0.0.2"), protocol: 17, payload: new Uint8Array(8) });
  await vt.advance(10);
  assert.equal(b.stats().ipv4.rxPackets, 0);
  assert.ok(b.netif.write(new Uint8Array(60)), "the netif still works");
  assert.equal(EtherType.ipv4, 0x0800);
});

test("IPv4 engine: datagrams waiting for ARP are capped in bytes, and the bytes come back when resolution fails", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const ethernet = createEthernet({ netif: sw.connect() });
  const arp = createArp<Uint8Array>({ ethernet, clock: vt.clock, time: vt.time, addresses: [ip("10.0.0.1")], config: { queueLimit: 64, maxPending: 256 } });
  const ipv4 = createIpv4({ ethernet, arp, clock: vt.clock, time: vt.time, config: { address: Ipv4Prefix.of("10.0.0.1/24") }, arpQueueMaxBytes: 10_000 });
  ethernet.start();
  arp.start();
  ipv4.start();
  const sendTo = (host: number) => ipv4.send(ip(`10.0.0.${host}`).value, ip("10.0.0.1").value, 17, 3000 - 20);
  // 3000-byte datagrams to hosts that never answer: three fit in 10,000 bytes, the fourth does not.
  assert.deepEqual([sendTo(7), sendTo(8), sendTo(9), sendTo(10)], ["queued", "queued", "queued", "dropped"]);
  assert.equal(ipv4.stats().txUnresolved, 1);
  await vt.advance(10_000); // every ARP attempt runs out
  assert.equal(ipv4.stats().txUnresolved, 4, "the queued three are dropped as unresolved");
  assert.equal(sendTo(11), "queued", "their bytes were given back");
});
