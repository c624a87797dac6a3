/**
 * The IPv6 table of `npm run bench`: each IPv6 figure next to the same figure over IPv4, taken in
 * the same runs (bench/tcp-suite.ts and bench/suite.ts with `ipv6`, each IPv6 measurement right
 * after its IPv4 twin, or at the same time for the idle pings), and the ratio. Medians of the runs; failed runs are left out and listed.
 */
import type { BulkFigure } from "./kernel-tcp.ts";
import { pingList, pingLoss, pingMedian, table } from "./report.ts";
import { median, type PingRun } from "./stats.ts";
import type { PingSeries, SuiteResults } from "./suite.ts";
import type { Outcome, TcpSuiteResults, TcpTarget } from "./tcp-suite.ts";

const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? (a / b).toFixed(2) : "—");
const longer = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}× as long` : "—");
const mbits = (bytesPerSecond: number): string => (Number.isFinite(bytesPerSecond) ? ((bytesPerSecond * 8) / 1e6).toFixed(0) : "—");
const micros = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : "—");

const values = <T>(outcomes: readonly Outcome<T>[]): T[] => outcomes.flatMap((o) => (o.ok ? [o.value] : []));
const med = <T>(outcomes: readonly Outcome<T>[], pick: (v: T) => number): number => median(values(outcomes).map(pick));
const runsOf = <T>(outcomes: readonly Outcome<T>[], pick: (v: T) => number, format: (n: number) => string): string =>
  `[${outcomes.map((o) => (o.ok ? format(pick(o.value)) : "failed")).join(", ")}]`;

/** TCP payload per 1514-byte frame with timestamps: IPv6 1500 − 40 − 20 − 12 = 1428, IPv4 1448. */
const PAYLOAD_RATIO = 1428 / 1448;

const NAMES: Record<TcpTarget, string> = { direct: "direct stack", socket: "socket stack", kernel: "kernel (veth)" };

export function printIpv6Table(udp: SuiteResults | undefined, tcp: TcpSuiteResults | undefined): void {
  const rows: string[][] = [["", "IPv6", "IPv4", "IPv6 / IPv4"]];
  const notes: string[] = [];
  const bytes = (f: BulkFigure): number => f.bytesPerSecond;
  const perCore = (f: BulkFigure): number => f.bytesPerSecond / (f.cpuPercent / 100);

  if (tcp !== undefined) {
    for (const target of ["direct", "socket", "kernel"] as const) {
      for (const [direction, label] of [
        ["in", target === "kernel" ? "TCP bulk, kernel → kernel over the veth (socat), Mbit/s of payload" : `TCP bulk, kernel → ${NAMES[target]}, Mbit/s of payload`],
        ["out", target === "kernel" ? "TCP bulk, the same the other way, Mbit/s of payload" : `TCP bulk, ${NAMES[target]} → kernel, Mbit/s of payload`],
      ] as const) {
        const v6 = med(tcp.bulk6[direction][target], bytes);
        const v4 = med(tcp.bulk[direction][target], bytes);
        rows.push([label, mbits(v6), mbits(v4), ratio(v6, v4)]);
      }
    }
    for (const target of ["direct", "socket"] as const) {
      for (const [direction, arrow] of [
        ["in", "kernel → stack"],
        ["out", "stack → kernel"],
      ] as const) {
        const v6 = med(tcp.bulk6[direction][target], perCore);
        const v4 = med(tcp.bulk[direction][target], perCore);
        rows.push([`TCP bulk, ${NAMES[target]}, ${arrow}, Mbit/s per core of its process`, mbits(v6), mbits(v4), ratio(v6, v4)]);
      }
    }
    for (const [direction, name] of [
      ["in", "kernel → stack"],
      ["out", "stack → kernel"],
    ] as const) {
      for (const [family, bulk] of [
        [6, tcp.bulk6],
        [4, tcp.bulk],
      ] as const) {
        notes.push(
          `- Runs, IPv${family} ${name}, Mbit/s: ` +
            (["direct", "socket", "kernel"] as const).map((t) => `${t} ${runsOf(bulk[direction][t], bytes, mbits)}`).join("; ") +
            `; stack CPU %: direct ${runsOf(bulk[direction].direct, (f) => f.cpuPercent, (n) => n.toFixed(0))}, socket ${runsOf(bulk[direction].socket, (f) => f.cpuPercent, (n) => n.toFixed(0))}`,
        );
      }
    }
    for (const direction of ["in", "out"] as const) {
      for (const target of ["direct", "socket", "kernel"] as const) {
        const failed = tcp.bulk6[direction][target].filter((o) => !o.ok);
        const errors = [...new Set(failed.map((o) => (o.ok ? "" : o.error)))];
        if (failed.length > 0) notes.push(`- FAILED (${failed.length} of ${tcp.bulk6[direction][target].length} runs) IPv6 bulk ${direction}, ${target}: ${errors.join("; ")}`);
      }
    }
    const d = tcp.diagnostics;
    const v6 = Object.entries(d).filter(([k]) => /^(ipv6|icmp6|ndp|tcp6)\./.test(k) && /retransmit|timeout|drop|bad|error|dup|unresolved|noRoute|tooBig|pathMtu/i.test(k));
    notes.push(`- Direct stack IPv6 counters of note at the end: ${v6.length === 0 ? "none" : v6.map(([k, v]) => `${k} ${Math.round(v).toLocaleString("en-US")}`).join(", ")}.`);
  }

  if (udp !== undefined) {
    const busyHz = Math.round(1 / Number(udp.options.busyPing.interval));
    const idleHz = Math.round(1 / Number(udp.options.idlePing.interval));
    const targets: ReadonlyArray<readonly [string, PingSeries, PingSeries]> = [
      ["direct stack", udp.stack.ping6, udp.stack],
      ["raw TAP (echo responder, no stack)", udp.raw.ping6, udp.raw],
      ["veth (kernel)", udp.veth.ping6, udp.veth],
    ];
    for (const [name, v6, v4] of targets) {
      for (const [rate, pick] of [
        [`${busyHz} Hz`, (s: PingSeries): PingRun[] => s.busyPing],
        [`${idleHz} Hz (idle)`, (s: PingSeries): PingRun[] => s.idlePing],
      ] as const) {
        const a = pingMedian(pick(v6));
        const b = pingMedian(pick(v4));
        rows.push([`ping round trip to the ${name} at ${rate}, µs (median)`, micros(a), micros(b), longer(a, b)]);
      }
    }
    for (const [name, v6, v4] of targets) {
      notes.push(`- Runs, ping µs, ${name}: IPv6 ${busyHz} Hz ${pingList(v6.busyPing)}, ${idleHz} Hz ${pingList(v6.idlePing)}; IPv4 ${busyHz} Hz ${pingList(v4.busyPing)}, ${idleHz} Hz ${pingList(v4.idlePing)}`);
      const losses = [pingLoss(v6.busyPing), pingLoss(v6.idlePing), pingLoss(v4.busyPing), pingLoss(v4.idlePing)];
      if (losses.some((l) => l > 0)) notes.push(`- Ping loss, ${name} (median of runs, %): IPv6 ${losses[0]}/${losses[1]}, IPv4 ${losses[2]}/${losses[3]} (busy/idle).`);
    }
  }

  const runs = [tcp !== undefined ? `TCP: ${tcp.options.runs} runs, ${tcp.options.windowMs} ms windows` : undefined, udp !== undefined ? `ping: ${udp.options.runs} runs` : undefined]
    .filter((x) => x !== undefined)
    .join("; ");
  console.log(`\nIPv6 vs IPv4: the same stacks, links and tools, each IPv6 measurement next to its IPv4 twin in the same runs, medians (${runs})\n`);
  console.log(table(rows));
  console.log(`
