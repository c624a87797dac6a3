import type { Console, Time } from "@mirage-ts/runtime";

/** Says what --hello says, four times, a second apart. */
export async function start(
  { time, console }: { time: Time; console: Console },
  keys: { hello: string },
): Promise<void> {
  for (let i = 0; i < 4; i++) {
    console.log(keys.hello);
    if (i < 3) await time.sleep(1000);
  }
}
