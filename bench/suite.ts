/**
 * Every measurement of `npm run bench`, interleaved in one run so that all figures see the same
 * machine: our direct stack over a TAP (bench/stack-worker.ts), the raw TAP with no stack
 * (bench/tap-worker.ts), and the kernel's own veth (bench/veth.ts). Each device has a namespace of
 * its own, made here and always deleted.
 *
 * One run is: for each frame size, kernel → raw TAP, kernel → stack, veth, raw TAP → kernel
 * (anonymous frames, then prebuilt UDP datagrams), stack → kernel (UDP); then ping at a busy rate to each of the three in turn; then ping at an idle rate
 * to the three at once, their requests spread evenly over the interval so that they do not meet.
 * With `ipv6`, the three links are dual-stack: each busy ping is followed by the same with
 * `ping -6`, and the idle pings of both families run at once, interleaved.
 */
import { createNamespace, deleteNamespace } from "./netns.ts";
import { type Family, sleep, trace, type PingRun } from "./stats.ts";
import { VethPair } from "./veth.ts";
import { BenchWorker } from "./worker-client.ts";
import type { Diagnostics, InFigure, OutFigure, PingFigure } from "./worker-protocol.ts";

export interface PingRate {
  count: number;
  /** Seconds between requests, as `ping -i` takes it. */
  interval: string;
}

export interface SuiteOptions {
  /** Frame lengths, Ethernet header included, no FCS (60: the minimum frame, an 18-byte UDP payload). */
  sizes: number[];
  runs: number;
  warmupMs: number;
  windowMs: number;
  busyPing: PingRate;
  idlePing: PingRate;
  /** When set, the stack worker runs with `node --cpu-prof` and writes its profile there. */
  profileDir?: string;
  /** Also `ping -6` to each target, after each IPv4 ping (the links are then dual-stack). */
  ipv6: boolean;
}

/** Round trips at the busy and the idle rate, one PingRun per run. */
export interface PingSeries {
  busyPing: PingRun[];
  idlePing: PingRun[];
}

export interface TapResults {
  /** By frame size, one figure per run. */
  in: Map<number, InFigure[]>;
  /** Anonymous frames out (the raw TAP only). */
  out: Map<number, OutFigure[]>;
  /** UDP datagrams out, to the kernel's never-reading socket. */
  outUdp: Map<number, OutFigure[]>;
  busyPing: PingRun[];
  idlePing: PingRun[];
  /** The same over IPv6 (empty without `ipv6`). */
  ping6: PingSeries;
  diagnostics: Diagnostics;
}

export interface SuiteResults {
  options: SuiteOptions;
  raw: TapResults;
  stack: TapResults;
  veth: { rate: Map<number, number[]>; busyPing: PingRun[]; idlePing: PingRun[]; ping6: PingSeries };
}

const push = <K, V>(map: Map<K, V[]>, key: K, value: V): void => {
  map.set(key, [...(map.get(key) ?? []), value]);
};

const emptyPings = (): PingSeries => ({ busyPing: [], idlePing: [] });
const emptyTap = (): TapResults => ({ in: new Map(), out: new Map(), outUdp: new Map(), busyPing: [], idlePing: [], ping6: emptyPings(), diagnostics: {} });

/** Live workers, so that a time limit or a signal can end them (see `stopSuite`). */
const workers = new Set<BenchWorker>();

/** Ends the workers at once (the namespaces are deleted by netns.ts's deleteAllNamespaces). */
export function stopSuite(): void {
  for (const w of workers) w.kill();
}

