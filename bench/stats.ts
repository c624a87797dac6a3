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

/** The average round trip of `ping -q` output, in microseconds. */
export function pingAverageMicros(output: string): number {
  const m = /rtt min\/avg\/max\/mdev = [\d.]+\/([\d.]+)\//.exec(output);
  if (!m) throw new Error(`ping printed no round-trip summary:\n${output}`);
  return Number(m[1]) * 1000;
}

/** The loss percentage of `ping` output. */
export function pingLossPercent(output: string): number {
  const m = /([\d.]+)% packet loss/.exec(output);
  return m ? Number(m[1]) : 100;
}
