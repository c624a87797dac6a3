/**
 * The neighbour cache and neighbour unreachability detection (RFC 4861 §7.2, §7.3, appendix C)
 * as a pure state machine: `neighborStep(state, now, event) → { state, actions }`, in the style
 * of ../arp/state-machine.ts. The engine feeds what it receives (advertisements, link-layer
 * addresses learned from solicitations and router messages), what it wants to send, upper-layer
 * confirmations and timer ticks; it performs the actions (send a solicitation, release or drop
 * queued packets) and arms one timer at `neighborNextDeadline(state)`. Randomness comes in as
 * numbers (a uint32 from the Random device) so every step is a plain function of its inputs.
 *
 * States, per neighbour:
 * - INCOMPLETE: resolving; multicast solicitations every RetransTimer, up to MAX_MULTICAST_SOLICIT;
 *   packets wait in a bounded queue (the oldest dropped first) and are released on resolution or
 *   reported unreachable when the solicitations run out;
 * - REACHABLE: confirmed within ReachableTime (randomised in [0.5, 1.5] × BaseReachableTime);
 * - STALE: not confirmed lately, or learned unsolicited; usable, and sending to it starts NUD;
 *   forgotten after `staleTimeoutMs` without use (Linux's gc_stale_time);
 * - DELAY: sent to while STALE; waits DELAY_FIRST_PROBE_TIME for an upper-layer confirmation;
 * - PROBE: unicast solicitations every RetransTimer, up to MAX_UNICAST_SOLICIT, then forgotten.
 */
import type { Ipv6Address, MacAddress } from "@mirage-ts/runtime";
import { ipv6MulticastMac, solicitedNodeMulticast } from "./addresses.ts";

export interface NeighborCacheConfig {
  /** BaseReachableTime (RFC 4861 §10: 30 s); a router advertisement may change it. */
  baseReachableTimeMs: number;
  /** RetransTimer: between solicitations (1 s); a router advertisement may change it. */
  retransTimerMs: number;
  maxMulticastSolicit: number;
  maxUnicastSolicit: number;
  delayFirstProbeTimeMs: number;
  /** A STALE entry unused this long is forgotten. */
  staleTimeoutMs: number;
  /** Packets queued per neighbour being resolved. */
  queueLimit: number;
  /** Entries kept, all states together. */
  maxEntries: number;
}

export const DEFAULT_NEIGHBOR_CACHE_CONFIG: NeighborCacheConfig = {
  baseReachableTimeMs: 30_000,
  retransTimerMs: 1_000,
  maxMulticastSolicit: 3,
  maxUnicastSolicit: 3,
  delayFirstProbeTimeMs: 5_000,
  staleTimeoutMs: 60_000,
  queueLimit: 64,
  maxEntries: 1024,
};

export type NeighborState = "incomplete" | "reachable" | "stale" | "delay" | "probe";

export interface NeighborEntry<P> {
  readonly ip: Ipv6Address;
  readonly state: NeighborState;
  /** Undefined only while INCOMPLETE. */
  readonly mac: MacAddress | undefined;
  readonly isRouter: boolean;
  /** Solicitations sent in this INCOMPLETE or PROBE period. */
  readonly solicitations: number;
  /** When the state's timer fires: retransmit, REACHABLE → STALE, forget a STALE entry, DELAY → PROBE. */
  readonly deadline: number;
  /** Packets waiting for resolution (INCOMPLETE only). */
  readonly queue: readonly P[];
}

export interface NeighborCacheState<P> {
  readonly config: NeighborCacheConfig;
  /** ReachableTime: the base randomised (RFC 4861 §6.3.2). */
  readonly reachableTimeMs: number;
  /** Keyed by the address in hex. */
  readonly entries: ReadonlyMap<string, NeighborEntry<P>>;
}

export type NeighborEvent<P> =
  /** `packet` is to be sent to `ip` (on-link); omit it to only resolve. */
  | { type: "resolve"; ip: Ipv6Address; packet?: P }
  /** A neighbour advertisement for `target` (RFC 4861 §7.2.5), with its target link-layer address when present. */
  | { type: "advertisement"; target: Ipv6Address; mac: MacAddress | undefined; router: boolean; solicited: boolean; override: boolean }
  /**
   * A link-layer address learned from a solicitation, router solicitation, router advertisement
   * or redirect (RFC 4861 §7.2.3, §6.3.4, §8.3): the entry becomes STALE when it is new or changes.
   * `router` is true for a router advertisement's source, false for a router solicitation's
   * (§6.2.6), and absent when the message does not say.
   */
  | { type: "learned"; ip: Ipv6Address; mac: MacAddress; router?: boolean }
  /** An upper layer saw forward progress (a TCP ACK for new data): the neighbour is reachable. */
  | { type: "confirm"; ip: Ipv6Address }
  /** A router advertisement changed BaseReachableTime or RetransTimer (0: unchanged). `random` is a uint32. */
  | { type: "timers"; baseReachableTimeMs: number; retransTimerMs: number; random: number }
  /** Draw ReachableTime again (RFC 4861 §6.3.4: at least every few hours). `random` is a uint32. */
  | { type: "rerandomize"; random: number }
  | { type: "tick" };

