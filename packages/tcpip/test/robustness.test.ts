/**
 * The stack keeps running when fed 100,000 random and mutated frames: valid ARP, IPv4 (with
 * options and fragments), ICMP, UDP, TCP and DHCP frames damaged by bit flips, truncation,
 * extension and changed length fields, with the checksums often recomputed afterwards so the
 * damage reaches the deeper layers instead of stopping at the first checksum. Afterwards the
 * stack must not have thrown, must hold a bounded number of timers, and must still answer a ping.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ipv4Address, MacAddress, type Netif } from "@mirage-ts/runtime";
import { createPrng, type Prng } from "../src/prng.ts";
import { ARP_PACKET_LEN, emitArp } from "../src/arp/wire.ts";
import { EtherType, emitEthernet } from "../src/ethernet/wire.ts";
import { emitIpv4, ipv4Length } from "../src/ipv4/wire.ts";
import { emitIcmpV4 } from "../src/icmpv4/wire.ts";
import { emitUdp } from "../src/udp/wire.ts";
import { TcpFlag, emitTcp } from "../src/tcp/wire.ts";
import { encodeDhcp } from "../src/dhcp/wire.ts";
import { get16, set16 } from "../src/bytes.ts";
import { internetChecksum, pseudoHeaderSumV4 } from "../src/checksum.ts";
import { ip, lan, settle, shortDrain } from "./support/stacks.ts";
import { dhcpServer } from "./support/dhcp-server.ts";

const FRAMES = 100_000;
const BATCH = 200;

/** A netif whose receive side a test can also feed directly (what a fuzzer needs). */
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
  address: Ipv4Address;
  /** The DHCP transaction id the client uses now (so some DHCP frames reach its state machine). */
  xid: () => number;
}

const PEERS = ["10.0.0.9", "10.0.0.10", "10.0.0.11", "10.0.0.1"].map((a) => Ipv4Address.of(a));
const PEER_MAC = MacAddress.of("02:00:00:00:aa:01");

function frame(dst: MacAddress, etherType: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(14 + payload.length);
  emitEthernet({ dst, src: PEER_MAC, etherType, payload }, out);
  return out;
}

function ipv4Frame(rng: Prng, t: Target, protocol: number, payload: Uint8Array, extra: { dst?: Ipv4Address; more?: boolean; offset?: number; id?: number; options?: boolean } = {}): Uint8Array {
  const src = PEERS[rng.nextInt(PEERS.length)]!;
  const dst = extra.dst ?? t.address;
  const packet = {
    src, dst, protocol, ttl: 64, tos: 0, identification: extra.id ?? rng.nextInt(8), dontFragment: false,
    moreFragments: extra.more ?? false, fragmentOffset: extra.offset ?? 0, payload,
  };
  const bytes = new Uint8Array(ipv4Length(packet));
  emitIpv4(packet, bytes);
  let ipBytes = bytes;
  if (extra.options) {
    // IHL 6 with a 4-byte option (NOP NOP NOP EOL): options are skipped.
    ipBytes = new Uint8Array(bytes.length + 4);
    ipBytes.set(bytes.subarray(0, 20));
    ipBytes.set([1, 1, 1, 0], 20);
    ipBytes.set(bytes.subarray(20), 24);
    ipBytes[0] = 0x46;
    set16(ipBytes, 2, ipBytes.length);
    fixIpChecksum(ipBytes, 0);
  }
  const mac = dst.value === 0xffffffff || dst.value === 0x0a0000ff ? MacAddress.broadcast : t.mac;
  return frame(mac, EtherType.ipv4, ipBytes);
}

function udpBytes(src: Ipv4Address, dst: Ipv4Address, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  emitUdp({ srcPort, dstPort, payload: data }, out, 0, src, dst);
  return out;
}