How it is measured (bench/tcp-suite.ts, bench/suite.ts, with their IPv4 rows):
- The links are dual-stack with static addresses: fd00:81::/64 on the direct stack's TAP (the stack
  built with \`ipv6: { address }\`, as --ipv6=fd00:81::2/64 gives it, its DAD passed before any figure),
  fd00:82::/64 on the socket stack's veth, fd00:80::/64, fd00:79::/64 and fd00:78::/64 on the ping links;
  the kernel's addresses are added with nodad and accept_ra=0. The kernel finds the stacks' MACs by
  neighbour discovery, the stacks find the kernel's by NDP (IPv6) and ARP (IPv4).
- TCP bulk: socat over TCP6 instead of TCP4, the same worker code and counters (\`ss -ti\`). At the frame
  limit IPv6 carries ${(PAYLOAD_RATIO * 100).toFixed(1)}% of IPv4's payload per 1514-byte frame (1428 B vs 1448 B:
  a 40-byte header instead of 20), so a ratio of ${PAYLOAD_RATIO.toFixed(2)} is parity per frame.
- "per core": payload bytes per CPU-second of the stack's process (user + system), the figure that
  holds when the shared machine starves one process or the other.
- Ping: \`ping -6\` and \`ping -4\` from the kernel, the same rates: at the busy rate one target and
  family after the other; at the idle rate all six series at once, a sixth of the interval apart, so
  that no two round trips overlap. The raw TAP's echo responder (bench/echo-responder.ts) answers
  neighbour solicitations and ICMPv6 echo by hand, no stack.`);
  if (notes.length > 0) console.log(notes.join("\n"));
}
