/** Two ARP state machines over the in-memory switch and the fault wrapper, in virtual time. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ipv4Address } from "@mirage-ts/runtime";
import { arpLookup } from "../src/arp/state-machine.ts";
import { withFaults } from "../src/link/faults.ts";
import { parsePcap, withPcap } from "../src/link/pcap.ts";
import { createSwitch } from "../src/link/switch.ts";
import { parseEthernet } from "../src/ethernet/wire.ts";
import { parseArp } from "../src/arp/wire.ts";
import { createVirtualTime } from "../src/testing/virtual-time.ts";
import { arpDriver } from "./support/arp-driver.ts";

const A_IP = Ipv4Address.of("10.0.0.1");
const B_IP = Ipv4Address.of("10.0.0.2");

test("A resolves B over the switch; B learns A from the request; the wire shows request and reply", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const chunks: Uint8Array[] = [];
  const a = arpDriver(withPcap(sw.connect(), (c) => chunks.push(c), vt.clock), [A_IP], vt.clock, vt.time);
  const b = arpDriver(sw.connect(), [B_IP], vt.clock, vt.time);
  a.send(B_IP, "hello");
  a.send(B_IP, "again");
  await vt.advance(1);
  assert.deepEqual(a.log, ["0 hello -> 02:00:00:00:00:02", "0 again -> 02:00:00:00:00:02"]);
  a.send(B_IP, "third");
  assert.equal(a.log.at(-1), "1 third -> 02:00:00:00:00:02 (fast)");
  assert.ok(arpLookup(b.state(), vt.now(), A_IP)?.equals(a.state().config.mac), "B learned A from its request");
  const pcap = parsePcap(Uint8Array.from(chunks.flatMap((c) => [...c])));
  assert.ok(pcap.ok);
  const ops = pcap.value.records.map((r) => {
    const eth = parseEthernet(r.data);
    assert.ok(eth.ok);
    const arp = parseArp(eth.value.payload);
    assert.ok(arp.ok);
    return `${eth.value.dst} ${arp.value.operation} ${arp.value.senderIp}->${arp.value.targetIp}`;
  });
  assert.deepEqual(ops, ["ff:ff:ff:ff:ff:ff request 10.0.0.1->10.0.0.2", "02:00:00:00:00:01 reply 10.0.0.2->10.0.0.1"]);
});

test("a lost request is retried: resolution completes one retry interval later", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const lossy = withFaults(sw.connect(), { seed: 1, loss: 1 }, { time: vt.time });
  const a = arpDriver(lossy, [A_IP], vt.clock, vt.time, { retryIntervalMs: 1000 });
  arpDriver(sw.connect(), [B_IP], vt.clock, vt.time);
  a.send(B_IP, "p");
  await vt.advance(500);
  assert.deepEqual(a.log, []);
  lossy.setFaults({}); // the link heals before the retry
  await vt.advance(600);
  assert.deepEqual(a.log, ["1000 p -> 02:00:00:00:00:02"]);
  assert.equal(lossy.faultStats().lost, 1);
});

test("nobody answers: the packets are reported unreachable after every attempt, and the timer stops", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const a = arpDriver(sw.connect(), [A_IP], vt.clock, vt.time, { retryIntervalMs: 1000, requestAttempts: 3 });
  const peer = sw.connect();
  let requests = 0;
  peer.listen((frames) => (requests += frames.length));
  a.send(Ipv4Address.of("10.0.0.99"), "lost");
  const fired = await vt.runUntilIdle();
  assert.ok(fired > 0);
  assert.deepEqual(a.log, ["3000 lost unreachable"]);
  assert.equal(requests, 3);
  assert.equal(vt.pending(), 0);
});

test("gratuitous ARP at start updates a peer that already knew us", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const a = arpDriver(sw.connect(), [A_IP], vt.clock, vt.time);
  const b = arpDriver(sw.connect(), [B_IP], vt.clock, vt.time);
  a.send(B_IP, "x");
  await vt.advance(1);
  const before = b.state().cache.get(A_IP.value)!.expiresAt;
  await vt.advance(10_000);
  a.start();
  await vt.advance(1);
  assert.equal(b.state().cache.get(A_IP.value)!.expiresAt, before + 10_001);
});