/** A valid frame of one of the kinds the stack handles. */
function template(rng: Prng, t: Target): Uint8Array {
  const kind = rng.nextInt(12);
  const data = (n: number) => rng.fill(new Uint8Array(rng.nextInt(n)));
  switch (kind) {
    case 0: {
      const arp = new Uint8Array(ARP_PACKET_LEN);
      const sender = PEERS[rng.nextInt(PEERS.length)]!;
      emitArp({ operation: rng.nextInt(2) ? "request" : "reply", senderMac: PEER_MAC, senderIp: sender, targetMac: rng.nextInt(2) ? t.mac : MacAddress.zero, targetIp: t.address }, arp);
      return frame(rng.nextInt(2) ? MacAddress.broadcast : t.mac, EtherType.arp, arp);
    }
    case 1:
    case 2: {
      const d = data(200);
      const msg = new Uint8Array(8 + d.length);
      emitIcmpV4({ type: "echo-request", identifier: rng.nextInt(65536), sequence: rng.nextInt(65536), data: d }, msg);
      return ipv4Frame(rng, t, 1, msg, { options: rng.nextInt(4) === 0 });
    }
    case 3: {
      // A fragment of a ping: first, middle or last piece of one of a few datagrams.
      const d = rng.fill(new Uint8Array(8 * (1 + rng.nextInt(20))));
      const piece = rng.nextInt(3);
      return ipv4Frame(rng, t, 1, d, { more: piece < 2, offset: piece === 0 ? 0 : d.length * piece, id: 100 + rng.nextInt(4) });
    }
    case 4:
    case 5: {
      const src = PEERS[0]!;
      const port = [7, 7, 9, 53, 68, 5000][rng.nextInt(6)]!;
      const bytes = ipv4Frame(rng, t, 17, udpBytes(src, t.address, 1000 + rng.nextInt(10), port, data(300)));
      set16(bytes, 26, src.value >>> 16);
      set16(bytes, 28, src.value & 0xffff);
      fixIpChecksum(bytes, 14);
      return bytes;
    }
    case 6: {
      const dst = rng.nextInt(2) ? Ipv4Address.broadcast : ip("10.0.0.255");
      const src = PEERS[0]!;
      const bytes = ipv4Frame(rng, t, 17, udpBytes(src, dst, 1234, 7, data(64)), { dst });
      set16(bytes, 26, src.value >>> 16);
      set16(bytes, 28, src.value & 0xffff);
      fixIpChecksum(bytes, 14);
      return bytes;
    }
    case 7:
    case 8: {
      const message = encodeDhcp({
        op: "reply", xid: rng.nextInt(4) ? t.xid() : rng.nextUint32(), secs: 0, broadcast: true, ciaddr: Ipv4Address.any, yiaddr: t.address,
        siaddr: Ipv4Address.any, giaddr: Ipv4Address.any, chaddr: t.mac,
        options: {
          messageType: (["offer", "ack", "nak"] as const)[rng.nextInt(3)]!,
          serverId: ip("10.0.0.1"), leaseTime: 3600, subnetMask: ip("255.255.255.0"), routers: [ip("10.0.0.1")], dnsServers: [ip("10.0.0.1")],
        },
      });
      const src = ip("10.0.0.1");
      const bytes = ipv4Frame(rng, t, 17, udpBytes(src, Ipv4Address.broadcast, 67, 68, message), { dst: Ipv4Address.broadcast });
      set16(bytes, 26, src.value >>> 16);
      set16(bytes, 28, src.value & 0xffff);
      fixIpChecksum(bytes, 14);
      return bytes;
    }
    case 9: {
      const src = PEERS[0]!;
      const seg = { srcPort: 40000 + rng.nextInt(100), dstPort: 80, seq: rng.nextUint32(), ack: rng.nextUint32(), flags: [TcpFlag.syn, TcpFlag.ack, TcpFlag.rst, TcpFlag.fin | TcpFlag.ack][rng.nextInt(4)]!, window: 1000, urgentPointer: 0, options: new Uint8Array(0), payload: data(40) };
      const out = new Uint8Array(20 + seg.payload.length);
      emitTcp(seg, out, 0, src, t.address);
      const bytes = ipv4Frame(rng, t, 6, out);
      set16(bytes, 26, src.value >>> 16);
      set16(bytes, 28, src.value & 0xffff);
      fixIpChecksum(bytes, 14);
      return bytes;
    }
    case 10:
      return frame(t.mac, [EtherType.vlan, 0x05dc, EtherType.ipv6, 0x88cc][rng.nextInt(4)]!, data(100));
    default:
      return frame(rng.nextInt(4) ? t.mac : MacAddress.broadcast, rng.nextInt(2) ? EtherType.ipv4 : EtherType.arp, data(100));
  }
}

