/**
 * Profiles the direct stack under one TCP load, as a unikernel runs it: bench/tcp-worker.ts
 * bundled by esbuild (one .mjs, as `mirage build` makes), in a namespace with its TAP, the kernel
 * on the other end driving the load.
 *
 *   node --import tsx bench/profile-tcp.ts in|out|connections|http [--seconds=6] [--perf] [--dir=DIR]
 *
 * - in: socat sends to the stack's sink; out: the stack sends to a socat sink; connections:
 *   bench/connect-client.ts (8 at a time); http: wrk -t1 -c50 against the 2-byte handler.
 * - By default the worker runs with `node --cpu-prof`; the summary gives self time per JS function
 *   (bench/profile-summary.ts). V8's sampler counts wall time, so a thread blocked in a system call
 *   or waiting for a CPU is charged to the function that made the call.
 * - With --perf, `perf record -g` samples the worker's CPU time instead, the kernel's included
 *   (the TAP's write(2) runs the kernel's receive path), with JS functions named through
 *   `node --perf-basic-prof`. Needs perf (Debian: linux-perf). A JS name can be wrong where V8
 *   reused the code space of a collected function (a "round" calling write(2), say).
 *
 * Prints the load's figure, the worker's CPU (user, system, waiting for a CPU) over the load, and the
 * summary; the profile stays in DIR (default: a fresh directory under the system's temp directory).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { connectionsPerSecond, kernelSender, kernelSink, kernelTcpBytes, processCpuSeconds, processWaitSeconds, wrk } from "./kernel-tcp.ts";
import { createNamespace, deleteAllNamespaces, execIn } from "./netns.ts";
import { sourceOf, summariseCpuProfile } from "./profile-summary.ts";
import { seconds, sleep } from "./stats.ts";
import { TCP_PORTS, type SendStarted, type SendStopped, type TcpDiagnostics } from "./tcp-protocol.ts";
import { DIRECT_TAP } from "./tcp-worker-config.ts";
import { BenchWorker } from "./worker-client.ts";

const execFileAsync = promisify(execFile);
const LOADS = ["in", "out", "connections", "http"] as const;
type Load = (typeof LOADS)[number];

const args = process.argv.slice(2);
const load = args.find((a) => !a.startsWith("--")) as Load | undefined;
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const usePerf = args.includes("--perf");
const loadSeconds = Number(option("seconds") ?? 6);
if (load === undefined || !LOADS.includes(load)) {
  console.error(`usage: profile-tcp.ts ${LOADS.join("|")} [--seconds=6] [--perf] [--dir=DIR]`);
  process.exit(2);
}
const dir = option("dir") ?? mkdtempSync(join(tmpdir(), "mirage-bench-profile-"));

const root = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(dir, "tcp-worker.mjs");
await build({
  entryPoints: [fileURLToPath(new URL("./tcp-worker.ts", import.meta.url))],
  outfile: bundle,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
});
// The bundle finds neither the addon nor the htdocs beside it: say where they are.
process.env["MIRAGE_TAP_ADDON"] = join(root, "packages/unix/build/Release/mirage_tap.node");
process.env["BENCH_HTDOCS"] = join(root, "examples/static-website/htdocs");

process.on("exit", deleteAllNamespaces);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));
const ns = createNamespace("mbench-prof");
await execIn(ns, "sysctl", ["-q", "-w", "net.ipv4.ip_local_port_range=10000 65000", "net.ipv4.tcp_tw_reuse=1"]);
const flags = usePerf ? ["--perf-basic-prof"] : ["--cpu-prof", "--cpu-prof-dir", dir];
const workerStartedAt = seconds();
const worker = await BenchWorker.start("direct TCP", ns, bundle, flags, ["direct"]);
const pid = worker.pid!;
try {
  // The first connection resolves the neighbours and compiles the paths.
  await connectionsPerSecond(ns, DIRECT_TAP.address, TCP_PORTS.echo, 2, 100, 300);
  const startedAt = seconds();

  const cpu0 = { cpu: processCpuSeconds(pid), wait: processWaitSeconds(pid), t: seconds() };
  const perf = usePerf
    ? spawn("perf", ["record", "-F", "1999", "-g", "-o", join(dir, "perf.data"), "-p", String(pid), "--", "sleep", String(Math.max(1, loadSeconds - 1))], { stdio: "ignore" })
    : undefined;
  const perfDone = perf === undefined ? Promise.resolve() : new Promise<void>((resolve) => perf.once("close", () => resolve()));
  let figure: string;
  switch (load) {
    case "in": {
      const sender = kernelSender(ns, DIRECT_TAP.address, TCP_PORTS.sink);
      await sleep(loadSeconds * 1000);
      const bytes = await kernelTcpBytes(ns, "dport", TCP_PORTS.sink, "bytes_acked");
      await sender.stop();
      figure = `kernel → stack: ${((bytes * 8) / loadSeconds / 1e6).toFixed(0)} Mbit/s`;
      break;
    }
    case "out": {
      const sink = await kernelSink(ns, TCP_PORTS.kernelSink);
      const started = await worker.ask<SendStarted>({ cmd: "send", host: DIRECT_TAP.kernel, port: TCP_PORTS.kernelSink, chunk: 64 * 1024 });
      if (!started.ok) throw new Error(`connect: ${started.error}`);
      await sleep(loadSeconds * 1000);
      const stopped = await worker.ask<SendStopped>({ cmd: "stop" });
      await sink.stop();
      figure = `stack → kernel: ${((stopped.bytes * 8) / loadSeconds / 1e6).toFixed(0)} Mbit/s (bytes the flow accepted)`;
      break;
    }
    case "connections": {
      const f = await connectionsPerSecond(ns, DIRECT_TAP.address, TCP_PORTS.echo, 8, 500, loadSeconds * 1000);
      figure = `${f.rate.toFixed(0)} connections/s, ${f.errors} errors`;
      break;
    }
    case "http": {
      const f = await wrk(ns, `http://${DIRECT_TAP.address}:${TCP_PORTS.http}/`, { connections: 50, seconds: loadSeconds });
      figure = `${f.requestsPerSecond.toFixed(0)} requests/s, ${f.errors} errors`;
      break;
    }
  }
  const elapsed = seconds() - cpu0.t;
  const usage = { cpu: processCpuSeconds(pid), wait: processWaitSeconds(pid) };
  console.log(`${figure} over ${loadSeconds} s`);
  console.log(
    `worker CPU over the load: ${((100 * (usage.cpu - cpu0.cpu)) / elapsed).toFixed(0)}% of a core; ` +
      `its main thread waited for a CPU ${((100 * (usage.wait - cpu0.wait)) / elapsed).toFixed(0)}% of the time (load average: ${readFileSync("/proc/loadavg", "utf8").trim()})`,
  );
  const diagnostics = await worker.ask<TcpDiagnostics>({ cmd: "diagnostics" });
  console.log(`stack counters: ${Object.entries(diagnostics).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  await perfDone;
  await worker.quit();

  if (usePerf) {
    const report = async (extra: string[]): Promise<string> =>
      (await execFileAsync("perf", ["report", "-i", join(dir, "perf.data"), "--stdio", "-g", "none", ...extra], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })).stdout;
    // JS frames name the bundle's line: name the source module instead.
    const named = (line: string): string =>
      line.replace(/(file:\/\/\S+\.mjs):(\d+):\d+/, (all, url: string, n: string) => {
        const source = sourceOf(url, Number(n) - 1);
        return source === undefined ? all : `${source} (bundle line ${n})`;
      });
    const rows = (text: string, n: number, filter: RegExp = /./): string =>
      text
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.startsWith("#") && filter.test(l))
        .slice(0, n)
        .map(named)
        .join("\n");
    console.log(`\nperf: self time by symbol, % of the worker's CPU samples (${join(dir, "perf.data")})`);
    console.log(rows(await report(["--no-children", "--sort", "dso,sym"]), 30));
    console.log(`\nperf: inclusive time of the main paths`);
    console.log(
      rows(
        await report(["--children", "--sort", "sym"]),
        30,
        /\] (do_syscall_64|ksys_write|ksys_read|tun_get_user|tcp_v4_rcv|tcp_write_xmit|schedule|do_epoll_wait|exc_page_fault|v8::internal::Heap::CollectGarbage|v8::internal::BackingStore::Allocate|JS:\*)/,
      ),
    );
    // node --perf-basic-prof's symbol map, read by perf report: no longer needed.
    rmSync(`/tmp/perf-${pid}.map`, { force: true });
  } else {
    const profile = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))[0];
    if (profile === undefined) throw new Error(`no .cpuprofile in ${dir}`);
    // Start-up and module loading left out: the samples from the load's start on.
    console.log(`\n${summariseCpuProfile(join(dir, profile), { top: 30, skipSeconds: startedAt - workerStartedAt })}`);
  }
  console.log(`\n(profile and bundle in ${dir})`);
} finally {
  worker.kill();
  deleteAllNamespaces();
}
