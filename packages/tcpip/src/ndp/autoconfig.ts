/**
 * Host autoconfiguration as a pure state machine: `autoconfStep(state, now, event) → { state,
 * actions }`, for the engine to wire to the wire and the timers like the neighbour cache:
 * - duplicate address detection on every address, link-local, static and SLAAC (RFC 4862 §5.4):
 *   the solicited-node group is joined first, then DupAddrDetectTransmits solicitations from ::
 *   go out RetransTimer apart (the first after a random delay up to MAX_RTR_SOLICITATION_DELAY);
 *   a solicitation from :: or an advertisement for a tentative address makes it a duplicate,
 *   which is never used and is reported (a static address's duplicate must fail start);
 * - router solicitation at start (RFC 4861 §6.3.7): after a random delay up to 1 s, up to 3,
 *   4 s apart, until an advertisement arrives;
 * - router advertisements (RFC 4861 §6.3.4, RFC 4862 §5.5.3): default routers with their
 *   lifetime, on-link prefixes (L), SLAAC addresses from autonomous /64 prefixes (A) with valid
 *   and preferred lifetimes and the two-hour rule, MTU, hop limit and NUD timers.
 * Randomness comes from a seed kept in the state (the engine seeds it from the Random device).
 */
import type { Ipv6Address, Ipv6Prefix } from "@mirage-ts/runtime";
import { IPV6_MIN_MTU } from "../ipv6/wire.ts";
import { solicitedNodeMulticast, slaacAddress } from "./addresses.ts";
import { NDP_INFINITE_LIFETIME, type NdpPrefixInformation } from "./options.ts";

export interface AutoconfConfig {
  /** The modified EUI-64 (or other 64-bit) interface identifier SLAAC addresses end with. */
  interfaceId: Uint8Array;
  /** Solicitations per address before it is ready (RFC 4862: 1; 0 turns DAD off). */
  dadTransmits: number;
  retransTimerMs: number;
  /** Router solicitations and advertisements: `--accept-router-advertisements`. */
  acceptRouterAdvertisements: boolean;
  maxRtrSolicitations: number;
  rtrSolicitationIntervalMs: number;
  maxRtrSolicitationDelayMs: number;
  /** The link's MTU: an advertised MTU above it is ignored. */
  linkMtu: number;
}

export const DEFAULT_AUTOCONF_CONFIG = {
  dadTransmits: 1,
  retransTimerMs: 1_000,
  acceptRouterAdvertisements: true,
  maxRtrSolicitations: 3,
  rtrSolicitationIntervalMs: 4_000,
  maxRtrSolicitationDelayMs: 1_000,
  linkMtu: 1500,
} as const satisfies Omit<AutoconfConfig, "interfaceId">;

export type AddressOrigin = "link-local" | "static" | "slaac";
export type AddressState = "tentative" | "preferred" | "deprecated" | "duplicate";

export interface AutoconfAddress {
  readonly address: Ipv6Address;
  readonly prefixLength: number;
  readonly origin: AddressOrigin;
  readonly state: AddressState;
  /** DAD solicitations sent. */
  readonly dadSent: number;
  /** When the next DAD solicitation goes, or DAD completes (tentative only). */
  readonly dadAt: number;
  /** Infinity for no limit. */
  readonly preferredUntil: number;
  readonly validUntil: number;
}

export interface DefaultRouter {
  readonly ip: Ipv6Address;
  readonly expiresAt: number;
}

export interface OnLinkPrefix {
  readonly prefix: Ipv6Prefix;
  readonly expiresAt: number;
}

export interface AutoconfState {
  readonly config: AutoconfConfig;
  /** Keyed by the address's text. */
  readonly addresses: ReadonlyMap<string, AutoconfAddress>;
  readonly routers: ReadonlyMap<string, DefaultRouter>;
  readonly prefixes: ReadonlyMap<string, OnLinkPrefix>;
  /** Router solicitations: how many were sent and when the next goes (undefined: no more). */
  readonly solicitations: { readonly sent: number; readonly nextAt: number | undefined };
  /** The PRNG state for delays. */
  readonly seed: number;
}

export type AutoconfEvent =
  /** The interface is up: form the link-local address, add the static ones, solicit routers. */
  | { type: "start"; linkLocal: Ipv6Address; statics: readonly { address: Ipv6Address; prefixLength: number }[] }
  /** A neighbour solicitation for `target` from `src` (DAD by another host when `src` is ::). */
  | { type: "solicitation"; target: Ipv6Address; src: Ipv6Address }
  /** A neighbour advertisement for `target`. */
  | { type: "advertisement"; target: Ipv6Address }
  /** A valid router advertisement from `src` (link-local), already checked with ndpValidityProblem. */
  | {
      type: "router-advertisement";
      src: Ipv6Address;
      routerLifetime: number;
      curHopLimit: number;
      reachableTime: number;
      retransTimer: number;
      mtu: number | undefined;
      prefixes: readonly NdpPrefixInformation[];
    }
  | { type: "tick" };

