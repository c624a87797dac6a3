/**
 * Drives an example the way a user does: `mirage configure`, `mirage build`, then the built
 * launcher as a child process.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const mirageBin = join(repoRoot, "packages", "mirage", "bin", "mirage.mjs");

export function exampleDir(name: string): string {
  return join(repoRoot, "examples", name);
}

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mirage ARGS` in `cwd` and returns what it printed. */
export function mirage(cwd: string, args: string[]): CommandResult {
  const r = spawnSync(process.execPath, [mirageBin, ...args], { cwd, encoding: "utf8", timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Configures and builds an example, failing with mirage's own output when a step fails. */
export function configureAndBuild(dir: string, configureArgs: string[] = []): void {
  for (const args of [["configure", "-t", "unix", ...configureArgs], ["build"]]) {
    const r = mirage(dir, args);
    if (r.status !== 0) throw new Error(`mirage ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A running unikernel with its output collected as it comes. */
export class RunningUnikernel {
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (this.stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Resolves when `pattern` appears in stdout or stderr; rejects on exit or after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Starts `dist/<name>` of an example with boot arguments. */
export function run(dir: string, name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): RunningUnikernel {
  const child = spawn(join(dir, "dist", name), args, { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return new RunningUnikernel(child);
}
