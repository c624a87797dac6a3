/**
 * ARP (RFC 826) as a state machine: `arpStep(state, now, event) → { state, actions }`.
 *
 * The engine owns the timer and the wire: it feeds received packets, resolution requests and
 * timer ticks in, performs the actions that come out (send a packet, release or drop queued IP
 * packets), and arms one timer at `arpNextDeadline(state)`. Nothing here reads a clock or does
 * I/O, so every behaviour is a function of (state, now, event) and is tested in virtual time.
 * `P` is whatever the engine queues while an address resolves (usually a prepared IP packet).
 *
 * The state is updated in place (the step returns the same object) and every step costs O(1)
 * (plus the entries a tick expires): a SYN flood from spoofed addresses makes one resolution step
 * per SYN-ACK, and copying the cache (1,024 entries) or scanning it for the next deadline per
 * step made ARP the flood's bottleneck. The deadlines need no heap: every cache entry expires
 * `cacheTimeoutMs` after it was (re)learned and every pending resolution retries
 * `retryIntervalMs` after its last request, so with `now` non-decreasing, a Map kept in the
 * order entries were (re)set (delete, then set) is sorted by deadline: the earliest is first,
 * the entry to evict is first, and a tick stops at the first entry not due.
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
  refreshing: boolean;
}

export interface ArpPendingEntry<P> {
  readonly ip: Ipv4Address;
  /** Requests sent so far. */
  attempts: number;
  nextAttemptAt: number;
  readonly queue: P[];
}