export async function runSuite(options: SuiteOptions): Promise<SuiteResults> {
  const rawNs = createNamespace("mbench-tap");
  const stackNs = createNamespace("mbench-stk");
  let veth: VethPair | undefined;
  try {
    veth = await VethPair.create(options.ipv6);
    const profile = options.profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", options.profileDir];
    const args = options.ipv6 ? ["--ipv6"] : [];
    const start = async (name: string, ns: string, script: string, flags: string[] = []): Promise<BenchWorker> => {
      const worker = await BenchWorker.start(name, ns, script, flags, args);
      workers.add(worker);
      return worker;
    };
    const [raw, stack] = await Promise.all([
      start("raw TAP", rawNs, "./tap-worker.ts"),
      start("direct stack", stackNs, "./stack-worker.ts", profile),
    ]);
    const results: SuiteResults = { options, raw: emptyTap(), stack: emptyTap(), veth: { rate: new Map(), busyPing: [], idlePing: [], ping6: emptyPings() } };
    const families: Family[] = options.ipv6 ? [4, 6] : [4];
    trace("udp: workers ready");

    // Neighbour resolution (and the stack's first compilation of its ICMP paths) before any figure;
    // for IPv6, the stack's DAD on its address first (the worker waits for it).
    const { busyPing, idlePing } = options;
    for (const family of families) {
      await Promise.all([
        raw.ask({ cmd: "ping", count: 3, interval: busyPing.interval, family }),
        stack.ask({ cmd: "ping", count: 3, interval: busyPing.interval, family }),
        veth.ping(3, busyPing.interval, family),
      ]);
    }
    /** Where the figures of one family go. */
    const series = (family: Family): { raw: PingSeries; stack: PingSeries; veth: PingSeries } =>
      family === 4 ? { raw: results.raw, stack: results.stack, veth: results.veth } : { raw: results.raw.ping6, stack: results.stack.ping6, veth: results.veth.ping6 };

    for (let run = 0; run < options.runs; run++) {
      for (const size of options.sizes) {
        const frames = { cmd: "in", size, warmupMs: options.warmupMs, windowMs: options.windowMs } as const;
        push(results.raw.in, size, await raw.ask<InFigure>(frames));
        push(results.stack.in, size, await stack.ask<InFigure>(frames));
        push(results.veth.rate, size, await veth.rate(size, options.warmupMs, options.windowMs));
        const out = { cmd: "out", size, windowMs: options.windowMs } as const;
        push(results.raw.out, size, await raw.ask<OutFigure>({ ...out, frames: "anonymous" }));
        push(results.raw.outUdp, size, await raw.ask<OutFigure>({ ...out, frames: "udp" }));
        push(results.stack.outUdp, size, await stack.ask<OutFigure>({ ...out, frames: "udp" }));
      }
      trace(`udp: run ${run + 1}, frames done`);
      for (const family of families) {
        const to = series(family);
        const ping = { cmd: "ping", count: busyPing.count, interval: busyPing.interval, family } as const;
        to.raw.busyPing.push(await raw.ask<PingFigure>(ping));
        to.stack.busyPing.push(await stack.ask<PingFigure>(ping));
        to.veth.busyPing.push(await veth.ping(busyPing.count, busyPing.interval, family));
      }

      // Idle: each target sees one request per interval; the three series (six with IPv6: each
      // target once per family) are offset by a third (a sixth) of the interval, so that no two
      // round trips overlap.
      const slot = (Number(idlePing.interval) * 1000) / (3 * families.length);
      const idle = { cmd: "pings", count: idlePing.count, interval: idlePing.interval, families, offsetMs: 3 * slot } as const;
      const v = veth;
      const [r, s, k] = await Promise.all([
        raw.ask<PingFigure[]>(idle),
        sleep(slot).then(() => stack.ask<PingFigure[]>(idle)),
        sleep(2 * slot).then(() => Promise.all(families.map((family, i) => sleep(i * 3 * slot).then(() => v.ping(idlePing.count, idlePing.interval, family))))),
      ]);
      families.forEach((family, i) => {
        const to = series(family);
        to.raw.idlePing.push(r[i]!);
        to.stack.idlePing.push(s[i]!);
        to.veth.idlePing.push(k[i]!);
      });
      trace(`udp: run ${run + 1}, pings done`);
    }
    results.raw.diagnostics = await raw.ask<Diagnostics>({ cmd: "diagnostics" });
    results.stack.diagnostics = await stack.ask<Diagnostics>({ cmd: "diagnostics" });
    await Promise.all([raw.quit(), stack.quit()]);
    workers.clear();
    return results;
  } finally {
    stopSuite();
    workers.clear();
    await veth?.delete();
    deleteNamespace(rawNs);
    deleteNamespace(stackNs);
  }
}
