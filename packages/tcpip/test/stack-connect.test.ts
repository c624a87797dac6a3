/**
 * The flat-options entry points a generated main.ts calls: connectDirectStackV4V6 (static or
 * DHCP, the IPv6 keys handled honestly) and connectPcapNetif (capture on, or passed through).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ipv4Prefix, Ipv6Address, Ipv6Prefix, type Netif } from "@mirage-ts/runtime";
import { seededRandom } from "../src/prng.ts";
import { parsePcap } from "../src/link/pcap.ts";
import { connectDirectStackV4V6, connectPcapNetif, directStackOptionsProblem } from "../src/stack/connect.ts";
import { ip, lan, memoryLog, settle } from "./support/stacks.ts";

test("a static stack from flat options answers ping, and routes through --ipv4-gateway", async () => {
  const { vt, sw, stack } = lan();
  const peer = stack("10.0.0.1/24");
  const log = memoryLog();
  const s = await connectDirectStackV4V6({
    netif: sw.connect(),
    clock: vt.clock,
    time: vt.time,
    random: seededRandom(42),
    ipv4: Ipv4Prefix.of("10.0.0.2/24"),
    ipv4Gateway: ip("10.0.0.1"),
    ipv4Only: false,
    ipv6Only: false,
    log,
  });
  const reply = await settle(vt, peer.icmp.ping(ip("10.0.0.2")));
  assert.ok(reply.src.equals(ip("10.0.0.2")));
  assert.equal(s.ip.config().ipv4?.gateway?.toString(), "10.0.0.1");
  assert.deepEqual(log.lines, [], "nothing to warn about");
  await s.disconnect();
});

test("with dhcp, connecting waits for the first lease", async () => {
  const { vt, sw } = lan();
  // A second stack answers nothing: the wait must still be pending after a while, then abort.
  const controller = new AbortController();
  const pending = connectDirectStackV4V6({
    netif: sw.connect(),
    clock: vt.clock,
    time: vt.time,
    random: seededRandom(3),
    dhcp: true,
    signal: controller.signal,
  });
  let settled = false;
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  await vt.advance(10_000);
  assert.equal(settled, false, "no lease, no stack");
  controller.abort();
  await assert.rejects(pending);
});

test("the family keys: both -only keys are refused, --ipv6-only turns IPv4 off, --ipv6 is ignored with a warning under --ipv4-only", async () => {
  assert.match(directStackOptionsProblem({ ipv4: Ipv4Prefix.of("10.0.0.2/24"), ipv4Only: true, ipv6Only: true }) ?? "", /cannot both be true/);
  assert.equal(directStackOptionsProblem({ ipv4: Ipv4Prefix.of("10.0.0.2/24"), ipv6Only: true }), undefined, "IPv4 off: its keys do not matter");
  assert.match(directStackOptionsProblem({}) ?? "", /needs a static --ipv4 address or DHCP/);
  assert.match(directStackOptionsProblem({ dhcp: true, ipv4: Ipv4Prefix.of("10.0.0.2/24") }) ?? "", /not both/);
  assert.equal(directStackOptionsProblem({ dhcp: true, ipv4Only: true }), undefined);

  const { vt, sw } = lan();
  const base = { netif: sw.connect(), clock: vt.clock, time: vt.time, random: seededRandom(5), ipv4: Ipv4Prefix.of("10.0.0.9/24") };
  const log = memoryLog();
  const s = await connectDirectStackV4V6({ ...base, ipv4Only: true, ipv6: Ipv6Prefix.of("fd00::2/64"), ipv6Gateway: Ipv6Address.of("fd00::1"), log });
  assert.deepEqual(log.lines, [
    "warning --ipv6=fd00::2/64 is ignored: --ipv4-only=true turns IPv6 off",
    "warning --ipv6-gateway=fd00::1 is ignored: --ipv4-only=true turns IPv6 off",
  ]);
  assert.equal(s.ip.config().ipv6, undefined);
  assert.deepEqual(s.ip.addresses().map(String), ["10.0.0.9"]);
  await s.disconnect();

  const v6only = await connectDirectStackV4V6({ ...base, netif: sw.connect(), ipv6Only: true, log: memoryLog() });
  assert.equal(v6only.ip.config().ipv4, undefined, "no IPv4 address with --ipv6-only=true");
  await assert.rejects(v6only.udp.send({ dst: ip("10.0.0.1"), dstPort: 7, data: Uint8Array.of(1) }), /IPv4 is turned off \(--ipv6-only=true\)/);
  await v6only.disconnect();
});

test("connectPcapNetif records both directions when enabled, passes through when not, and never disconnects the netif", async () => {
  const { vt, sw, stack } = lan();
  const peer = stack("10.0.0.1/24");
  const chunks: Uint8Array[] = [];
  const tap = sw.connect();
  let disconnected = 0;
  const counted: Netif = {
    mac: tap.mac,
    mtu: tap.mtu,
    listen: (h) => tap.listen(h),
    write: (f) => tap.write(f),
    writeBatch: (fs) => tap.writeBatch(fs),
    stats: () => tap.stats(),
    disconnect: async () => {
      disconnected++;
    },
  };
  const captured = connectPcapNetif({ netif: counted, sink: { enabled: true, write: (c) => chunks.push(c) }, clock: vt.clock });
  assert.equal(captured.mac, tap.mac);
  const s = await connectDirectStackV4V6({ netif: captured, clock: vt.clock, time: vt.time, random: seededRandom(9), ipv4: Ipv4Prefix.of("10.0.0.2/24") });
  await settle(vt, peer.icmp.ping(ip("10.0.0.2")));
  await s.disconnect();
  await captured.disconnect();
  assert.equal(disconnected, 0, "the runtime disconnects the TAP itself");
  const file = parsePcap(Buffer.concat(chunks));
  assert.ok(file.ok);
  // Gratuitous ARP, the peer's ARP request, our reply, the echo request and its reply at least.
  assert.ok(file.value.records.length >= 4, `${file.value.records.length} records`);
  const etherTypes = new Set(file.value.records.map((r) => (r.data[12]! << 8) | r.data[13]!));
  assert.ok(etherTypes.has(0x0806) && etherTypes.has(0x0800));

  const off = connectPcapNetif({ netif: counted, sink: { enabled: false, write: () => assert.fail("disabled sink written") }, clock: vt.clock });
  assert.equal(off.mtu, tap.mtu);
  assert.ok(off.write(new Uint8Array(60)));
  await off.disconnect();
  assert.equal(disconnected, 0);
});
