/**
 * `npm run bench`: prints the benchmark tables. Each figure is the median of several short runs,
 * next to its comparison measured in the same run, with the ratio: absolute figures from
 * different runs or machines are not comparable (DESIGN.md §7).
 *
 * Three groups, all by default, or some with `--only=udp,tcp,http`:
 * - udp: the direct stack's UDP/ICMP and the raw TAP against the kernel's veth (bench/suite.ts);
 * - tcp: TCP bulk throughput each way and connections per second, direct stack vs socket stack vs
 *   the kernel, and the raw TAP frame limit (bench/tcp-suite.ts);
 * - http: HTTP requests per second with wrk, direct stack vs socket stack (bench/tcp-suite.ts).
 *
 * Needs root (TAP devices and network namespaces), /dev/net/tun, iproute2, python3 and ping; tcp
 * also socat and ss, http also wrk. All traffic stays inside namespaces made for the run, which are
 * deleted at the end, on error, on Ctrl-C, and by a time limit.
 *
 * Environment: BENCH_RUNS (UDP runs, default 5), BENCH_TCP_RUNS (TCP and HTTP runs, default 3),
 * BENCH_CPU_PROF=DIR (the direct-stack workers run with node --cpu-prof, profiles written in DIR).
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { deleteAllNamespaces } from "./netns.ts";
import { printRawTapTable, printStackTable } from "./report.ts";
import { runSuite, stopSuite } from "./suite.ts";
import { printHttpTable, printTcpTables } from "./tcp-report.ts";
import { runTcpSuite, stopTcpSuite } from "./tcp-suite.ts";

/** Each group must end well within this; past the sum of the selected ones, the bench is stopped and cleaned up. */
const TIME_LIMIT_MS = { udp: 88_000, tcp: 75_000, http: 40_000 } as const;

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
  if (groups.has("tcp")) tools.push(["socat", "socat"], ["ss", "iproute2"]);
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
  const limitMs = [...groups].reduce((sum, g) => sum + TIME_LIMIT_MS[g], 0);
  const limit = setTimeout(() => {
    console.error(`bench: stopped after ${limitMs / 1000} s`);
    cleanup();
    process.exit(1);
  }, limitMs);

  const runs = Number(process.env["BENCH_RUNS"] ?? 5);
  const profileDir = process.env["BENCH_CPU_PROF"];
  const started = Date.now();
  if (groups.has("udp")) {
    const results = await runSuite({
      sizes: [60, 1514],
      runs,
      warmupMs: 200,
      windowMs: 400,
      busyPing: { count: 50, interval: "0.01" },
      idlePing: { count: 5, interval: "0.2" },
      ...(profileDir !== undefined ? { profileDir } : {}),
    });
    printStackTable(results);
    printRawTapTable(results);
  }
  if (groups.has("tcp") || groups.has("http")) {
    const results = await runTcpSuite({
      runs: Number(process.env["BENCH_TCP_RUNS"] ?? 3),
      tcp: groups.has("tcp"),
      http: groups.has("http"),
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
  }
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  clearTimeout(limit);
}

await main();
