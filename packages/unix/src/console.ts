/**
 * The unix console: lines and bytes to the process's stdout (or stderr).
 */
import type { Console } from "@mirage-ts/runtime";

/** How long disconnect waits for pending output. */
const FLUSH_LIMIT_MS = 1000;

export interface ConsoleOptions {
  /** Which standard stream to write to; default "stdout". */
  stream?: "stdout" | "stderr";
  /** Any writable stream instead of a standard one (tests). */
  output?: NodeJS.WritableStream;
}

export function connectConsole(opts: ConsoleOptions = {}): Console {
  const output = opts.output ?? (opts.stream === "stderr" ? process.stderr : process.stdout);
  let pending = 0;
  let idle: Array<() => void> = [];
  const write = (data: string | Uint8Array): Promise<void> =>
    new Promise((resolve, reject) => {
      pending++;
      output.write(data, (error) => {
        pending--;
        if (pending === 0) {
          for (const wake of idle) wake();
          idle = [];
        }
        if (error) reject(error);
        else resolve();
      });
    });
  return {
    log(line: string): void {
      // A failed write to a closed stdout must not crash the unikernel: the line is lost either way.
      write(`${line}\n`).catch(() => undefined);
    },
    write,
    async disconnect(): Promise<void> {
      // Wait for what was written to reach the stream, so the last lines are not lost at exit;
      // but not forever: a reader that stopped reading must not keep a stopping unikernel alive.
      if (pending === 0) return;
      await Promise.race([
        new Promise<void>((resolve) => idle.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, FLUSH_LIMIT_MS).unref()),
      ]);
    },
  };
}
