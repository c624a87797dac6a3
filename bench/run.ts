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
import { printRawTapTable, printStackTable } from "./report.ts";
import { runSuite, stopSuite } from "./suite.ts";

/** The whole bench must end well within 90 s; past this it is stopped and cleaned up. */
const TIME_LIMIT_MS = 88_000;

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

async function main(): Promise<void> {
  const missing = missingPrerequisite();
  if (missing !== undefined) {
    console.error(`bench: not run: ${missing}.`);
    process.exitCode = 1;
    return;
  }
  const cleanup = (): void => {
    stopSuite();
    deleteAllNamespaces();
  };
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
  const profileDir = process.env["BENCH_CPU_PROF"];
  const started = Date.now();
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
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  clearTimeout(limit);
}

await main();
