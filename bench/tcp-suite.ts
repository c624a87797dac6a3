/**
 * The TCP and HTTP measurements of `npm run bench`, interleaved in one run so that all figures
 * see the same machine:
 * - our direct stack over a TAP (bench/tcp-worker.ts direct), the kernel on the TAP's other end;
 * - the socket stack, the same worker code over node:net (bench/tcp-worker.ts socket), on one end
 *   of a veth pair, the kernel in the peer namespace;
 * - the kernel alone over that veth pair (socat to socat), for throughput;
 * - the raw TAP with no stack (bench/tap-worker.ts), 1514-byte frames each way: the frame limit the
 *   direct stack's TCP is held against.
 *
 * One run is: raw TAP in and out; bulk kernel → X for X = direct, socket, kernel; bulk X → kernel
 * likewise; connections per second to the direct and the socket stack; then each HTTP case
 * against the direct and the socket stack. With `ipv6`, the links are dual-stack (static
 * addresses, bench/tcp-worker-config.ts) and each bulk measurement over IPv4 is followed by the
 * same over IPv6, so that the two families' figures are taken side by side.
 */
import { execIn, createNamespace, deleteNamespace, ip } from "./netns.ts";
import {
  type BulkFigure,
  type ConnectionsFigure,
  type WrkFigure,
  connectionsPerSecond,
  processCpuSeconds,
  kernelSender,
  kernelSink,
  kernelTcpBytes,
  killKernelProcesses,
  sampleBulk,
  wrk,
} from "./kernel-tcp.ts";
import { TCP_PORTS, type SendStarted, type SendStopped, type TcpDiagnostics } from "./tcp-protocol.ts";
import { DIRECT_TAP, SOCKET_VETH } from "./tcp-worker-config.ts";
import { type Family, trace } from "./stats.ts";
import { BenchWorker } from "./worker-client.ts";
import type { InFigure, OutFigure } from "./worker-protocol.ts";

export type TcpTarget = "direct" | "socket" | "kernel";
export type Direction = "in" | "out";

export interface HttpCase {
  label: string;
  port: number;
  path: string;
  close: boolean;
}

export const HTTP_CASES: readonly HttpCase[] = [
  { label: "2-byte body, keep-alive", port: TCP_PORTS.http, path: "/", close: false },
  { label: "2-byte body, a new connection per request", port: TCP_PORTS.http, path: "/", close: true },
  { label: "static-website index.html (375 B), keep-alive", port: TCP_PORTS.site, path: "/", close: false },
];

export interface TcpSuiteOptions {
  runs: number;
  /** Bulk throughput, connections per second and the raw TAP reference. */
  tcp: boolean;
  /** Bulk throughput over IPv6 too, next to IPv4's (measured for it even without `tcp`). */
  ipv6: boolean;
  /** HTTP requests per second. */
  http: boolean;
  warmupMs: number;
  windowMs: number;
  /** Bytes per write of the stacks' sender. */
  chunk: number;
  connectConcurrency: number;
  wrkConnections: number;
  wrkSeconds: number;
  /** When set, the direct-stack worker runs with `node --cpu-prof` and writes its profile there. */
  profileDir?: string;
}

/** A figure with the stack process's CPU over the whole measurement (client start-up included), in percent of a core. */
export type WithCpu<T> = T & { cpuPercent: number };

async function withCpu<T>(pid: number | undefined, f: () => Promise<T>): Promise<WithCpu<T>> {
  const cpu = (): number => (pid === undefined ? Number.NaN : processCpuSeconds(pid));
  const c0 = cpu();
  const t0 = performance.now();
  const value = await f();
  return { ...value, cpuPercent: (100 * (cpu() - c0)) / ((performance.now() - t0) / 1000) };
}

/** A figure, or why it could not be measured in that run. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

export interface TcpSuiteResults {
  options: TcpSuiteOptions;
  /** By direction, then target: one outcome per run. */
  bulk: Record<Direction, Record<TcpTarget, Outcome<BulkFigure>[]>>;
  /** The same over IPv6 (empty without `ipv6`). */
  bulk6: Record<Direction, Record<TcpTarget, Outcome<BulkFigure>[]>>;
  connections: Record<"direct" | "socket", Outcome<WithCpu<ConnectionsFigure>>[]>;
  /** By HttpCase label, then stack. */
  http: Map<string, Record<"direct" | "socket", Outcome<WithCpu<WrkFigure>>[]>>;
  rawIn: InFigure[];
  rawOut: OutFigure[];
  diagnostics: TcpDiagnostics;
}

async function outcome<T>(f: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, error: (e as Error).message.split("\n")[0]! };
  }
}

const workers = new Set<BenchWorker>();

/** Ends the workers at once (the namespaces are deleted by netns.ts's deleteAllNamespaces). */
export function stopTcpSuite(): void {
  for (const w of workers) w.kill();
  killKernelProcesses();
}

