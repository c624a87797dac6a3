/**
 * `npm run bench`: prints the benchmark tables. Each figure is the median of several short runs,
 * next to its comparison measured in the same run, with the ratio: absolute figures from
 * different runs or machines are not comparable (DESIGN.md §7).
 *
 * Needs root (TAP devices and network namespaces), /dev/net/tun, iproute2, python3 and ping.
 * All traffic stays inside namespaces made for the run, which are deleted at the end, on error,
 * on Ctrl-C, and by a time limit.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { deleteAllNamespaces } from "./netns.ts";
import { runRawTap, type Figure, type RawTapResults } from "./raw-tap.ts";
import { median } from "./stats.ts";

const TIME_LIMIT_MS = 58_000;

function missingPrerequisite(): string | undefined {
  if (process.platform !== "linux") return "the benchmarks use Linux TAP devices and network namespaces";
  if (process.getuid?.() !== 0) return "the benchmarks need root (TAP devices and network namespaces)";
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun is missing: the kernel has no TUN/TAP support (modprobe tun)";
  for (const [command, pkg] of [
    ["ip", "iproute2"],
    ["python3", "python3"],
    ["ping", "iputils-ping"],
  ] as const) {
    if (spawnSync(command, ["-V"]).error !== undefined) return `\`${command}\` is not installed (Debian package ${pkg})`;
  }
  return undefined;
}

const thousands = (n: number): string => Math.round(n).toLocaleString("en-US");

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("   ");
      return i === 0 ? `${line}\n${"-".repeat(line.length)}` : line;
    })
    .join("\n");
}

function printRawTap(r: RawTapResults): void {
  const { options } = r;
  const rows: string[][] = [["", "TAP (Node + addon)", "veth (kernel)", "TAP / veth"]];
  const vethRate = (size: number): number => r.veth.get(size)?.median ?? Number.NaN;
  for (const [size, f] of r.kernelToNode) {
    rows.push([`frames/s kernel → Node, ${size} B`, thousands(f.median), thousands(vethRate(size)), (f.median / vethRate(size)).toFixed(2)]);
  }
  for (const [size, f] of r.nodeToKernel) {
    rows.push([`frames/s Node → kernel, ${size} B`, thousands(f.median), thousands(vethRate(size)), (f.median / vethRate(size)).toFixed(2)]);
  }
  const hz = Math.round(1 / Number(options.pingInterval));
  rows.push([
    `ping round trip at ${hz} Hz, µs`,
    r.pingTap.median.toFixed(0),
    r.pingVeth.median.toFixed(0),
    `${(r.pingTap.median / r.pingVeth.median).toFixed(1)}× longer`,
  ]);
  console.log(
    `\nRaw TAP vs the kernel's veth: medians of ${options.runs} interleaved runs ` +
      `(frames: ${options.windowMs} ms windows; ping: ${options.pingCount} pings per run)\n`,
  );
  console.log(table(rows));
  console.log(`
How it is measured (bench/raw-tap.ts):
- One frame generator for both devices: the kernel's AF_PACKET TX ring (bench/pktgen.py), faster than
  either receiver. "kernel → Node" counts the frames the Node process read from the TAP; on the veth,
  the frames the peer namespace's kernel received. A veth moves frames kernel to kernel, so its one
  rate per size is the reference for both TAP directions.
- "Node → kernel": a loop calling TapNetif.write (batched into the addon, one write(2) per frame);
  the rate is the TAP's rx_packets as the kernel counts them.
- Frames go to a MAC nobody has, so receivers count and discard them: the device path alone, no
  protocol stack. Ping: the kernel's ping answered by a hand-written echo responder on the TAP (no
  stack), or by the peer namespace's kernel over the veth.
- TAP and veth runs alternate, so background load affects both alike; compare ratios, not absolutes.`);
  const offered = [...r.kernelToNode].map(
    ([size, f]) => `${size} B: ${thousands(median(f.offered))} frames/s offered, ${thousands(median(f.drops))} dropped per window by the TAP's queue`,
  );
  console.log(`- Offered to the TAP (median): ${offered.join("; ")}.`);
  const cpu = [...r.kernelToNode].map(
    ([size, f]) => `${size} B: ${median(f.cpuMicrosPerFrame).toFixed(2)} µs of CPU per frame, ${median(f.cpuPercent).toFixed(0)}% of a core`,
  );
  console.log(`- The Node reader (median): ${cpu.join("; ")} (near 100%: the reader is the limit, not the generator).`);
  if (r.pingTap.lossPercent > 0 || r.pingVeth.lossPercent > 0) {
    console.log(`- Ping loss: TAP ${r.pingTap.lossPercent}%, veth ${r.pingVeth.lossPercent}%.`);
  }
  const list = (m: Map<number, Figure>): string => [...m].map(([size, f]) => `${size} B [${f.runs.map(thousands).join(", ")}]`).join("; ");
  console.log(`- Runs: kernel → Node ${list(r.kernelToNode)}`);
  console.log(`        Node → kernel ${list(r.nodeToKernel)}`);
  console.log(`        veth ${list(r.veth)}`);
  console.log(`        ping µs: TAP [${r.pingTap.runs.map((x) => x.toFixed(0)).join(", ")}]; veth [${r.pingVeth.runs.map((x) => x.toFixed(0)).join(", ")}]`);
}

async function main(): Promise<void> {
  const missing = missingPrerequisite();
  if (missing !== undefined) {
    console.error(`bench: not run: ${missing}.`);
    process.exitCode = 1;
    return;
  }
  const cleanup = (): void => deleteAllNamespaces();
  process.on("exit", cleanup);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  const limit = setTimeout(() => {
    console.error(`bench: stopped after ${TIME_LIMIT_MS / 1000} s`);
    cleanup();
    process.exit(1);
  }, TIME_LIMIT_MS);

  const runs = Number(process.env["BENCH_RUNS"] ?? 5);
  const started = Date.now();
  const results = await runRawTap({ sizes: [64, 1514], runs, warmupMs: 200, windowMs: 400, pingCount: 50, pingInterval: "0.01" });
  printRawTap(results);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  clearTimeout(limit);
}

await main();
