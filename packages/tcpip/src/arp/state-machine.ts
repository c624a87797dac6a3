/**
 * ARP (RFC 826) as a pure state machine: `arpStep(state, now, event) → { state, actions }`.
 *
 * The engine owns the timer and the wire: it feeds received packets, resolution requests and
 * timer ticks in, performs the actions that come out (send a packet, release or drop queued IP
 * packets), and arms one timer at `arpNextDeadline(state)`. Nothing here reads a clock or
 * mutates its input, so every behaviour is a plain function of (state, now, event) and is tested
 * in virtual time. `P` is whatever the engine queues while an address resolves (usually a
 * prepared IP packet).
 *
 * What it does:
 * - a cache of address → MAC entries that expire after `cacheTimeoutMs`; an entry used within
 *   `refreshBeforeMs` of its expiry is refreshed by a unicast request while still in use, so a
 *   busy flow never stalls on an expired entry;
 * - resolution: a broadcast request, repeated every `retryIntervalMs` up to `requestAttempts`
 *   times, with a bounded queue (`queueLimit`, oldest dropped first) of packets waiting for it;
 *   the queue is released when the reply comes and reported unreachable when attempts run out;
 * - replies to requests for our addresses; learning as RFC 826 says (update an entry we have,
 *   add the sender when the packet is for us), never from broadcast/multicast senders or from
 *   probes (sender 0.0.0.0); a conflict action when another host claims our address;
 * - gratuitous ARP for each address at start and for each address added later.
 */
import { Ipv4Address, MacAddress } from "@mirage-ts/runtime";
import type { ArpPacket } from "./wire.ts";

export interface ArpConfig {
  mac: MacAddress;
  /** The addresses we answer for and announce; the first is the source of our requests. */
  addresses: readonly Ipv4Address[];
  cacheTimeoutMs: number;
  /** An entry used this close to its expiry is refreshed (0 disables refreshing). */
  refreshBeforeMs: number;
  retryIntervalMs: number;
  /** Requests sent for one address before it is reported unreachable. */
  requestAttempts: number;
  /** Packets queued per address being resolved. */
  queueLimit: number;
  /** Addresses being resolved at once. */
  maxPending: number;
  /** Cache entries kept; the one closest to expiry is evicted for a new one. */
  maxEntries: number;
}

export const DEFAULT_ARP_CONFIG = {
  cacheTimeoutMs: 60_000,
  refreshBeforeMs: 5_000,
  retryIntervalMs: 1_000,
  requestAttempts: 3,
  queueLimit: 64,
  maxPending: 256,
  maxEntries: 1024,
} as const satisfies Omit<ArpConfig, "mac" | "addresses">;

export interface ArpCacheEntry {
  readonly mac: MacAddress;
  readonly expiresAt: number;
  /** A refresh request was sent for this entry and not answered yet. */
  readonly refreshing: boolean;
}

export interface ArpPendingEntry<P> {
  readonly ip: Ipv4Address;
  /** Requests sent so far. */
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly queue: readonly P[];
}

export interface ArpState<P> {
  readonly config: ArpConfig;
  /** Keyed by the address as a 32-bit integer. */
  readonly cache: ReadonlyMap<number, ArpCacheEntry>;
  readonly pending: ReadonlyMap<number, ArpPendingEntry<P>>;
}

export type ArpEvent<P> =
  /** The interface is up: announce our addresses. */
  | { type: "start" }
  | { type: "received"; packet: ArpPacket }
  /** `packet` is to be sent to `ip`; omit it to only resolve. */
  | { type: "resolve"; ip: Ipv4Address; packet?: P }
  /** The timer armed at `arpNextDeadline` fired. */
  | { type: "tick" }
  /** Our addresses changed (DHCP); new ones are announced. */
  | { type: "set-addresses"; addresses: readonly Ipv4Address[] };

export type ArpDropReason = "queue-full" | "too-many-pending";

export type ArpAction<P> =
  /** Send `packet` in an Ethernet frame to `dst`. */
  | { type: "send"; packet: ArpPacket; dst: MacAddress }
  /** `ip` is at `mac`: send `packets` (in order) there now. */
  | { type: "resolved"; ip: Ipv4Address; mac: MacAddress; packets: readonly P[] }
  /** Nobody answered for `ip`: `packets` are dropped (an engine may report host unreachable). */
  | { type: "unreachable"; ip: Ipv4Address; packets: readonly P[] }
  | { type: "dropped"; ip: Ipv4Address; packets: readonly P[]; reason: ArpDropReason }
  /** Another host claims one of our addresses. */
  | { type: "conflict"; ip: Ipv4Address; mac: MacAddress };

