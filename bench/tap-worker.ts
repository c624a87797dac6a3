/**
 * The TAP side of the raw-TAP benchmark. Runs inside a namespace made for it
 * (`ip netns exec NS node --import tsx bench/tap-worker.ts`), opens a TAP there, and answers
 * measurement commands, one JSON line in on stdin, one JSON line out on stdout, so that the
 * orchestrator (bench/raw-tap.ts) can interleave TAP and veth runs.
 *
 * - {"cmd":"in","size":64,"warmupMs":200,"windowMs":500}: bench/pktgen.py sends frames out of the
 *   TAP as fast as the kernel can; the figure is the frames our listener received per second.
 * - {"cmd":"out","size":64,"windowMs":500}: a loop writes one frame after another through
 *   TapNetif.write; the figure is what the kernel counted as received (the TAP's rx_packets).
 * - {"cmd":"ping","count":50,"interval":"0.01"}: the kernel's `ping` to bench/echo-responder.ts.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { MacAddress } from "@mirage-ts/runtime";
import { connectTapNetif } from "@mirage-ts/unix";
import { echoResponder } from "./echo-responder.ts";
import { startGenerator } from "./generator.ts";
import { pingAverageMicros, pingLossPercent, seconds, sleep } from "./stats.ts";

export type TapCommand =
  | { cmd: "in"; size: number; warmupMs: number; windowMs: number }
  | { cmd: "out"; size: number; windowMs: number }
  | { cmd: "ping"; count: number; interval: string }
  | { cmd: "quit" };

export interface InFigure {
  rate: number;
  /** Frames per second the kernel tried to send out of the TAP during the window. */
  offered: number;
  /** Frames the TAP's queue dropped during the window because the reader was behind. */
  drops: number;
  /** This process's CPU time (user + system) per frame received, in microseconds. */
  cpuMicrosPerFrame: number;
  /** This process's CPU time over the window, in percent of one core: near 100 means the reader is the limit. */
  cpuPercent: number;
}

export const TAP_PEER = "10.79.0.2";
const TAP = "mtapb0";
const MAC = MacAddress.of("02:79:00:00:00:02");
const IP = [10, 79, 0, 2] as const;
const execFileAsync = promisify(execFile);

function counter(name: string): number {
  return Number(readFileSync(`/sys/class/net/${TAP}/statistics/${name}`, "utf8"));
}

const netif = await connectTapNetif({ name: TAP, mac: MAC });
let received = 0;
let mode: "count" | "echo" = "count";
const respond = echoResponder(netif, MAC, IP);
netif.listen((frames) => {
  if (mode === "count") {
    received += frames.length;
  } else {
    for (const frame of frames) respond(frame);
  }
});
// No IPv6 chatter on the link: only the benchmark's frames cross it.
writeFileSync(`/proc/sys/net/ipv6/conf/${TAP}/disable_ipv6`, "1");
await execFileAsync("ip", ["addr", "add", "10.79.0.1/24", "dev", TAP]);

async function measureIn(size: number, warmupMs: number, windowMs: number): Promise<InFigure> {
  mode = "count";
  const generator = await startGenerator(TAP, size, (warmupMs + windowMs) / 1000 + 2);
  await sleep(warmupMs);
  const offered0 = counter("tx_packets") + counter("tx_dropped");
  const drops0 = counter("tx_dropped");
  const c0 = received;
  const cpu0 = process.cpuUsage();
  const start = seconds();
  await sleep(windowMs);
  const elapsed = seconds() - start;
  const cpu = process.cpuUsage(cpu0);
  const rate = (received - c0) / elapsed;
  const cpuMicros = cpu.user + cpu.system;
  const offered = (counter("tx_packets") + counter("tx_dropped") - offered0) / elapsed;
  const drops = counter("tx_dropped") - drops0;
  await generator.stop();
  return {
    rate,
    offered,
    drops,
    cpuMicrosPerFrame: cpuMicros / Math.max(1, received - c0),
    cpuPercent: cpuMicros / 1e4 / elapsed,
  };
}

function measureOut(size: number, windowMs: number): number {
  const frame = new Uint8Array(size);
  MacAddress.of("02:00:00:00:00:99").toBytes(frame, 0);
  MAC.toBytes(frame, 6);
  frame[12] = 0x88;
  frame[13] = 0xb5; // IEEE 802 local experimental EtherType: the kernel counts and discards it
  const k0 = counter("rx_packets");
  const start = seconds();
  const end = start + windowMs / 1000;
  while (seconds() < end) {
    for (let i = 0; i < 256; i++) netif.write(frame);
  }
  netif.flush();
  return (counter("rx_packets") - k0) / (seconds() - start);
}

async function measurePing(count: number, interval: string): Promise<{ micros: number; lossPercent: number }> {
  mode = "echo";
  const { stdout } = await execFileAsync("ping", ["-q", "-c", String(count), "-i", interval, "-W", "1", TAP_PEER], {
    encoding: "utf8",
  }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }));
  return { micros: pingAverageMicros(stdout), lossPercent: pingLossPercent(stdout) };
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as TapCommand;
  let reply: unknown;
  switch (command.cmd) {
    case "in":
      reply = await measureIn(command.size, command.warmupMs, command.windowMs);
      break;
    case "out":
      reply = measureOut(command.size, command.windowMs);
      await sleep(20); // let the loop serve what arrived meanwhile
      break;
    case "ping":
      reply = await measurePing(command.count, command.interval);
      break;
    case "quit":
      await netif.disconnect();
      process.exit(0);
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
