/**
 * The stack keeps running when fed 100,000 random and mutated IPv6 frames: valid neighbour
 * solicitations and advertisements, router advertisements and solicitations, MLD queries, echo
 * requests, UDP and TCP segments, fragments and extension-header chains, damaged by bit flips,
 * truncation, extension and changed length and Next Header fields, with the ICMPv6/UDP/TCP
 * checksums often recomputed afterwards so that the damage reaches the parsers behind them.
 * Afterwards the stack must not have thrown, must hold a bounded number of timers and neighbour
 * entries, and must still answer ping6 (a fragmented one too) and UDP over IPv6.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ipv6Address, Ipv6Prefix, MacAddress, type Netif } from "@mirage-ts/runtime";
import { createPrng, type Prng } from "../src/prng.ts";
import { EtherType, emitEthernet } from "../src/ethernet/wire.ts";
import { IPV6_HEADER_LEN, Ipv6NextHeader, writeIpv6Header } from "../src/ipv6/wire.ts";
import { emitIcmpV6 } from "../src/icmpv6/wire.ts";
import { emitNdp, ndpLength, type NdpMessage } from "../src/ndp/wire.ts";
import { IPV6_ALL_NODES, ipv6MulticastMac, linkLocalAddress, solicitedNodeMulticast } from "../src/ndp/addresses.ts";
import { emitIpv6FragmentHeader } from "../src/ipv6/fragment.ts";
import { emitUdp } from "../src/udp/wire.ts";
import { TcpFlag, emitTcp } from "../src/tcp/wire.ts";
import { get16, set16 } from "../src/bytes.ts";
import { internetChecksum, pseudoHeaderSum } from "../src/checksum.ts";
import { lan, settle, shortDrain } from "./support/stacks.ts";

const FRAMES = 100_000;
const BATCH = 200;

function injectable(inner: Netif): { netif: Netif; inject(frames: Uint8Array[]): void } {
  let handler: ((frames: readonly Uint8Array[]) => void) | undefined;
  return {
    netif: {
      mac: inner.mac,
      mtu: inner.mtu,
      listen(h) {
        handler = h;
        inner.listen(h);
      },
      write: (f) => inner.write(f),
      writeBatch: (fs) => inner.writeBatch(fs),
      stats: () => inner.stats(),
      disconnect: () => inner.disconnect(),
    },
    inject: (frames) => handler?.(frames),
  };
}

interface Target {
  mac: MacAddress;
  linkLocal: Ipv6Address;
  global: Ipv6Address;
}

const PEER_MAC = MacAddress.of("02:00:00:00:aa:01");
const PEERS = ["fe80::aa:1", "2001:db8::9", "2001:db8::10", "::"].map((a) => Ipv6Address.of(a));
const ROUTER = Ipv6Address.of("fe80::1");

function frame(dst: MacAddress, packet: Uint8Array): Uint8Array {
  const out = new Uint8Array(14 + packet.length);
  emitEthernet({ dst, src: PEER_MAC, etherType: EtherType.ipv6, payload: packet }, out);
  return out;
}

/** An IPv6 packet of `payload` (its first header `nextHeader`), to `dst` (at its MAC). */
function packetFrame(src: Ipv6Address, dst: Ipv6Address, nextHeader: number, payload: Uint8Array, hopLimit = 64, dstMac?: MacAddress, t?: Target): Uint8Array {
  const bytes = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  writeIpv6Header({ src, dst, nextHeader, hopLimit, trafficClass: 0, flowLabel: 0 }, payload.length, bytes, 0);
  bytes.set(payload, IPV6_HEADER_LEN);
  return frame(dstMac ?? (dst.isMulticast() ? ipv6MulticastMac(dst) : t!.mac), bytes);
}

function ndpFrame(src: Ipv6Address, dst: Ipv6Address, message: NdpMessage, t: Target): Uint8Array {
  const payload = new Uint8Array(ndpLength(message));
  emitNdp(message, payload, 0, src, dst);
  return packetFrame(src, dst, Ipv6NextHeader.icmpv6, payload, 255, undefined, t);
}