function fixIpChecksum(bytes: Uint8Array, at: number): void {
  const ihl = ((bytes[at] ?? 0) & 0x0f) * 4;
  if (ihl < 20 || at + ihl > bytes.length) return;
  set16(bytes, at + 10, 0);
  set16(bytes, at + 10, internetChecksum(bytes, at, ihl));
}

/** Recomputes the ICMP/UDP/TCP checksum from the (possibly damaged) header fields, when they can be found. */
function fixTransportChecksum(bytes: Uint8Array): void {
  if (get16(bytes, 12) !== EtherType.ipv4 || bytes.length < 34) return;
  const ihl = (bytes[14]! & 0x0f) * 4;
  const total = Math.min(get16(bytes, 16), bytes.length - 14);
  const start = 14 + ihl;
  const length = total - ihl;
  if (ihl < 20 || length < 8) return;
  const protocol = bytes[23]!;
  const src = ((bytes[26]! << 24) | (bytes[27]! << 16) | (bytes[28]! << 8) | bytes[29]!) >>> 0;
  const dst = ((bytes[30]! << 24) | (bytes[31]! << 16) | (bytes[32]! << 8) | bytes[33]!) >>> 0;
  if (protocol === 1) {
    set16(bytes, start + 2, 0);
    set16(bytes, start + 2, internetChecksum(bytes, start, length));
  } else if (protocol === 17) {
    const udpLength = Math.min(get16(bytes, start + 4), length);
    set16(bytes, start + 6, 0);
    set16(bytes, start + 6, internetChecksum(bytes, start, udpLength, pseudoHeaderSumV4(src, dst, 17, udpLength)) || 0xffff);
  } else if (protocol === 6 && length >= 20) {
    set16(bytes, start + 16, 0);
    set16(bytes, start + 16, internetChecksum(bytes, start, length, pseudoHeaderSumV4(src, dst, 6, length)));
  }
}

