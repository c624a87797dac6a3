/**
 * `--link-faults=SPEC`: the seeded link-fault wrapper (link/faults.ts) between the direct stack's
 * TAP netif and the packet capture, so that a unikernel can be run against Linux over a bad link
 * (this kernel has no netem). The capture sits above the wrapper: it shows what the stack saw
 * (frames lost on receive are not in it; frames lost on send are, as the stack sent them).
 *
 * SPEC is a comma-separated list of NAME=VALUE:
 *   loss, duplicate, reorder, corrupt   probabilities: a fraction (0.01) or a percentage (1%)
 *   delay, jitter, reorder-delay        milliseconds (reorder-delay: how long a reordered frame is held back, default 1)
 *   mtu                                 a smaller link MTU (bytes)
 *   direction                           both (default), tx or rx
 *   seed                                the PRNG's seed (an integer); default: drawn from the Random device
 * e.g. `loss=0.01,reorder=1%,duplicate=0.01,corrupt=0.01,seed=7`. An empty SPEC or an absent key
 * leaves the netif untouched.
 */
import { type FramesHandler, type Log, type MacAddress, type Netif, type NetifStats, type Random, type Result, type Time, err, ok } from "@mirage-ts/runtime";
import { type LinkFaultOptions, type LinkFaultStats, type LinkFaults, withFaults } from "../link/faults.ts";
import { stackLogs } from "../logs.ts";

export const LINK_FAULTS_SYNTAX =
  "NAME=VALUE[,NAME=VALUE...] with NAME one of loss, duplicate, reorder, corrupt (probability: 0.01 or 1%), " +
  "delay, jitter, reorder-delay (milliseconds), mtu (bytes), direction (both|tx|rx), seed (integer); " +
  "e.g. loss=0.01,reorder=1%,duplicate=0.01,corrupt=0.01,seed=7";

/** What a SPEC asks for: the faults, and the seed when the SPEC gives one. */
export interface LinkFaultSpec {
  faults: LinkFaults;
  seed: number | undefined;
}

type Field = "probability" | "milliseconds" | "mtu" | "direction" | "seed";

const FIELDS: Readonly<Record<string, { field: Field; set: (spec: LinkFaultSpec, value: never) => void }>> = {
  loss: { field: "probability", set: (s, v: number) => (s.faults.loss = v) },
  duplicate: { field: "probability", set: (s, v: number) => (s.faults.duplicate = v) },
  reorder: { field: "probability", set: (s, v: number) => (s.faults.reorder = v) },
  corrupt: { field: "probability", set: (s, v: number) => (s.faults.corrupt = v) },
  delay: { field: "milliseconds", set: (s, v: number) => (s.faults.delayMs = v) },
  jitter: { field: "milliseconds", set: (s, v: number) => (s.faults.jitterMs = v) },
  "reorder-delay": { field: "milliseconds", set: (s, v: number) => (s.faults.reorderMs = v) },
  mtu: { field: "mtu", set: (s, v: number) => (s.faults.mtu = v) },
  direction: { field: "direction", set: (s, v: "both" | "tx" | "rx") => (s.faults.direction = v) },
  seed: { field: "seed", set: (s, v: number) => (s.seed = v) },
};

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

function parseValue(field: Field, text: string): Result<number | "both" | "tx" | "rx", string> {
  switch (field) {
    case "probability": {
      const percent = text.endsWith("%");
      const digits = percent ? text.slice(0, -1) : text;
      if (!DECIMAL.test(digits)) return err(`"${text}" is not a probability (a fraction such as 0.01, or a percentage such as 1%)`);
      const p = Number(digits) / (percent ? 100 : 1);
      if (!(p >= 0 && p <= 1)) return err(`"${text}" is not a probability from 0 to 1 (or 0% to 100%)`);
      return ok(p);
    }
    case "milliseconds": {
      if (!DECIMAL.test(text)) return err(`"${text}" is not a number of milliseconds`);
      const ms = Number(text);
      if (!(ms <= 60_000)) return err(`"${text}" ms is more than a minute`);
      return ok(ms);
    }
    case "mtu": {
      if (!/^\d+$/.test(text)) return err(`"${text}" is not an MTU in bytes`);
      const mtu = Number(text);
      if (mtu < 68 || mtu > 65535) return err(`an MTU of ${text} is outside 68..65535`);
      return ok(mtu);
    }
    case "direction":
      return text === "both" || text === "tx" || text === "rx" ? ok(text) : err(`"${text}" is not a direction (both, tx or rx)`);
    case "seed": {
      if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) return err(`"${text}" is not a seed (an integer from 0 to 4294967295)`);
      return ok(Number(text));
    }
  }
}

