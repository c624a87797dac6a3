/**
 * `npm run bench`: prints the benchmark tables. Each figure is the median of several short runs,
 * next to its comparison measured in the same run, with the ratio: absolute figures from
 * different runs or machines are not comparable (DESIGN.md §7).
 *
 * Four groups, all by default, or some with `--only=udp,tcp,http,ipv6`:
 * - udp: the direct stack's UDP/ICMP and the raw TAP against the kernel's veth (bench/suite.ts);
 * - tcp: TCP bulk throughput each way and connections per second, direct stack vs socket stack vs
 *   the kernel, and the raw TAP frame limit (bench/tcp-suite.ts);
 * - http: HTTP requests per second with wrk, direct stack vs socket stack (bench/tcp-suite.ts);
 * - ipv6: TCP bulk each way over IPv6 (direct stack, socket stack, kernel) and ping6 round trips
 *   (direct stack, raw TAP, veth), each next to the same over IPv4 (bench/ipv6-report.ts). With udp
 *   and tcp, measured in their runs, interleaved with the IPv4 rows; alone, the two suites run
 *   their IPv4 twins only (no UDP frame rates, connections, raw TAP limit).
 *
 * Needs root (TAP devices and network namespaces), /dev/net/tun, iproute2, python3 and ping; tcp
 * and ipv6 also socat and ss, http also wrk. All traffic stays inside namespaces made for the run,
 * which are deleted at the end, on error, on Ctrl-C, and by a time limit.
 *
 * Environment: BENCH_RUNS (UDP runs, default 5), BENCH_TCP_RUNS (TCP and HTTP runs, default 3),
 * BENCH_CPU_PROF=DIR (the direct-stack workers run with node --cpu-prof, profiles written in DIR),
 * BENCH_TRACE=1 (a line on stderr per step, with the seconds since the start).
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { deleteAllNamespaces } from "./netns.ts";
import { printIpv6Table } from "./ipv6-report.ts";
import { printRawTapTable, printStackTable } from "./report.ts";
import { runSuite, stopSuite, type SuiteResults } from "./suite.ts";
import { printHttpTable, printTcpTables } from "./tcp-report.ts";
import { runTcpSuite, stopTcpSuite, type TcpSuiteResults } from "./tcp-suite.ts";

/**
 * Each group must end well within this; past the sum of the selected ones, the bench is stopped and
 * cleaned up. The ipv6 figure is what it adds to udp and tcp; without one of them, it also runs that
 * suite's IPv4 twins (IPV6_ALONE_MS).
 */
const TIME_LIMIT_MS = { udp: 88_000, tcp: 75_000, http: 40_000, ipv6: 70_000 } as const;
const IPV6_ALONE_MS = { udp: 35_000, tcp: 50_000 } as const;

type Group = keyof typeof TIME_LIMIT_MS;
const GROUPS = Object.keys(TIME_LIMIT_MS) as Group[];

/** The groups `--only=a,b` selects (all without it), or an error message. */
function selectedGroups(argv: readonly string[]): Set<Group> | string {
  const only = argv.find((a) => a.startsWith("--only="));
  const unknown = argv.filter((a) => !a.startsWith("--only="));
  if (unknown.length > 0) return `unknown argument ${unknown[0]} (usage: npm run bench [-- --only=${GROUPS.join(",")}])`;
  if (only === undefined) return new Set(GROUPS);
  const names = only.slice("--only=".length).split(",").filter((n) => n !== "");
  const bad = names.find((n) => !(GROUPS as string[]).includes(n));
  if (bad !== undefined || names.length === 0) return `--only takes ${GROUPS.join(", ")} (comma-separated), not "${bad ?? ""}"`;
  return new Set(names as Group[]);
}

function missingPrerequisite(groups: ReadonlySet<Group>): string | undefined {
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
  const tools: Array<readonly [string, string]> = [];
  if (groups.has("tcp") || groups.has("ipv6")) tools.push(["socat", "socat"], ["ss", "iproute2"]);
  if (groups.has("http")) tools.push(["wrk", "wrk"]);
  for (const [command, pkg] of tools) {
    if (spawnSync(command, ["-V"]).error !== undefined) return `\`${command}\` is not installed (Debian package ${pkg})`;
  }
  return undefined;
}

async function main(): Promise<void> {
  const groups = selectedGroups(process.argv.slice(2));
  if (typeof groups === "string") {
    console.error(`bench: ${groups}`);
    process.exitCode = 2;
    return;
  }
  const missing = missingPrerequisite(groups);
  if (missing !== undefined) {
    console.error(`bench: not run: ${missing}.`);
    process.exitCode = 1;
    return;
  }
  const cleanup = (): void => {
    stopSuite();
    stopTcpSuite();
    deleteAllNamespaces();
  };
  process.on("exit", cleanup);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  let limitMs = [...groups].reduce((sum, g) => sum + TIME_LIMIT_MS[g], 0);
  if (groups.has("ipv6")) for (const g of ["udp", "tcp"] as const) if (!groups.has(g)) limitMs += IPV6_ALONE_MS[g];
  const limit = setTimeout(() => {
    console.error(`bench: stopped after ${limitMs / 1000} s`);
    cleanup();
    process.exit(1);
  }, limitMs);

  const runs = Number(process.env["BENCH_RUNS"] ?? 5);
  const profileDir = process.env["BENCH_CPU_PROF"];
  const started = Date.now();
  const ipv6 = groups.has("ipv6");
  let udpResults: SuiteResults | undefined;
  let tcpResults: TcpSuiteResults | undefined;
  if (groups.has("udp") || ipv6) {
    const results = await runSuite({
      // Alone, the ipv6 group needs only the pings of this suite.
      sizes: groups.has("udp") ? [60, 1514] : [],
      ipv6,
      runs,
      warmupMs: 200,
      windowMs: 400,
      busyPing: { count: 50, interval: "0.01" },
      idlePing: { count: 5, interval: "0.2" },
      ...(profileDir !== undefined ? { profileDir } : {}),
    });
    if (groups.has("udp")) {
      printStackTable(results);
      printRawTapTable(results);
    }
    udpResults = results;
  }
  if (groups.has("tcp") || groups.has("http") || ipv6) {
    const results = await runTcpSuite({
      runs: Number(process.env["BENCH_TCP_RUNS"] ?? 3),
      tcp: groups.has("tcp"),
      http: groups.has("http"),
      ipv6,
      warmupMs: 300,
      windowMs: 1000,
      chunk: 64 * 1024,
      connectConcurrency: 8,
      wrkConnections: 50,
      wrkSeconds: 1,
      ...(profileDir !== undefined ? { profileDir } : {}),
    });
    if (groups.has("tcp")) printTcpTables(results);
    if (groups.has("http")) printHttpTable(results);
    tcpResults = results;
  }
  if (ipv6) printIpv6Table(udpResults, tcpResults);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  clearTimeout(limit);
}

await main();