export type NeighborAction<P> =
  /** Send a neighbour solicitation for `target` to `dst` (solicited-node multicast or the cached unicast address) at `dstMac`. */
  | { type: "solicit"; target: Ipv6Address; dst: Ipv6Address; dstMac: MacAddress }
  /** `ip` is at `mac`: send `packets` (in order) there now. */
  | { type: "resolved"; ip: Ipv6Address; mac: MacAddress; packets: readonly P[] }
  /** Resolution failed: `packets` are dropped (the engine may answer address unreachable, ICMPv6 type 1 code 3). */
  | { type: "unreachable"; ip: Ipv6Address; packets: readonly P[] }
  | { type: "dropped"; ip: Ipv6Address; packets: readonly P[]; reason: "queue-full" | "cache-full" }
  /** A neighbour stopped being a router (its advertisement cleared R): remove it from the default routers. */
  | { type: "router-lost"; ip: Ipv6Address };

export interface NeighborStep<P> {
  state: NeighborCacheState<P>;
  actions: NeighborAction<P>[];
}

/** ReachableTime for a base and a uint32: uniformly in [0.5, 1.5] × base. */
export function randomReachableTime(baseMs: number, random: number): number {
  return Math.floor(baseMs * (0.5 + (random >>> 0) / 0x100000000));
}

export function createNeighborCacheState<P>(config: Partial<NeighborCacheConfig>, random: number): NeighborCacheState<P> {
  const full = { ...DEFAULT_NEIGHBOR_CACHE_CONFIG, ...config };
  return { config: full, reachableTimeMs: randomReachableTime(full.baseReachableTimeMs, random), entries: new Map() };
}

