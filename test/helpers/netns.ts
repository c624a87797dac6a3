/**
 * Test hosts: a network namespace with a TAP device whose kernel side is the unikernel's peer.
 * Every address lives inside the namespace; nothing reaches the host's own network.
 *
 * Namespaces are deleted by `destroy()` (every process inside is killed first), and, should a
 * test process end without calling it, by an exit handler: a failed or interrupted run leaves no
 * namespace, no dnsmasq, no unikernel behind.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import assert from "node:assert/strict";
import { configureAndBuild, exampleDir, repoRoot, RunningUnikernel } from "./unikernel.ts";

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root for network namespaces and TAP devices (CI runs as root)";
  if (!existsSync("/dev/net/tun")) return "the kernel has no /dev/net/tun";
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "iproute2 (`ip`) is not installed";
  }
  return undefined;
}

/** Why a test needing these programs cannot run, or undefined (.ci/run installs them all). */
export function toolsUnavailable(...tools: string[]): string | undefined {
  const missing = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore", env: { ...process.env, PATH: `${process.env["PATH"] ?? ""}:/usr/sbin:/sbin` } }).status !== 0);
  return missing.length === 0 ? undefined : `needs ${missing.join(", ")} (installed by .ci/run)`;
}

/** Namespace tests skip for the first reason found. */
export function namespaceTestsUnavailable(...tools: string[]): string | undefined {
  return netnsUnavailable() ?? toolsUnavailable(...tools);
}

export interface CommandOutcome {
  status: number | null;
  stdout: string;
  /** stdout as bytes (for binary output). */
  stdoutBytes: Buffer;
  stderr: string;
}

export interface TapHost {
  /** The namespace's name. */
  ns: string;
  /** The TAP device inside it, for the unikernel's --interface. */
  tap: string;
  /** Runs a command inside the namespace and returns its stdout (throws on a non-zero exit). */
  exec(command: string, args: string[], options?: { timeoutMs?: number; input?: string }): string;
  /** Runs a command inside the namespace and returns how it ended, whatever its exit code. */
  run(command: string, args: string[], options?: { timeoutMs?: number; input?: string | Buffer }): CommandOutcome;
  /** Starts a command inside the namespace. */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** The MAC address of the kernel's side of the TAP. */
  mac(): string;
  /** `ip neigh show dev TAP`: the kernel's neighbour table for the TAP. */
  neighbours(): string;
  /** Deletes the namespace and everything in it. */
  destroy(): void;
}

const live = new Set<string>();

function deleteNamespace(ns: string): void {
  try {
    execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")
      .filter(Boolean)
      .forEach((pid) => {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          /* already gone */
        }
      });
  } catch {
    /* no such namespace */
  }
  try {
    execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  } catch {
    /* already deleted */
  }
  live.delete(ns);
}

const cleanUp = (): void => {
  for (const ns of [...live]) deleteNamespace(ns);
};
process.on("exit", cleanUp);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

/**
 * Makes a namespace holding `tap` (default tap0) with the kernel side at `kernelAddress`
 * (e.g. "10.0.0.1/24") and any `extraAddresses` on the TAP, up, and optional extra addresses on
 * its loopback (off-link hosts reached through the kernel as a gateway).
 */