function mutate(rng: Prng, input: Uint8Array, t: Target): Uint8Array {
  let bytes = input;
  const how = rng.nextInt(10);
  switch (how) {
    case 0:
      return bytes; // valid
    case 1: {
      // Random bytes, addressed to us half the time so they pass the Ethernet filter.
      bytes = rng.fill(new Uint8Array(rng.nextInt(1600)));
      if (rng.nextInt(2) && bytes.length >= 6) t.mac.toBytes(bytes, 0);
      return bytes;
    }
    case 2:
    case 3: {
      const flips = 1 + rng.nextInt(8);
      for (let i = 0; i < flips && bytes.length > 0; i++) {
        const bit = rng.nextInt(bytes.length * 8);
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
      // Length and offset fields: IPv4 total length, IHL, flags/fragment offset, UDP length,
      // TCP data offset, ARP address lengths, a DHCP option length.
      const field = rng.nextInt(7);
      const ihl = ((bytes[14] ?? 0) & 0x0f) * 4;
      const value = rng.nextInt(3) === 0 ? rng.nextInt(65536) : get16(bytes, 16) + rng.nextInt(64) - 32;
      if (field === 0) set16(bytes, 16, value);
      else if (field === 1 && bytes.length > 14) bytes[14] = (bytes[14]! & 0xf0) | rng.nextInt(16);
      else if (field === 2) set16(bytes, 20, rng.nextUint32() & 0xffff);
      else if (field === 3) set16(bytes, 14 + ihl + 4, rng.nextInt(3) ? get16(bytes, 14 + ihl + 4) + rng.nextInt(32) - 16 : rng.nextInt(65536));
      else if (field === 4 && bytes.length > 14 + ihl + 12) bytes[14 + ihl + 12] = rng.nextInt(256);
      else if (field === 5 && bytes.length > 19) bytes[14 + 4 + rng.nextInt(2)] = rng.nextInt(256);
      else if (bytes.length > 14 + 28 + 8 + 245) bytes[14 + 28 + 240 + 1 + rng.nextInt(4)] = rng.nextInt(256);
      break;
    }
  }
  // Often make the damage pass the checksums so that it reaches the parsers behind them.
  if (rng.nextInt(10) < 7) fixIpChecksum(bytes, 14);
  if (rng.nextInt(2)) fixTransportChecksum(bytes);
  return bytes;
}

test(`the stack survives ${FRAMES.toLocaleString("en")} random and mutated frames and still answers a ping`, async () => {
  const { vt, sw, stack } = lan({ drain: shortDrain });
  const server = dhcpServer(vt, sw.connect(), { leaseTime: 3600 });
  const port = injectable(sw.connect());
  const target = stack({ dhcp: true }, { netif: port.netif, seed: 42 });
  target.udp.listen(7, (d) => target.udp.send({ dst: d.src, dstPort: d.srcPort, srcPort: 7, data: d.data }).catch(() => {}));
  const lease = await settle(vt, target.dhcp!.waitForLease());
  const peer = stack("10.0.0.9/24");
  const t: Target = { mac: target.netif.mac, address: lease.address.address, xid: () => server.received.at(-1)?.message.xid ?? 0 };
  const rng = createPrng(2024);

  for (let sent = 0; sent < FRAMES; sent += BATCH) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < BATCH; i++) batch.push(mutate(rng, template(rng, t), t));
    port.inject(batch);
    // 100 ms per batch: 50 s in all, so ARP retries, cache expiry and reassembly timeouts all run.
    await vt.advance(100);
  }

  const stats = target.stats();
  if (process.env.FUZZ_STATS) console.log(JSON.stringify(stats), vt.pending());
  assert.equal(stats.ethernet.rxHandlerErrors, 0, "no frame made the stack throw");
  assert.ok(stats.ethernet.rxFrames >= FRAMES);
  // The fuzz reached every layer, past the checksums.
  assert.ok(stats.arp.received > 1000, `arp ${stats.arp.received}`);
  assert.ok(stats.ipv4.rxBadChecksum > 1000 && stats.ipv4.rxTruncated > 100 && stats.ipv4.rxBadLength > 0);
  assert.ok(stats.ipv4.rxFragments > 1000 && stats.ipv4.rxReassemblyDrops > 0);
  assert.ok(stats.icmp.txEchoReplies > 1000 && stats.icmp.rxBadChecksum > 100);
  assert.ok(stats.udp.rxDelivered > 100 && stats.udp.rxBadChecksum > 100 && stats.udp.rxBadLength + stats.udp.rxTruncated > 100);
  assert.ok(stats.tcp.txResets > 100 && stats.tcp.rxBadHeaderLength > 0);
  assert.ok(stats.dhcp!.received > 1000 && stats.dhcp!.malformed > 0);
  // Bounded state: a handful of timers (ARP, reassembly, DHCP, switch deliveries), not one per frame.
  assert.ok(vt.pending() < 50, `${vt.pending()} timers pending`);

  await vt.advance(60_000); // let reassembly and ARP state drain
  assert.deepEqual(target.ip.addresses().filter((a) => a.family === 4).map(String), [lease.address.address.toString()], "still on its lease");
  const reply = await settle(vt, peer.icmp.ping(lease.address.address, { size: 3000 }));
  assert.equal(reply.data.length, 3000);
  const echoed: Uint8Array[] = [];
  peer.udp.listen(5000, (d) => void echoed.push(d.data));
  await peer.udp.send({ dst: lease.address.address, dstPort: 7, srcPort: 5000, data: Uint8Array.of(1, 2, 3) });
  await vt.advance(10);
  assert.deepEqual(echoed, [Uint8Array.of(1, 2, 3)]);
  await target.disconnect();
  await peer.disconnect();
});