/** A valid frame of one of the kinds the stack handles. */
function template(rng: Prng, t: Target): Uint8Array {
  const data = (n: number) => rng.fill(new Uint8Array(rng.nextInt(n)));
  const peer = PEERS[rng.nextInt(PEERS.length - 1)]!;
  const dst = rng.nextInt(2) ? t.global : t.linkLocal;
  const sll = { type: "source-link-layer-address" as const, mac: PEER_MAC };
  switch (rng.nextInt(14)) {
    case 0: {
      const target = [t.linkLocal, t.global, peer][rng.nextInt(3)]!;
      const src = rng.nextInt(5) ? peer : Ipv6Address.unspecified;
      const to = rng.nextInt(2) ? solicitedNodeMulticast(target) : target;
      return ndpFrame(src, to, { type: "neighbor-solicitation", target, options: src.isUnspecified() ? [] : [sll] }, t);
    }
    case 1:
      return ndpFrame(peer, rng.nextInt(2) ? IPV6_ALL_NODES : dst, {
        type: "neighbor-advertisement", router: rng.nextInt(2) === 0, solicited: rng.nextInt(2) === 0, override: rng.nextInt(2) === 0,
        target: rng.nextInt(8) ? peer : t.global, options: [{ type: "target-link-layer-address", mac: PEER_MAC }],
      }, t);
    case 2:
      return ndpFrame(ROUTER, IPV6_ALL_NODES, {
        type: "router-advertisement", curHopLimit: 64, managed: false, other: false, preference: 0, routerLifetime: rng.nextInt(3) * 900,
        reachableTime: rng.nextInt(2) * 20_000, retransTimer: rng.nextInt(2) * 1000,
        options: [sll, { type: "mtu", mtu: 1280 + rng.nextInt(300) }, {
          type: "prefix-information", prefix: Ipv6Prefix.of(`2001:db8:${rng.nextInt(4)}::/64`), onLink: true, autonomous: rng.nextInt(2) === 0,
          validLifetime: rng.nextInt(4) * 600, preferredLifetime: rng.nextInt(4) * 300,
        }],
      }, t);
    case 3:
      return ndpFrame(peer, Ipv6Address.of("ff02::2"), { type: "router-solicitation", options: [sll] }, t);
    case 4: {
      // An MLD query (general or for a group), behind a hop-by-hop Router Alert.
      const q = new Uint8Array(8 + 28);
      q.set([Ipv6NextHeader.icmpv6, 0, 5, 2, 0, 0, 1, 0]);
      q[8] = 130;
      set16(q, 8 + 4, rng.nextInt(20_000));
      if (rng.nextInt(2)) q.set(solicitedNodeMulticast(t.linkLocal).bytes, 8 + 8);
      set16(q, 8 + 2, internetChecksum(q, 8, 28, pseudoHeaderSum(ROUTER, IPV6_ALL_NODES, 58, 28)));
      return packetFrame(ROUTER, IPV6_ALL_NODES, Ipv6NextHeader.hopByHop, q, 1, undefined, t);
    }
    case 5:
    case 6: {
      const d = data(300);
      const msg = new Uint8Array(8 + d.length);
      const to = rng.nextInt(6) ? dst : IPV6_ALL_NODES;
      emitIcmpV6({ type: "echo-request", identifier: rng.nextInt(65536), sequence: rng.nextInt(65536), data: d }, msg, 0, peer, to);
      return packetFrame(peer, to, Ipv6NextHeader.icmpv6, msg, 64, undefined, t);
    }
    case 7: {
      const d = { srcPort: 1000 + rng.nextInt(10), dstPort: [7, 9, 53][rng.nextInt(3)]!, payload: data(300) };
      const out = new Uint8Array(8 + d.payload.length);
      emitUdp(d, out, 0, peer, dst);
      return packetFrame(peer, dst, Ipv6NextHeader.udp, out, 64, undefined, t);
    }
    case 8: {
      const seg = {
        srcPort: 40000 + rng.nextInt(100), dstPort: 80, seq: rng.nextUint32(), ack: rng.nextUint32(),
        flags: [TcpFlag.syn, TcpFlag.ack, TcpFlag.rst, TcpFlag.fin | TcpFlag.ack][rng.nextInt(4)]!, window: 1000, urgentPointer: 0,
        options: new Uint8Array(0), payload: data(40),
      };
      const out = new Uint8Array(20 + seg.payload.length);
      emitTcp(seg, out, 0, peer, dst);
      return packetFrame(peer, dst, Ipv6NextHeader.tcp, out, 64, undefined, t);
    }
    case 9:
    case 10: {
      // A fragment of an echo request: first, middle or last piece of one of a few datagrams.
      const piece = rng.nextInt(3);
      const d = rng.fill(new Uint8Array(8 * (1 + rng.nextInt(20))));
      if (piece === 0) d[0] = 128;
      const f = new Uint8Array(8 + d.length);
      emitIpv6FragmentHeader({ nextHeader: Ipv6NextHeader.icmpv6, fragmentOffset: piece === 0 ? 0 : d.length * piece, moreFragments: piece < 2, identification: 100 + rng.nextInt(4) }, f, 0);
      f.set(d, 8);
      return packetFrame(peer, dst, Ipv6NextHeader.fragment, f, 64, undefined, t);
    }
    case 11: {
      // An extension chain: hop-by-hop or destination options (known and unknown options), routing, then UDP or something unknown.
      const opts = new Uint8Array(8);
      opts[0] = rng.nextInt(3) ? Ipv6NextHeader.udp : 253;
      opts[2] = [1, 5, 0x3e, 0x7e, 0xbe, 0xfe][rng.nextInt(6)]!;
      opts[3] = 4;
      const udp = new Uint8Array(8 + 4);
      emitUdp({ srcPort: 1, dstPort: 9, payload: data(4).subarray(0, 0) }, udp.subarray(0, 8), 0, peer, dst);
      const payload = new Uint8Array(opts.length + 8);
      payload.set(opts);
      payload.set(udp.subarray(0, 8), 8);
      const first = [Ipv6NextHeader.hopByHop, Ipv6NextHeader.destinationOptions, Ipv6NextHeader.routing][rng.nextInt(3)]!;
      if (first === Ipv6NextHeader.routing) payload[3] = rng.nextInt(2);
      return packetFrame(peer, rng.nextInt(4) ? dst : IPV6_ALL_NODES, first, payload, 64, undefined, t);
    }
    case 12:
      return frame(rng.nextInt(2) ? t.mac : ipv6MulticastMac(IPV6_ALL_NODES), data(200));
    default:
      // To a group we have not joined, or another host.
      return packetFrame(peer, Ipv6Address.of("ff02::1:ff12:3456"), Ipv6NextHeader.udp, data(50), 64, rng.nextInt(2) ? undefined : MacAddress.of("02:00:00:00:bb:01"), t);
  }
}

