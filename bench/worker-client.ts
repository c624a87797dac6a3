/** The orchestrator's end of a TAP worker (bench/worker-server.ts): a child process in a namespace, driven one command at a time. */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TcpWorkerCommand } from "./tcp-protocol.ts";
import type { WorkerCommand } from "./worker-protocol.ts";

export class BenchWorker {
  private readonly lines: AsyncIterator<string>;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /**
   * Starts `script` (a file of bench/) in namespace `ns` and waits for it to be ready. `nodeFlags`
   * go to node (e.g. --cpu-prof), `args` to the script.
   */
  static async start(name: string, ns: string, script: string, nodeFlags: string[] = [], args: string[] = []): Promise<BenchWorker> {
    const path = fileURLToPath(new URL(script, import.meta.url));
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, ...nodeFlags, "--import", "tsx", path, ...args]);
    child.stderr.pipe(process.stderr);
    const worker = new BenchWorker(name, child);
    await worker.next(); // {"ready":true}
    return worker;
  }

  /** Sends `command` and resolves with the reply; commands to one worker are answered in order. */
  ask<T>(command: WorkerCommand | TcpWorkerCommand): Promise<T> {
    const reply = this.queue.then(async () => {
      this.child.stdin.write(`${JSON.stringify(command)}\n`);
      return (await this.next()) as T;
    });
    this.queue = reply.catch(() => undefined);
    return reply;
  }

  /** The worker's process id (`ip netns exec` runs node in its own place), for its CPU time in /proc. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  async quit(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const closed = new Promise((resolve) => this.child.once("close", resolve));
    this.child.stdin.write(`${JSON.stringify({ cmd: "quit" } satisfies WorkerCommand)}\n`);
    await closed;
  }

  /** For the time limit and signals: ends the worker without waiting. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private async next(): Promise<unknown> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`the ${this.name} worker exited (see its errors above)`);
    return JSON.parse(r.value) as unknown;
  }
}