export interface ArpStep<P> {
  state: ArpState<P>;
  actions: ArpAction<P>[];
}

export function createArpState<P>(config: Partial<ArpConfig> & Pick<ArpConfig, "mac" | "addresses">): ArpState<P> {
  return { config: { ...DEFAULT_ARP_CONFIG, ...config }, cache: new Map(), pending: new Map() };
}

/**
 * The MAC for `ip` when a fresh entry is cached and needs no refresh: the engine's fast path,
 * with no allocation. When it returns undefined the engine sends a "resolve" event instead.
 */
export function arpLookup<P>(state: ArpState<P>, now: number, ip: Ipv4Address): MacAddress | undefined {
  return arpLookupValue(state, now, ip.value);
}

/** `arpLookup` for an address given as a 32-bit integer (the engine's per-packet path: no object). */
export function arpLookupValue<P>(state: ArpState<P>, now: number, ip: number): MacAddress | undefined {
  const entry = state.cache.get(ip >>> 0);
  if (entry === undefined || entry.expiresAt <= now) return undefined;
  if (!entry.refreshing && entry.expiresAt - now <= state.config.refreshBeforeMs) return undefined;
  return entry.mac;
}

/** When the engine must send a "tick": the earliest expiry or retry, or undefined when nothing waits. */
export function arpNextDeadline<P>(state: ArpState<P>): number | undefined {
  let next = Number.POSITIVE_INFINITY;
  for (const entry of state.cache.values()) if (entry.expiresAt < next) next = entry.expiresAt;
  for (const entry of state.pending.values()) if (entry.nextAttemptAt < next) next = entry.nextAttemptAt;
  return next === Number.POSITIVE_INFINITY ? undefined : next;
}

/** The Ethernet address IPv4 multicast `ip` maps to (RFC 1112 §6.4): 01:00:5e + the low 23 bits. */
export function ipv4MulticastMac(ip: Ipv4Address): MacAddress {
  const v = ip.value;
  return MacAddress.ofBytes(Uint8Array.of(0x01, 0x00, 0x5e, (v >>> 16) & 0x7f, (v >>> 8) & 0xff, v & 0xff));
}

const isOurs = (config: ArpConfig, ip: Ipv4Address): boolean => config.addresses.some((a) => a.value === ip.value);

function request(config: ArpConfig, target: Ipv4Address): ArpPacket {
  return {
    operation: "request",
    senderMac: config.mac,
    senderIp: config.addresses[0] ?? Ipv4Address.any,
    targetMac: MacAddress.zero,
    targetIp: target,
  };
}

function announcement(config: ArpConfig, address: Ipv4Address): ArpAction<never> {
  return {
    type: "send",
    packet: { operation: "request", senderMac: config.mac, senderIp: address, targetMac: MacAddress.zero, targetIp: address },
    dst: MacAddress.broadcast,
  };
}

/** Adds or replaces an entry, evicting the one closest to expiry when the cache is full. */
function withEntry(cache: ReadonlyMap<number, ArpCacheEntry>, maxEntries: number, key: number, entry: ArpCacheEntry): Map<number, ArpCacheEntry> {
  const next = new Map(cache);
  if (!next.has(key) && next.size >= maxEntries) {
    let victim: number | undefined;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [k, e] of next) if (e.expiresAt < earliest) (earliest = e.expiresAt), (victim = k);
    if (victim !== undefined) next.delete(victim);
  }
  if (maxEntries > 0) next.set(key, entry);
  return next;
}

export function arpStep<P>(state: ArpState<P>, now: number, event: ArpEvent<P>): ArpStep<P> {
  switch (event.type) {
    case "start":
      return { state, actions: state.config.addresses.map((a) => announcement(state.config, a)) };
    case "set-addresses": {
      const added = event.addresses.filter((a) => !isOurs(state.config, a));
      const config = { ...state.config, addresses: [...event.addresses] };
      return { state: { ...state, config }, actions: added.map((a) => announcement(config, a)) };
    }
    case "received":
      return received(state, now, event.packet);
    case "resolve":
      return resolve(state, now, event.ip, event.packet);
    case "tick":
      return tick(state, now);
  }
}

