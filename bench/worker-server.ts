/**
 * The measuring side of a TAP worker, shared by the raw TAP (bench/tap-worker.ts) and the direct
 * stack (bench/stack-worker.ts): both run inside a namespace made for them, own one TAP there and
 * a frame generator, and answer the commands of bench/worker-protocol.ts the same way, so that the
 * two figures differ only by what sits on the TAP.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { FrameGenerator, type UdpFrameSpec } from "./generator.ts";
import { type Family, pingArgs, pingRun, seconds, sleep } from "./stats.ts";
import { kernelUdpAccepted } from "./udp-sink.ts";
import type { CpuFigure, Diagnostics, InFigure, OutFigure, OutFrames, PingFigure, WorkerCommand } from "./worker-protocol.ts";

const execFileAsync = promisify(execFile);

/** What sits on the TAP: the raw netif, or the direct stack. */
export interface BenchTarget {
  /** The TAP, in this namespace. */
  readonly device: string;
  /** The Node side's IPv4 address, which the kernel pings. */
  readonly address: string;
  /** Its IPv6 address (the worker was started with --ipv6), which the kernel's `ping -6` targets. */
  readonly address6?: string;
  /** Resolves when the IPv6 address can be used (the stack's DAD on it passed). */
  ipv6Ready?(): Promise<void>;
  /** How the generator addresses frames to this target: UDP to a listening port, or anonymous frames (undefined). */
  udpFrames(): UdpFrameSpec | undefined;
  /** Frames (raw) or datagrams (stack) delivered so far. */
  delivered(): number;
  /** Before counting frames ("count") or answering pings ("echo"). */
  setMode(mode: "count" | "echo"): void;
  /**
   * Gets ready to send `size`-byte frames: anonymous ones the kernel discards at once, or UDP
   * datagrams to the kernel's never-reading socket (bench/udp-sink.ts). The stack only sends UDP.
   */
  prepareSend(size: number, frames: OutFrames): Promise<void>;
  /** Sends `count` frames of the prepared size, synchronously. */
  sendBurst(count: number): void;
  /** Hands what is queued to the kernel now. */
  flush(): void;
  diagnostics(): Diagnostics;
  close(): Promise<void>;
}

export function tapCounter(device: string, name: string): number {
  return Number(readFileSync(`/sys/class/net/${device}/statistics/${name}`, "utf8"));
}

function cpuFigure(usage: NodeJS.CpuUsage, frames: number, elapsed: number): CpuFigure {
  const n = Math.max(1, frames);
  return { userMicrosPerFrame: usage.user / n, systemMicrosPerFrame: usage.system / n, percent: (usage.user + usage.system) / 1e4 / elapsed };
}

async function measureIn(target: BenchTarget, generator: FrameGenerator, size: number, warmupMs: number, windowMs: number): Promise<InFigure> {
  target.setMode("count");
  const udp = target.udpFrames();
  const running = await generator.send({ device: target.device, size, seconds: (warmupMs + windowMs) / 1000 + 5, ...(udp ? { udp } : {}) });
  await sleep(warmupMs);
  const counter = (name: string): number => tapCounter(target.device, name);
  const offered0 = counter("tx_packets") + counter("tx_dropped");
  const drops0 = counter("tx_dropped");
  const c0 = target.delivered();
  const cpu0 = process.cpuUsage();
  const start = seconds();
  await sleep(windowMs);
  const elapsed = seconds() - start;
  const cpu = process.cpuUsage(cpu0);
  const frames = target.delivered() - c0;
  const offered = (counter("tx_packets") + counter("tx_dropped") - offered0) / elapsed;
  const drops = counter("tx_dropped") - drops0;
  await running.stop();
  return { rate: frames / elapsed, offered, drops, cpu: cpuFigure(cpu, frames, elapsed) };
}

async function measureOut(target: BenchTarget, size: number, frames: OutFrames, windowMs: number): Promise<OutFigure> {
  await target.prepareSend(size, frames);
  const k0 = tapCounter(target.device, "rx_packets");
  const u0 = kernelUdpAccepted();
  const cpu0 = process.cpuUsage();
  const start = seconds();
  const end = start + windowMs / 1000;
  // A tight loop, as a sender with nothing else to do: the event loop does not turn meanwhile.
  while (seconds() < end) target.sendBurst(256);
  target.flush();
  const elapsed = seconds() - start;
  const cpu = process.cpuUsage(cpu0);
  const sent = tapCounter(target.device, "rx_packets") - k0;
  const udp = kernelUdpAccepted() - u0;
  return { rate: sent / elapsed, udpAccepted: udp / elapsed, cpu: cpuFigure(cpu, sent, elapsed) };
}

async function measurePing(target: BenchTarget, count: number, interval: string, family: Family): Promise<PingFigure> {
  target.setMode("echo");
  let address = target.address;
  if (family === 6) {
    if (target.address6 === undefined) throw new Error("ping -6: the worker has no IPv6 address (start it with --ipv6)");
    await target.ipv6Ready?.();
    address = target.address6;
  }
  const { stdout } = await execFileAsync("ping", pingArgs(address, count, interval, family), { encoding: "utf8" }).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }),
  );
  return pingRun(stdout);
}

/** Answers the orchestrator's commands until "quit" or the end of stdin, then closes the target. */
export async function serveCommands(target: BenchTarget): Promise<void> {
  const generator = FrameGenerator.start();
  const quit = async (): Promise<never> => {
    await target.close();
    await generator.close();
    process.exit(0);
  };
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as WorkerCommand;
    let reply: unknown;
    switch (command.cmd) {
      case "in":
        reply = await measureIn(target, generator, command.size, command.warmupMs, command.windowMs);
        break;
      case "out":
        reply = await measureOut(target, command.size, command.frames, command.windowMs);
        await sleep(20); // let the event loop serve what arrived meanwhile
        break;
      case "ping":
        reply = await measurePing(target, command.count, command.interval, command.family ?? 4);
        break;
      case "pings":
        reply = await Promise.all(
          command.families.map((family, i) => sleep(i * command.offsetMs).then(() => measurePing(target, command.count, command.interval, family))),
        );
        break;
      case "diagnostics":
        reply = target.diagnostics();
        break;
      case "quit":
        await quit();
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
  await quit();
}
