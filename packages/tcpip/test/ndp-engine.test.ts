/**
 * Neighbour discovery and autoconfiguration of the direct stack, against a hand-driven IPv6 host
 * on the switch: router solicitation, router advertisements (SLAAC, default router, MTU), or none
 * of it with acceptRouterAdvertisements=false; DAD conflicts (a SLAAC address not used, a static
 * one failing connect); MLDv2 reports before DAD; neighbour cache states under traffic.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "@mirage-ts/runtime";
import { IcmpV6Type } from "../src/icmpv6/wire.ts";
import { IPV6_ALL_MLDV2_ROUTERS, linkLocalAddress, modifiedEui64, slaacAddress, solicitedNodeMulticast } from "../src/ndp/addresses.ts";
import { parseMldV2Report } from "../src/ndp/mld.ts";
import { parseNdp } from "../src/ndp/wire.ts";
import { walkIpv6ExtensionHeaders } from "../src/ipv6/extension-headers.ts";
import { seededRandom } from "../src/prng.ts";
import { connectDirectStack } from "../src/stack/direct-stack.ts";
import { lan, memoryLog, settle } from "./support/stacks.ts";
import { prefixInformation, rawIpv6Host } from "./support/raw-ipv6-host.ts";

const v6 = (text: string): Ipv6Address => Ipv6Address.of(text);

/** ICMPv6 types the host received from `src`-any, in order. */
const icmpTypes = (host: ReturnType<typeof rawIpv6Host>): number[] => host.icmp().map((m) => (m.message.type === "other" ? m.message.icmpType : typeCode(m.message.type)));
const typeCode = (type: string): number =>
  ({ "echo-request": 128, "echo-reply": 129, "destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4 })[type] ?? -1;

test("a router advertisement gives a SLAAC address (after DAD) and a default router; off-link traffic goes to the router", async () => {
  const { vt, sw, stack } = lan();
  const router = rawIpv6Host(sw.connect());
  router.router = true;
  const s = stack("10.0.0.1/24");
  await vt.advance(10_000);
  const solicitations = router.icmp().filter((m) => m.message.type === "other" && m.message.icmpType === IcmpV6Type.routerSolicitation);
  assert.equal(solicitations.length, 3, "three router solicitations at start, none answered");
  const rs = solicitations[solicitations.length - 1]!;
  assert.ok(rs.packet.src.equals(linkLocalAddress(s.netif.mac)), "once the link-local address is ready it is their source");
  assert.equal(rs.packet.hopLimit, 255);

  router.advertise({ prefixes: [prefixInformation("2001:db8:aa::/64")], mtu: 1400 });
  await vt.advance(3000);
  const slaac = slaacAddress(Ipv6Prefix.of("2001:db8:aa::/64"), modifiedEui64(s.netif.mac))!;
  const info = s.ipv6.addresses().find((a) => a.address.equals(slaac));
  assert.deepEqual(info && [info.state, info.origin, info.prefixLength], ["preferred", "slaac", 64]);
  assert.deepEqual(s.ipv6.routers().map(String), [router.linkLocal.toString()]);
  assert.ok(s.log.lines.some((l) => l.includes(`IPv6 ${slaac.toString()}/64 (SLAAC)`)));
  const dads = router.packets.filter((p) => p.packet.src.isUnspecified() && p.packet.dst.equals(solicitedNodeMulticast(slaac)));
  assert.ok(dads.length >= 1, "DAD ran on the SLAAC address");
  assert.deepEqual(s.ip.config().ipv6?.gateway?.toString(), router.linkLocal.toString());

  // Off-link: to the router's MAC, from the SLAAC address; an on-link address of the prefix goes direct (NS for it).
  const ping = s.icmp6.ping(v6("2001:db8:ff::1"), { timeoutMs: 500 }).catch((e: Error) => e);
  await vt.advance(1000);
  assert.ok((await ping) instanceof Error, "nobody answers");
  const out = router.packets.find((p) => p.packet.dst.equals(v6("2001:db8:ff::1")));
  assert.ok(out !== undefined && out.dstMac.equals(router.mac) && out.packet.src.equals(slaac));

  // The advertised MTU (1400) is the link MTU for IPv6: a 1400-byte ping leaves in fragments.
  const before = s.stats().ipv6!.txFragments;
  void s.icmp6.ping(v6("2001:db8:ff::1"), { size: 1400, timeoutMs: 100 }).catch(() => {});
  await vt.advance(200);
  assert.equal(s.stats().ipv6!.txFragments - before, 2);
});

test("acceptRouterAdvertisements=false: no router solicitation, advertisements ignored, no SLAAC, no default router", async () => {
  const { vt, sw, stack } = lan();
  const router = rawIpv6Host(sw.connect());
  const s = stack("10.0.0.1/24", { ipv6: { acceptRouterAdvertisements: false } });
  await vt.advance(10_000);
  router.advertise({ prefixes: [prefixInformation("2001:db8:aa::/64")] });
  await vt.advance(5000);
  assert.ok(!icmpTypes(router).includes(IcmpV6Type.routerSolicitation));
  assert.deepEqual(s.ipv6.addresses().map((a) => a.origin), ["link-local"]);
  assert.deepEqual(s.ipv6.routers(), []);
  assert.equal(s.stats().ndp!.rxRouterAdvertisementsIgnored, 1);
});

test("MLDv2: the solicited-node group is joined (a report with Router Alert) before the DAD solicitation", async () => {
  const { vt, sw, stack } = lan();
  const watcher = rawIpv6Host(sw.connect());
  const s = stack("10.0.0.1/24");
  await vt.advance(3000);
  const ll = linkLocalAddress(s.netif.mac);
  const group = solicitedNodeMulticast(ll);
  const reportAt = watcher.packets.findIndex((p) => p.packet.dst.equals(IPV6_ALL_MLDV2_ROUTERS));
  const dadAt = watcher.packets.findIndex((p) => p.packet.src.isUnspecified() && p.packet.dst.equals(group));
  assert.ok(reportAt >= 0 && dadAt > reportAt, "report first, then DAD");
  const report = watcher.packets[reportAt]!.packet;
  assert.equal(report.hopLimit, 1);
  const walk = walkIpv6ExtensionHeaders(report.payload, report.nextHeader);
  assert.ok(walk.ok && walk.value.routerAlert === 0 && walk.value.nextHeader === 58);
  const parsed = parseMldV2Report(report.payload.subarray(walk.value.offset), report.src, report.dst);
  assert.ok(parsed.ok);
  assert.ok(parsed.value.records.some((r) => r.group.equals(group)));
  const dad = watcher.packets[dadAt]!.packet;
  const ns = parseNdp(dad.payload, dad.src, dad.dst);
  assert.ok(ns.ok && ns.value.type === "neighbor-solicitation" && ns.value.options.length === 0, "DAD has no source link-layer option");
});

test("DAD: a SLAAC address another node holds is not used, and the duplicate is logged", async () => {
  const { vt, sw, stack } = lan();
  const squatter = rawIpv6Host(sw.connect());
  squatter.router = true;
  const s = stack("10.0.0.2/24");
  const mine = slaacAddress(Ipv6Prefix.of("2001:db8:aa::/64"), modifiedEui64(s.netif.mac))!;
  squatter.addresses.push(mine);
  await vt.advance(3000);
  squatter.advertise({ prefixes: [prefixInformation("2001:db8:aa::/64")] });
  await vt.advance(3000);
  const info = s.ipv6.addresses().find((a) => a.address.equals(mine));
  assert.equal(info?.state, "duplicate");
  assert.ok(!s.ip.addresses().some((a) => a.equals(mine)), "not used");
  assert.ok(s.log.lines.some((l) => l.startsWith("warning") && l.includes(`${mine.toString()} (SLAAC) is already used on the link`)));
  assert.equal(s.stats().ndp!.duplicates, 1);
});

test("DAD: a static address another node holds makes connect fail with a clear error", async () => {
  const { vt, sw } = lan();
  const squatter = rawIpv6Host(sw.connect(), [v6("2001:db8::42")]);
  void squatter;
  const log = memoryLog();
  const connecting = connectDirectStack({
    netif: sw.connect(),
    clock: vt.clock,
    time: vt.time,
    random: seededRandom(5),
    ipv4: { address: Ipv4Prefix.of("10.0.0.2/24") },
    ipv6: { address: Ipv6Prefix.of("2001:db8::42/64") },
    log,
  });
  await assert.rejects(settle(vt, connecting), {
    message: "IPv6 address 2001:db8::42 is already used on the link (duplicate address detection): choose another --ipv6",
  });
  // And a free static address connects once DAD passed.
  const ok = await settle(
    vt,
    connectDirectStack({ netif: sw.connect(), clock: vt.clock, time: vt.time, random: seededRandom(6), ipv4: false, ipv6: { address: Ipv6Prefix.of("2001:db8::43/64") } }),
  );
  assert.ok(ok.ip.addresses().some((a) => a.equals(v6("2001:db8::43"))));
  await ok.disconnect();
});

test("the neighbour cache under traffic: REACHABLE, STALE after ReachableTime, DELAY on use, PROBE, REACHABLE again", async () => {
  const { vt, sw, stack } = lan();
  const peer = rawIpv6Host(sw.connect(), [v6("2001:db8::9")]);
  const s = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  await vt.advance(3000);
  const state = () => s.ndp.entries().find((e) => e.ip.equals(v6("2001:db8::9")))?.state;
  const ping = () => void s.icmp6.ping(v6("2001:db8::9"), { timeoutMs: 50 }).catch(() => {});
  ping();
  await vt.advance(10);
  assert.equal(state(), "reachable");
  await vt.advance(46_000);
  assert.equal(state(), "stale");
  const probesBefore = peer.packets.filter((p) => p.packet.dst.equals(v6("2001:db8::9")) && p.packet.payload[0] === IcmpV6Type.neighborSolicitation).length;
  ping();
  await vt.advance(10);
  assert.equal(state(), "delay");
  peer.answers = false;
  await vt.advance(5000);
  assert.equal(state(), "probe");
  const probes = peer.packets.filter((p) => p.packet.dst.equals(v6("2001:db8::9")) && p.packet.payload[0] === IcmpV6Type.neighborSolicitation);
  assert.equal(probes.length - probesBefore, 1, "a unicast probe");
  assert.ok(probes[probes.length - 1]!.dstMac.equals(peer.mac));
  peer.answers = true;
  await vt.advance(1000);
  assert.equal(state(), "reachable");
  // A neighbour that stops answering is forgotten after the probes run out.
  peer.answers = false;
  await vt.advance(50_000);
  ping();
  await vt.advance(10_000);
  assert.equal(state(), undefined);
  assert.ok(s.stats().ndp!.resolutionFailures >= 1);
});

test("RFC 4862 §5.4.2: the first MLD report waits a random 0..1 s after start, then precedes the first DAD solicitation; same seed, same delay", async () => {
  /** When the first packet from a fresh stack with `seed` appeared, what it was, and what the first other than MLD was. */
  const firstMessages = async (seed: number): Promise<{ at: number; first: string; second: string }> => {
    const { vt, sw, stack } = lan();
    const watcher = rawIpv6Host(sw.connect());
    const started = vt.now();
    stack("10.0.0.1/24", { seed, ipv6: { address: Ipv6Prefix.of("2001:db8::7/64") } });
    while (watcher.packets.length === 0 && vt.now() - started < 2000) await vt.advance(1);
    const at = vt.now() - started;
    await vt.advance(5);
    const kind = (p: (typeof watcher.packets)[number] | undefined): string =>
      p === undefined ? "none" : p.packet.dst.equals(IPV6_ALL_MLDV2_ROUTERS) ? "mld" : p.packet.src.isUnspecified() && p.packet.nextHeader === 58 ? `from :: (${p.packet.payload[0]})` : "other";
    return { at, first: kind(watcher.packets[0]), second: kind(watcher.packets.find((p) => kind(p) !== "mld")) };
  };
  const runs = [];
  for (const seed of [1, 2, 3, 4, 5, 6]) runs.push(await firstMessages(seed));
  for (const r of runs) {
    assert.ok(r.at <= 1001, `within MAX_RTR_SOLICITATION_DELAY (${r.at} ms)`);
    assert.equal(r.first, "mld", "the report joining the solicited-node groups goes first");
    assert.ok(r.second === "from :: (135)" || r.second === "from :: (133)", `then (after the other group's report) the DAD or router solicitation it waited for (${r.second})`);
  }
  assert.ok(new Set(runs.map((r) => r.at)).size > 1 && runs.some((r) => r.at > 50), `the delay is random: ${runs.map((r) => r.at)}`);
  assert.deepEqual(await firstMessages(3), runs[2], "and deterministic for one seed (virtual time)");
});

test("redirects (RFC 4861 §8): followed from the first-hop router; refused from another router, with a bad hop limit or a global target", async () => {
  const { vt, sw, stack } = lan();
  const router = rawIpv6Host(sw.connect());
  router.router = true;
  const better = rawIpv6Host(sw.connect());
  better.router = true;
  const s = stack("10.0.0.1/24");
  await vt.advance(3000);
  router.advertise({ prefixes: [prefixInformation("2001:db8:aa::/64")] });
  await vt.advance(3000);
  const ours = slaacAddress(Ipv6Prefix.of("2001:db8:aa::/64"), modifiedEui64(s.netif.mac))!;
  const far = v6("2001:db8:ff::1");
  /** Pings `dst` and says which host's MAC the echo request went to. */
  const pingGoesTo = async (dst: Ipv6Address): Promise<string> => {
    const before = { router: router.packets.length, better: better.packets.length };
    void s.icmp6.ping(dst, { timeoutMs: 50 }).catch(() => {});
    await vt.advance(100);
    const echoTo = (h: typeof router, from: number): boolean => h.packets.slice(from).some((p) => p.packet.dst.equals(dst) && p.dstMac.equals(h.mac) && p.packet.payload[0] === 128);
    return echoTo(router, before.router) ? "router" : echoTo(better, before.better) ? "better" : "nobody";
  };
  assert.equal(await pingGoesTo(far), "router");
  const redirect = (target: Ipv6Address, destination: Ipv6Address, withMac = true) => ({
    type: "redirect" as const,
    target,
    destination,
    options: withMac ? [{ type: "target-link-layer-address" as const, mac: better.mac }] : [],
  });

  better.sendNdp(s.netif.mac, better.linkLocal, ours, redirect(better.linkLocal, far));
  router.sendNdp(s.netif.mac, router.linkLocal, ours, redirect(better.linkLocal, far), 254);
  router.sendNdp(s.netif.mac, router.linkLocal, ours, redirect(v6("2001:db8:aa::77"), far));
  await vt.advance(10);
  assert.equal(await pingGoesTo(far), "router", "none of those three is followed");
  assert.equal(s.stats().ipv6!.redirectsRefused, 1, "the one from a router we do not use for it");
  assert.equal(s.stats().ndp!.rxInvalid, 2, "hop limit 254; a target neither link-local nor the destination");

  router.sendNdp(s.netif.mac, router.linkLocal, ours, redirect(better.linkLocal, far));
  await vt.advance(10);
  assert.equal(s.stats().ipv6!.redirects, 1);
  assert.equal(await pingGoesTo(far), "better", "the redirect's target is now the next hop");
  const entry = s.ndp.entries().find((e) => e.ip.equals(better.linkLocal));
  assert.ok(entry !== undefined && entry.mac?.equals(better.mac) && entry.isRouter, "its link-layer address came with the redirect");
  assert.equal(await pingGoesTo(v6("2001:db8:ff::2")), "router", "other destinations still go to the default router");

  // Target = destination: the destination is on-link, reached directly (here: the better host holds it).
  const neighbour = v6("2001:db8:bb::5");
  better.addresses.push(neighbour);
  assert.equal(await pingGoesTo(neighbour), "router");
  router.sendNdp(s.netif.mac, router.linkLocal, ours, redirect(neighbour, neighbour, false));
  await vt.advance(10);
  assert.equal(await pingGoesTo(neighbour), "better", "resolved by neighbour discovery and sent straight to it");
});