export function createTapHost(
  options: { kernelAddress?: string; kernelAddress6?: string; extraAddresses?: string[]; tap?: string; mtu?: number; loopbackAddresses?: string[] } = {},
): TapHost {
  const ns = `mt-${randomBytes(4).toString("hex")}`;
  const tap = options.tap ?? "tap0";
  const ip = (...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { stdio: "pipe" });
  execFileSync("ip", ["netns", "add", ns]);
  live.add(ns);
  try {
    ip("link", "set", "lo", "up");
    ip("tuntap", "add", "dev", tap, "mode", "tap");
    if (options.mtu !== undefined) ip("link", "set", tap, "mtu", String(options.mtu));
    if (options.kernelAddress) ip("addr", "add", options.kernelAddress, "dev", tap);
    for (const a of options.extraAddresses ?? []) ip("addr", "add", a, "dev", tap);
    if (options.kernelAddress6) ip("addr", "add", options.kernelAddress6, "dev", tap, "nodad");
    for (const a of options.loopbackAddresses ?? []) ip("addr", "add", a, "dev", "lo");
    ip("link", "set", tap, "up");
  } catch (e) {
    deleteNamespace(ns);
    throw e;
  }
  const run = (command: string, args: string[], opts: { timeoutMs?: number; input?: string | Buffer } = {}): CommandOutcome => {
    const r = spawnSync("ip", ["netns", "exec", ns, command, ...args], {
      timeout: opts.timeoutMs ?? 30_000,
      input: opts.input,
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
    const stdoutBytes = r.stdout ?? Buffer.alloc(0);
    const stderr = (r.stderr ?? Buffer.alloc(0)).toString("utf8") + (r.error ? `\n${r.error.message}` : "");
    return { status: r.status, stdout: stdoutBytes.toString("utf8"), stdoutBytes, stderr };
  };
  return {
    ns,
    tap,
    exec(command, args, opts = {}) {
      return execFileSync("ip", ["netns", "exec", ns, command, ...args], {
        encoding: "utf8",
        timeout: opts.timeoutMs ?? 30_000,
        input: opts.input,
        stdio: ["pipe", "pipe", "pipe"],
      });
    },
    run,
    spawn(command, args, opts = {}) {
      return spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: ["ignore", "pipe", "pipe"], ...opts });
    },
    mac() {
      const m = execFileSync("ip", ["-n", ns, "link", "show", tap], { encoding: "utf8" }).match(/link\/ether ([0-9a-f:]{17})/);
      if (!m) throw new Error(`no MAC address on ${tap} in ${ns}`);
      return m[1]!;
    },
    neighbours() {
      return execFileSync("ip", ["-n", ns, "neigh", "show", "dev", tap], { encoding: "utf8" });
    },
    destroy() {
      deleteNamespace(ns);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Built unikernels for namespace tests

export interface BuiltExample {
  /** The scratch directory holding the copy and its dist/. */
  dir: string;
  /** dist/<name>: the launcher. */
  launcher: string;
  /** Boots the artifact inside `host`'s namespace. */
  boot(host: TapHost, args?: string[]): RunningUnikernel;
  remove(): void;
}

/**
 * Configures and builds a copy of examples/`example` (under test/, so that the workspace's
 * node_modules resolve) with `configureArgs`: tests of one example in different configurations
 * (socket, direct, DHCP) may run at once without rewriting each other's generated files.
 * `prepare`, when given, runs on the copy before it is configured (extra htdocs, a certificate).
 */
export function buildExampleCopy(example: string, name: string, configureArgs: string[], prepare?: (dir: string) => void, source = exampleDir(example)): BuiltExample {
  const dir = mkdtempSync(join(repoRoot, "test", `.tmp-${example}-`));
  const generated = new Set(["main.ts", "keys.ts", "package.json", "tsconfig.json", "dist", ".mirage", ".mirage.config", "node_modules"]);
  for (const entry of readdirSync(source)) {
    if (!generated.has(entry)) cpSync(join(source, entry), join(dir, entry), { recursive: true });
  }
  try {
    prepare?.(dir);
    configureAndBuild(dir, configureArgs);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const launcher = join(dir, "dist", name);
  return {
    dir,
    launcher,
    boot: (host, args = []) => new RunningUnikernel(host.spawn(launcher, args, { cwd: dir })),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Like buildExampleCopy, for a test-only unikernel under test/fixtures/`fixture` (config.ts and
 * unikernel.ts, as an example has them).
 */
export function buildFixtureCopy(fixture: string, name: string, configureArgs: string[]): BuiltExample {
  return buildExampleCopy(fixture, name, configureArgs, undefined, join(repoRoot, "test", "fixtures", fixture));
}

// ---------------------------------------------------------------------------------------------
// Reading captures

/**
 * The packets of a pcap file matching the display `filter`, one row of `fields` each, as tshark
 * decodes them. A field that occurs more than once (the IP header quoted in an ICMP error) gives
 * its first occurrence: the outer header's.
 */
export function tsharkFields(pcap: string, filter: string, fields: string[]): string[][] {
  const out = execFileSync("tshark", ["-n", "-r", pcap, "-Y", filter, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f", ...fields.flatMap((f) => ["-e", f])], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return out
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"));
}

/** The unikernel's MAC, from the direct stack's start-up line. */
export async function unikernelMac(u: RunningUnikernel): Promise<string> {
  const m = await u.waitFor(/direct stack on ([0-9a-f]{2}(?::[0-9a-f]{2}){5})/);
  return m[1]!;
}

/** Runs `body` with a fresh namespace and the unikernel booted in it; always stops both. */
export async function withUnikernel(
  built: BuiltExample,
  hostOptions: Parameters<typeof createTapHost>[0],
  args: string[],
  ready: RegExp,
  body: (host: TapHost, u: RunningUnikernel) => Promise<void>,
): Promise<void> {
  const host = createTapHost(hostOptions);
  let u: RunningUnikernel | undefined;
  try {
    u = built.boot(host, args);
    await u.waitFor(ready);
    await body(host, u);
    const { code } = await u.stop("SIGTERM");
    assert.equal(code, 0, `SIGTERM must stop the unikernel cleanly:\n${u.output}`);
  } finally {
    if (u !== undefined && u.child.exitCode === null && u.child.signalCode === null) await u.stop("SIGKILL");
    host.destroy();
  }
}
