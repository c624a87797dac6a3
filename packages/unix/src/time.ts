/**
 * The unix Time device: real timers.
 *
 * Every pending timer is tracked so that `disconnect` can cancel them all: a unikernel that is
 * stopping must not be kept alive by a sleep, and whoever awaits that sleep learns it was
 * cancelled (an AbortError) instead of waiting forever.
 */
import type { Time, Timer } from "@mirage-ts/runtime";
import { AbortError } from "./abort-error.ts";

// setTimeout fires after 1 ms for delays above 2^31-1 ms (about 24.8 days); longer waits are chained.
const MAX_TIMEOUT_MS = 0x7fffffff;

interface Pending {
  handle: NodeJS.Timeout;
  /** Called when the device is disconnected while the timer is pending. */
  onDisconnect: () => void;
}

export function connectTime(): Time {
  const pending = new Set<Pending>();
  let disconnected = false;

  /** Runs `fire` after `ms` unless cancelled; the returned entry is removed once it fires. */
  const arm = (ms: number, fire: () => void, onDisconnect: () => void): Pending => {
    let remaining = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const entry: Pending = { handle: undefined as unknown as NodeJS.Timeout, onDisconnect };
    const step = () => {
      const now = Math.min(remaining, MAX_TIMEOUT_MS);
      remaining -= now;
      entry.handle = setTimeout(() => {
        if (remaining > 0) return step();
        pending.delete(entry);
        fire();
      }, now);
    };
    step();
    pending.add(entry);
    return entry;
  };

  const cancel = (entry: Pending) => {
    clearTimeout(entry.handle);
    pending.delete(entry);
  };

  return {
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      if (disconnected) return Promise.reject(new AbortError("sleep: the Time device is disconnected"));
      if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          cancel(entry);
          reject(new AbortError(undefined, { cause: signal?.reason }));
        };
        const entry = arm(
          ms,
          () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
          () => {
            signal?.removeEventListener("abort", onAbort);
            reject(new AbortError("sleep: the Time device was disconnected"));
          },
        );
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },

    schedule(ms: number, fn: () => void): Timer {
      if (disconnected) return { cancel: () => undefined };
      const entry = arm(ms, fn, () => undefined);
      return { cancel: () => cancel(entry) };
    },

    async disconnect(): Promise<void> {
      disconnected = true;
      const entries = [...pending];
      pending.clear();
      for (const entry of entries) {
        clearTimeout(entry.handle);
        entry.onDisconnect();
      }
    },
  };
}