export type AutoconfAction =
  /** Send an MLDv2 report joining `group` (before DAD: RFC 4862 §5.4.2). */
  | { type: "join"; group: Ipv6Address }
  | { type: "leave"; group: Ipv6Address }
  /** Send a neighbour solicitation for `target` from :: to its solicited-node group, without source link-layer option. */
  | { type: "dad-solicit"; target: Ipv6Address }
  | { type: "router-solicit" }
  /** The address passed DAD and may be used (as a source, and answered for). */
  | { type: "address-ready"; address: Ipv6Address; prefixLength: number; origin: AddressOrigin }
  /** Another host has it: it is not used. For a static address, start must fail; for the link-local one, IPv6 is unusable. */
  | { type: "address-duplicate"; address: Ipv6Address; origin: AddressOrigin }
  /** Someone claims an address we use (an advertisement for it after DAD): log it. */
  | { type: "address-conflict"; address: Ipv6Address }
  /** Its preferred lifetime ended: keep it for existing connections, prefer others for new ones. */
  | { type: "address-deprecated"; address: Ipv6Address }
  | { type: "address-removed"; address: Ipv6Address }
  | { type: "router-added"; ip: Ipv6Address }
  | { type: "router-removed"; ip: Ipv6Address }
  | { type: "prefix-added"; prefix: Ipv6Prefix }
  | { type: "prefix-removed"; prefix: Ipv6Prefix }
  /** Values the advertisement set (0/undefined ones are not given): for the IPv6 engine and the neighbour cache. */
  | { type: "link-parameters"; mtu?: number; curHopLimit?: number; baseReachableTimeMs?: number; retransTimerMs?: number };

export interface AutoconfStep {
  state: AutoconfState;
  actions: AutoconfAction[];
}

const TWO_HOURS_MS = 2 * 60 * 60 * 1000;

