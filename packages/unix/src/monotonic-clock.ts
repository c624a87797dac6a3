/**
 * The unix monotonic clock: the process's high-resolution timer (CLOCK_MONOTONIC).
 */
import type { MonotonicClock } from "@mirage-ts/runtime";

// One origin for every clock of the process, so two connected clocks agree.
const [originSeconds, originNanos] = process.hrtime();

function elapsedNs(): number {
  // process.hrtime() rather than hrtime.bigint(): no BigInt on a path protocols call per packet.
  const [s, ns] = process.hrtime();
  return (s - originSeconds) * 1e9 + (ns - originNanos);
}

export function connectMonotonicClock(): MonotonicClock {
  return {
    now: () => elapsedNs() / 1e6,
    elapsedNs,
    disconnect: async () => undefined,
  };
}
