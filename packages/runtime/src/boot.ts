/**
 * The unikernel's life, as every generated main.ts runs it:
 *   parse the boot arguments → --help or a one-line error (exit 2) → apply the logs spec →
 *   run the body, which connects devices in dependency order and calls `start` →
 *   disconnect every device in reverse order → exit.
 * Exit codes: 0 when the body returns or on SIGINT/SIGTERM; 1 when a device fails to connect or
 * the body throws; 2 on bad arguments; 130/143 on a second SIGINT/SIGTERM while stopping.
 *
 * `runUnikernel` does all of it and returns the exit code (signals, output and the forced exit
 * are injectable, so tests drive it in-process); `boot` calls it and exits the process.
 */
import type { Device } from "./devices.ts";
import type { Key } from "./keys.ts";
import { parseArgs } from "./keys-parse.ts";
import { formatHelp } from "./help.ts";
import { createLogSource, setLogLevels } from "./logs.ts";
import { checkRuntimeParameter, logsKey, runtimeParameterKeys } from "./runtime-keys.ts";
import { setBootValues } from "./boot-values.ts";

export interface BootOptions {
  /** The unikernel's name, for --help and messages. */
  name: string;
  /** Every key of the unikernel. The logs key and the runtime parameters are added when missing. */
  keys: readonly Key[];
  /** Default `process.argv.slice(2)`. */
  argv?: readonly string[];
  /** Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** One paragraph for --help. */
  description?: string;
}

export interface BootContext<K> {
  /** The boot values, by camelCase field (`keys.ipv4Gateway`). */
  keys: K;
  /**
   * Connects one device and records it, so that it is disconnected at exit (in reverse connection
   * order). When `make` fails the unikernel stops with exit code 1 after disconnecting what was
   * already connected; the returned promise rejects.
   */
  connect: <D extends Device>(label: string, make: () => Promise<D> | D) => Promise<D>;
}

/**
 * The devices record a unikernel's `start` takes: its first parameter, or `unknown` for a
 * `start()` that takes none (a function with fewer parameters fits where more are passed).
 */
export type StartDevices<F> = F extends (devices: infer D, ...rest: never[]) => unknown ? D : never;

export type BootBody<K> = (ctx: BootContext<K>) => Promise<void>;

export type StopSignal = "SIGINT" | "SIGTERM";

/** Where signals come from: `process` fits. */
export interface SignalSource {
  on(signal: StopSignal, handler: () => void): unknown;
  off(signal: StopSignal, handler: () => void): unknown;
}

/**
 * Where errors that escaped every handler come from: `process` fits. A unikernel is one
 * service, so such an error stops it (exit 1) — but through the same orderly shutdown as a
 * signal, with the error logged, rather than Node's abrupt default.
 */
export interface FaultSource {
  on(event: "uncaughtException" | "unhandledRejection", handler: (error: unknown) => void): unknown;
  off(event: "uncaughtException" | "unhandledRejection", handler: (error: unknown) => void): unknown;
}

export interface RunOptions extends BootOptions {
  /** Writes --help. Default: process.stdout, resolved once flushed. */
  stdout?: (text: string) => void | Promise<void>;
  /** Writes argument errors. Default: process.stderr, resolved once flushed. */
  stderr?: (text: string) => void | Promise<void>;
  /** Default `process`. */
  signals?: SignalSource;
  /** Where uncaught exceptions and unhandled rejections are reported. Default `process`. */
  faults?: FaultSource;
  /** Called on a second signal while stopping. Default `process.exit`. */
  forceExit?: (code: number) => void;
  /** How long one device may take to disconnect before shutdown goes on without it. Default 5000 ms. */
  disconnectTimeoutMs?: number;
}

const log = createLogSource("mirage", "the mirage-ts runtime: boot, devices, shutdown");

const writeTo = (stream: NodeJS.WriteStream) => (text: string) =>
  new Promise<void>((resolve) => {
    stream.write(text, () => resolve());
  });

const signalExitCode = (signal: StopSignal): number => (signal === "SIGINT" ? 130 : 143);

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Adds the keys every unikernel has when config.ts's list lacks them (matched by name). */
export function withRuntimeKeys(keys: readonly Key[]): Key[] {
  const names = new Set(keys.map((k) => k.name));
  const out = [...keys];
  for (const k of [logsKey as Key, ...(runtimeParameterKeys as readonly Key[])]) if (!names.has(k.name)) out.push(k);
  return out;
}

interface Connected {
  label: string;
  device: Device;
}