/** splitmix32 as a pure step: the next seed and a uint32. */
function draw(seed: number): [number, number] {
  const next = (seed + 0x9e3779b9) | 0;
  let t = next ^ (next >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  return [next, (t ^ (t >>> 15)) >>> 0];
}

/** A delay in [0, maxMs] and the next seed. */
function randomDelay(seed: number, maxMs: number): [number, number] {
  const [next, value] = draw(seed);
  return [next, Math.floor((value / 0x100000000) * (maxMs + 1))];
}

export function createAutoconfState(config: Partial<AutoconfConfig> & Pick<AutoconfConfig, "interfaceId">, seed: number): AutoconfState {
  return {
    config: { ...DEFAULT_AUTOCONF_CONFIG, ...config },
    addresses: new Map(),
    routers: new Map(),
    prefixes: new Map(),
    solicitations: { sent: 0, nextAt: undefined },
    seed: seed | 0,
  };
}

/** The addresses that passed DAD and are still valid (preferred first): what the engine may use. */
export function usableAddresses(state: AutoconfState): AutoconfAddress[] {
  const usable = [...state.addresses.values()].filter((a) => a.state === "preferred" || a.state === "deprecated");
  return usable.sort((x, y) => (x.state === y.state ? 0 : x.state === "preferred" ? -1 : 1));
}

/** When the engine must send a "tick", or undefined when nothing is timed. */
export function autoconfNextDeadline(state: AutoconfState): number | undefined {
  let next = state.solicitations.nextAt ?? Number.POSITIVE_INFINITY;
  for (const a of state.addresses.values()) {
    if (a.state === "tentative") next = Math.min(next, a.dadAt);
    else if (a.state === "preferred") next = Math.min(next, a.preferredUntil, a.validUntil);
    else if (a.state === "deprecated") next = Math.min(next, a.validUntil);
  }
  for (const r of state.routers.values()) next = Math.min(next, r.expiresAt);
  for (const p of state.prefixes.values()) next = Math.min(next, p.expiresAt);
  return Number.isFinite(next) ? next : undefined;
}

const lifetimeEnd = (now: number, seconds: number): number => (seconds === NDP_INFINITE_LIFETIME ? Number.POSITIVE_INFINITY : now + seconds * 1000);

export function autoconfStep(state: AutoconfState, now: number, event: AutoconfEvent): AutoconfStep {
  switch (event.type) {
    case "start":
      return start(state, now, event.linkLocal, event.statics);
    case "solicitation": {
      const a = state.addresses.get(event.target.toString());
      // RFC 4862 §5.4.3: only another host's DAD (from ::) proves a duplicate; a normal solicitation for
      // a tentative address is its sender's mistake, and for a ready address it is the engine's to answer.
      if (a === undefined || a.state !== "tentative" || !event.src.isUnspecified()) return { state, actions: [] };
      return duplicate(state, a);
    }
    case "advertisement": {
      const a = state.addresses.get(event.target.toString());
      if (a === undefined || a.state === "duplicate") return { state, actions: [] };
      if (a.state === "tentative") return duplicate(state, a);
      return { state, actions: [{ type: "address-conflict", address: a.address }] };
    }
    case "router-advertisement":
      return routerAdvertisement(state, now, event);
    case "tick":
      return tick(state, now);
  }
}

function start(state: AutoconfState, now: number, linkLocal: Ipv6Address, statics: readonly { address: Ipv6Address; prefixLength: number }[]): AutoconfStep {
  let s = state;
  const actions: AutoconfAction[] = [];
  const add = (address: Ipv6Address, prefixLength: number, origin: AddressOrigin): void => {
    const r = addTentative(s, now, address, prefixLength, origin, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    s = r.state;
    actions.push(...r.actions);
  };
  add(linkLocal, 64, "link-local");
  for (const st of statics) add(st.address, st.prefixLength, "static");
  if (s.config.acceptRouterAdvertisements && s.config.maxRtrSolicitations > 0) {
    const [seed, delay] = randomDelay(s.seed, s.config.maxRtrSolicitationDelayMs);
    s = { ...s, seed, solicitations: { sent: 0, nextAt: now + delay } };
  }
  return { state: s, actions };
}

function addTentative(
  state: AutoconfState,
  now: number,
  address: Ipv6Address,
  prefixLength: number,
  origin: AddressOrigin,
  preferredUntil: number,
  validUntil: number,
): AutoconfStep {
  const key = address.toString();
  if (state.addresses.has(key)) return { state, actions: [] };
  const [seed, delay] = randomDelay(state.seed, state.config.maxRtrSolicitationDelayMs);
  const entry: AutoconfAddress = { address, prefixLength, origin, state: "tentative", dadSent: 0, dadAt: now + delay, preferredUntil, validUntil };
  const addresses = new Map(state.addresses);
  addresses.set(key, entry);
  return { state: { ...state, seed, addresses }, actions: [{ type: "join", group: solicitedNodeMulticast(address) }] };
}

function duplicate(state: AutoconfState, a: AutoconfAddress): AutoconfStep {
  const addresses = new Map(state.addresses);
  addresses.set(a.address.toString(), { ...a, state: "duplicate" });
  return {
    state: { ...state, addresses },
    actions: [
      { type: "address-duplicate", address: a.address, origin: a.origin },
      { type: "leave", group: solicitedNodeMulticast(a.address) },
    ],
  };
}

function routerAdvertisement(state: AutoconfState, now: number, ra: Extract<AutoconfEvent, { type: "router-advertisement" }>): AutoconfStep {
  if (!state.config.acceptRouterAdvertisements) return { state, actions: [] };
  const actions: AutoconfAction[] = [];
  let s: AutoconfState = { ...state, solicitations: { ...state.solicitations, nextAt: undefined } };

  const key = ra.src.toString();
  if (ra.routerLifetime > 0) {
    const routers = new Map(s.routers);
    if (!routers.has(key)) actions.push({ type: "router-added", ip: ra.src });
    routers.set(key, { ip: ra.src, expiresAt: now + ra.routerLifetime * 1000 });
    s = { ...s, routers };
  } else if (s.routers.has(key)) {
    const routers = new Map(s.routers);
    routers.delete(key);
    actions.push({ type: "router-removed", ip: ra.src });
    s = { ...s, routers };
  }

  const parameters: Extract<AutoconfAction, { type: "link-parameters" }> = { type: "link-parameters" };
  if (ra.mtu !== undefined && ra.mtu >= IPV6_MIN_MTU && ra.mtu <= s.config.linkMtu) parameters.mtu = ra.mtu;
  if (ra.curHopLimit !== 0) parameters.curHopLimit = ra.curHopLimit;
  if (ra.reachableTime !== 0) parameters.baseReachableTimeMs = ra.reachableTime;
  if (ra.retransTimer !== 0) {
    parameters.retransTimerMs = ra.retransTimer;
    s = { ...s, config: { ...s.config, retransTimerMs: ra.retransTimer } };
  }
  if (Object.keys(parameters).length > 1) actions.push(parameters);

  for (const pi of ra.prefixes) {
    if (pi.prefix.address.isLinkLocal()) continue;
    if (pi.onLink) {
      const pkey = pi.prefix.network.toString() + "/" + pi.prefix.length;
      const prefixes = new Map(s.prefixes);
      if (pi.validLifetime === 0) {
        if (prefixes.delete(pkey)) actions.push({ type: "prefix-removed", prefix: pi.prefix });
      } else {
        if (!prefixes.has(pkey)) actions.push({ type: "prefix-added", prefix: pi.prefix });
        prefixes.set(pkey, { prefix: pi.prefix, expiresAt: lifetimeEnd(now, pi.validLifetime) });
      }
      s = { ...s, prefixes };
    }
    if (pi.autonomous && pi.preferredLifetime <= pi.validLifetime) {
      const r = slaacPrefix(s, now, pi);
      s = r.state;
      actions.push(...r.actions);
    }
  }
  return { state: s, actions };
}

/** RFC 4862 §5.5.3 (d) and (e). */
function slaacPrefix(state: AutoconfState, now: number, pi: NdpPrefixInformation): AutoconfStep {
  const address = slaacAddress(pi.prefix, state.config.interfaceId);
  if (address === undefined) return { state, actions: [] };
  const existing = state.addresses.get(address.toString());
  if (existing === undefined) {
    if (pi.validLifetime === 0) return { state, actions: [] };
    return addTentative(state, now, address, pi.prefix.length, "slaac", lifetimeEnd(now, pi.preferredLifetime), lifetimeEnd(now, pi.validLifetime));
  }
  if (existing.origin !== "slaac" || existing.state === "duplicate") return { state, actions: [] };
  // The two-hour rule: a short valid lifetime (an attacker's) can shorten ours only down to two hours.
  const advertisedEnd = lifetimeEnd(now, pi.validLifetime);
  const remaining = existing.validUntil - now;
  let validUntil = existing.validUntil;
  if (pi.validLifetime * 1000 > TWO_HOURS_MS || advertisedEnd > existing.validUntil) validUntil = advertisedEnd;
  else if (remaining > TWO_HOURS_MS) validUntil = now + TWO_HOURS_MS;
  const preferredUntil = lifetimeEnd(now, pi.preferredLifetime);
  const actions: AutoconfAction[] = [];
  let next: AutoconfAddress = { ...existing, validUntil, preferredUntil };
  if (existing.state === "deprecated" && preferredUntil > now) {
    next = { ...next, state: "preferred" };
    actions.push({ type: "address-ready", address: existing.address, prefixLength: existing.prefixLength, origin: "slaac" });
  }
  const addresses = new Map(state.addresses);
  addresses.set(address.toString(), next);
  return { state: { ...state, addresses }, actions };
}

function tick(state: AutoconfState, now: number): AutoconfStep {
  const { config } = state;
  const actions: AutoconfAction[] = [];
  let solicitations = state.solicitations;
  if (solicitations.nextAt !== undefined && solicitations.nextAt <= now) {
    actions.push({ type: "router-solicit" });
    const sent = solicitations.sent + 1;
    solicitations = { sent, nextAt: sent < config.maxRtrSolicitations ? now + config.rtrSolicitationIntervalMs : undefined };
  }
  const addresses = new Map(state.addresses);
  for (const [key, a] of state.addresses) {
    if (a.state === "duplicate") continue;
    if (a.validUntil <= now) {
      addresses.delete(key);
      actions.push({ type: "address-removed", address: a.address }, { type: "leave", group: solicitedNodeMulticast(a.address) });
      continue;
    }
    if (a.state === "tentative" && a.dadAt <= now) {
      if (a.dadSent < config.dadTransmits) {
        addresses.set(key, { ...a, dadSent: a.dadSent + 1, dadAt: now + config.retransTimerMs });
        actions.push({ type: "dad-solicit", target: a.address });
      } else {
        const ready = a.preferredUntil > now;
        addresses.set(key, { ...a, state: ready ? "preferred" : "deprecated" });
        actions.push({ type: "address-ready", address: a.address, prefixLength: a.prefixLength, origin: a.origin });
        if (!ready) actions.push({ type: "address-deprecated", address: a.address });
      }
    } else if (a.state === "preferred" && a.preferredUntil <= now) {
      addresses.set(key, { ...a, state: "deprecated" });
      actions.push({ type: "address-deprecated", address: a.address });
    }
  }
  const routers = new Map(state.routers);
  for (const [key, r] of state.routers) {
    if (r.expiresAt > now) continue;
    routers.delete(key);
    actions.push({ type: "router-removed", ip: r.ip });
  }
  const prefixes = new Map(state.prefixes);
  for (const [key, p] of state.prefixes) {
    if (p.expiresAt > now) continue;
    prefixes.delete(key);
    actions.push({ type: "prefix-removed", prefix: p.prefix });
  }
  return { state: { ...state, solicitations, addresses, routers, prefixes }, actions };
}