/** Sysctls of a namespace where a client makes thousands of short connections. */
async function manyConnections(ns: string): Promise<void> {
  await execIn(ns, "sysctl", ["-q", "-w", "net.ipv4.ip_local_port_range=10000 65000", "net.ipv4.tcp_tw_reuse=1"]);
}

export async function runTcpSuite(options: TcpSuiteOptions): Promise<TcpSuiteResults> {
  const directNs = createNamespace("mbench-tcpd");
  const socketNs = createNamespace("mbench-tcps");
  const peerNs = createNamespace("mbench-tcpk");
  const rawNs = options.tcp ? createNamespace("mbench-tcpr") : undefined;
  try {
    ip(["link", "add", SOCKET_VETH.device, "netns", socketNs, "type", "veth", "peer", "name", SOCKET_VETH.peerDevice, "netns", peerNs]);
    for (const [ns, dev, address, address6] of [
      [socketNs, SOCKET_VETH.device, SOCKET_VETH.address, SOCKET_VETH.address6],
      [peerNs, SOCKET_VETH.peerDevice, SOCKET_VETH.kernel, SOCKET_VETH.kernel6],
    ] as const) {
      if (options.ipv6) {
        // No DAD (the address is usable at once: the socket stack binds it), no router solicitations.
        await execIn(ns, "sysctl", ["-q", "-w", `net.ipv6.conf.${dev}.accept_ra=0`]);
        ip(["-n", ns, "addr", "add", `${address6}/${SOCKET_VETH.prefixLength6}`, "dev", dev, "nodad"]);
      } else {
        await execIn(ns, "sysctl", ["-q", "-w", `net.ipv6.conf.${dev}.disable_ipv6=1`]);
      }
      ip(["-n", ns, "addr", "add", `${address}/${SOCKET_VETH.prefixLength}`, "dev", dev]);
      ip(["-n", ns, "link", "set", dev, "up"]);
    }
    await manyConnections(directNs);
    await manyConnections(peerNs);

    const start = async (name: string, ns: string, script: string, flags: string[], args: string[]): Promise<BenchWorker> => {
      const worker = await BenchWorker.start(name, ns, script, flags, args);
      workers.add(worker);
      return worker;
    };
    const profile = options.profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", options.profileDir];
    const ipv6Arg = options.ipv6 ? ["--ipv6"] : [];
    const [direct, socket, raw] = await Promise.all([
      start("direct TCP", directNs, "./tcp-worker.ts", profile, ["direct", ...ipv6Arg]),
      start("socket TCP", socketNs, "./tcp-worker.ts", [], ["socket", ...ipv6Arg]),
      rawNs === undefined ? undefined : start("raw TAP", rawNs, "./tap-worker.ts", [], []),
    ]);
    const stacks = { direct, socket } as const;
    /** Where each stack is reached from, and the kernel address it sends to. */
    const place = {
      direct: { kernelNs: directNs, address: DIRECT_TAP.address, kernel: DIRECT_TAP.kernel },
      socket: { kernelNs: peerNs, address: SOCKET_VETH.address, kernel: SOCKET_VETH.kernel },
    } as const;
    /** The stacks' and the kernels' addresses of each family. */
    const addresses = {
      4: { direct: DIRECT_TAP, socket: SOCKET_VETH },
      6: {
        direct: { address: DIRECT_TAP.address6, kernel: DIRECT_TAP.kernel6 },
        socket: { address: SOCKET_VETH.address6, kernel: SOCKET_VETH.kernel6 },
      },
    } as const;

    trace("tcp: workers ready");
    const results: TcpSuiteResults = {
      options,
      bulk: { in: { direct: [], socket: [], kernel: [] }, out: { direct: [], socket: [], kernel: [] } },
      bulk6: { in: { direct: [], socket: [], kernel: [] }, out: { direct: [], socket: [], kernel: [] } },
      connections: { direct: [], socket: [] },
      http: new Map(HTTP_CASES.map((c) => [c.label, { direct: [], socket: [] }])),
      rawIn: [],
      rawOut: [],
      diagnostics: {},
    };

    const { warmupMs, windowMs } = options;

    /** kernel → target over `family`: socat sends from the kernel's namespace; its bytes_acked counts. */
    const bulkIn = async (target: TcpTarget, family: Family): Promise<BulkFigure> => {
      const [ns, host, port, pid] =
        target === "kernel"
          ? [peerNs, addresses[family].socket.address, TCP_PORTS.sink + 10, undefined]
          : [place[target].kernelNs, addresses[family][target].address, TCP_PORTS.sink, stacks[target].pid];
      const sink = target === "kernel" ? await kernelSink(socketNs, port, family) : undefined;
      const sender = kernelSender(ns, host, port);
      try {
        return await sampleBulk(() => kernelTcpBytes(ns, "dport", port, "bytes_acked"), warmupMs, windowMs, pid);
      } catch (e) {
        throw new Error(`${(e as Error).message}${sender.errors ? `: ${sender.errors}` : ""}`);
      } finally {
        await sender.stop();
        await sink?.stop();
      }
    };

    /** target → kernel over `family`: a socat sink in the kernel's namespace; its bytes_received counts. */
    const bulkOut = async (target: TcpTarget, family: Family): Promise<BulkFigure> => {
      const ns = target === "kernel" ? peerNs : place[target].kernelNs;
      const port = TCP_PORTS.kernelSink;
      const sink = await kernelSink(ns, port, family);
      try {
        if (target === "kernel") {
          const sender = kernelSender(socketNs, addresses[family].socket.kernel, port);
          try {
            return await sampleBulk(() => kernelTcpBytes(ns, "sport", port, "bytes_received"), warmupMs, windowMs);
          } finally {
            await sender.stop();
          }
        }
        const worker = stacks[target];
        const started = await worker.ask<SendStarted>({ cmd: "send", host: addresses[family][target].kernel, port, chunk: options.chunk });
        if (!started.ok) throw new Error(`connect: ${started.error}`);
        try {
          return await sampleBulk(() => kernelTcpBytes(ns, "sport", port, "bytes_received"), warmupMs, windowMs, worker.pid);
        } finally {
          const stopped = await worker.ask<SendStopped>({ cmd: "stop" });
          if (stopped.error !== undefined) throw new Error(`the sender stopped: ${stopped.error}`);
        }
      } finally {
        await sink.stop();
      }
    };

    const connections = (target: "direct" | "socket"): Promise<WithCpu<ConnectionsFigure>> =>
      withCpu(stacks[target].pid, () =>
        connectionsPerSecond(place[target].kernelNs, place[target].address, TCP_PORTS.echo, options.connectConcurrency, warmupMs, windowMs),
      );

    const http = (target: "direct" | "socket", c: HttpCase, seconds = options.wrkSeconds): Promise<WithCpu<WrkFigure>> =>
      withCpu(stacks[target].pid, () =>
        wrk(place[target].kernelNs, `http://${place[target].address}:${c.port}${c.path}`, { connections: options.wrkConnections, seconds, close: c.close }),
      );

    // Neighbour resolution and the first compilation of each path, before any figure.
    if (raw !== undefined) await raw.ask({ cmd: "ping", count: 2, interval: "0.01" });
    for (const target of ["direct", "socket"] as const) {
      if (options.http) for (const c of HTTP_CASES) await outcome(() => http(target, c, 1));
      if (options.tcp) await outcome(() => connectionsPerSecond(place[target].kernelNs, place[target].address, TCP_PORTS.echo, 4, 100, 200));
    }
    const families: Family[] = options.ipv6 ? [4, 6] : [4];
    const bulk = options.tcp || options.ipv6;
    if (options.ipv6) {
      // The direct stack's DAD on its static address ran during the warm-up above; wait for its end.
      for (const target of ["direct", "socket"] as const) {
        const ready = await stacks[target].ask<SendStarted>({ cmd: "ipv6-ready" });
        if (!ready.ok) throw new Error(`the ${target} stack's IPv6 address is not usable: ${ready.error}`);
      }
      // No separate warm-up: the TCP code is the IPv4 engine's (warmed above), and each bulk
      // figure starts after its own warm-up, neighbour discovery included.
    }
    trace("tcp: warmed up");
    const into = (family: Family): TcpSuiteResults["bulk"] => (family === 4 ? results.bulk : results.bulk6);

    for (let run = 0; run < options.runs; run++) {
      if (options.tcp && raw !== undefined) {
        results.rawIn.push(await raw.ask<InFigure>({ cmd: "in", size: 1514, warmupMs: 200, windowMs: 400 }));
        results.rawOut.push(await raw.ask<OutFigure>({ cmd: "out", size: 1514, windowMs: 400, frames: "anonymous" }));
      }
      if (bulk) {
        for (const target of ["direct", "socket", "kernel"] as const) {
          for (const family of families) {
            into(family).in[target].push(await outcome(() => bulkIn(target, family)));
            trace(`tcp: run ${run + 1}, bulk in, ${target}, IPv${family}`);
          }
        }
        for (const target of ["direct", "socket", "kernel"] as const) {
          for (const family of families) {
            into(family).out[target].push(await outcome(() => bulkOut(target, family)));
            trace(`tcp: run ${run + 1}, bulk out, ${target}, IPv${family}`);
          }
        }
      }
      if (options.tcp) {
        for (const target of ["direct", "socket"] as const) results.connections[target].push(await outcome(() => connections(target)));
      }
      if (options.http) {
        for (const c of HTTP_CASES) {
          for (const target of ["direct", "socket"] as const) results.http.get(c.label)![target].push(await outcome(() => http(target, c)));
        }
      }
    }
    results.diagnostics = await direct.ask<TcpDiagnostics>({ cmd: "diagnostics" });
    await Promise.all([direct.quit(), socket.quit(), raw?.quit()]);
    workers.clear();
    return results;
  } finally {
    stopTcpSuite();
    workers.clear();
    for (const ns of [directNs, socketNs, peerNs, rawNs]) if (ns !== undefined) deleteNamespace(ns);
  }
}
