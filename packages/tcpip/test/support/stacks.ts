/** Direct stacks over the in-memory switch in virtual time, and helpers to drive them. */
import { Ipv4Address, Ipv4Prefix, type Log, type LogMessage, type Netif } from "@mirage-ts/runtime";
import { seededRandom } from "../../src/prng.ts";
import { type Switch, createSwitch } from "../../src/link/switch.ts";
import { type VirtualTime, createVirtualTime } from "../../src/testing/virtual-time.ts";
import { type DirectStack, type DirectStackOptions, createDirectStack } from "../../src/stack/direct-stack.ts";

export interface MemoryLog extends Log {
  lines: string[];
}

/** A Log that keeps every message ("LEVEL message"), at every level. */
export function memoryLog(name = "test"): MemoryLog {
  const lines: string[] = [];
  const put = (level: string) => (message: LogMessage) => {
    lines.push(`${level} ${typeof message === "function" ? message() : message}`);
  };
  return { name, doc: "", lines, err: put("error"), warn: put("warning"), info: put("info"), debug: put("debug"), enabled: () => true, level: () => "debug" };
}

export const ip = (text: string): Ipv4Address => Ipv4Address.of(text);

export interface Lan {
  vt: VirtualTime;
  sw: Switch;
  stack(address: string | { dhcp: true }, extra?: Partial<DirectStackOptions> & { gateway?: string; netif?: Netif; seed?: number }): DirectStack & { log: MemoryLog };
}

/** `drain`: what runs between timers (the default drains 64 microtask turns; long loops want fewer). */
export function lan(options: { drain?: () => Promise<void> } = {}): Lan {
  const vt = createVirtualTime(options.drain !== undefined ? { drain: options.drain } : {});
  const sw = createSwitch({ time: vt.time });
  let seed = 1;
  return {
    vt,
    sw,
    stack(address, extra = {}) {
      const log = memoryLog();
      const { gateway, netif, seed: givenSeed, ...rest } = extra;
      const stack = createDirectStack({
        netif: netif ?? sw.connect(),
        clock: vt.clock,
        time: vt.time,
        random: seededRandom(givenSeed ?? seed++),
        ipv4: typeof address === "string" ? { address: Ipv4Prefix.of(address), ...(gateway ? { gateway: ip(gateway) } : {}) } : address,
        log,
        ...rest,
      });
      return Object.assign(stack, { log });
    },
  };
}

/** Advances virtual time in `stepMs` steps until `promise` settles (at most `limitMs`), then returns its outcome. */
export async function settle<T>(vt: VirtualTime, promise: Promise<T>, limitMs = 120_000, stepMs = 1): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  const end = vt.now() + limitMs;
  while (!done && vt.now() < end) await vt.advance(stepMs);
  if (!done) throw new Error(`still pending after ${limitMs} ms of virtual time`);
  return promise;
}

/** A short drain (a few microtask turns): enough for the stack, which never awaits, and for a test's own `await`. */
export async function shortDrain(): Promise<void> {
  for (let i = 0; i < 4; i++) await Promise.resolve();
}
