import type { Console, MonotonicClock, PosixClock, Time } from "@mirage-ts/runtime";

/** Prints the wall clock and the monotonic clock once a second, until stopped. */
export async function start({
  mclock,
  pclock,
  time,
  console,
}: {
  mclock: MonotonicClock;
  pclock: PosixClock;
  time: Time;
  console: Console;
}): Promise<void> {
  const origin = mclock.elapsedNs();
  for (;;) {
    const tz = pclock.currentTzOffsetSeconds();
    const wall = new Date(pclock.now()).toISOString();
    const elapsed = (mclock.elapsedNs() - origin) / 1e9;
    console.log(`wall ${wall} (UTC${tz === undefined ? "" : `${tz >= 0 ? "+" : "-"}${Math.abs(tz / 3600)}`}), monotonic +${elapsed.toFixed(3)} s`);
    await time.sleep(1000);
  }
}