function received<P>(state: ArpState<P>, now: number, packet: ArpPacket): ArpStep<P> {
  const { config } = state;
  const actions: ArpAction<P>[] = [];
  const { senderMac, senderIp, targetIp } = packet;
  // Our own announcement looped back, or a sender address no host can have.
  if (senderMac.equals(config.mac) || senderMac.isMulticast()) return { state, actions };
  if (isOurs(config, senderIp)) {
    actions.push({ type: "conflict", ip: senderIp, mac: senderMac });
    return { state, actions };
  }
  const forUs = isOurs(config, targetIp);
  let next = state;
  // A probe (RFC 5227) has no sender address to learn.
  if (!senderIp.isUnspecified()) {
    const key = senderIp.value;
    const known = state.cache.has(key) || state.pending.has(key);
    if (known || forUs) {
      const entry: ArpCacheEntry = { mac: senderMac, expiresAt: now + config.cacheTimeoutMs, refreshing: false };
      const cache = withEntry(state.cache, config.maxEntries, key, entry);
      let pending = state.pending;
      const waiting = state.pending.get(key);
      if (waiting !== undefined) {
        const copy = new Map(state.pending);
        copy.delete(key);
        pending = copy;
        actions.push({ type: "resolved", ip: senderIp, mac: senderMac, packets: waiting.queue });
      }
      next = { ...state, cache, pending };
    }
  }
  if (forUs && packet.operation === "request") {
    actions.push({
      type: "send",
      packet: { operation: "reply", senderMac: config.mac, senderIp: targetIp, targetMac: senderMac, targetIp: senderIp },
      dst: senderMac,
    });
  }
  return { state: next, actions };
}

function resolve<P>(state: ArpState<P>, now: number, ip: Ipv4Address, packet: P | undefined): ArpStep<P> {
  const { config } = state;
  const key = ip.value;
  const packets: readonly P[] = packet === undefined ? [] : [packet];
  const entry = state.cache.get(key);
  if (entry !== undefined && entry.expiresAt > now) {
    const actions: ArpAction<P>[] = [{ type: "resolved", ip, mac: entry.mac, packets }];
    if (entry.refreshing || entry.expiresAt - now > config.refreshBeforeMs) return { state, actions };
    actions.push({ type: "send", packet: request(config, ip), dst: entry.mac });
    const cache = withEntry(state.cache, config.maxEntries, key, { ...entry, refreshing: true });
    return { state: { ...state, cache }, actions };
  }
  const waiting = state.pending.get(key);
  if (waiting !== undefined) {
    if (packet === undefined) return { state, actions: [] };
    let queue = [...waiting.queue, packet];
    const actions: ArpAction<P>[] = [];
    if (queue.length > config.queueLimit) {
      // The oldest goes, as Linux does: the newest packet (a retransmission) matters more.
      actions.push({ type: "dropped", ip, packets: queue.slice(0, queue.length - config.queueLimit), reason: "queue-full" });
      queue = queue.slice(queue.length - config.queueLimit);
    }
    const pending = new Map(state.pending);
    pending.set(key, { ...waiting, queue });
    return { state: { ...state, pending }, actions };
  }
  if (state.pending.size >= config.maxPending) {
    return { state, actions: packets.length > 0 ? [{ type: "dropped", ip, packets, reason: "too-many-pending" }] : [] };
  }
  const pending = new Map(state.pending);
  const queue = config.queueLimit > 0 ? packets : [];
  pending.set(key, { ip, attempts: 1, nextAttemptAt: now + config.retryIntervalMs, queue });
  const actions: ArpAction<P>[] = [{ type: "send", packet: request(config, ip), dst: MacAddress.broadcast }];
  if (queue.length < packets.length) actions.push({ type: "dropped", ip, packets, reason: "queue-full" });
  // An expired entry is forgotten now that a fresh resolution replaces it.
  let cache = state.cache;
  if (entry !== undefined) {
    const copy = new Map(cache);
    copy.delete(key);
    cache = copy;
  }
  return { state: { ...state, cache, pending }, actions };
}

function tick<P>(state: ArpState<P>, now: number): ArpStep<P> {
  const { config } = state;
  const actions: ArpAction<P>[] = [];
  let cache = state.cache;
  for (const [key, entry] of state.cache) {
    if (entry.expiresAt > now) continue;
    if (cache === state.cache) cache = new Map(state.cache);
    (cache as Map<number, ArpCacheEntry>).delete(key);
  }
  let pending = state.pending;
  for (const [key, entry] of state.pending) {
    if (entry.nextAttemptAt > now) continue;
    if (pending === state.pending) pending = new Map(state.pending);
    const copy = pending as Map<number, ArpPendingEntry<P>>;
    if (entry.attempts >= config.requestAttempts) {
      copy.delete(key);
      actions.push({ type: "unreachable", ip: entry.ip, packets: entry.queue });
    } else {
      copy.set(key, { ...entry, attempts: entry.attempts + 1, nextAttemptAt: now + config.retryIntervalMs });
      actions.push({ type: "send", packet: request(config, entry.ip), dst: MacAddress.broadcast });
    }
  }
  if (cache === state.cache && pending === state.pending) return { state, actions };
  return { state: { ...state, cache, pending }, actions };
}
