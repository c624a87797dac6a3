/**
 * Frames per second through the direct stack without any device: a null netif hands the stack
 * batches of prepared frames (as a TAP addon would) and counts what it writes back. Measures the
 * stack's own cost per frame for the hot paths: echo request → reply, UDP delivery to a handler,
 * UDP send, and dropping frames for other hosts.
 *
 *   node --import tsx packages/tcpip/bench/stack-throughput.ts
 */
import { Ipv4Address, Ipv4Prefix, MacAddress, type Netif, createNetifCounters, snapshotStats } from "@mirage-ts/runtime";
import { createDirectStack } from "../src/stack/direct-stack.ts";
import { seededRandom } from "../src/prng.ts";
import { silentLog } from "../src/logs.ts";
import { emitEthernet, EtherType } from "../src/ethernet/wire.ts";
import { emitIpv4 } from "../src/ipv4/wire.ts";
import { emitIcmpV4 } from "../src/icmpv4/wire.ts";
import { emitUdp } from "../src/udp/wire.ts";
import { emitArp } from "../src/arp/wire.ts";

const US = Ipv4Address.of("10.0.0.2");
const PEER = Ipv4Address.of("10.0.0.1");
const PEER_MAC = MacAddress.of("02:00:00:00:00:01");
const OUR_MAC = MacAddress.of("02:00:00:00:00:02");

function nullNetif(): Netif & { inject(frames: Uint8Array[]): void; written: number } {
  const counters = createNetifCounters();
  let handler: ((frames: readonly Uint8Array[]) => void) | undefined;
  const n = {
    mac: OUR_MAC,
    mtu: 1500,
    written: 0,
    listen: (h: (frames: readonly Uint8Array[]) => void) => void (handler = h),
    write: (_f: Uint8Array) => (n.written++, true),
    writeBatch: (fs: readonly Uint8Array[]) => ((n.written += fs.length), fs.length),
    stats: () => snapshotStats(counters),
    disconnect: async () => {},
    inject: (frames: Uint8Array[]) => handler!(frames),
  };
  return n;
}

function ipFrame(dstMac: MacAddress, protocol: number, payload: Uint8Array, dst = US): Uint8Array {
  const frame = new Uint8Array(14 + 20 + payload.length);
  emitIpv4({ src: PEER, dst, protocol, ttl: 64, tos: 0, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, payload }, frame, 14);
  emitEthernet({ dst: dstMac, src: PEER_MAC, etherType: EtherType.ipv4, payload: frame.subarray(14) }, frame);
  return frame;
}

const timeNow = () => performance.now();
const time = { schedule: (ms: number, fn: () => void) => { const t = setTimeout(fn, ms); return { cancel: () => clearTimeout(t) }; }, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), disconnect: async () => {} };
const clock = { now: timeNow, elapsedNs: () => Math.round(timeNow() * 1e6), disconnect: async () => {} };

function run(name: string, frame: Uint8Array, setup?: (stack: ReturnType<typeof createDirectStack>) => void): void {
  const netif = nullNetif();
  const stack = createDirectStack({ netif, clock, time, random: seededRandom(1), ipv4: { address: Ipv4Prefix.make(US, 24) }, log: silentLog, icmp: { echoRatePerSecond: 1e9, echoBurst: 1e9 } });
  // Teach ARP the peer so replies go straight out.
  const arp = new Uint8Array(42);
  emitArp({ operation: "request", senderMac: PEER_MAC, senderIp: PEER, targetMac: MacAddress.zero, targetIp: US }, arp, 14);
  emitEthernet({ dst: MacAddress.broadcast, src: PEER_MAC, etherType: EtherType.arp, payload: arp.subarray(14) }, arp);
  netif.inject([arp]);
  setup?.(stack);
  const batch = Array.from({ length: 64 }, () => frame.slice());
  const total = 1_000_000;
  for (let i = 0; i < 2000; i++) netif.inject(batch); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < total / batch.length; i++) netif.inject(batch);
  const ns = Number(process.hrtime.bigint() - start);
  console.log(`${name.padEnd(34)} ${((total / ns) * 1e9 / 1000).toFixed(0).padStart(6)}k frames/s  ${(ns / total).toFixed(0).padStart(5)} ns/frame  (${netif.written - 64 * 2000 > 0 ? "replies written" : "nothing written"})`);
  void stack.disconnect();
}

const echo = new Uint8Array(64);
emitIcmpV4({ type: "echo-request", identifier: 1, sequence: 1, data: new Uint8Array(56) }, echo);
run("ICMP echo request → reply (64 B)", ipFrame(OUR_MAC, 1, echo));
const big = new Uint8Array(1480);
emitIcmpV4({ type: "echo-request", identifier: 1, sequence: 1, data: new Uint8Array(1472) }, big);
run("ICMP echo request → reply (1480 B)", ipFrame(OUR_MAC, 1, big));
const udp = new Uint8Array(8 + 18);
emitUdp({ srcPort: 1000, dstPort: 7, payload: new Uint8Array(18) }, udp, 0, PEER, US);
let received = 0;
run("UDP delivery to a handler (18 B)", ipFrame(OUR_MAC, 17, udp), (s) => s.udp.listen(7, () => void received++));
run("UDP echo (receive + send, 18 B)", ipFrame(OUR_MAC, 17, udp), (s) => s.udp.listen(7, (d) => void s.udp.send({ dst: d.src, dstPort: d.srcPort, srcPort: 7, data: d.data })));
run("frames for another MAC (dropped)", ipFrame(PEER_MAC, 17, udp));
