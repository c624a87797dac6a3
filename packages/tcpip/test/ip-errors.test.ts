/**
 * ICMP errors reaching TCP through the IpLayer's error handler, over the in-memory switch in
 * virtual time: Packet Too Big and fragmentation needed lower a connection's MSS so that its
 * segments fit the path unfragmented (RFC 8201, RFC 1191); port unreachable fails a connect at
 * once, a soft error is only named when the connect later times out (RFC 1122 §4.2.3.9); an error
 * quoting a sequence number not in flight is ignored (RFC 5927); a connect to an on-link IPv6
 * neighbour that never answers neighbour discovery fails in seconds (what Linux reports as
 * EHOSTUNREACH).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FlowError, Ipv4Address, Ipv6Address, Ipv6Prefix, type MacAddress, type Netif, type Tcp } from "@mirage-ts/runtime";
import { get16, get32, set32 } from "../src/bytes.ts";
import { EtherType } from "../src/ethernet/wire.ts";
import { emitIcmpV4, icmpV4Length } from "../src/icmpv4/wire.ts";
import { createPrng } from "../src/prng.ts";
import { lan, settle } from "./support/stacks.ts";
import { rawHost } from "./support/raw-host.ts";
import { rawIpv6Host } from "./support/raw-ipv6-host.ts";
import { readAll } from "./support/tcp.ts";

const v6 = (text: string): Ipv6Address => Ipv6Address.of(text);
const ip4 = (text: string): Ipv4Address => Ipv4Address.of(text);
const randomBytes = (seed: number, length: number): Uint8Array => createPrng(seed).fill(new Uint8Array(length));

/** `inner` with every frame it is given to send passed through `keep` first (false: dropped, as a link would). */
function filtered(inner: Netif, keep: (frame: Uint8Array) => boolean): Netif {
  return new Proxy(inner, {
    get(target, property) {
      if (property === "write") return (frame: Uint8Array): boolean => (keep(frame) ? target.write(frame) : true);
      if (property === "writeBatch") {
        return (frames: readonly Uint8Array[]): number => {
          let n = 0;
          for (const frame of frames) {
            if (keep(frame) && !target.write(frame)) break;
            n++;
          }
          return n;
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const etherTypeOf = (frame: Uint8Array): number => get16(frame, 12);

/** An echo sink: reads everything, then answers with what it read and closes. */
function echo(host: { tcp: Tcp }, port: number): void {
  host.tcp.listen(port, async (flow) => {
    const all = await readAll(flow);
    await flow.write(all);
    await flow.close();
  });
}

test("a Packet Too Big for a TCP connection lowers its MSS: later segments fit 1280 bytes without IPv6 fragmentation", async () => {
  const { vt, sw, stack } = lan();
  const router = rawIpv6Host(sw.connect());
  const inner = sw.connect();
  let tooBig = 0;
  /** The TCP data packets (and fragments) a sent: [length, next header]. */
  const sent: Array<[number, number]> = [];
  // a's link is fine, but "the path" carries 1280 bytes at most: bigger packets are dropped and draw a Packet Too Big.
  const netif = filtered(inner, (frame) => {
    if (etherTypeOf(frame) !== EtherType.ipv6) return true;
    const length = 40 + get16(frame, 18);
    // Data segments and fragments (a's ACKs for the echo coming back are small).
    if ((frame[20] === 6 || frame[20] === 44) && length > 200) sent.push([length, frame[20]]);
    if (length <= 1280) return true;
    tooBig++;
    const original = frame.slice(14, 14 + 1232);
    const src = Ipv6Address.ofBytes(frame, 22);
    vt.time.schedule(0, () => router.sendIcmp(inner.mac, router.linkLocal, src, { type: "packet-too-big", mtu: 1280, original }));
    return false;
  });
  const a = stack("10.0.0.1/24", { netif, ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  const b = stack("10.0.0.2/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::2/64") } });
  await vt.advance(3000);
  echo(b, 7);
  const flow = await settle(vt, a.tcp.connect(v6("2001:db8::2"), 7));
  const data = randomBytes(1, 300_000);
  const received = settle(vt, readAll(flow));
  await settle(vt, flow.write(data));
  await settle(vt, flow.shutdown("write"));
  assert.deepEqual(await received, data, "everything arrives, retransmitted at the smaller size");
  assert.ok(tooBig > 0, "the first full-size segments were too big");
  assert.ok(tooBig <= 20, `only the first window went out too big, not every segment (${tooBig})`);
  const late = sent.slice(-100);
  assert.ok(sent.length > 200);
  assert.ok(late.every(([length]) => length <= 1280), "every later packet fits the path");
  assert.ok(late.every(([, nextHeader]) => nextHeader === 6), "and none is an IPv6 fragment: the segments themselves are smaller");
  assert.ok(late.some(([length]) => length > 1200), "full segments use what the path allows (MSS 1280 - 60 - timestamps)");
  assert.ok(a.stats().ipv6!.pathMtuUpdates >= 1);
});

test("fragmentation needed (ICMPv4 code 4) lowers an IPv4 connection's MSS down the RFC 1191 plateaus until segments fit", async () => {
  const { vt, sw, stack } = lan();
  const router = rawHost(sw.connect(), [ip4("10.0.0.254")]);
  const inner = sw.connect();
  let errors = 0;
  const sent: number[] = [];
  const netif = filtered(inner, (frame) => {
    if (etherTypeOf(frame) !== EtherType.ipv4 || frame[23] !== 6) return true;
    const length = get16(frame, 16);
    if (length > 200) sent.push(length);
    if (length <= 1006) return true;
    errors++;
    const headerLength = (frame[14]! & 0x0f) * 4;
    const original = frame.slice(14, 14 + headerLength + 8);
    const message = { type: "destination-unreachable" as const, code: 4, nextHopMtu: 1006, original };
    const payload = new Uint8Array(icmpV4Length(message));
    emitIcmpV4(message, payload);
    vt.time.schedule(0, () => router.sendIpv4(inner.mac, { src: ip4("10.0.0.254"), dst: ip4("10.0.0.1"), protocol: 1, payload }));
    return false;
  });
  const a = stack("10.0.0.1/24", { netif, ipv6: false });
  const b = stack("10.0.0.2/24", { ipv6: false });
  echo(b, 7);
  const flow = await settle(vt, a.tcp.connect(ip4("10.0.0.2"), 7));
  const data = randomBytes(2, 200_000);
  const received = settle(vt, readAll(flow));
  await settle(vt, flow.write(data));
  await settle(vt, flow.shutdown("write"));
  assert.deepEqual(await received, data);
  assert.ok(errors > 0 && errors <= 40, `a bounded number of errors (${errors})`);
  const late = sent.slice(-100);
  assert.ok(sent.length > 200 && late.every((length) => length <= 1006), "later segments fit the 1006-byte plateau");
  assert.ok(late.some((length) => length > 950), "and use it");
});

/** A raw IPv6 host at `address` that answers each TCP SYN it receives with `answer` (an ICMPv6 error about it). */
function synAnswerer(sw: ReturnType<typeof lan>["sw"], address: Ipv6Address) {
  const host = rawIpv6Host(sw.connect(), [address]);
  let seen = 0;
  const pendingSyns = (): Array<{ original: Uint8Array; src: Ipv6Address; srcMac: MacAddress }> => {
    const out = [];
    const syns = host.packets.filter((p) => p.packet.nextHeader === 6 && (p.packet.payload[13]! & 0x02) !== 0);
    for (const p of syns.slice(seen)) {
      const original = new Uint8Array(40 + p.packet.payload.length);
      original[0] = 0x60;
      original[4] = p.packet.payload.length >> 8;
      original[5] = p.packet.payload.length & 0xff;
      original[6] = 6;
      original[7] = p.packet.hopLimit;
      original.set(p.packet.src.bytes, 8);
      original.set(p.packet.dst.bytes, 24);
      original.set(p.packet.payload, 40);
      out.push({ original, src: p.packet.src, srcMac: p.srcMac });
    }
    seen = syns.length;
    return out;
  };
  return { host, pendingSyns };
}

test("port unreachable (ICMPv6 code 4) for a SYN fails the connect at once with FlowError refused", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  const target = v6("2001:db8::9");
  const peer = synAnswerer(sw, target);
  await vt.advance(3000);
  const started = vt.now();
  const connecting = a.tcp.connect(target, 80);
  connecting.catch(() => {});
  await vt.advance(20);
  const syns = peer.pendingSyns();
  assert.equal(syns.length, 1);
  for (const s of syns) peer.host.sendIcmp(s.srcMac, target, s.src, { type: "destination-unreachable", code: 4, original: s.original });
  const error = await settle(vt, connecting).then(
    () => assert.fail("connected"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof FlowError);
  assert.equal(error.code, "refused");
  assert.match(error.message, /TCP connect to \[2001:db8::9\]:80: refused \(ICMPv6 port unreachable from 2001:db8::9\)/);
  assert.ok(vt.now() - started < 100, "no waiting for the SYN's retransmission");
  assert.equal(a.stats().tcp6!.activeConnections, 0);
});

test("port unreachable (ICMPv4 code 3) for a SYN fails an IPv4 connect at once with FlowError refused", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: false });
  const peer = rawHost(sw.connect(), [ip4("10.0.0.9")]);
  peer.onPacket = (packet, srcMac) => {
    if (packet.protocol !== 6) return;
    const original = new Uint8Array(20 + 8);
    original[0] = 0x45;
    original[2] = (20 + packet.payload.length) >> 8;
    original[3] = (20 + packet.payload.length) & 0xff;
    original[8] = 64;
    original[9] = 6;
    set32(original, 12, packet.src.value);
    set32(original, 16, packet.dst.value);
    original.set(packet.payload.subarray(0, 8), 20);
    const message = { type: "destination-unreachable" as const, code: 3, nextHopMtu: 0, original };
    const payload = new Uint8Array(icmpV4Length(message));
    emitIcmpV4(message, payload);
    vt.time.schedule(0, () => peer.sendIpv4(srcMac, { src: ip4("10.0.0.9"), dst: packet.src, protocol: 1, payload }));
  };
  const started = vt.now();
  const error = await settle(vt, a.tcp.connect(ip4("10.0.0.9"), 80)).then(
    () => assert.fail("connected"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof FlowError);
  assert.equal(error.code, "refused");
  assert.match(error.message, /10\.0\.0\.9:80: refused \(ICMP port unreachable from 10\.0\.0\.9\)/);
  assert.ok(vt.now() - started < 100);
});

test("a soft error (no route) during connect is only recorded, and named when the connect times out", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") }, tcp: { synRetries: 1 } });
  const target = v6("2001:db8::9");
  const peer = synAnswerer(sw, target);
  await vt.advance(3000);
  const started = vt.now();
  const connecting = a.tcp.connect(target, 80);
  connecting.catch(() => {});
  await vt.advance(20);
  for (const s of peer.pendingSyns()) peer.host.sendIcmp(s.srcMac, target, s.src, { type: "destination-unreachable", code: 0, original: s.original });
  await vt.advance(500);
  assert.equal(a.stats().tcp6!.activeConnections, 1, "still trying");
  const error = await settle(vt, connecting).then(
    () => assert.fail("connected"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof FlowError);
  assert.equal(error.code, "timeout");
  assert.match(error.message, /timeout \(ICMPv6 destination unreachable \(no route\) from 2001:db8::9\)/);
  assert.ok(vt.now() - started >= 2000, "the SYN was retried");
});

test("an error quoting a sequence number not in flight is ignored (RFC 5927); the genuine one is not", async () => {
  const { vt, sw, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  const target = v6("2001:db8::9");
  const peer = synAnswerer(sw, target);
  await vt.advance(3000);
  const connecting = a.tcp.connect(target, 80);
  connecting.catch(() => {});
  await vt.advance(20);
  const [syn] = peer.pendingSyns();
  assert.ok(syn !== undefined);
  const forged = syn.original.slice();
  set32(forged, 44, (get32(forged, 44) + 100_000) >>> 0);
  peer.host.sendIcmp(syn.srcMac, target, syn.src, { type: "destination-unreachable", code: 4, original: forged });
  await vt.advance(200);
  assert.equal(a.stats().tcp6!.activeConnections, 1, "a blind guess does not kill the connect");
  peer.host.sendIcmp(syn.srcMac, target, syn.src, { type: "destination-unreachable", code: 4, original: syn.original });
  await assert.rejects(settle(vt, connecting), (e: unknown) => e instanceof FlowError && e.code === "refused");
});

test("TCP connect to an on-link IPv6 neighbour that never answers neighbour discovery fails in seconds, FlowError unreachable", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::1/64") } });
  await vt.advance(3000);
  const started = vt.now();
  const error = await settle(vt, a.tcp.connect(v6("2001:db8::99"), 80)).then(
    () => assert.fail("connected"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof FlowError);
  assert.equal(error.code, "unreachable");
  assert.match(error.message, /\[2001:db8::99\]:80: unreachable \(2001:db8::99 did not answer neighbour discovery \(address unreachable\)\)/);
  const elapsed = vt.now() - started;
  assert.ok(elapsed >= 2000 && elapsed <= 5000, `three solicitations a second apart, then the failure (${elapsed} ms)`);
  assert.equal(a.stats().ndp!.resolutionFailures, 1);
  assert.equal(a.stats().icmp6!.txDestinationUnreachable, 0, "nothing about our own packets goes on the wire");
});