/** Runs the whole lifecycle and returns the process exit code. */
export async function runUnikernel<K extends Record<string, unknown>>(options: RunOptions, body: BootBody<K>): Promise<number> {
  const stdout = options.stdout ?? writeTo(process.stdout);
  const stderr = options.stderr ?? writeTo(process.stderr);
  const signals = options.signals ?? process;
  const faults = options.faults ?? process;
  const forceExit = options.forceExit ?? ((code: number) => process.exit(code));
  const timeoutMs = options.disconnectTimeoutMs ?? 5000;
  const name = options.name;
  const keys = withRuntimeKeys(options.keys);

  const usageError = async (message: string): Promise<number> => {
    await stderr(`${name}: ${message}\nTry '${name} --help' for more information.\n`);
    return 2;
  };

  const parsed = parseArgs(keys, options.argv ?? process.argv.slice(2), { stage: "boot", env: options.env ?? process.env });
  if (!parsed.ok) return usageError(parsed.error);
  if (parsed.value.help) {
    await stdout(formatHelp(name, keys, { description: options.description }));
    return 0;
  }
  const values = parsed.value.values;
  const logs = values[logsKey.name];
  if (typeof logs === "string") {
    const r = setLogLevels(logs);
    if (!r.ok) return usageError(`--${logsKey.name}: ${r.error}`);
  }
  for (const k of runtimeParameterKeys) {
    const problem = checkRuntimeParameter(k.name, values[k.name]);
    if (problem !== undefined) return usageError(problem);
  }
  const fields = setBootValues(values);

  const connected: Connected[] = [];
  let stopping = false;
  let decide!: (code: number) => void;
  const decided = new Promise<number>((resolve) => {
    decide = (code) => {
      if (stopping) return;
      stopping = true;
      resolve(code);
    };
  });

  const disconnectOne = async ({ label, device }: Connected): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(() => device.disconnect()), timedOut]);
      if (outcome === "timeout") log.warn(`${label} did not disconnect within ${timeoutMs} ms; going on without it`);
      else log.debug(() => `disconnected ${label}`);
    } catch (e) {
      log.warn(`failed to disconnect ${label}: ${messageOf(e)}`);
    } finally {
      clearTimeout(timer);
    }
  };

  const connect = async <D extends Device>(label: string, make: () => Promise<D> | D): Promise<D> => {
    if (stopping) throw new Error(`cannot connect ${label}: the unikernel is stopping`);
    let device: D;
    try {
      device = await make();
    } catch (e) {
      log.err(`failed to connect ${label}: ${messageOf(e)}`);
      decide(1);
      throw e;
    }
    const entry = { label, device };
    // A device that finishes connecting after shutdown began is disconnected at once.
    if (stopping) await disconnectOne(entry);
    else {
      connected.push(entry);
      log.debug(() => `connected ${label}`);
    }
    return device;
  };

  const onSignal = (signal: StopSignal) => () => {
    if (stopping) {
      forceExit(signalExitCode(signal));
      return;
    }
    log.info(`received ${signal}, stopping`);
    decide(0);
  };
  const handlers = { SIGINT: onSignal("SIGINT"), SIGTERM: onSignal("SIGTERM") };
  signals.on("SIGINT", handlers.SIGINT);
  signals.on("SIGTERM", handlers.SIGTERM);
  const onFault = (error: unknown) => {
    log.err(`uncaught error, stopping: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    decide(1);
  };
  faults.on("uncaughtException", onFault);
  faults.on("unhandledRejection", onFault);

  try {
    Promise.resolve()
      .then(() => body({ keys: fields as K, connect }))
      .then(
        () => decide(0),
        (e: unknown) => {
          if (stopping) return;
          log.err(`the unikernel failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
          decide(1);
        },
      );
    const code = await decided;
    for (const entry of connected.splice(0).reverse()) await disconnectOne(entry);
    return code;
  } finally {
    signals.off("SIGINT", handlers.SIGINT);
    signals.off("SIGTERM", handlers.SIGTERM);
    faults.off("uncaughtException", onFault);
    faults.off("unhandledRejection", onFault);
  }
}

/**
 * What a generated main.ts calls: runs the unikernel and exits the process with its exit code,
 * after stdout and stderr are flushed.
 */
export async function boot<K extends Record<string, unknown>>(options: BootOptions, body: BootBody<K>): Promise<never> {
  const code = await runUnikernel<K>(options, body);
  await Promise.all([writeTo(process.stdout)(""), writeTo(process.stderr)("")]);
  process.exit(code);
}