/** Mutable: `arpStep` updates it in place. Read it, never write it. */
export interface ArpState<P> {
  config: ArpConfig;
  /** Keyed by the address as a 32-bit integer; in order of expiry (see the file comment). */
  readonly cache: Map<number, ArpCacheEntry>;
  /** In order of next attempt. */
  readonly pending: Map<number, ArpPendingEntry<P>>;
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
  /** The state given, updated. */
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

/** The first value of a Map in iteration order (the earliest deadline), without an iterator object's loop. */
function first<V>(map: Map<number, V>): V | undefined {
  if (map.size === 0) return undefined;
  return map.values().next().value;
}

/** When the engine must send a "tick": the earliest expiry or retry, or undefined when nothing waits. O(1). */
export function arpNextDeadline<P>(state: ArpState<P>): number | undefined {
  const cached = first(state.cache);
  const waiting = first(state.pending);
  if (cached === undefined) return waiting?.nextAttemptAt;
  if (waiting === undefined) return cached.expiresAt;
  return Math.min(cached.expiresAt, waiting.nextAttemptAt);
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

/**
 * Learns `mac` for `key` now: the entry (new or renewed) goes to the end of the cache, the
 * latest expiry; a full cache first loses its first entry, the one closest to expiry.
 */
function learn(state: ArpState<unknown>, now: number, key: number, mac: MacAddress): void {
  const { cache, config } = state;
  if (!cache.delete(key) && cache.size >= config.maxEntries) {
    for (const victim of cache.keys()) {
      cache.delete(victim);
      break;
    }
  }
  if (config.maxEntries > 0) cache.set(key, { mac, expiresAt: now + config.cacheTimeoutMs, refreshing: false });
}

export function arpStep<P>(state: ArpState<P>, now: number, event: ArpEvent<P>): ArpStep<P> {
  switch (event.type) {
    case "start":
      return { state, actions: state.config.addresses.map((a) => announcement(state.config, a)) };
    case "set-addresses": {
      const added = event.addresses.filter((a) => !isOurs(state.config, a));
      state.config = { ...state.config, addresses: [...event.addresses] };
      return { state, actions: added.map((a) => announcement(state.config, a)) };
    }
    case "received":
      return { state, actions: received(state, now, event.packet) };
    case "resolve":
      return { state, actions: resolve(state, now, event.ip, event.packet) };
    case "tick":
      return { state, actions: tick(state, now) };
  }
}

function received<P>(state: ArpState<P>, now: number, packet: ArpPacket): ArpAction<P>[] {
  const { config } = state;
  const actions: ArpAction<P>[] = [];
  const { senderMac, senderIp, targetIp } = packet;
  // Our own announcement looped back, or a sender address no host can have.
  if (senderMac.equals(config.mac) || senderMac.isMulticast()) return actions;
  if (isOurs(config, senderIp)) {
    actions.push({ type: "conflict", ip: senderIp, mac: senderMac });
    return actions;
  }
  const forUs = isOurs(config, targetIp);
  // A probe (RFC 5227) has no sender address to learn.
  if (!senderIp.isUnspecified()) {
    const key = senderIp.value;
    const waiting = state.pending.get(key);
    if (waiting !== undefined || forUs || state.cache.has(key)) {
      learn(state, now, key, senderMac);
      if (waiting !== undefined) {
        state.pending.delete(key);
        actions.push({ type: "resolved", ip: senderIp, mac: senderMac, packets: waiting.queue });
      }
    }
  }
  if (forUs && packet.operation === "request") {
    actions.push({
      type: "send",
      packet: { operation: "reply", senderMac: config.mac, senderIp: targetIp, targetMac: senderMac, targetIp: senderIp },
      dst: senderMac,
    });
  }
  return actions;
}

function resolve<P>(state: ArpState<P>, now: number, ip: Ipv4Address, packet: P | undefined): ArpAction<P>[] {
  const { config } = state;
  const key = ip.value;
  const entry = state.cache.get(key);
  if (entry !== undefined && entry.expiresAt > now) {
    const actions: ArpAction<P>[] = [{ type: "resolved", ip, mac: entry.mac, packets: packet === undefined ? [] : [packet] }];
    if (entry.refreshing || entry.expiresAt - now > config.refreshBeforeMs) return actions;
    actions.push({ type: "send", packet: request(config, ip), dst: entry.mac });
    entry.refreshing = true; // same expiry: its place in the cache's order stays right
    return actions;
  }
  const waiting = state.pending.get(key);
  if (waiting !== undefined) {
    if (packet === undefined) return [];
    const queue = waiting.queue;
    queue.push(packet);
    // The oldest goes, as Linux does: the newest packet (a retransmission) matters more.
    if (queue.length > config.queueLimit) return [{ type: "dropped", ip, packets: queue.splice(0, queue.length - config.queueLimit), reason: "queue-full" }];
    return [];
  }
  if (state.pending.size >= config.maxPending) {
    return packet !== undefined ? [{ type: "dropped", ip, packets: [packet], reason: "too-many-pending" }] : [];
  }
  const queue: P[] = packet !== undefined && config.queueLimit > 0 ? [packet] : [];
  state.pending.set(key, { ip, attempts: 1, nextAttemptAt: now + config.retryIntervalMs, queue });
  const actions: ArpAction<P>[] = [{ type: "send", packet: request(config, ip), dst: MacAddress.broadcast }];
  if (packet !== undefined && queue.length === 0) actions.push({ type: "dropped", ip, packets: [packet], reason: "queue-full" });
  // An expired entry is forgotten now that a fresh resolution replaces it.
  if (entry !== undefined) state.cache.delete(key);
  return actions;
}

function tick<P>(state: ArpState<P>, now: number): ArpAction<P>[] {
  const { config, cache, pending } = state;
  const actions: ArpAction<P>[] = [];
  // Both Maps are in deadline order: stop at the first entry not due.
  for (const [key, entry] of cache) {
    if (entry.expiresAt > now) break;
    cache.delete(key);
  }
  const retried: Array<ArpPendingEntry<P>> = [];
  for (const [key, entry] of pending) {
    if (entry.nextAttemptAt > now) break;
    pending.delete(key);
    if (entry.attempts >= config.requestAttempts) {
      actions.push({ type: "unreachable", ip: entry.ip, packets: entry.queue });
    } else {
      entry.attempts++;
      entry.nextAttemptAt = now + config.retryIntervalMs;
      retried.push(entry);
      actions.push({ type: "send", packet: request(config, entry.ip), dst: MacAddress.broadcast });
    }
  }
  // Retried entries go to the end (their next attempt is the latest), after the loop so that it never meets them again.
  for (const entry of retried) pending.set(entry.ip.value, entry);
  return actions;
}
