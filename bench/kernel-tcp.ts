/**
 * The kernel's end of the TCP and HTTP benchmarks, and how they are counted:
 * - bulk data: socat (/dev/zero → TCP, TCP → /dev/null), one small C process that costs little
 *   CPU, and the kernel's own per-socket counters read with `ss -ti` (bytes_acked on the sender,
 *   bytes_received on the receiver), so every stack and the kernel itself are counted the same way,
 *   by the same kernel, and the counting costs the measured side nothing;
 * - connections per second: bench/connect-client.ts (node:net);
 * - HTTP requests per second: wrk.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Family, seconds, sleep } from "./stats.ts";

const execFileAsync = promisify(execFile);

/** The NsProcesses not yet ended, so that a time limit or a signal can end them (see `killKernelProcesses`). */
const live = new Set<NsProcess>();

/** Ends every kernel-side process (socat) at once: deleting a namespace does not end what runs in it. */
export function killKernelProcesses(): void {
  for (const p of live) if (p.running) p.child.kill("SIGKILL");
  live.clear();
}

/** A process started in a namespace (`ip netns exec` runs it in its own place, so the pid is its own). */
export class NsProcess {
  private readonly exited: Promise<void>;
  private stderr = "";

  constructor(readonly child: ChildProcess) {
    child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString("utf8")));
    this.exited = new Promise((resolve) => child.once("close", () => resolve()));
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  static start(ns: string, command: string, args: string[]): NsProcess {
    return new NsProcess(spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: ["ignore", "ignore", "pipe"] }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get errors(): string {
    return this.stderr.trim();
  }

  async stop(): Promise<void> {
    if (this.running) this.child.kill("SIGTERM");
    await Promise.race([this.exited, sleep(2000).then(() => this.child.kill("SIGKILL"))]);
  }
}

export type TcpCounter = "bytes_acked" | "bytes_received";

/**
 * The sum of `counter` over the established TCP sockets of namespace `ns` whose `side` port
 * ("sport": local, "dport": remote) is `port`, as `ss -ti` reports them.
 */
export async function kernelTcpBytes(ns: string, side: "sport" | "dport", port: number, counter: TcpCounter): Promise<number> {
  const { stdout } = await execFileAsync("ip", ["netns", "exec", ns, "ss", "-tinH", "state", "established", `( ${side} = :${port} )`], { encoding: "utf8" });
  let sum = 0;
  for (const m of stdout.matchAll(new RegExp(`${counter}:(\\d+)`, "g"))) sum += Number(m[1]);
  return sum;
}

/** Waits until something in `ns` listens on TCP `port`. */
export async function waitListening(ns: string, port: number, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const { stdout } = await execFileAsync("ip", ["netns", "exec", ns, "ss", "-ltnH", `( sport = :${port} )`], { encoding: "utf8" });
    if (stdout.trim() !== "") return;
    await sleep(20);
  }
  throw new Error(`nothing listens on port ${port} in ${ns}`);
}

/** `socat` writing zeros to host:port (IPv4, or IPv6 when `host` has a colon) as fast as TCP takes them, from namespace `ns`. */
export function kernelSender(ns: string, host: string, port: number): NsProcess {
  const to = host.includes(":") ? `TCP6:[${host}]:${port}` : `TCP4:${host}:${port}`;
  return NsProcess.start(ns, "socat", ["-u", "-b", "65536", "/dev/zero", to]);
}

/** `socat` accepting one connection on `port` (IPv4, or IPv6 for family 6) in namespace `ns` and discarding what it reads. */
export async function kernelSink(ns: string, port: number, family: Family = 4): Promise<NsProcess> {
  const p = NsProcess.start(ns, "socat", ["-u", "-b", "65536", `TCP${family}-LISTEN:${port},reuseaddr`, "/dev/null"]);
  await waitListening(ns, port);
  return p;
}

/** User + system CPU seconds of process `pid` so far (every thread), from /proc. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Seconds the main thread of process `pid` has spent runnable but waiting for a CPU (/proc/PID/schedstat). */
export function processWaitSeconds(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
}

export interface BulkFigure {
  /** Payload bytes per second, as the kernel's end counted them. */
  bytesPerSecond: number;
  /** CPU of the measured process over the window, in percent of one core (NaN when none). */
  cpuPercent: number;
  /** How long its main thread waited for a CPU (runnable, not running), in percent of the window: a shared machine's toll. */
  waitPercent: number;
}

/**
 * Samples a kernel counter over a window once data flows: waits up to `warmupMs` for the
 * connection and lets it ramp up, then counts for `windowMs`. The time of each sample is taken
 * between the start and the end of its `ss` call.
 */
export async function sampleBulk(counter: () => Promise<number>, warmupMs: number, windowMs: number, cpuPid?: number): Promise<BulkFigure> {
  const deadline = seconds() + 3;
  while ((await counter()) === 0) {
    if (seconds() > deadline) throw new Error("no data flowed within 3 s");
    await sleep(20);
  }
  await sleep(warmupMs);
  const sample = async (): Promise<{ t: number; bytes: number; cpu: number; wait: number }> => {
    const before = seconds();
    const bytes = await counter();
    const t = (before + seconds()) / 2;
    if (cpuPid === undefined) return { t, bytes, cpu: Number.NaN, wait: Number.NaN };
    return { t, bytes, cpu: processCpuSeconds(cpuPid), wait: processWaitSeconds(cpuPid) };
  };
  const a = await sample();
  await sleep(windowMs);
  const b = await sample();
  const elapsed = b.t - a.t;
  return { bytesPerSecond: (b.bytes - a.bytes) / elapsed, cpuPercent: (100 * (b.cpu - a.cpu)) / elapsed, waitPercent: (100 * (b.wait - a.wait)) / elapsed };
}

export interface ConnectionsFigure {
  rate: number;
  errors: number;
}

const connectClient = fileURLToPath(new URL("./connect-client.ts", import.meta.url));

/** bench/connect-client.ts against host:port from namespace `ns`. */
export async function connectionsPerSecond(ns: string, host: string, port: number, concurrency: number, warmupMs: number, windowMs: number): Promise<ConnectionsFigure> {
  const { stdout } = await execFileAsync(
    "ip",
    ["netns", "exec", ns, process.execPath, "--import", "tsx", connectClient, host, String(port), String(concurrency), String(warmupMs), String(windowMs)],
    { encoding: "utf8", timeout: warmupMs + windowMs + 15_000 },
  );
  return JSON.parse(stdout) as ConnectionsFigure;
}

export interface WrkFigure {
  requestsPerSecond: number;
  /** Socket errors (connect, read, write, timeout) and non-2xx/3xx responses. */
  errors: number;
}

/** wrk against `url` from namespace `ns`: one thread (the other core is the server's), `connections` connections. */
export async function wrk(ns: string, url: string, options: { connections: number; seconds: number; close?: boolean }): Promise<WrkFigure> {
  const args = ["-t1", `-c${options.connections}`, `-d${options.seconds}s`, ...(options.close ? ["-H", "Connection: close"] : []), url];
  const { stdout } = await execFileAsync("ip", ["netns", "exec", ns, "wrk", ...args], { encoding: "utf8", timeout: options.seconds * 1000 + 15_000 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  const errors = (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return { requestsPerSecond: rps ? Number(rps[1]) : Number.NaN, errors };
}
