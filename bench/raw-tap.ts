/**
 * The raw-TAP benchmark: frames per second through our TAP netif (Node + the mirage_tap addon)
 * next to the Linux kernel's own veth, and ping round trips to a Node echo responder on the TAP
 * next to ping over the veth. TAP and veth runs alternate, so both see the same machine.
 *
 * What is compared, and why it is a fair comparison:
 * - The generator is the same for both devices: bench/pktgen.py, the kernel's AF_PACKET TX ring
 *   (one send() per 1024 frames, qdisc bypassed), which offers frames faster than either receiver
 *   takes them. On the TAP the frames go to the Node process reading the device; on the veth they
 *   go to the kernel of the peer namespace. Each figure is what the receiver actually took.
 * - A veth moves frames kernel to kernel, so it has one rate per frame size; it is the reference
 *   for both TAP directions ("the same frames over the kernel's own virtual link").
 * - Frames are addressed to a MAC nobody has (EtherType 0x88b5), so the receiving kernel counts
 *   and discards them without protocol work, and Node only counts them: the device path alone.
 * - Ping: the kernel's `ping` at a fixed rate, answered by bench/echo-responder.ts on the TAP, or
 *   by the peer namespace's kernel over the veth.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startGenerator } from "./generator.ts";
import { createNamespace, deleteNamespace, deviceCounter, execIn, ip } from "./netns.ts";
import { median, pingAverageMicros, pingLossPercent, seconds, sleep } from "./stats.ts";
import type { InFigure, TapCommand } from "./tap-worker.ts";

export interface RawTapOptions {
  sizes: number[];
  runs: number;
  warmupMs: number;
  windowMs: number;
  pingCount: number;
  /** Seconds between pings, as `ping -i` takes it. */
  pingInterval: string;
}

export interface Figure {
  median: number;
  runs: number[];
}

export interface RawTapResults {
  options: RawTapOptions;
  /** By frame size. */
  kernelToNode: Map<number, Figure & { offered: number[]; drops: number[]; cpuMicrosPerFrame: number[]; cpuPercent: number[] }>;
  nodeToKernel: Map<number, Figure>;
  veth: Map<number, Figure>;
  pingTap: Figure & { lossPercent: number };
  pingVeth: Figure & { lossPercent: number };
}

/** The TAP worker, driven one command at a time. */
class TapWorker {
  private readonly lines: AsyncIterator<string>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async start(ns: string): Promise<TapWorker> {
    const script = fileURLToPath(new URL("./tap-worker.ts", import.meta.url));
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", script]);
    child.stderr.pipe(process.stderr);
    const worker = new TapWorker(child);
    await worker.next(); // {"ready":true}
    return worker;
  }

  async ask<T>(command: TapCommand): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    return (await this.next()) as T;
  }

  async quit(): Promise<void> {
    const closed = new Promise((resolve) => this.child.on("close", resolve));
    this.child.stdin.write(`${JSON.stringify({ cmd: "quit" } satisfies TapCommand)}\n`);
    await closed;
  }

  private async next(): Promise<unknown> {
    const r = await this.lines.next();
    if (r.done) throw new Error("the TAP worker exited (see its errors above)");
    return JSON.parse(r.value) as unknown;
  }
}

export async function runRawTap(options: RawTapOptions): Promise<RawTapResults> {
  const tapNs = createNamespace("mbench-tap");
  const a = createNamespace("mbench-va");
  const b = createNamespace("mbench-vb");
  try {
    ip(["link", "add", "veth-a", "netns", a, "type", "veth", "peer", "name", "veth-b", "netns", b]);
    for (const [ns, dev, cidr] of [
      [a, "veth-a", "10.78.0.1/24"],
      [b, "veth-b", "10.78.0.2/24"],
    ] as const) {
      await execIn(ns, "sysctl", ["-q", "-w", `net.ipv6.conf.${dev}.disable_ipv6=1`]);
      ip(["-n", ns, "addr", "add", cidr, "dev", dev]);
      ip(["-n", ns, "link", "set", dev, "up"]);
    }
    const worker = await TapWorker.start(tapNs);

    const kernelToNode = new Map<number, { runs: number[]; offered: number[]; drops: number[]; cpuMicrosPerFrame: number[]; cpuPercent: number[] }>();
    const nodeToKernel = new Map<number, number[]>();
    const veth = new Map<number, number[]>();
    const pingTap: number[] = [];
    const pingVeth: number[] = [];
    let lossTap = 0;
    let lossVeth = 0;
    const vethPing = (count: number): Promise<string> =>
      execIn(a, "ping", ["-q", "-c", String(count), "-i", options.pingInterval, "-W", "1", "10.78.0.2"]).catch(
        (e: { stdout?: string }) => e.stdout ?? "",
      );

    // Neighbour resolution before the figures.
    await worker.ask({ cmd: "ping", count: 2, interval: options.pingInterval });
    await vethPing(2);

    for (let run = 0; run < options.runs; run++) {
      for (const size of options.sizes) {
        const tapIn = await worker.ask<InFigure>({ cmd: "in", size, warmupMs: options.warmupMs, windowMs: options.windowMs });
        const k = kernelToNode.get(size) ?? { runs: [], offered: [], drops: [], cpuMicrosPerFrame: [], cpuPercent: [] };
        k.runs.push(tapIn.rate);
        k.offered.push(tapIn.offered);
        k.drops.push(tapIn.drops);
        k.cpuMicrosPerFrame.push(tapIn.cpuMicrosPerFrame);
        k.cpuPercent.push(tapIn.cpuPercent);
        kernelToNode.set(size, k);
        veth.set(size, [...(veth.get(size) ?? []), await measureVeth(a, b, size, options)]);
        const out = await worker.ask<number>({ cmd: "out", size, windowMs: options.windowMs });
        nodeToKernel.set(size, [...(nodeToKernel.get(size) ?? []), out]);
      }
      const t = await worker.ask<{ micros: number; lossPercent: number }>({ cmd: "ping", count: options.pingCount, interval: options.pingInterval });
      pingTap.push(t.micros);
      lossTap += t.lossPercent;
      const v = await vethPing(options.pingCount);
      pingVeth.push(pingAverageMicros(v));
      lossVeth += pingLossPercent(v);
    }
    await worker.quit();

    const figure = (runs: number[]): Figure => ({ median: median(runs), runs });
    return {
      options,
      kernelToNode: new Map([...kernelToNode].map(([s, k]) => [s, { ...figure(k.runs), ...k }])),
      nodeToKernel: new Map([...nodeToKernel].map(([s, r]) => [s, figure(r)])),
      veth: new Map([...veth].map(([s, r]) => [s, figure(r)])),
      pingTap: { ...figure(pingTap), lossPercent: lossTap / options.runs },
      pingVeth: { ...figure(pingVeth), lossPercent: lossVeth / options.runs },
    };
  } finally {
    deleteNamespace(tapNs);
    deleteNamespace(a);
    deleteNamespace(b);
  }
}

/** Frames per second the peer namespace's kernel received over the veth from the generator. */
async function measureVeth(a: string, b: string, size: number, options: RawTapOptions): Promise<number> {
  const generator = await startGenerator("veth-a", size, (options.warmupMs + options.windowMs) / 1000 + 2, a);
  await sleep(options.warmupMs);
  const c0 = deviceCounter(b, "veth-b", "rx", "packets");
  const start = seconds();
  await sleep(options.windowMs);
  const c1 = deviceCounter(b, "veth-b", "rx", "packets");
  const rate = (c1 - c0) / (seconds() - start);
  await generator.stop();
  return rate;
}
