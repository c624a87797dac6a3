/**
 * The direct-stack worker: our whole stack (Ethernet, ARP, IPv4, ICMPv4, UDP) over the TAP netif,
 * built as a unikernel gets it: `connectTapNetif`, the unix clock, time and random, and
 * `createDirectStack` with a static address. Runs inside a namespace made for it
 * (`ip netns exec NS node --import tsx bench/stack-worker.ts`) and answers bench/worker-protocol.ts
 * through bench/worker-server.ts, exactly as the raw-TAP worker does.
 *
 * - in: the generator sends valid UDP/IPv4 frames to the stack's MAC and address, port 7001, where
 *   a UDP listener counts the datagrams the stack delivers to it (checksums verified, payload
 *   copied into the Datagram, as for any application);
 * - out: `stack.udp.send` in a tight loop to the kernel's address, port 7002, where a socket is
 *   bound that never reads (bench/udp-sink.ts);
 * - ping: the kernel's ping, answered by the stack's ICMP engine; with `--ipv6` (the IPv6 rows),
 *   the link is dual-stack and `ping -6` is answered by the stack's ICMPv6 engine, the kernel
 *   resolving the stack's MAC by neighbour discovery.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix, setLogReporter, stderrLogReporter } from "@mirage-ts/runtime";
import { createDirectStack } from "@mirage-ts/tcpip";
import { connectMonotonicClock, connectRandom, connectTapNetif, connectTime } from "@mirage-ts/unix";
import { startUdpSink } from "./udp-sink.ts";
import { serveCommands } from "./worker-server.ts";

export const STACK_TAP = {
  device: "mtaps0",
  kernel: "10.80.0.1",
  address: "10.80.0.2",
  prefixLength: 24,
  /** IPv6 (with --ipv6): the kernel's and the stack's static addresses, as `--ipv6=fd00:80::2/64` gives it. */
  kernel6: "fd00:80::1",
  address6: "fd00:80::2",
  prefixLength6: 64,
  /** Where the stack listens (kernel → stack). */
  listenPort: 7001,
  /** Where the kernel's never-reading socket is bound (stack → kernel). */
  sinkPort: 7002,
} as const;

// stdout carries the protocol alone: a stray console.log (a debugging line left in a library) goes to stderr.
console.log = console.error;
// The stack's log sources stay as a unikernel has them; only warnings and errors are shown, on
// stderr (stdout carries the protocol).
setLogReporter((entry) => {
  if (entry.level === "error" || entry.level === "warning") stderrLogReporter(entry);
});

const ipv6 = process.argv.includes("--ipv6");
const netif = await connectTapNetif({ name: STACK_TAP.device });
const execFileAsync = promisify(execFile);
if (ipv6) {
  // Dual stack for the IPv6 rows: a static address, no DAD on the kernel's side and no router
  // solicitations from it, so that little besides the benchmark's own frames crosses the link.
  writeFileSync(`/proc/sys/net/ipv6/conf/${STACK_TAP.device}/accept_ra`, "0");
  await execFileAsync("ip", ["addr", "add", `${STACK_TAP.kernel6}/${STACK_TAP.prefixLength6}`, "dev", STACK_TAP.device, "nodad"]);
} else {
  // No IPv6 chatter on the link: only the benchmark's frames cross it.
  writeFileSync(`/proc/sys/net/ipv6/conf/${STACK_TAP.device}/disable_ipv6`, "1");
}
await execFileAsync("ip", ["addr", "add", `${STACK_TAP.kernel}/${STACK_TAP.prefixLength}`, "dev", STACK_TAP.device]);
const kernelMac = readFileSync(`/sys/class/net/${STACK_TAP.device}/address`, "utf8").trim();

const stack = createDirectStack({
  netif,
  clock: connectMonotonicClock(),
  time: connectTime(),
  random: connectRandom(),
  ipv4: { address: Ipv4Prefix.of(`${STACK_TAP.address}/${STACK_TAP.prefixLength}`) },
  ...(ipv6 ? { ipv6: { address: Ipv6Prefix.of(`${STACK_TAP.address6}/${STACK_TAP.prefixLength6}`) } } : {}),
});
// DAD on the static address runs in the background; `ping -6` waits for it (a tentative address does not answer).
const address6Ready = ipv6 ? stack.ipv6.waitForAddress(Ipv6Address.of(STACK_TAP.address6)) : undefined;
address6Ready?.catch(() => undefined);
let datagrams = 0;
stack.udp.listen(STACK_TAP.listenPort, () => {
  datagrams++;
});

const sink = await startUdpSink(STACK_TAP.kernel, STACK_TAP.sinkPort);
const peer = Ipv4Address.of(STACK_TAP.kernel);
let sendOptions = { dst: peer, dstPort: STACK_TAP.sinkPort, srcPort: 7003, data: new Uint8Array(0) };

await serveCommands({
  device: STACK_TAP.device,
  address: STACK_TAP.address,
  ...(address6Ready !== undefined ? { address6: STACK_TAP.address6, ipv6Ready: () => address6Ready } : {}),
  udpFrames: () => ({
    srcMac: kernelMac,
    dstMac: netif.mac.toString(),
    srcIp: STACK_TAP.kernel,
    dstIp: STACK_TAP.address,
    dstPort: STACK_TAP.listenPort,
  }),
  delivered: () => datagrams,
  setMode: () => undefined,
  async prepareSend(size) {
    // The peer's MAC before the loop: the loop never yields, so an ARP reply could not arrive in it.
    await stack.arp.query(peer);
    sendOptions = { ...sendOptions, data: new Uint8Array(size - 14 - 20 - 8).fill(0x5a) };
  },
  sendBurst(count) {
    // send() resolves at once (the frame is in the netif's ring); nothing to await per datagram.
    for (let i = 0; i < count; i++) void stack.udp.send(sendOptions);
  },
  flush: () => netif.flush(),
  diagnostics: () => {
    const s = stack.stats();
    return {
      ethernetRxFrames: s.ethernet.rxFrames,
      ethernetRxNotForUs: s.ethernet.rxNotForUs,
      ethernetRxHandlerErrors: s.ethernet.rxHandlerErrors,
      ethernetTxDropped: s.ethernet.txDropped,
      ipv4RxBadChecksum: s.ipv4.rxBadChecksum,
      ipv4RxNotForUs: s.ipv4.rxNotForUs,
      ipv4TxQueued: s.ipv4.txQueued,
      ipv4TxUnresolved: s.ipv4.txUnresolved,
      udpRxDatagrams: s.udp.rxDatagrams,
      udpRxDelivered: s.udp.rxDelivered,
      udpRxBadChecksum: s.udp.rxBadChecksum,
      udpTxDatagrams: s.udp.txDatagrams,
      icmpRxEchoRequests: s.icmp.rxEchoRequests,
      icmpTxEchoReplies: s.icmp.txEchoReplies,
      icmpRateLimitedEcho: s.icmp.rateLimitedEcho,
      ...(s.icmp6 !== undefined && s.ipv6 !== undefined
        ? {
            icmp6RxEchoRequests: s.icmp6.rxEchoRequests,
            icmp6TxEchoReplies: s.icmp6.txEchoReplies,
            icmp6RateLimitedEcho: s.icmp6.rateLimitedEcho,
            icmp6RxNdp: s.icmp6.rxNdp,
            ipv6TxUnresolved: s.ipv6.txUnresolved,
          }
        : {}),
      netifTxDrops: netif.stats().txDrops,
      netifRxDrops: netif.stats().rxDrops,
    };
  },
  async close() {
    await stack.disconnect();
    await netif.disconnect();
    sink.close();
  },
});