/** Walks to the upper layer (skipping extension headers) and recomputes its checksum, when it can be found. */
function fixChecksum(bytes: Uint8Array): void {
  if (get16(bytes, 12) !== EtherType.ipv6 || bytes.length < 14 + IPV6_HEADER_LEN) return;
  const src = Ipv6Address.ofBytes(bytes, 22);
  const dst = Ipv6Address.ofBytes(bytes, 38);
  const end = Math.min(bytes.length, 14 + IPV6_HEADER_LEN + get16(bytes, 18));
  let next = bytes[20]!;
  let at = 14 + IPV6_HEADER_LEN;
  while ((next === 0 || next === 60 || next === 43) && at + 8 <= end) {
    const length = (bytes[at + 1]! + 1) * 8;
    next = bytes[at]!;
    at += length;
  }
  const length = end - at;
  if (length < 8) return;
  const field = next === 58 ? 2 : next === 17 ? 6 : next === 6 ? 16 : -1;
  if (field < 0 || at + field + 2 > end) return;
  set16(bytes, at + field, 0);
  set16(bytes, at + field, internetChecksum(bytes, at, length, pseudoHeaderSum(src, dst, next, length)) || (next === 17 ? 0xffff : 0));
}

function mutate(rng: Prng, input: Uint8Array, t: Target): Uint8Array {
  let bytes = input;
  switch (rng.nextInt(10)) {
    case 0:
      return bytes;
    case 1:
      bytes = rng.fill(new Uint8Array(rng.nextInt(1600)));
      if (rng.nextInt(2) && bytes.length >= 14) {
        t.mac.toBytes(bytes, 0);
        set16(bytes, 12, EtherType.ipv6);
        if (bytes.length > 14) bytes[14] = 0x60 | (bytes[14]! & 0x0f);
      }
      return bytes;
    case 2:
    case 3: {
      const flips = 1 + rng.nextInt(8);
      for (let i = 0; i < flips && bytes.length > 14; i++) {
        const bit = 14 * 8 + rng.nextInt((bytes.length - 14) * 8);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
      }
      break;
    }
    case 4:
      bytes = bytes.subarray(0, rng.nextInt(bytes.length + 1));
      break;
    case 5: {
      const longer = new Uint8Array(bytes.length + 1 + rng.nextInt(64));
      longer.set(bytes);
      rng.fill(longer.subarray(bytes.length));
      bytes = longer;
      break;
    }
    default: {
      // The payload length, the Next Header, an extension or option length, an NDP option length, a fragment offset.
      const field = rng.nextInt(5);
      if (bytes.length < 14 + IPV6_HEADER_LEN + 8) break;
      if (field === 0) set16(bytes, 18, rng.nextInt(3) ? get16(bytes, 18) + rng.nextInt(64) - 32 : rng.nextInt(65536));
      else if (field === 1) bytes[20] = [0, 6, 17, 43, 44, 58, 59, 60, rng.nextInt(256)][rng.nextInt(9)]!;
      else if (field === 2) bytes[14 + IPV6_HEADER_LEN + 1] = rng.nextInt(256);
      else if (field === 3) bytes[14 + IPV6_HEADER_LEN + 8 + rng.nextInt(Math.max(1, bytes.length - 62))] = rng.nextInt(4);
      else set16(bytes, 14 + IPV6_HEADER_LEN + 2, rng.nextInt(65536));
      break;
    }
  }
  if (rng.nextInt(10) < 7) fixChecksum(bytes);
  return bytes;
}