/** Reads a `--link-faults` SPEC; never throws. The error says what is wrong and shows the syntax. */
export function parseLinkFaults(text: string): Result<LinkFaultSpec, string> {
  const spec: LinkFaultSpec = { faults: {}, seed: undefined };
  const seen = new Set<string>();
  const fail = (why: string) => err(`--link-faults: ${why}; the syntax is ${LINK_FAULTS_SYNTAX}`);
  if (text.trim() === "") return ok(spec);
  for (const item of text.split(",")) {
    const part = item.trim();
    const eq = part.indexOf("=");
    if (eq < 0) return fail(`"${part}" is not NAME=VALUE`);
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const entry = Object.prototype.hasOwnProperty.call(FIELDS, name) ? FIELDS[name] : undefined;
    if (entry === undefined) return fail(`unknown fault "${name}"`);
    if (seen.has(name)) return fail(`"${name}" is given twice`);
    seen.add(name);
    const parsed = parseValue(entry.field, value);
    if (!parsed.ok) return fail(`${name}: ${parsed.error}`);
    entry.set(spec, parsed.value as never);
  }
  return ok(spec);
}

/** A SPEC that gives the same faults (and seed) when parsed: for logs. */
export function formatLinkFaults(spec: LinkFaultSpec): string {
  const f = spec.faults;
  const parts: string[] = [];
  const add = (name: string, v: number | string | undefined) => v !== undefined && parts.push(`${name}=${v}`);
  add("loss", f.loss);
  add("duplicate", f.duplicate);
  add("reorder", f.reorder);
  add("corrupt", f.corrupt);
  add("delay", f.delayMs);
  add("jitter", f.jitterMs);
  add("reorder-delay", f.reorderMs);
  add("mtu", f.mtu);
  add("direction", f.direction);
  add("seed", spec.seed);
  return parts.join(",");
}

export interface LinkFaultsNetifOptions {
  netif: Netif;
  /** `--link-faults`: absent (or empty) leaves `netif` untouched. */
  spec: string | undefined;
  time: Time;
  /** Draws the seed when the SPEC has none. */
  random: Random;
  /** Default: the stack's "tcpip" log source. */
  log?: Log;
}

/** A netif whose fault statistics can be read (all zero when no faults were asked for). */
export interface LinkFaultsNetif extends Netif {
  /** Undefined when the netif is passed through untouched. */
  faultStats(): LinkFaultStats | undefined;
}

/**
 * `netif` behind the faults `options.spec` asks for. Throws (a boot error) when the SPEC is
 * invalid. Its disconnect logs what the faults did and leaves `netif` alone: the runtime
 * disconnects `netif` (connected before it) itself.
 */
export function connectLinkFaultsNetif(options: LinkFaultsNetifOptions): LinkFaultsNetif {
  const { netif } = options;
  const log = options.log ?? stackLogs().stack;
  const parsed = parseLinkFaults(options.spec ?? "");
  if (!parsed.ok) throw new Error(parsed.error);
  const active = options.spec !== undefined && options.spec.trim() !== "";
  const seed = parsed.value.seed ?? options.random.uint32();
  const faulty = active ? withFaults(netif, { ...parsed.value.faults, seed } satisfies LinkFaultOptions, { time: options.time }) : undefined;
  const inner: Netif = faulty ?? netif;
  if (faulty !== undefined) log.info(`link faults on ${netif.mac}: ${formatLinkFaults({ faults: parsed.value.faults, seed })}`);
  return {
    get mac(): MacAddress {
      return inner.mac;
    },
    get mtu(): number {
      return inner.mtu;
    },
    listen: (onFrames: FramesHandler): void => inner.listen(onFrames),
    write: (frame: Uint8Array): boolean => inner.write(frame),
    writeBatch: (frames: readonly Uint8Array[]): number => inner.writeBatch(frames),
    stats: (): NetifStats => inner.stats(),
    faultStats: () => faulty?.faultStats(),
    disconnect: async (): Promise<void> => {
      if (faulty === undefined) return;
      const s = faulty.faultStats();
      log.info(
        `link faults: lost ${s.lost}, duplicated ${s.duplicated}, reordered ${s.reordered}, corrupted ${s.corrupted}, delayed ${s.delayed}, too big ${s.tooBig}`,
      );
    },
  };
}
