/** Small helpers for benchmark figures. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seconds since an arbitrary origin, from the monotonic clock. */
export function seconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** The round trip of every reply in `ping` output (run without -q), in microseconds. */
export function pingRoundTripsMicros(output: string): number[] {
  return [...output.matchAll(/ time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
}

/** The loss percentage of `ping` output. */
export function pingLossPercent(output: string): number {
  const m = /([\d.]+)% packet loss/.exec(output);
  return m ? Number(m[1]) : 100;
}

/** What one run of the kernel's `ping` measured. */
export interface PingRun {
  /** Each reply's round trip, in microseconds. */
  micros: number[];
  lossPercent: number;
}

/** Parses `ping` output (without -q): per-reply round trips and the loss. */
export function pingRun(output: string): PingRun {
  return { micros: pingRoundTripsMicros(output), lossPercent: pingLossPercent(output) };
}

/** An IP version: the benchmarks measure some paths over both. */
export type Family = 4 | 6;

/** The arguments of the kernel's `ping -4`/`ping -6` for `count` echo requests every `interval` seconds. */
export function pingArgs(address: string, count: number, interval: string, family: Family = 4): string[] {
  return [`-${family}`, "-n", "-c", String(count), "-i", interval, "-W", "1", address];
}

const traceStart = seconds();

/** With BENCH_TRACE=1, one line on stderr per step (seconds since start): where a slow or stuck run is. */
export function trace(message: string): void {
  if (process.env["BENCH_TRACE"] === "1") process.stderr.write(`bench: ${(seconds() - traceStart).toFixed(1)} s: ${message}\n`);
}
