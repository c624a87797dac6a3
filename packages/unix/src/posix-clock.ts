/**
 * The unix wall clock (POSIX time).
 */
import type { PosixClock } from "@mirage-ts/runtime";

export function connectPosixClock(): PosixClock {
  return {
    now: () => Date.now(),
    // getTimezoneOffset is minutes *behind* UTC (west positive); the interface wants east positive.
    currentTzOffsetSeconds: () => {
      const minutes = new Date().getTimezoneOffset();
      return Number.isFinite(minutes) ? -minutes * 60 || 0 : undefined;
    },
    disconnect: async () => undefined,
  };
}
