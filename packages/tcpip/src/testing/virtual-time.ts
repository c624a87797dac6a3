/**
 * Virtual time for protocol tests: the runtime's MonotonicClock, PosixClock and Time over a clock
 * that only moves when the test says so, with timers kept in a heap and fired in order of due
 * time (then of scheduling). A test of retransmissions, cache timeouts or lease renewal runs in
 * microseconds of real time and the same way every time.
 *
 * Between two timers `advance` and `runUntilIdle` drain the microtask queue, so code that awaits
 * `sleep` and then schedules more work sees the clock at the time its timer fired. The default
 * drain runs a fixed number of microtask turns; a test whose promise chains are longer (or that
 * waits on real I/O) can inject its own, e.g. `() => new Promise((r) => setImmediate(r))`.
 */
import type { MonotonicClock, PosixClock, Time, Timer } from "@mirage-ts/runtime";

export interface VirtualTimeOptions {
  /** The monotonic clock's value at creation, in ms (default 0). */
  startMs?: number;
  /** The POSIX clock's value at creation, in ms since the epoch (default 2024-01-01T00:00:00Z). */
  epochMs?: number;
  /** Lets pending promise continuations run between timers. */
  drain?: () => Promise<void>;
}

export interface VirtualTime {
  readonly clock: MonotonicClock;
  readonly posixClock: PosixClock;
  readonly time: Time;
  /** The monotonic clock's current value in ms. */
  now(): number;
  /** Timers scheduled and not yet fired or cancelled. */
  pending(): number;
  /** When the next timer is due, or undefined when none is pending. */
  nextTimerAt(): number | undefined;
  /** Moves the clock forward by `ms`, firing every timer due up to then, in order. */
  advance(ms: number): Promise<void>;
  /** Moves the clock to `at` (no-op when already past). */
  advanceTo(at: number): Promise<void>;
  /**
   * Fires timers (moving the clock to each) until none is pending; returns how many fired.
   * Throws when more than `maxTimers` (default 100 000) fire or the clock would pass `untilMs`:
   * a periodic timer would otherwise loop forever.
   */
  runUntilIdle(options?: { maxTimers?: number; untilMs?: number }): Promise<number>;
  /** Fires the timers due now without moving the clock (e.g. the switch's `schedule(0)` deliveries). */
  flush(): Promise<number>;
}

interface Entry {
  due: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** A binary min-heap ordered by (due, seq). Cancelled entries are skipped when they reach the top. */
class TimerHeap {
  private items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  push(entry: Entry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  peek(): Entry | undefined {
    while (this.items.length > 0 && !this.items[0]!.live) this.pop();
    return this.items[0];
  }

  pop(): Entry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && before(items[l]!, items[m]!)) m = l;
        if (r < items.length && before(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

const before = (a: Entry, b: Entry): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq);

async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < 64; i++) await Promise.resolve();
}

function abortError(signal: AbortSignal): Error {
  const error = new Error("The operation was aborted", { cause: signal.reason }) as Error & { code: string };
  error.name = "AbortError";
  error.code = "ABORT_ERR";
  return error;
}

export function createVirtualTime(options: VirtualTimeOptions = {}): VirtualTime {
  const start = options.startMs ?? 0;
  const epoch = options.epochMs ?? 1_704_067_200_000;
  const drain = options.drain ?? drainMicrotasks;
  let now = start;
  let seq = 0;
  let live = 0;
  const heap = new TimerHeap();

  const schedule = (ms: number, fn: () => void): Timer => {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const entry: Entry = { due: now + delay, seq: seq++, fn, live: true };
    heap.push(entry);
    live++;
    return {
      cancel(): void {
        if (!entry.live) return;
        entry.live = false;
        live--;
      },
    };
  };

  const time: Time = {
    schedule,
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(abortError(signal));
        const onAbort = (): void => {
          timer.cancel();
          reject(abortError(signal!));
        };
        const timer = schedule(ms, () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        });
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    disconnect: async () => {},
  };

  /** Fires the next timer if it is due at or before `limit`; false when none is. */
  const fireNext = (limit: number): boolean => {
    const next = heap.peek();
    if (next === undefined || next.due > limit) return false;
    heap.pop();
    next.live = false;
    live--;
    if (next.due > now) now = next.due;
    next.fn();
    return true;
  };

  const advanceTo = async (target: number): Promise<void> => {
    await drain();
    while (fireNext(target)) await drain();
    if (target > now) now = target;
    await drain();
  };

  return {
    clock: {
      now: () => now,
      elapsedNs: () => Math.round(now * 1e6),
      disconnect: async () => {},
    },
    posixClock: {
      now: () => epoch + (now - start),
      currentTzOffsetSeconds: () => 0,
      disconnect: async () => {},
    },
    time,
    now: () => now,
    pending: () => live,
    nextTimerAt: () => heap.peek()?.due,
    advance: (ms: number) => advanceTo(now + Math.max(0, ms)),
    advanceTo,
    async runUntilIdle(runOptions = {}): Promise<number> {
      const maxTimers = runOptions.maxTimers ?? 100_000;
      const untilMs = runOptions.untilMs ?? Number.POSITIVE_INFINITY;
      let fired = 0;
      await drain();
      for (;;) {
        const next = heap.peek();
        if (next === undefined) return fired;
        if (next.due > untilMs) throw new Error(`runUntilIdle: a timer is due at ${next.due} ms, past untilMs ${untilMs}`);
        if (fired >= maxTimers) throw new Error(`runUntilIdle: more than ${maxTimers} timers fired; is a timer re-arming itself forever?`);
        fireNext(Number.POSITIVE_INFINITY);
        fired++;
        await drain();
      }
    },
    async flush(): Promise<number> {
      let fired = 0;
      await drain();
      while (fireNext(now)) {
        fired++;
        await drain();
      }
      return fired;
    },
  };
}
