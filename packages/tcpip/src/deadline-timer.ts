/**
 * One timer armed at an absolute deadline, as every engine needs for its state machine's
 * `nextDeadline`: re-arming at the deadline already armed costs nothing, so an engine can call
 * `arm(nextDeadline(state))` after every step.
 */
import type { MonotonicClock, Time, Timer } from "@mirage-ts/runtime";

export interface DeadlineTimer {
  /** Fires at `at` (clock ms), replacing any other deadline; undefined disarms. */
  arm(at: number | undefined): void;
  /** The deadline armed, if any. */
  armedAt(): number | undefined;
  /** Disarms for good: later `arm` calls are ignored. */
  stop(): void;
}

/**
 * `onError` receives what `fire` throws: a bug in the engine, which must not escape into the
 * event loop and stop the unikernel (the per-frame path catches the same way).
 */
export function createDeadlineTimer(clock: MonotonicClock, time: Time, fire: () => void, onError: (error: unknown) => void): DeadlineTimer {
  let timer: Timer | undefined;
  let at: number | undefined;
  let stopped = false;
  const onTimer = (): void => {
    timer = undefined;
    at = undefined;
    if (stopped) return;
    try {
      fire();
    } catch (e) {
      onError(e);
    }
  };
  return {
    arm(next: number | undefined): void {
      if (stopped || next === at) return;
      timer?.cancel();
      timer = undefined;
      at = next;
      if (next !== undefined) timer = time.schedule(Math.max(0, next - clock.now()), onTimer);
    },
    armedAt: () => at,
    stop(): void {
      stopped = true;
      timer?.cancel();
      timer = undefined;
      at = undefined;
    },
  };
}