test(`the stack survives ${FRAMES.toLocaleString("en")} random and mutated IPv6 frames and still answers ping6`, async () => {
  const { vt, sw, stack } = lan({ drain: shortDrain });
  const port = injectable(sw.connect());
  const target = stack("10.0.0.2/24", { netif: port.netif, seed: 42, ipv6: { address: Ipv6Prefix.of("2001:db8::2/64") } });
  target.udp.listen(7, (d) => target.udp.send({ dst: d.src, dstPort: d.srcPort, srcPort: 7, data: d.data }).catch(() => {}));
  const peer = stack("10.0.0.9/24", { ipv6: { address: Ipv6Prefix.of("2001:db8::99/64") } });
  await vt.advance(3000);
  const t: Target = { mac: target.netif.mac, linkLocal: linkLocalAddress(target.netif.mac), global: Ipv6Address.of("2001:db8::2") };
  const rng = createPrng(2025);

  for (let sent = 0; sent < FRAMES; sent += BATCH) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < BATCH; i++) batch.push(mutate(rng, template(rng, t), t));
    port.inject(batch);
    await vt.advance(100);
  }

  const stats = target.stats();
  if (process.env.FUZZ_STATS) console.log(JSON.stringify({ ipv6: stats.ipv6, icmp6: stats.icmp6, ndp: stats.ndp, udp6: stats.udp6, tcp6: stats.tcp6 }), vt.pending());
  assert.equal(stats.ethernet.rxHandlerErrors, 0, "no frame made the stack throw");
  const ipv6 = stats.ipv6!;
  assert.ok(ipv6.rxPackets > 50_000 && ipv6.rxTruncated > 100 && ipv6.rxNotForUs > 100);
  assert.ok(ipv6.rxFragments > 1000 && ipv6.rxReassemblyDrops > 0 && ipv6.rxBadExtensionHeaders > 100);
  assert.ok(stats.icmp6!.txEchoReplies > 1000 && stats.icmp6!.rxBadChecksum > 100 && stats.icmp6!.txParameterProblem > 0);
  assert.ok(stats.ndp!.rxSolicitations > 1000 && stats.ndp!.rxRouterAdvertisements > 100 && stats.ndp!.rxInvalid > 100 && stats.ndp!.rxMldQueries > 10);
  assert.ok(stats.udp6!.rxDelivered > 100 && stats.tcp6!.txResets > 100);
  assert.ok(vt.pending() < 50, `${vt.pending()} timers pending`);
  assert.ok(target.ndp.entries().length <= 1024);

  await vt.advance(120_000);
  assert.ok(target.ip.addresses().some((a) => a.equals(t.global)), "its static address is still in use");
  const reply = await settle(vt, peer.icmp6.ping(t.global, { size: 3000 }));
  assert.equal(reply.data.length, 3000);
  const echoed: Uint8Array[] = [];
  peer.udp.listen(5000, (d) => void echoed.push(d.data));
  await peer.udp.send({ dst: t.global, dstPort: 7, srcPort: 5000, data: Uint8Array.of(1, 2, 3) });
  await vt.advance(10);
  assert.deepEqual(echoed, [Uint8Array.of(1, 2, 3)]);
  await target.disconnect();
  await peer.disconnect();
});
