import type { Console, Time } from "@mirage-ts/runtime";

/** Says hello four times, a second apart, then exits. */
export async function start({ time, console }: { time: Time; console: Console }): Promise<void> {
  for (let i = 0; i < 4; i++) {
    console.log("Hello");
    if (i < 3) await time.sleep(1000);
  }
}