function keyOf(ip: Ipv6Address): string {
  let s = "";
  for (const b of ip.bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

/**
 * The MAC to send to `ip` without an event: REACHABLE (within its time), DELAY and PROBE entries.
 * For anything else the engine sends a "resolve" event (a STALE entry then moves to DELAY).
 */
export function neighborLookup<P>(state: NeighborCacheState<P>, now: number, ip: Ipv6Address): MacAddress | undefined {
  const e = state.entries.get(keyOf(ip));
  if (e === undefined || e.mac === undefined) return undefined;
  if (e.state === "reachable") return e.deadline > now ? e.mac : undefined;
  return e.state === "delay" || e.state === "probe" ? e.mac : undefined;
}

/** The entry for `ip`, for inspection and tests. */
export function neighborEntry<P>(state: NeighborCacheState<P>, ip: Ipv6Address): NeighborEntry<P> | undefined {
  return state.entries.get(keyOf(ip));
}

/** When the engine must send a "tick", or undefined when no entry has a timer. */
export function neighborNextDeadline<P>(state: NeighborCacheState<P>): number | undefined {
  let next = Number.POSITIVE_INFINITY;
  for (const e of state.entries.values()) if (e.deadline < next) next = e.deadline;
  return next === Number.POSITIVE_INFINITY ? undefined : next;
}

function multicastSolicit(target: Ipv6Address): NeighborAction<never> {
  const dst = solicitedNodeMulticast(target);
  return { type: "solicit", target, dst, dstMac: ipv6MulticastMac(dst) };
}

function withEntry<P>(state: NeighborCacheState<P>, entry: NeighborEntry<P>): NeighborCacheState<P> {
  const entries = new Map(state.entries);
  entries.set(keyOf(entry.ip), entry);
  return { ...state, entries };
}

function withoutEntry<P>(state: NeighborCacheState<P>, ip: Ipv6Address): NeighborCacheState<P> {
  const entries = new Map(state.entries);
  entries.delete(keyOf(ip));
  return { ...state, entries };
}

/** Room for one more entry: the resolved entry with the earliest deadline goes (never one being resolved). */
function makeRoom<P>(state: NeighborCacheState<P>): NeighborCacheState<P> | undefined {
  if (state.entries.size < state.config.maxEntries) return state;
  let victim: NeighborEntry<P> | undefined;
  for (const e of state.entries.values()) if (e.state !== "incomplete" && (victim === undefined || e.deadline < victim.deadline)) victim = e;
  return victim === undefined ? undefined : withoutEntry(state, victim.ip);
}

export function neighborStep<P>(state: NeighborCacheState<P>, now: number, event: NeighborEvent<P>): NeighborStep<P> {
  switch (event.type) {
    case "resolve":
      return resolve(state, now, event.ip, event.packet);
    case "advertisement":
      return advertisement(state, now, event);
    case "learned":
      return learned(state, now, event.ip, event.mac, event.router);
    case "confirm": {
      const e = state.entries.get(keyOf(event.ip));
      if (e === undefined || e.mac === undefined) return { state, actions: [] };
      return { state: withEntry(state, { ...e, state: "reachable", solicitations: 0, deadline: now + state.reachableTimeMs }), actions: [] };
    }
    case "timers": {
      const config = {
        ...state.config,
        baseReachableTimeMs: event.baseReachableTimeMs > 0 ? event.baseReachableTimeMs : state.config.baseReachableTimeMs,
        retransTimerMs: event.retransTimerMs > 0 ? event.retransTimerMs : state.config.retransTimerMs,
      };
      const reachableTimeMs = config.baseReachableTimeMs === state.config.baseReachableTimeMs ? state.reachableTimeMs : randomReachableTime(config.baseReachableTimeMs, event.random);
      return { state: { ...state, config, reachableTimeMs }, actions: [] };
    }
    case "rerandomize":
      return { state: { ...state, reachableTimeMs: randomReachableTime(state.config.baseReachableTimeMs, event.random) }, actions: [] };
    case "tick":
      return tick(state, now);
  }
}

function resolve<P>(state: NeighborCacheState<P>, now: number, ip: Ipv6Address, packet: P | undefined): NeighborStep<P> {
  const { config } = state;
  const packets: readonly P[] = packet === undefined ? [] : [packet];
  const e = state.entries.get(keyOf(ip));
  if (e === undefined) {
    const room = makeRoom(state);
    if (room === undefined) return { state, actions: packets.length > 0 ? [{ type: "dropped", ip, packets, reason: "cache-full" }] : [] };
    const queue = packets.slice(0, config.queueLimit);
    const entry: NeighborEntry<P> = { ip, state: "incomplete", mac: undefined, isRouter: false, solicitations: 1, deadline: now + config.retransTimerMs, queue };
    const actions: NeighborAction<P>[] = [multicastSolicit(ip)];
    if (queue.length < packets.length) actions.push({ type: "dropped", ip, packets, reason: "queue-full" });
    return { state: withEntry(room, entry), actions };
  }
  if (e.state === "incomplete") {
    if (packet === undefined) return { state, actions: [] };
    let queue = [...e.queue, packet];
    const actions: NeighborAction<P>[] = [];
    if (queue.length > config.queueLimit) {
      // The oldest goes: the newest packet (a retransmission) matters more.
      actions.push({ type: "dropped", ip, packets: queue.slice(0, queue.length - config.queueLimit), reason: "queue-full" });
      queue = queue.slice(queue.length - config.queueLimit);
    }
    return { state: withEntry(state, { ...e, queue }), actions };
  }
  const mac = e.mac!;
  const actions: NeighborAction<P>[] = [{ type: "resolved", ip, mac, packets }];
  if (e.state === "stale" || (e.state === "reachable" && e.deadline <= now)) {
    // RFC 4861 §7.3.3: the first packet to a STALE neighbour starts the DELAY.
    return { state: withEntry(state, { ...e, state: "delay", deadline: now + config.delayFirstProbeTimeMs }), actions };
  }
  return { state, actions };
}

function advertisement<P>(
  state: NeighborCacheState<P>,
  now: number,
  na: { target: Ipv6Address; mac: MacAddress | undefined; router: boolean; solicited: boolean; override: boolean },
): NeighborStep<P> {
  const e = state.entries.get(keyOf(na.target));
  // No entry: RFC 4861 §7.2.5 says discard (nothing asked for it).
  if (e === undefined) return { state, actions: [] };
  const actions: NeighborAction<P>[] = [];
  if (e.state === "incomplete") {
    if (na.mac === undefined) return { state, actions };
    actions.push({ type: "resolved", ip: na.target, mac: na.mac, packets: e.queue });
    const next: NeighborEntry<P> = na.solicited
      ? { ...e, state: "reachable", mac: na.mac, isRouter: na.router, solicitations: 0, deadline: now + state.reachableTimeMs, queue: [] }
      : { ...e, state: "stale", mac: na.mac, isRouter: na.router, solicitations: 0, deadline: now + state.config.staleTimeoutMs, queue: [] };
    return { state: withEntry(state, next), actions };
  }
  const differs = na.mac !== undefined && !na.mac.equals(e.mac!);
  if (!na.override && differs) {
    // Another address without the override flag: not trusted, but the one we have is now doubtful.
    if (e.state !== "reachable") return { state, actions };
    return { state: withEntry(state, { ...e, state: "stale", deadline: now + state.config.staleTimeoutMs }), actions };
  }
  let next: NeighborEntry<P> = { ...e, mac: differs ? na.mac : e.mac, isRouter: na.router };
  if (na.solicited) next = { ...next, state: "reachable", solicitations: 0, deadline: now + state.reachableTimeMs };
  else if (differs) next = { ...next, state: "stale", solicitations: 0, deadline: now + state.config.staleTimeoutMs };
  if (e.isRouter && !na.router) actions.push({ type: "router-lost", ip: na.target });
  return { state: withEntry(state, next), actions };
}

function learned<P>(state: NeighborCacheState<P>, now: number, ip: Ipv6Address, mac: MacAddress, router: boolean | undefined): NeighborStep<P> {
  const e = state.entries.get(keyOf(ip));
  const stale = (base: NeighborCacheState<P>, entry: NeighborEntry<P> | undefined): NeighborEntry<P> => ({
    ip,
    state: "stale",
    mac,
    isRouter: router ?? entry?.isRouter ?? false,
    solicitations: 0,
    deadline: now + base.config.staleTimeoutMs,
    queue: [],
  });
  if (e === undefined) {
    const room = makeRoom(state);
    if (room === undefined) return { state, actions: [] };
    return { state: withEntry(room, stale(room, undefined)), actions: [] };
  }
  const actions: NeighborAction<P>[] = [];
  if (e.isRouter && router === false) actions.push({ type: "router-lost", ip });
  if (e.state === "incomplete") {
    actions.push({ type: "resolved", ip, mac, packets: e.queue });
    return { state: withEntry(state, stale(state, e)), actions };
  }
  if (!mac.equals(e.mac!)) return { state: withEntry(state, stale(state, e)), actions };
  if (router !== undefined && router !== e.isRouter) return { state: withEntry(state, { ...e, isRouter: router }), actions };
  return { state, actions };
}

function tick<P>(state: NeighborCacheState<P>, now: number): NeighborStep<P> {
  const { config } = state;
  const actions: NeighborAction<P>[] = [];
  let entries: Map<string, NeighborEntry<P>> | undefined;
  const change = (key: string, entry: NeighborEntry<P> | undefined): void => {
    entries ??= new Map(state.entries);
    if (entry === undefined) entries.delete(key);
    else entries.set(key, entry);
  };
  for (const [key, e] of state.entries) {
    if (e.deadline > now) continue;
    switch (e.state) {
      case "incomplete":
        if (e.solicitations >= config.maxMulticastSolicit) {
          change(key, undefined);
          actions.push({ type: "unreachable", ip: e.ip, packets: e.queue });
        } else {
          change(key, { ...e, solicitations: e.solicitations + 1, deadline: now + config.retransTimerMs });
          actions.push(multicastSolicit(e.ip));
        }
        break;
      case "reachable":
        change(key, { ...e, state: "stale", deadline: now + config.staleTimeoutMs });
        break;
      case "stale":
        change(key, undefined);
        break;
      case "delay":
        change(key, { ...e, state: "probe", solicitations: 1, deadline: now + config.retransTimerMs });
        actions.push({ type: "solicit", target: e.ip, dst: e.ip, dstMac: e.mac! });
        break;
      case "probe":
        if (e.solicitations >= config.maxUnicastSolicit) {
          change(key, undefined);
          actions.push({ type: "unreachable", ip: e.ip, packets: [] });
        } else {
          change(key, { ...e, solicitations: e.solicitations + 1, deadline: now + config.retransTimerMs });
          actions.push({ type: "solicit", target: e.ip, dst: e.ip, dstMac: e.mac! });
        }
        break;
    }
  }
  return { state: entries === undefined ? state : { ...state, entries }, actions };
}
