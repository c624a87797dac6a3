/** The DHCP client of the direct stack against a test DHCP server over the switch, in virtual time. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ipv4Address, MacAddress } from "@mirage-ts/runtime";
import { seededRandom } from "../src/prng.ts";
import { connectDirectStack, dhcpOf } from "../src/stack/direct-stack.ts";
import { type DhcpLease, type DhcpState, createDhcpState, dhcpNextDeadline, dhcpStep } from "../src/dhcp/state-machine.ts";
import type { DhcpMessage } from "../src/dhcp/wire.ts";
import { ip, lan, memoryLog, settle } from "./support/stacks.ts";
import { dhcpServer } from "./support/dhcp-server.ts";

function network(serverOptions: Parameters<typeof dhcpServer>[2] = {}) {
  const net = lan();
  const server = dhcpServer(net.vt, net.sw.connect(), serverOptions);
  const client = net.stack({ dhcp: true });
  return { ...net, server, client };
}

test("DISCOVER, OFFER, REQUEST, ACK: the stack takes the lease, logs it and exposes it", async () => {
  const { vt, server, client, stack } = network();
  assert.deepEqual(client.ip.addresses().filter((a) => a.family === 4), []);
  const lease = await settle(vt, client.dhcp!.waitForLease());
  assert.equal(lease.address.toString(), "10.0.0.57/24");
  assert.ok(lease.router?.equals(ip("10.0.0.1")));
  assert.deepEqual(lease.dnsServers.map(String), ["10.0.0.1", "10.0.0.53"]);
  assert.equal(lease.leaseSeconds, 120);
  assert.ok(client.log.lines.includes("info DHCP lease 10.0.0.57/24 from 10.0.0.1, router 10.0.0.1, dns 10.0.0.1 10.0.0.53, lease 120 s"));
  const config = client.ip.config();
  assert.equal(config.ipv4?.prefix.toString(), "10.0.0.57/24");
  assert.ok(config.ipv4?.gateway?.equals(ip("10.0.0.1")));
  assert.deepEqual(client.ip.addresses().filter((a) => a.family === 4).map(String), ["10.0.0.57"]);
  assert.equal(client.dhcp!.state(), "bound");
  assert.equal(dhcpOf(client), client.dhcp);
  // What went on the wire: DISCOVER and REQUEST broadcast from 0.0.0.0:68 to 255.255.255.255:67.
  assert.deepEqual(server.received.map((r) => `${r.type} ${r.phase} ${r.from}:${r.srcPort} -> ${r.to}:${r.dstPort}`), [
    "discover discover 0.0.0.0:68 -> broadcast:67",
    "request selecting 0.0.0.0:68 -> broadcast:67",
  ]);
  const request = server.received[1]!.message;
  assert.ok(request.options.requestedIp?.equals(ip("10.0.0.57")) && request.options.serverId?.equals(ip("10.0.0.1")));
  assert.ok(request.chaddr.equals(client.netif.mac) && request.broadcast);
  assert.equal(request.xid, server.received[0]!.message.xid);
  // The leased address answers pings and can ping: ARP announced it, IPv4 uses it.
  const peer = stack("10.0.0.9/24");
  const reply = await settle(vt, peer.icmp.ping(ip("10.0.0.57")));
  assert.ok(reply.src.equals(ip("10.0.0.57")));
  await settle(vt, client.icmp.ping(ip("10.0.0.9")));
});

test("a server that unicasts its OFFER and ACK to the offered address is understood before we have it", async () => {
  const { vt, client } = network({ unicastReplies: true });
  const lease = await settle(vt, client.dhcp!.waitForLease());
  assert.equal(lease.address.toString(), "10.0.0.57/24");
});

test("connectDirectStack resolves once the first lease is bound", async () => {
  const { vt, sw } = lan();
  dhcpServer(vt, sw.connect());
  const stack = await settle(vt, connectDirectStack({ netif: sw.connect(), clock: vt.clock, time: vt.time, random: seededRandom(5), ipv4: { dhcp: true }, log: memoryLog() }));
  assert.equal(stack.ip.addresses().filter((a) => a.family === 4).length, 1);
  await stack.disconnect();
  assert.equal(vt.pending(), 0);
});

test("renewal at T1: REQUEST unicast to the server from the leased address, ACK extends the lease", async () => {
  const { vt, server, client } = network({ leaseTime: 120 });
  const first = await settle(vt, client.dhcp!.waitForLease());
  const leases: Array<DhcpLease | undefined> = [];
  client.dhcp!.onLease((l) => leases.push(l));
  const t1 = first.obtainedAt + 60_000;
  await vt.advanceTo(t1 - 1);
  assert.equal(server.received.filter((r) => r.phase === "renewing").length, 0);
  await vt.advance(10);
  const renew = server.received.filter((r) => r.phase === "renewing");
  assert.equal(renew.length, 1);
  assert.equal(renew[0]!.at, t1);
  assert.equal(renew[0]!.to, "10.0.0.1");
  assert.equal(renew[0]!.from, "10.0.0.57");
  assert.ok(renew[0]!.message.ciaddr.equals(ip("10.0.0.57")));
  assert.equal(renew[0]!.message.options.requestedIp, undefined);
  assert.equal(renew[0]!.message.options.serverId, undefined);
  assert.equal(leases.length, 1);
  assert.equal(leases[0]!.obtainedAt, t1);
  assert.equal(client.dhcp!.state(), "bound");
  assert.equal(client.stats().dhcp!.renewals, 1);
  assert.ok(client.log.lines.some((l) => l.startsWith("info DHCP lease 10.0.0.57/24 renewed by 10.0.0.1")));
  // And again 60 s later, for as long as the server agrees.
  await vt.advance(60_000);
  assert.equal(server.received.filter((r) => r.phase === "renewing").length, 2);
  assert.deepEqual(client.ip.addresses().filter((a) => a.family === 4).map(String), ["10.0.0.57"]);
});

test("T1 and T2 given by the server are used", async () => {
  const { vt, server, client } = network({ leaseTime: 1000, renewalTime: 100, rebindingTime: 200 });
  const lease = await settle(vt, client.dhcp!.waitForLease());
  assert.equal(lease.renewalSeconds, 100);
  assert.equal(lease.rebindingSeconds, 200);
  server.renewing = "ignore";
  await vt.advanceTo(lease.obtainedAt + 100_000);
  assert.equal(server.received.filter((r) => r.phase === "renewing").length, 1);
  await vt.advanceTo(lease.obtainedAt + 200_000);
  assert.equal(server.received.filter((r) => r.phase === "rebinding").length, 1);
});

test("rebinding at T2 when the server does not answer renewals: a broadcast REQUEST, answered by ACK", async () => {
  const { vt, server, client } = network({ leaseTime: 120 });
  const lease = await settle(vt, client.dhcp!.waitForLease());
  server.renewing = "ignore";
  const t2 = lease.obtainedAt + 105_000;
  await vt.advanceTo(t2 - 1);
  assert.equal(client.dhcp!.state(), "renewing");
  assert.equal(server.received.filter((r) => r.phase === "rebinding").length, 0);
  await vt.advance(10);
  const rebind = server.received.filter((r) => r.phase === "rebinding");
  assert.equal(rebind.length, 1);
  assert.equal(rebind[0]!.at, t2);
  assert.equal(rebind[0]!.from, "10.0.0.57");
  assert.ok(rebind[0]!.message.ciaddr.equals(ip("10.0.0.57")));
  assert.equal(client.dhcp!.state(), "bound");
  assert.equal(client.dhcp!.lease()!.obtainedAt, t2);
  assert.deepEqual(client.ip.addresses().filter((a) => a.family === 4).map(String), ["10.0.0.57"]);
});

test("a NAK to a renewal drops the address and restarts from DISCOVER; the new lease is used", async () => {
  const { vt, server, client } = network({ leaseTime: 120 });
  const first = await settle(vt, client.dhcp!.waitForLease());
  const events: string[] = [];
  client.dhcp!.onLease((l) => events.push(l === undefined ? "lost" : `${l.address}`));
  server.renewing = "nak";
  server.forget(client.netif.mac);
  await vt.advanceTo(first.obtainedAt + 60_000);
  await vt.advance(10);
  assert.deepEqual(events, ["lost", "10.0.0.58/24"]);
  assert.deepEqual(client.ip.addresses().filter((a) => a.family === 4).map(String), ["10.0.0.58"]);
  assert.ok(client.log.lines.some((l) => l.includes("10.0.0.57/24 refused by the server (NAK)")));
  const phases = server.received.map((r) => r.phase);
  assert.deepEqual(phases.slice(-3), ["renewing", "discover", "selecting"]);
  assert.equal(client.stats().dhcp!.naks, 1);
});

test("a NAK while requesting restarts; repeated NAKs back off", async () => {
  const { vt, server, client } = network();
  server.selecting = "nak";
  await vt.advance(100);
  const discovers = () => server.received.filter((r) => r.type === "discover").map((r) => r.at);
  // First NAK: restart at once; later ones wait 4 s, 8 s, ...
  assert.ok(discovers().length >= 2);
  await vt.advance(20_000);
  const times = discovers();
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.ok(gaps.length >= 3, `gaps ${gaps}`);
  assert.ok(gaps[1]! >= 4000 && gaps[2]! >= 8000, `gaps grow: ${gaps}`);
  server.selecting = "ack";
  const lease = await settle(vt, client.dhcp!.waitForLease(), 200_000, 100);
  assert.equal(lease.address.toString(), "10.0.0.57/24");
});

test("lease expiry: a silent server makes the address go at expiry, then DISCOVER starts over", async () => {
  const { vt, server, client } = network({ leaseTime: 120 });
  const lease = await settle(vt, client.dhcp!.waitForLease());
  server.renewing = "ignore";
  server.rebinding = "ignore";
  server.offer = false;
  const expiry = lease.obtainedAt + 120_000;
  await vt.advanceTo(expiry - 1);
  assert.deepEqual(client.ip.addresses().filter((a) => a.family === 4).map(String), ["10.0.0.57"]);
  assert.equal(client.dhcp!.state(), "rebinding");
  const before = server.received.length;
  await vt.advance(10);
  assert.deepEqual(client.ip.addresses().filter((a) => a.family === 4), []);
  assert.equal(client.dhcp!.lease(), undefined);
  assert.equal(client.dhcp!.state(), "selecting");
  assert.ok(client.log.lines.some((l) => l.includes("10.0.0.57/24 expired")));
  const after = server.received.slice(before);
  assert.equal(after.length, 1);
  assert.equal(after[0]!.type, "discover");
  assert.equal(after[0]!.from, "0.0.0.0");
  // Without an address the stack sends nothing but DHCP.
  await assert.rejects(client.udp.send({ dst: ip("10.0.0.9"), dstPort: 7, data: Uint8Array.of(1) }), /no IPv4 address yet/);
  server.offer = true;
  const again = await settle(vt, client.dhcp!.waitForLease(), 200_000, 100);
  assert.equal(again.address.toString(), "10.0.0.57/24");
  assert.equal(client.stats().dhcp!.expiries, 1);
});

test("DISCOVER is retransmitted with exponential backoff (4, 8, 16, 32, 64, 64 s) and ±1 s of jitter", async () => {
  const { vt, server, client } = network();
  server.offer = false;
  await vt.advance(300_000);
  const times = server.received.filter((r) => r.type === "discover").map((r) => r.at);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const expected = [4000, 8000, 16000, 32000, 64000, 64000];
  assert.ok(gaps.length >= expected.length, `gaps ${gaps}`);
  for (const [i, base] of expected.entries()) assert.ok(Math.abs(gaps[i]! - base) <= 1000, `gap ${i}: ${gaps[i]} vs ${base}`);
  assert.ok(gaps.slice(0, 6).some((g, i) => g !== expected[i]), "jitter moves the retransmissions");
  assert.equal(new Set(server.received.map((r) => r.message.xid)).size, 1, "retransmissions keep the transaction id");
  server.offer = true;
  await settle(vt, client.dhcp!.waitForLease(), 200_000, 100);
});

test("a server that offers but never acknowledges: REQUEST is retried, then the client starts over", async () => {
  const { vt, server } = network();
  server.selecting = "ignore";
  await vt.advance(70_000);
  const kinds = server.received.map((r) => r.phase);
  assert.deepEqual(kinds.slice(0, 6), ["discover", "selecting", "selecting", "selecting", "selecting", "discover"]);
  const xids = server.received.map((r) => r.message.xid);
  assert.notEqual(xids[5], xids[0], "a new transaction after starting over");
});

test("replies for another transaction or another client are ignored", () => {
  const mac = MacAddress.of("02:00:00:00:00:aa");
  let state: DhcpState = createDhcpState({ mac });
  let r = dhcpStep(state, 0, { type: "start", entropy: 0x1234 });
  state = r.state;
  const discover = r.actions[0]!;
  assert.ok(discover.type === "send");
  const offer = (patch: Partial<DhcpMessage>): DhcpMessage => ({
    ...discover.message,
    op: "reply",
    yiaddr: ip("10.0.0.5"),
    options: { messageType: "offer", serverId: ip("10.0.0.1") },
    ...patch,
  });
  for (const bad of [offer({ xid: 0x1235 }), offer({ chaddr: MacAddress.of("02:00:00:00:00:bb") }), offer({ op: "request" }), offer({ yiaddr: Ipv4Address.any })]) {
    r = dhcpStep(state, 10, { type: "received", message: bad, entropy: 1 });
    assert.equal(r.state, state);
    assert.deepEqual(r.actions, []);
  }
  r = dhcpStep(state, 10, { type: "received", message: offer({}), entropy: 1 });
  assert.equal(r.state.name, "requesting");
});

test("an infinite lease is never renewed; default T1/T2 are 0.5 and 0.875 of the lease", () => {
  const mac = MacAddress.of("02:00:00:00:00:aa");
  const bindWith = (leaseTime: number) => {
    let s = dhcpStep(createDhcpState({ mac }), 0, { type: "start", entropy: 7 }).state;
    const base = { op: "reply" as const, xid: 7, secs: 0, broadcast: false, ciaddr: Ipv4Address.any, yiaddr: ip("10.0.0.5"), siaddr: Ipv4Address.any, giaddr: Ipv4Address.any, chaddr: mac };
    s = dhcpStep(s, 0, { type: "received", message: { ...base, options: { messageType: "offer", serverId: ip("10.0.0.1") } }, entropy: 1 }).state;
    return dhcpStep(s, 1000, { type: "received", message: { ...base, options: { messageType: "ack", serverId: ip("10.0.0.1"), leaseTime } }, entropy: 2 }).state;
  };
  const infinite = bindWith(0xffffffff);
  assert.equal(infinite.name, "bound");
  assert.equal(infinite.lease!.leaseSeconds, Number.POSITIVE_INFINITY);
  assert.equal(dhcpNextDeadline(infinite), undefined);
  const finite = bindWith(1000);
  assert.equal(finite.lease!.renewalSeconds, 500);
  assert.equal(finite.lease!.rebindingSeconds, 875);
  assert.equal(finite.lease!.address.toString(), "10.0.0.5/8", "no subnet mask: the classful length");
  assert.equal(dhcpNextDeadline(finite), 500_000, "the lease runs from the REQUEST (sent at 0), not from the ACK (at 1000)");
});

test("a lease of 0 s is taken as the 20 s minimum, and a NAK without a server identifier is ignored", () => {
  const mac = MacAddress.of("02:00:00:00:00:ab");
  const base = { op: "reply" as const, xid: 7, secs: 0, broadcast: false, ciaddr: Ipv4Address.any, yiaddr: ip("10.0.0.6"), siaddr: Ipv4Address.any, giaddr: Ipv4Address.any, chaddr: mac };
  let s = dhcpStep(createDhcpState({ mac }), 0, { type: "start", entropy: 7 }).state;
  s = dhcpStep(s, 0, { type: "received", message: { ...base, options: { messageType: "offer", serverId: ip("10.0.0.1") } }, entropy: 1 }).state;
  assert.equal(s.name, "requesting");
  const anonymousNak = dhcpStep(s, 10, { type: "received", message: { ...base, yiaddr: Ipv4Address.any, options: { messageType: "nak" } }, entropy: 2 });
  assert.equal(anonymousNak.state.name, "requesting", "a NAK that names no server cannot be attributed");
  assert.deepEqual(anonymousNak.actions, []);
  const bound = dhcpStep(s, 10, { type: "received", message: { ...base, options: { messageType: "ack", serverId: ip("10.0.0.1"), leaseTime: 0 } }, entropy: 3 }).state;
  assert.equal(bound.name, "bound");
  assert.equal(bound.lease!.leaseSeconds, 20);
  assert.equal(bound.lease!.renewalSeconds, 10);
  assert.equal(dhcpNextDeadline(bound), 10_000, "renewal is not due at once");
});

test("disconnect stops every timer of a DHCP stack and rejects lease waiters", async () => {
  const { vt, server, client } = network();
  server.offer = false;
  await vt.advance(5_000);
  const waiting = client.dhcp!.waitForLease();
  await client.disconnect();
  await assert.rejects(waiting, /disconnected/);
  await client.listen();
  // Only the test server's own nothing remains: no stack timer is pending.
  assert.equal(vt.pending(), 0);
});
