/**
 * A seeded link-fault wrapper for any Netif: loss, duplication, reordering, delay with jitter,
 * corruption and a smaller link MTU. The kernel here has no netem, so this is how protocols are
 * tested against a bad link. Every decision comes from one PRNG seeded by `seed` (or from the
 * injected Random), and delays go through the injected Time, so a run in virtual time is exactly
 * reproducible from its seed.
 */
import {
  ETHERNET_HEADER_LENGTH,
  type FramesHandler,
  type MacAddress,
  type Netif,
  type NetifStats,
  type Random,
  type Time,
} from "@mirage-ts/runtime";
import { createPrng } from "../prng.ts";

export interface LinkFaults {
  /** Probability (0..1) that a frame is lost. */
  loss?: number;
  /** Probability that a frame is delivered twice. */
  duplicate?: number;
  /** Probability that a frame is held back by `reorderMs`, so frames sent after it overtake it. */
  reorder?: number;
  /** How long a reordered frame is held back (default: 1 ms plus the delay). */
  reorderMs?: number;
  /** Fixed one-way delay in milliseconds (default 0: delivered at once). */
  delayMs?: number;
  /** Extra delay drawn uniformly from [0, jitterMs) per frame (reorders frames too). */
  jitterMs?: number;
  /** Probability that one random bit of a frame is flipped. */
  corrupt?: number;
  /**
   * The link's MTU, when smaller than the netif's: the wrapper reports it as its `mtu` and drops
   * frames whose payload exceeds it (a frame of the old size never makes it across).
   */
  mtu?: number;
  /** Which way faults apply (default both). */
  direction?: "both" | "tx" | "rx";
}

export interface LinkFaultOptions extends LinkFaults {
  /** Seeds the PRNG; the same seed and the same traffic give the same faults. */
  seed: number;
}

export interface LinkFaultStats {
  lost: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  corrupted: number;
  /** Dropped for exceeding the link MTU. */
  tooBig: number;
}

export interface FaultyNetif extends Netif {
  /** What the wrapper did so far. */
  faultStats(): LinkFaultStats;
  /** Replaces the faults (the PRNG continues): e.g. a clean link, then a lossy one. */
  setFaults(faults: LinkFaults): void;
}

export interface LinkFaultDeps {
  time: Time;
  /** Draws from this instead of the seeded PRNG when given. */
  random?: Random;
}

export function withFaults(netif: Netif, options: LinkFaultOptions, deps: LinkFaultDeps): FaultyNetif {
  const { time } = deps;
  const prng = createPrng(options.seed);
  const uint32 = deps.random !== undefined ? () => deps.random!.uint32() : () => prng.nextUint32();
  const chance = (p: number | undefined): boolean => p !== undefined && p > 0 && uint32() / 0x100000000 < p;
  const stats: LinkFaultStats = { lost: 0, duplicated: 0, reordered: 0, delayed: 0, corrupted: 0, tooBig: 0 };
  let faults: LinkFaults = { ...options };
  let handler: FramesHandler | undefined;

  const applies = (direction: "tx" | "rx"): boolean => (faults.direction ?? "both") === "both" || faults.direction === direction;

  /**
   * Decides the fate of one frame: the copies to deliver (0, 1 or 2) and each copy's delay.
   * Pushes [frame, delayMs] pairs to `out`; copies made here (corrupted, duplicated) are
   * distinct objects from `frame`, which tells `route` which ones still need copying.
   */
  const fate = (frame: Uint8Array, out: Array<[Uint8Array, number, Uint8Array]>): void => {
    if (faults.mtu !== undefined && frame.length > faults.mtu + ETHERNET_HEADER_LENGTH) {
      stats.tooBig++;
      return;
    }
    if (chance(faults.loss)) {
      stats.lost++;
      return;
    }
    let first = frame;
    if (chance(faults.corrupt) && frame.length > 0) {
      first = frame.slice();
      const bit = Math.floor((uint32() / 0x100000000) * frame.length * 8);
      first[bit >>> 3]! ^= 1 << (bit & 7);
      stats.corrupted++;
    }
    const copies = chance(faults.duplicate) ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      let delay = faults.delayMs ?? 0;
      if (faults.jitterMs !== undefined && faults.jitterMs > 0) delay += (uint32() / 0x100000000) * faults.jitterMs;
      if (chance(faults.reorder)) {
        stats.reordered++;
        delay += faults.reorderMs ?? 1;
      }
      if (delay > 0) stats.delayed++;
      // The duplicate is a copy: a receiver may modify its frame in place.
      out.push([c === 0 ? first : first.slice(), delay, frame]);
    }
  };

  const deliverLater = (frames: Uint8Array[], delay: number, send: (frames: Uint8Array[]) => void): void => {
    time.schedule(delay, () => send(frames));
  };

  /** Groups frames by delay: the immediate ones are returned, the others scheduled per delay. */
  const route = (frames: readonly Uint8Array[], send: (frames: Uint8Array[]) => void): Uint8Array[] => {
    const fates: Array<[Uint8Array, number, Uint8Array]> = [];
    for (let i = 0; i < frames.length; i++) fate(frames[i]!, fates);
    const now: Uint8Array[] = [];
    let later: Map<number, Uint8Array[]> | undefined;
    for (const [frame, delay, original] of fates) {
      if (delay <= 0) {
        now.push(frame);
        continue;
      }
      later ??= new Map();
      let group = later.get(delay);
      if (group === undefined) later.set(delay, (group = []));
      // The original buffer is only valid now (rx) or may be reused by the caller (tx).
      group.push(frame === original ? frame.slice() : frame);
    }
    if (later !== undefined) for (const [delay, group] of later) deliverLater(group, delay, send);
    return now;
  };

  const deliverRx = (frames: readonly Uint8Array[]): void => {
    if (frames.length > 0 && handler !== undefined) handler(frames);
  };
  const sendTx = (frames: Uint8Array[]): void => {
    for (const frame of frames) netif.write(frame);
  };

  const write = (frame: Uint8Array): boolean => {
    if (!applies("tx")) return netif.write(frame);
    if (faults.mtu !== undefined && frame.length > faults.mtu + ETHERNET_HEADER_LENGTH) {
      stats.tooBig++;
      return false;
    }
    const now = route([frame], sendTx);
    let accepted = true;
    for (const f of now) accepted = netif.write(f) && accepted;
    // A lost or delayed frame was accepted by the link; only the device refusing counts as refusal.
    return accepted;
  };

  return {
    get mac(): MacAddress {
      return netif.mac;
    },
    get mtu(): number {
      return faults.mtu !== undefined ? Math.min(faults.mtu, netif.mtu) : netif.mtu;
    },
    listen(onFrames: FramesHandler): void {
      handler = onFrames;
      netif.listen((frames) => {
        if (!applies("rx")) return deliverRx(frames);
        deliverRx(route(frames, deliverRx));
      });
    },
    write,
    writeBatch(frames: readonly Uint8Array[]): number {
      let sent = 0;
      for (; sent < frames.length; sent++) if (!write(frames[sent]!)) break;
      return sent;
    },
    stats(): NetifStats {
      return netif.stats();
    },
    faultStats: () => ({ ...stats }),
    setFaults(next: LinkFaults): void {
      faults = { ...next };
    },
    disconnect: () => netif.disconnect(),
  };
}
