/** The Ethernet and ARP engines inside a direct stack: filtering, resolution, retries, queues, announcements. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FlowError, MacAddress } from "@mirage-ts/runtime";
import { withFaults } from "../src/link/faults.ts";
import { ARP_PACKET_LEN, emitArp, parseArp } from "../src/arp/wire.ts";
import { EtherType, emitEthernet, parseEthernet } from "../src/ethernet/wire.ts";
import { ip, lan, settle } from "./support/stacks.ts";
import { rawHost } from "./support/raw-host.ts";

test("at start a stack announces itself with a gratuitous ARP request", async () => {
  const { vt, sw, stack } = lan();
  const host = rawHost(sw.connect());
  const a = stack("10.0.0.1/24");
  await vt.advance(1);
  const arps = host.frames.map((f) => parseEthernet(f)).filter((e) => e.ok && e.value.etherType === EtherType.arp);
  assert.equal(arps.length, 1);
  const eth = arps[0]!;
  assert.ok(eth.ok && eth.value.dst.isBroadcast() && eth.value.src.equals(a.netif.mac));
  const arp = parseArp(eth.value.payload);
  assert.ok(arp.ok);
  assert.equal(arp.value.operation, "request");
  assert.ok(arp.value.senderIp.equals(ip("10.0.0.1")) && arp.value.targetIp.equals(ip("10.0.0.1")));
});

test("ARP resolves the peer; the peer learns us from our request; both caches hold the right MACs", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  const mac = await settle(vt, a.arp.query(ip("10.0.0.2")));
  assert.ok(mac.equals(b.netif.mac));
  assert.ok(a.arp.entries().some((e) => e.ip.equals(ip("10.0.0.2")) && e.mac.equals(b.netif.mac)));
  assert.ok(b.arp.entries().some((e) => e.ip.equals(ip("10.0.0.1")) && e.mac.equals(a.netif.mac)));
  assert.equal(b.stats().arp.repliesSent, 1);
});

test("a lost ARP request is retried and the queued datagram goes out once resolved", async () => {
  const { vt, sw, stack } = lan();
  const lossy = withFaults(sw.connect(), { seed: 1, loss: 1, direction: "tx" }, { time: vt.time });
  const a = stack("10.0.0.1/24", { netif: lossy, arp: { retryIntervalMs: 1000, requestAttempts: 3 } });
  const b = stack("10.0.0.2/24");
  const got: number[] = [];
  b.udp.listen(7, (d) => void got.push(d.data[0]!));
  await vt.advance(1); // b's announcement passes (a does not learn from it: it was not resolving b yet)
  await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 7, data: Uint8Array.of(9) });
  await vt.advance(500);
  assert.deepEqual(got, []);
  assert.equal(a.stats().ipv4.txQueued, 1);
  lossy.setFaults({});
  await vt.advance(600);
  assert.deepEqual(got, [9], "sent when the retry was answered");
  assert.ok(lossy.faultStats().lost >= 2, "the announcement and the first request were lost");
  assert.ok(a.stats().arp.requestsSent >= 2);
});

test("on a lossy link (30% loss both ways) pings still get through thanks to ARP retries", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24", { netif: withFaults(sw.connect(), { seed: 11, loss: 0.3 }, { time: vt.time }) });
  stack("10.0.0.2/24");
  let ok = 0;
  for (let seq = 0; seq < 40; seq++) {
    const outcome = await settle(vt, a.icmp.ping(ip("10.0.0.2"), { sequence: seq, timeoutMs: 5000 }).then(() => true, () => false), 10_000, 10);
    if (outcome) ok++;
  }
  // Each ping survives two 30% losses half the time; with ARP retries none stalls for good.
  assert.ok(ok >= 10 && ok < 40, `${ok} of 40 pings answered`);
  assert.ok(a.arp.entries().some((e) => e.ip.equals(ip("10.0.0.2"))));
});

test("nobody answers: queued datagrams are dropped after every attempt, ping times out, query rejects 'unreachable'", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { arp: { retryIntervalMs: 1000, requestAttempts: 3 } });
  const query = a.arp.query(ip("10.0.0.77"));
  await a.udp.send({ dst: ip("10.0.0.77"), dstPort: 7, data: Uint8Array.of(1) });
  await assert.rejects(settle(vt, query), (e: unknown) => e instanceof FlowError && e.code === "unreachable");
  assert.equal(a.stats().ipv4.txUnresolved, 1);
  assert.equal(a.stats().arp.unreachable, 1);
  await assert.rejects(settle(vt, a.icmp.ping(ip("10.0.0.77"), { timeoutMs: 5000 })), (e: unknown) => e instanceof FlowError && e.code === "timeout");
});

test("the queue of datagrams waiting for one address is bounded (oldest dropped)", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { arp: { queueLimit: 8 } });
  const b = stack("10.0.0.2/24");
  const got: number[] = [];
  b.udp.listen(7, (d) => void got.push(d.data[0]!));
  for (let i = 0; i < 20; i++) await a.udp.send({ dst: ip("10.0.0.2"), dstPort: 7, data: Uint8Array.of(i) });
  await vt.advance(10);
  assert.deepEqual(got, [12, 13, 14, 15, 16, 17, 18, 19]);
  assert.equal(a.stats().arp.queueDrops, 12);
});

test("ARP entries expire; the next datagram resolves again", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { arp: { cacheTimeoutMs: 10_000, refreshBeforeMs: 0 } });
  stack("10.0.0.2/24");
  await settle(vt, a.arp.query(ip("10.0.0.2")));
  await vt.advance(11_000);
  assert.equal(a.arp.entries().length, 0);
  await settle(vt, a.icmp.ping(ip("10.0.0.2")));
  assert.equal(a.arp.entries().length, 1);
});

test("Ethernet drops frames for other MACs, VLAN-tagged and 802.3 frames with counters, and keeps joined multicast", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect());
  await vt.advance(1);
  const before = b.stats().ethernet;
  const frame = (dst: MacAddress, etherType: number) => {
    const f = new Uint8Array(60);
    emitEthernet({ dst, src: host.mac, etherType, payload: new Uint8Array(46) }, f);
    return f;
  };
  host.sendFrame(frame(b.netif.mac, EtherType.vlan));
  host.sendFrame(frame(b.netif.mac, EtherType.qinq));
  host.sendFrame(frame(b.netif.mac, 0x05dc));
  host.sendFrame(frame(b.netif.mac, 0x88cc)); // LLDP: nobody handles it
  host.sendFrame(frame(MacAddress.of("01:00:5e:00:00:fb"), EtherType.ipv4)); // a group not joined (flooded)
  host.sendFrame(new Uint8Array(10));
  await vt.advance(1);
  const after = b.stats().ethernet;
  assert.equal(after.rxVlanTagged - before.rxVlanTagged, 2);
  assert.equal(after.rxNot8023 - before.rxNot8023, 1);
  assert.equal(after.rxUnknownEtherType - before.rxUnknownEtherType, 1);
  assert.equal(after.rxNotForUs - before.rxNotForUs, 1);
  assert.equal(after.rxHandlerErrors, 0);
  // A unicast frame for someone else is not even delivered to b by the learning switch once it
  // knows where that MAC lives; flood an unknown one and b must drop it.
  host.sendFrame(frame(MacAddress.of("02:99:99:99:99:99"), EtherType.ipv4));
  await vt.advance(1);
  assert.equal(b.stats().ethernet.rxNotForUs - after.rxNotForUs, 1);
  assert.equal(b.stats().ipv4.rxPackets, 0);
});

test("ARP replies to requests for our address only, and announces a conflict", async () => {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect());
  const request = (target: string, sender = "10.0.0.9") => {
    const f = new Uint8Array(14 + ARP_PACKET_LEN);
    emitArp({ operation: "request", senderMac: host.mac, senderIp: ip(sender), targetMac: MacAddress.zero, targetIp: ip(target) }, f, 14);
    emitEthernet({ dst: MacAddress.broadcast, src: host.mac, etherType: EtherType.arp, payload: f.subarray(14) }, f);
    host.sendFrame(f);
  };
  await vt.advance(1);
  request("10.0.0.3");
  request("10.0.0.2");
  request("10.0.0.1", "10.0.0.2");
  await vt.advance(1);
  const replies = host.frames
    .map((f) => parseEthernet(f))
    .filter((e) => e.ok && e.value.etherType === EtherType.arp)
    .map((e) => (e.ok ? parseArp(e.value.payload) : undefined))
    .filter((a) => a?.ok && a.value.operation === "reply");
  assert.equal(replies.length, 1);
  assert.ok(replies[0]!.ok && replies[0]!.value.senderIp.equals(ip("10.0.0.2")) && replies[0]!.value.targetMac.equals(host.mac));
  assert.equal(b.stats().arp.conflicts, 1);
  assert.ok(b.log.lines.some((l) => l.startsWith("warning address conflict")));
});

test("an entry about to expire is refreshed by a unicast request while traffic keeps flowing", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24", { arp: { cacheTimeoutMs: 10_000, refreshBeforeMs: 5_000 } });
  const b = stack("10.0.0.2/24");
  const observer = rawHost(sw.connect());
  await settle(vt, a.icmp.ping(ip("10.0.0.2")));
  const expiresAt = a.arp.entries()[0]!.expiresAt;
  await vt.advance(6_000);
  const sentAt = vt.now();
  const reply = await settle(vt, a.icmp.ping(ip("10.0.0.2")));
  assert.equal(reply.rttMs, 0, "the ping did not wait for the refresh");
  assert.ok(vt.now() - sentAt < 5);
  const refreshed = a.arp.entries()[0]!.expiresAt;
  assert.ok(refreshed > expiresAt, "the entry was extended by the answer to the refresh");
  // The refresh was unicast to b: the observer (on the flooding switch) never saw a broadcast request after the first.
  const broadcastRequests = observer.frames.filter((f) => f[12] === 0x08 && f[13] === 0x06 && f[0] === 0xff).length;
  assert.equal(broadcastRequests, 1, "a's first resolution only (the announcements went out before the observer was plugged in)");
  assert.ok(b.stats().arp.repliesSent >= 2);
});
