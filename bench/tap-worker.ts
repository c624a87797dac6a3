/**
 * The raw-TAP worker: our TAP netif (Node + the mirage_tap addon) with no stack on it. Runs inside
 * a namespace made for it (`ip netns exec NS node --import tsx bench/tap-worker.ts`) and answers
 * bench/worker-protocol.ts through bench/worker-server.ts.
 *
 * - in: anonymous frames from the generator, counted as the netif hands them over;
 * - out: one prebuilt frame written again and again through TapNetif.write: anonymous (the kernel
 *   discards it at once), or a whole UDP/IPv4 datagram to the kernel's address and a socket bound
 *   there (bench/udp-sink.ts), the same bytes the stack sends, to measure the stack's own cost;
 * - ping: answered by bench/echo-responder.ts, which rewrites each request in place; with `--ipv6`
 *   (the IPv6 rows), the link is dual-stack and it answers `ping -6` and neighbour solicitations too.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { Ipv6Address, MacAddress } from "@mirage-ts/runtime";
import { connectTapNetif } from "@mirage-ts/unix";
import { echoResponder } from "./echo-responder.ts";
import { startUdpSink } from "./udp-sink.ts";
import { udpIpv4Frame } from "./udp-frame.ts";
import { serveCommands } from "./worker-server.ts";

export const RAW_TAP = {
  device: "mtapb0",
  kernel: "10.79.0.1",
  address: "10.79.0.2",
  prefixLength: 24,
  sinkPort: 7002,
  kernel6: "fd00:79::1",
  address6: "fd00:79::2",
  prefixLength6: 64,
} as const;
const MAC = MacAddress.of("02:79:00:00:00:02");
const IP = [10, 79, 0, 2] as const;
const ipv6 = process.argv.includes("--ipv6");

// stdout carries the protocol alone: a stray console.log (a debugging line left in a library) goes to stderr.
console.log = console.error;
const netif = await connectTapNetif({ name: RAW_TAP.device, mac: MAC });
let received = 0;
let mode: "count" | "echo" = "count";
const respond = echoResponder(netif, MAC, IP, ipv6 ? Ipv6Address.of(RAW_TAP.address6).bytes : undefined);
netif.listen((frames) => {
  if (mode === "count") {
    received += frames.length;
  } else {
    for (const frame of frames) respond(frame);
  }
});
const execFileAsync = promisify(execFile);
if (ipv6) {
  // Dual stack for the IPv6 rows (as bench/stack-worker.ts): no DAD, no router solicitations.
  writeFileSync(`/proc/sys/net/ipv6/conf/${RAW_TAP.device}/accept_ra`, "0");
  await execFileAsync("ip", ["addr", "add", `${RAW_TAP.kernel6}/${RAW_TAP.prefixLength6}`, "dev", RAW_TAP.device, "nodad"]);
} else {
  // No IPv6 chatter on the link: only the benchmark's frames cross it.
  writeFileSync(`/proc/sys/net/ipv6/conf/${RAW_TAP.device}/disable_ipv6`, "1");
}
await execFileAsync("ip", ["addr", "add", `${RAW_TAP.kernel}/${RAW_TAP.prefixLength}`, "dev", RAW_TAP.device]);
const kernelMac = MacAddress.of(readFileSync(`/sys/class/net/${RAW_TAP.device}/address`, "utf8").trim());
const sink = await startUdpSink(RAW_TAP.kernel, RAW_TAP.sinkPort);

let frame: Uint8Array = new Uint8Array(0);

await serveCommands({
  device: RAW_TAP.device,
  address: RAW_TAP.address,
  ...(ipv6 ? { address6: RAW_TAP.address6 } : {}),
  udpFrames: () => undefined,
  delivered: () => received,
  setMode: (m) => (mode = m),
  async prepareSend(size, frames) {
    if (frames === "udp") {
      frame = udpIpv4Frame({ size, srcMac: MAC, dstMac: kernelMac, src: RAW_TAP.address, dst: RAW_TAP.kernel, srcPort: 7003, dstPort: RAW_TAP.sinkPort });
      return;
    }
    frame = new Uint8Array(size);
    MacAddress.of("02:00:00:00:00:99").toBytes(frame, 0);
    MAC.toBytes(frame, 6);
    frame[12] = 0x88;
    frame[13] = 0xb5; // IEEE 802 local experimental EtherType: the kernel counts and discards it
  },
  sendBurst(count) {
    for (let i = 0; i < count; i++) netif.write(frame);
  },
  flush: () => netif.flush(),
  diagnostics: () => ({ ...netif.stats() }),
  async close() {
    await netif.disconnect();
    sink.close();
  },
});
