/**
 * Network namespaces for the benchmarks: made fresh for each run, always deleted, and the only
 * place benchmark traffic goes.
 */
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

const created = new Set<string>();

/** Creates a namespace named `<prefix>-<random>` with its loopback up. */
export function createNamespace(prefix: string): string {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  ip(["netns", "add", name]);
  created.add(name);
  ip(["-n", name, "link", "set", "lo", "up"]);
  return name;
}

export function deleteNamespace(name: string): void {
  spawnSync("ip", ["netns", "del", name], { stdio: "ignore" });
  created.delete(name);
}

/** Deletes every namespace this process created (safe to call twice, and from a signal handler). */
export function deleteAllNamespaces(): void {
  for (const name of [...created]) deleteNamespace(name);
}

/** Runs `ip ARGS`, throwing with its stderr on failure. */
export function ip(args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs a command inside namespace `ns` and resolves with its stdout. */
export async function execIn(ns: string, command: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("ip", ["netns", "exec", ns, command, ...args], { encoding: "utf8" });
  return stdout;
}

/** A device counter read through `ip -s -j` (works from outside the namespace). */
export function deviceCounter(ns: string, device: string, direction: "rx" | "tx", counter: "packets" | "bytes" | "dropped"): number {
  const json = JSON.parse(ip(["-n", ns, "-s", "-j", "link", "show", "dev", device])) as Array<{
    stats64: Record<"rx" | "tx", Record<string, number>>;
  }>;
  return json[0]?.stats64[direction][counter] ?? 0;
}
