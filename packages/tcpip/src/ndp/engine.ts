/**
 * The neighbour discovery engine (RFC 4861, RFC 4862, RFC 3810): wires the neighbour cache
 * (neighbor-cache.ts) and autoconfiguration (autoconfig.ts) state machines to the link.
 *
 * - Resolution: the IPv6 engine asks `resolve(nextHop)` per packet (a one-entry memo makes the
 *   common case a 16-byte compare); on a miss it hands the packet to `enqueue`, which the cache
 *   holds (bounded) while multicast solicitations go out, and releases through `NdpLink.release`.
 * - Solicitations for our addresses are answered (solicited, override, our MAC), and every
 *   solicitation, router solicitation and advertisement teaches us its sender's link-layer address.
 * - Autoconfiguration: DAD on the link-local, static and SLAAC addresses (their solicited-node
 *   groups joined first, with an MLDv2 report, as RFC 4862 §5.4.2 asks), router solicitations at
 *   start, router advertisements (default routers, on-link prefixes, SLAAC, MTU, hop limit, NUD
 *   timers). With `acceptRouterAdvertisements` false no solicitation is sent and every
 *   advertisement is ignored.
 * - MLDv2: state-change reports when a group is joined or left, sent once more a moment later
 *   (RFC 3810 §6.1 robustness), and current-state reports in answer to queries.
 *
 * Packets go out through the IPv6 engine (`NdpLink.sendControl`), built in its send buffer.
 */
import { Ipv6Address, type Ipv6Prefix, type Log, MacAddress, type MonotonicClock, type Random, type Time, type Timer } from "@mirage-ts/runtime";
import { createDeadlineTimer } from "../deadline-timer.ts";
import type { EthernetEngine } from "../ethernet/engine.ts";
import { IcmpV6Type } from "../icmpv6/wire.ts";
import type { IpRx, IpSendStatus } from "../ip-layer.ts";
import { Ipv6NextHeader } from "../ipv6/wire.ts";
import { logBug, silentLog } from "../logs.ts";
import { IPV6_ALL_MLDV2_ROUTERS, IPV6_ALL_NODES, IPV6_ALL_ROUTERS, ipv6MulticastMac, linkLocalAddress, modifiedEui64, solicitedNodeMulticast } from "./addresses.ts";
import {
  type AddressOrigin,
  type AddressState,
  type AutoconfAction,
  type AutoconfConfig,
  type AutoconfEvent,
  type AutoconfState,
  autoconfNextDeadline,
  autoconfStep,
  createAutoconfState,
  usableAddresses,
} from "./autoconfig.ts";
import { MLD_HOP_BY_HOP, MldRecordType, type MldV2Report, emitMldV2Report, mldV2ReportLength, parseMldQuery } from "./mld.ts";
import {
  type NeighborAction,
  type NeighborCacheConfig,
  type NeighborCacheState,
  type NeighborEvent,
  type NeighborState,
  createNeighborCacheState,
  neighborEntry,
  neighborLookup,
  neighborNextDeadline,
  neighborStep,
} from "./neighbor-cache.ts";
import type { NdpOption, NdpPrefixInformation } from "./options.ts";
import { type NdpMessage, NDP_HOP_LIMIT, emitNdp, findNdpOption, isNdpType, ndpLength, ndpValidityProblem, parseNdp } from "./wire.ts";

/** Timers and bounds, mostly for tests (RFC defaults otherwise). */
export interface NdpTuning {
  neighbor: Partial<NeighborCacheConfig>;
  autoconf: Partial<Pick<AutoconfConfig, "dadTransmits" | "retransTimerMs" | "maxRtrSolicitations" | "rtrSolicitationIntervalMs" | "maxRtrSolicitationDelayMs">>;
}

/** What the engine needs of the IPv6 layer (the IPv6 engine implements it). */
export interface NdpLink {
  readonly txBuffer: Uint8Array;
  readonly txPayloadOffset: number;
  /**
   * Sends `txBuffer[txPayloadOffset ..+length]` as an IPv6 packet with any source (:: included)
   * and hop limit; to `mac` when given (multicast, or a neighbour's known address), else the
   * destination is resolved as for any packet.
   */
  sendControl(dst: Ipv6Address, src: Ipv6Address, nextHeader: number, length: number, hopLimit: number, mac: MacAddress | undefined): IpSendStatus;
  /** The source address for a packet to `dst`, if any is usable. */
  source(dst: Ipv6Address): Ipv6Address | undefined;
  /** Queued packets (whole IPv6 packets) whose next hop resolved to `mac`. */
  release(mac: MacAddress, packets: readonly Uint8Array[]): void;
  /** Queued packets that will never go. */
  discard(ip: Ipv6Address, packets: readonly Uint8Array[], reason: "unreachable" | "queue-full" | "cache-full"): void;
  /** Addresses, routers, prefixes or link parameters changed. */
  changed(): void;
  /**
   * A valid redirect (RFC 4861 §8.1 checks done but one): `from` says packets to `destination` go
   * better to `target` (the destination itself: it is on-link). The link accepts it only when
   * `from` is the destination's current first-hop router, and then updates its destination cache.
   */
  redirect(from: Ipv6Address, target: Ipv6Address, destination: Ipv6Address): boolean;
}

export interface NdpOptions {
  ethernet: EthernetEngine;
  link: NdpLink;
  clock: MonotonicClock;
  time: Time;
  random: Random;
  /** Static addresses (`--ipv6`): DAD runs on them like on the link-local one. */
  statics: readonly Ipv6Prefix[];
  /** `--accept-router-advertisements`. */
  acceptRouterAdvertisements: boolean;
  tuning?: Partial<NdpTuning>;
  log?: Log;
}

export interface Ipv6AddressInfo {
  address: Ipv6Address;
  prefixLength: number;
  state: AddressState;
  origin: AddressOrigin;
}

export interface NeighborInfo {
  ip: Ipv6Address;
  /** Undefined while INCOMPLETE. */
  mac: MacAddress | undefined;
  state: NeighborState;
  isRouter: boolean;
}

export interface NdpStats {
  rxSolicitations: number;
  rxAdvertisements: number;
  rxRouterSolicitations: number;
  rxRouterAdvertisements: number;
  /** Router advertisements ignored: `--accept-router-advertisements=false`. */
  rxRouterAdvertisementsIgnored: number;
  rxRedirects: number;
  rxMldQueries: number;
  /** Undecodable, or failing RFC 4861's validity checks (hop limit 255, sources...). */
  rxInvalid: number;
  txSolicitations: number;
  txAdvertisements: number;
  txRouterSolicitations: number;
  txMldReports: number;
  /** Addresses found to be in use by another node. */
  duplicates: number;
  /** Neighbours that did not answer (their queued packets were dropped). */
  resolutionFailures: number;
  /** Packets dropped from a full per-neighbour queue or cache. */
  queueDrops: number;
}

export interface NdpEngine {
  start(): void;
  stop(): void;
  /** An ICMPv6 message of neighbour discovery (133-137) or MLD (130-132, 143), checksum verified. */
  receive(rx: IpRx<Ipv6Address>): void;
  /** The MAC of an on-link `ip` when it can be used now (a STALE entry starts NUD and is used); undefined: enqueue. */
  resolve(ip: Ipv6Address): MacAddress | undefined;
  /** Holds `packet` (a whole IPv6 packet, owned by the engine from now on) until `ip` resolves. */
  enqueue(ip: Ipv6Address, packet: Uint8Array): void;
  /** An upper layer saw forward progress with `ip` (RFC 4861 §7.3.1). */
  confirm(ip: Ipv6Address): void;
  /** Every address: tentative, preferred, deprecated and duplicate ones. */
  addresses(): Ipv6AddressInfo[];
  /** Addresses that passed DAD and are valid, preferred ones first. */
  usable(): Ipv6AddressInfo[];
  /** The default routers learnt from advertisements, best first (known reachable before unknown). */
  routers(): Ipv6Address[];
  /** On-link prefixes from advertisements (L flag). */
  onLinkPrefixes(): Ipv6Prefix[];
  /** The multicast groups we listen to (all-nodes and solicited-node groups). */
  groups(): Ipv6Address[];
  /** What advertisements set: the link MTU and hop limit (undefined: not set). */
  linkParameters(): { mtu: number | undefined; curHopLimit: number | undefined };
  entries(): NeighborInfo[];
  /**
   * Resolves when `address` passed DAD; rejects when it is a duplicate (for a static address the
   * message names `--ipv6`) or when `signal` aborts.
   */
  waitForAddress(address: Ipv6Address, signal?: AbortSignal): Promise<void>;
  stats(): NdpStats;
}

interface Waiter {
  address: Ipv6Address;
  resolve(): void;
  reject(error: Error): void;
}

const UNSPECIFIED = Ipv6Address.unspecified;
const ALL_NODES_MAC = ipv6MulticastMac(IPV6_ALL_NODES);
const ALL_ROUTERS_MAC = ipv6MulticastMac(IPV6_ALL_ROUTERS);
const MLD_ROUTERS_MAC = ipv6MulticastMac(IPV6_ALL_MLDV2_ROUTERS);
/** How long a host may wait before answering a query, at most (a query may ask for minutes). */
const MAX_QUERY_RESPONSE_DELAY_MS = 10_000;
/** RFC 3810 §9.11: Unsolicited Report Interval. */
const UNSOLICITED_REPORT_INTERVAL_MS = 1_000;

const originLabel = (origin: AddressOrigin): string => (origin === "slaac" ? "SLAAC" : origin);

/** The error a duplicate static address makes `connect` fail with. */
export function duplicateAddressError(address: Ipv6Address, origin: AddressOrigin): Error {
  return origin === "static"
    ? new Error(`IPv6 address ${address.toString()} is already used on the link (duplicate address detection): choose another --ipv6`)
    : new Error(`IPv6 address ${address.toString()} (${originLabel(origin)}) is already used on the link (duplicate address detection)`);
}

export function createNdp(options: NdpOptions): NdpEngine {
  const { ethernet, link, clock, time, random } = options;
  const log = options.log ?? silentLog;
  const mac = ethernet.mac;
  const linkLocal = linkLocalAddress(mac);
  const tuning = options.tuning ?? {};
  let cache: NeighborCacheState<Uint8Array> = createNeighborCacheState<Uint8Array>(tuning.neighbor ?? {}, random.uint32());
  let autoconf: AutoconfState = createAutoconfState(
    { ...tuning.autoconf, interfaceId: modifiedEui64(mac), acceptRouterAdvertisements: options.acceptRouterAdvertisements, linkMtu: ethernet.mtu },
    random.uint32(),
  );
  const neighborTimer = createDeadlineTimer(clock, time, () => neighbor({ type: "tick" }), logBug(log, "the neighbour cache timer"));
  const autoconfTimer = createDeadlineTimer(clock, time, () => configure({ type: "tick" }), logBug(log, "the autoconfiguration timer"));
  /** Joined groups, counted (a link-local and a SLAAC address share their solicited-node group). */
  const groups = new Map<string, { group: Ipv6Address; count: number }>();
  const lostRouters = new Set<string>();
  let waiters: Waiter[] = [];
  let usableCache: Ipv6AddressInfo[] = [];
  let linkMtu: number | undefined;
  let curHopLimit: number | undefined;
  let reportTimer: Timer | undefined;
  /**
   * RFC 4862 §5.4.2: the first message after start is delayed by a random 0..MAX_RTR_SOLICITATION_DELAY
   * (storm avoidance when a whole segment boots together). Autoconfiguration already delays each
   * DAD solicitation and the first router solicitation so; the MLD reports joining the
   * solicited-node groups wait with them (`quiet`), and go out together just before the first of
   * those messages, so a switch forwards the DAD traffic that follows.
   */
  let quiet = false;
  let quietTimer: Timer | undefined;
  let pendingJoins: Ipv6Address[] = [];
  let running = false;
  // The one-entry memo of `resolve`: valid while the cache is unchanged (`version`) and before `memoUntil`.
  let version = 0;
  let memoIp: Ipv6Address | undefined;
  let memoMac: MacAddress | undefined;
  let memoVersion = -1;
  let memoUntil = 0;
  const stats: NdpStats = {
    rxSolicitations: 0, rxAdvertisements: 0, rxRouterSolicitations: 0, rxRouterAdvertisements: 0, rxRouterAdvertisementsIgnored: 0,
    rxRedirects: 0, rxMldQueries: 0, rxInvalid: 0, txSolicitations: 0, txAdvertisements: 0, txRouterSolicitations: 0,
    txMldReports: 0, duplicates: 0, resolutionFailures: 0, queueDrops: 0,
  };
  const tx = link.txBuffer;
  const at = link.txPayloadOffset;

  // ---- sending

  const sendNdp = (message: NdpMessage, src: Ipv6Address, dst: Ipv6Address, dstMac: MacAddress | undefined): boolean => {
    const length = ndpLength(message);
    emitNdp(message, tx, at, src, dst);
    const status = link.sendControl(dst, src, Ipv6NextHeader.icmpv6, length, NDP_HOP_LIMIT, dstMac);
    return status === "sent" || status === "queued";
  };

  /** A link-local address that passed DAD: the source of router solicitations and MLD reports. */
  const readyLinkLocal = (): Ipv6Address | undefined => {
    const a = autoconf.addresses.get(linkLocal.toString());
    return a !== undefined && (a.state === "preferred" || a.state === "deprecated") ? a.address : undefined;
  };

  const sendReport = (report: MldV2Report): void => {
    if (!running || report.records.length === 0) return;
    // RFC 3810 §5.2.13: from the link-local address, or :: while it is not ready.
    const src = readyLinkLocal() ?? UNSPECIFIED;
    tx.set(MLD_HOP_BY_HOP, at);
    const length = MLD_HOP_BY_HOP.length + mldV2ReportLength(report);
    emitMldV2Report(report, tx, at + MLD_HOP_BY_HOP.length, src, IPV6_ALL_MLDV2_ROUTERS);
    const status = link.sendControl(IPV6_ALL_MLDV2_ROUTERS, src, Ipv6NextHeader.hopByHop, length, 1, MLD_ROUTERS_MAC);
    if (status === "sent") stats.txMldReports++;
  };

  /** The groups a report names: never ff02::1 (RFC 3810 §6: all-nodes is never reported). */
  const reportedGroups = (): Ipv6Address[] => [...groups.values()].map((g) => g.group).filter((g) => !g.equals(IPV6_ALL_NODES));

  const currentStateReport = (only?: Ipv6Address): MldV2Report => ({
    records: reportedGroups()
      .filter((g) => only === undefined || only.isUnspecified() || g.equals(only))
      .map((group) => ({ recordType: MldRecordType.modeIsExclude, group, sources: [], auxData: new Uint8Array(0) })),
  });

  /** One current-state report after a random delay up to `maxDelayMs` (several reasons to report make one report). */
  const scheduleReport = (maxDelayMs: number, only?: Ipv6Address): void => {
    if (reportTimer !== undefined || !running) return;
    const delay = Math.floor((random.uint32() / 0x100000000) * (maxDelayMs + 1));
    reportTimer = time.schedule(delay, () => {
      reportTimer = undefined;
      try {
        sendReport(currentStateReport(only));
      } catch (e) {
        logBug(log, "an MLD report")(e);
      }
    });
  };

  const joinReport = (joined: readonly Ipv6Address[]): void => {
    sendReport({ records: joined.map((group) => ({ recordType: MldRecordType.changeToExclude, group, sources: [], auxData: new Uint8Array(0) })) });
    // RFC 3810 §6.1: the state-change report is repeated (Robustness Variable), as one current-state report.
    scheduleReport(UNSOLICITED_REPORT_INTERVAL_MS);
  };

  /** The start-up delay is over (the first DAD or router solicitation is due): the deferred joins are reported. */
  const endQuiet = (): void => {
    if (!quiet) return;
    quiet = false;
    quietTimer?.cancel();
    quietTimer = undefined;
    const joined = pendingJoins;
    pendingJoins = [];
    // One state-change report per group, as a join at any other time sends (one report could carry them all).
    for (const group of joined) joinReport([group]);
  };

  const join = (group: Ipv6Address, report: boolean): void => {
    const key = group.toString();
    const g = groups.get(key);
    if (g !== undefined) {
      g.count++;
      return;
    }
    groups.set(key, { group, count: 1 });
    ethernet.joinMulticast(ipv6MulticastMac(group));
    link.changed();
    if (!report) return;
    if (quiet) pendingJoins.push(group);
    else joinReport([group]);
  };

  const leave = (group: Ipv6Address): void => {
    const key = group.toString();
    const g = groups.get(key);
    if (g === undefined) return;
    if (--g.count > 0) return;
    groups.delete(key);
    ethernet.leaveMulticast(ipv6MulticastMac(group));
    link.changed();
    if (quiet && pendingJoins.some((p) => p.equals(group))) {
      // Never reported as joined: nothing to take back.
      pendingJoins = pendingJoins.filter((p) => !p.equals(group));
      return;
    }
    sendReport({ records: [{ recordType: MldRecordType.changeToInclude, group, sources: [], auxData: new Uint8Array(0) }] });
  };

  // ---- the neighbour cache

  function neighbor(event: NeighborEvent<Uint8Array>): void {
    if (!running) return;
    const r = neighborStep(cache, clock.now(), event);
    if (r.state !== cache) version++;
    cache = r.state;
    neighborTimer.arm(neighborNextDeadline(cache));
    for (let i = 0; i < r.actions.length; i++) performNeighbor(r.actions[i]!);
  }

  const performNeighbor = (action: NeighborAction<Uint8Array>): void => {
    switch (action.type) {
      case "solicit": {
        // RFC 4861 §7.2.2: from one of our addresses (the link-local one for a link-local target).
        const src = link.source(action.target) ?? readyLinkLocal();
        if (src === undefined) return;
        const message: NdpMessage = { type: "neighbor-solicitation", target: action.target, options: [{ type: "source-link-layer-address", mac }] };
        if (sendNdp(message, src, action.dst, action.dstMac)) stats.txSolicitations++;
        break;
      }
      case "resolved":
        if (action.packets.length > 0) link.release(action.mac, action.packets);
        break;
      case "unreachable":
        stats.resolutionFailures++;
        log.debug(() => `neighbour ${action.ip.toString()} did not answer: ${action.packets.length} packets dropped`);
        link.discard(action.ip, action.packets, "unreachable");
        if (lostRouters.size > 0 || autoconf.routers.size > 0) link.changed();
        break;
      case "dropped":
        stats.queueDrops += action.packets.length;
        link.discard(action.ip, action.packets, action.reason);
        break;
      case "router-lost":
        lostRouters.add(action.ip.toString());
        log.info(`${action.ip.toString()} is no longer a router`);
        link.changed();
        break;
    }
  };

  // ---- autoconfiguration

  function configure(event: AutoconfEvent): void {
    if (!running) return;
    const r = autoconfStep(autoconf, clock.now(), event);
    autoconf = r.state;
    autoconfTimer.arm(autoconfNextDeadline(autoconf));
    let changed = false;
    for (let i = 0; i < r.actions.length; i++) changed = performAutoconf(r.actions[i]!) || changed;
    if (changed) {
      refreshUsable();
      link.changed();
    }
  }

  const refreshUsable = (): void => {
    usableCache = usableAddresses(autoconf).map((a) => ({ address: a.address, prefixLength: a.prefixLength, state: a.state, origin: a.origin }));
  };

  const settleWaiters = (address: Ipv6Address, error: Error | undefined): void => {
    const keep: Waiter[] = [];
    for (const w of waiters) {
      if (!w.address.equals(address)) keep.push(w);
      else if (error === undefined) w.resolve();
      else w.reject(error);
    }
    waiters = keep;
  };

  /** Performs one action; true when addresses, routers, prefixes or parameters changed. */
  const performAutoconf = (action: AutoconfAction): boolean => {
    switch (action.type) {
      case "join":
        join(action.group, true);
        return false;
      case "leave":
        leave(action.group);
        return false;
      case "dad-solicit": {
        endQuiet();
        // RFC 4862 §5.4.2: from ::, to the solicited-node group, no source link-layer option.
        const dst = solicitedNodeMulticast(action.target);
        if (sendNdp({ type: "neighbor-solicitation", target: action.target, options: [] }, UNSPECIFIED, dst, ipv6MulticastMac(dst))) stats.txSolicitations++;
        return false;
      }
      case "router-solicit": {
        endQuiet();
        const src = readyLinkLocal() ?? UNSPECIFIED;
        const options: NdpOption[] = src.isUnspecified() ? [] : [{ type: "source-link-layer-address", mac }];
        if (sendNdp({ type: "router-solicitation", options }, src, IPV6_ALL_ROUTERS, ALL_ROUTERS_MAC)) stats.txRouterSolicitations++;
        return false;
      }
      case "address-ready": {
        const shown = action.origin === "link-local" ? action.address.toString() : `${action.address.toString()}/${action.prefixLength}`;
        log.info(`IPv6 ${shown} (${originLabel(action.origin)})`);
        settleWaiters(action.address, undefined);
        return true;
      }
      case "address-duplicate": {
        stats.duplicates++;
        const error = duplicateAddressError(action.address, action.origin);
        if (action.origin === "link-local") {
          // RFC 4862 §5.4.5: without its link-local address the interface cannot do IPv6.
          log.err(`${error.message}: IPv6 is unusable on this link`);
        } else log.warn(`${error.message}: it is not used`);
        settleWaiters(action.address, error);
        return true;
      }
      case "address-conflict":
        log.warn(`another node on the link advertises ${action.address.toString()}, which this stack uses`);
        return false;
      case "address-deprecated":
        log.info(`IPv6 ${action.address.toString()} is deprecated (its preferred lifetime ended)`);
        return true;
      case "address-removed":
        log.info(`IPv6 ${action.address.toString()} removed (its valid lifetime ended)`);
        return true;
      case "router-added":
        lostRouters.delete(action.ip.toString());
        log.info(`IPv6 default router ${action.ip.toString()}`);
        return true;
      case "router-removed":
        log.info(`IPv6 default router ${action.ip.toString()} removed`);
        return true;
      case "prefix-added":
        log.debug(() => `on-link prefix ${action.prefix.toString()}`);
        return true;
      case "prefix-removed":
        log.debug(() => `on-link prefix ${action.prefix.toString()} removed`);
        return true;
      case "link-parameters":
        if (action.mtu !== undefined) linkMtu = action.mtu;
        if (action.curHopLimit !== undefined) curHopLimit = action.curHopLimit;
        if (action.baseReachableTimeMs !== undefined || action.retransTimerMs !== undefined) {
          neighbor({ type: "timers", baseReachableTimeMs: action.baseReachableTimeMs ?? 0, retransTimerMs: action.retransTimerMs ?? 0, random: random.uint32() });
        }
        return true;
    }
  };

  // ---- receiving

  const receiveNdp = (rx: IpRx<Ipv6Address>, bytes: Uint8Array): void => {
    const parsed = parseNdp(bytes, rx.src, rx.dst);
    if (!parsed.ok) {
      stats.rxInvalid++;
      log.debug(() => `neighbour discovery from ${rx.src.toString()} dropped: ${parsed.error.message}`);
      return;
    }
    const message = parsed.value;
    const problem = ndpValidityProblem(message, rx);
    if (problem !== undefined) {
      stats.rxInvalid++;
      log.debug(() => `neighbour discovery from ${rx.src.toString()} dropped: ${problem}`);
      return;
    }
    const fromUnspecified = rx.src.isUnspecified();
    switch (message.type) {
      case "neighbor-solicitation": {
        stats.rxSolicitations++;
        const ours = autoconf.addresses.get(message.target.toString());
        if (ours === undefined || ours.state === "duplicate") return;
        if (ours.state === "tentative") {
          configure({ type: "solicitation", target: message.target, src: rx.src });
          return;
        }
        const sll = findNdpOption(message.options, "source-link-layer-address");
        if (!fromUnspecified && sll !== undefined) neighbor({ type: "learned", ip: rx.src, mac: sll.mac });
        // RFC 4861 §7.2.4: solicited and override; to all-nodes when the solicitation came from :: (DAD).
        const dst = fromUnspecified ? IPV6_ALL_NODES : rx.src;
        const dstMac = fromUnspecified ? ALL_NODES_MAC : sll?.mac;
        const answer: NdpMessage = {
          type: "neighbor-advertisement",
          router: false,
          solicited: !fromUnspecified,
          override: true,
          target: message.target,
          options: [{ type: "target-link-layer-address", mac }],
        };
        if (sendNdp(answer, message.target, dst, dstMac)) stats.txAdvertisements++;
        return;
      }
      case "neighbor-advertisement": {
        stats.rxAdvertisements++;
        if (autoconf.addresses.has(message.target.toString())) {
          configure({ type: "advertisement", target: message.target });
          return;
        }
        const tll = findNdpOption(message.options, "target-link-layer-address");
        neighbor({
          type: "advertisement",
          target: message.target,
          mac: tll?.mac,
          router: message.router,
          solicited: message.solicited,
          override: message.override,
        });
        return;
      }
      case "router-solicitation": {
        stats.rxRouterSolicitations++;
        const sll = findNdpOption(message.options, "source-link-layer-address");
        if (!fromUnspecified && sll !== undefined) neighbor({ type: "learned", ip: rx.src, mac: sll.mac, router: false });
        return;
      }
      case "router-advertisement": {
        if (!options.acceptRouterAdvertisements) {
          stats.rxRouterAdvertisementsIgnored++;
          return;
        }
        stats.rxRouterAdvertisements++;
        const sll = findNdpOption(message.options, "source-link-layer-address");
        if (sll !== undefined) neighbor({ type: "learned", ip: rx.src, mac: sll.mac, router: true });
        lostRouters.delete(rx.src.toString());
        const mtu = findNdpOption(message.options, "mtu");
        configure({
          type: "router-advertisement",
          src: rx.src,
          routerLifetime: message.routerLifetime,
          curHopLimit: message.curHopLimit,
          reachableTime: message.reachableTime,
          retransTimer: message.retransTimer,
          mtu: mtu?.mtu,
          prefixes: message.options.filter((o): o is NdpPrefixInformation => o.type === "prefix-information"),
        });
        return;
      }
      case "redirect": {
        // RFC 4861 §8.3: a host SHOULD follow redirects from the router it uses for the destination.
        stats.rxRedirects++;
        if (!link.redirect(rx.src, message.target, message.destination)) {
          log.debug(() => `redirect from ${rx.src.toString()} for ${message.destination.toString()} ignored: not its first-hop router`);
          return;
        }
        const tll = findNdpOption(message.options, "target-link-layer-address");
        // A target other than the destination is a router; the destination itself is a plain neighbour.
        const router = message.target.equals(message.destination) ? undefined : true;
        if (tll !== undefined) neighbor({ type: "learned", ip: message.target, mac: tll.mac, ...(router !== undefined ? { router } : {}) });
        return;
      }
    }
  };

  const receiveMldQuery = (rx: IpRx<Ipv6Address>, bytes: Uint8Array): void => {
    const query = parseMldQuery(bytes, rx.src, rx.dst);
    if (!query.ok || !rx.src.isLinkLocal()) {
      stats.rxInvalid++;
      return;
    }
    stats.rxMldQueries++;
    const group = query.value.group;
    if (!group.isUnspecified() && !groups.has(group.toString())) return;
    scheduleReport(Math.min(query.value.maxResponseDelayMs, MAX_QUERY_RESPONSE_DELAY_MS), group);
  };

  return {
    start(): void {
      if (running) return;
      running = true;
      join(IPV6_ALL_NODES, false);
      quiet = true;
      configure({ type: "start", linkLocal, statics: options.statics.map((p) => ({ address: p.address, prefixLength: p.length })) });
      // The first message autoconfiguration will send (each of its delays is random in 0..MAX_RTR_SOLICITATION_DELAY).
      let first = autoconf.solicitations.nextAt ?? Number.POSITIVE_INFINITY;
      for (const a of autoconf.addresses.values()) if (a.state === "tentative" && a.dadAt < first) first = a.dadAt;
      if (Number.isFinite(first)) quietTimer = time.schedule(Math.max(0, first - clock.now()), endQuiet);
      else endQuiet();
    },
    stop(): void {
      if (!running) return;
      running = false;
      neighborTimer.stop();
      autoconfTimer.stop();
      reportTimer?.cancel();
      reportTimer = undefined;
      quietTimer?.cancel();
      quietTimer = undefined;
      quiet = false;
      pendingJoins = [];
      for (const g of groups.values()) ethernet.leaveMulticast(ipv6MulticastMac(g.group));
      groups.clear();
      for (const w of waiters) w.reject(new Error(`the stack stopped before DAD on ${w.address.toString()} finished`));
      waiters = [];
    },
    receive(rx): void {
      if (!running) return;
      const bytes = rx.buffer.subarray(rx.payloadOffset, rx.payloadOffset + rx.payloadLength);
      const type = bytes[0]!;
      if (isNdpType(type)) receiveNdp(rx, bytes);
      else if (type === IcmpV6Type.mldQuery) receiveMldQuery(rx, bytes);
      // MLD reports and dones of other listeners: a host has nothing to do with them (RFC 3810 §6).
    },
    resolve(ip): MacAddress | undefined {
      const now = clock.now();
      if (memoVersion === version && memoIp !== undefined && now < memoUntil && sameAddress(memoIp, ip)) return memoMac;
      const found = neighborLookup(cache, now, ip);
      if (found !== undefined) {
        const e = neighborEntry(cache, ip)!;
        memoIp = ip;
        memoMac = found;
        memoVersion = version;
        memoUntil = e.state === "reachable" ? e.deadline : Number.POSITIVE_INFINITY;
        return found;
      }
      const e = neighborEntry(cache, ip);
      if (e === undefined || e.mac === undefined) return undefined;
      // STALE (or REACHABLE past its time): usable, and the first use starts NUD (DELAY).
      neighbor({ type: "resolve", ip });
      return e.mac;
    },
    enqueue(ip, packet): void {
      neighbor({ type: "resolve", ip, packet });
    },
    confirm(ip): void {
      const e = neighborEntry(cache, ip);
      if (e !== undefined && e.mac !== undefined && e.state !== "reachable") neighbor({ type: "confirm", ip });
    },
    addresses: () => [...autoconf.addresses.values()].map((a) => ({ address: a.address, prefixLength: a.prefixLength, state: a.state, origin: a.origin })),
    usable: () => usableCache,
    routers(): Ipv6Address[] {
      const all = [...autoconf.routers.values()].map((r) => r.ip).filter((ip) => !lostRouters.has(ip.toString()));
      // RFC 4861 §6.3.6: routers known reachable (or probably so) before the others.
      const known = (ip: Ipv6Address): boolean => {
        const e = neighborEntry(cache, ip);
        return e !== undefined && e.state !== "incomplete";
      };
      return [...all.filter(known), ...all.filter((ip) => !known(ip))];
    },
    onLinkPrefixes: () => [...autoconf.prefixes.values()].map((p) => p.prefix),
    groups: () => [...groups.values()].map((g) => g.group),
    linkParameters: () => ({ mtu: linkMtu, curHopLimit }),
    entries: () => [...cache.entries.values()].map((e) => ({ ip: e.ip, mac: e.mac, state: e.state, isRouter: e.isRouter })),
    waitForAddress(address, signal): Promise<void> {
      const a = autoconf.addresses.get(address.toString());
      if (a !== undefined && (a.state === "preferred" || a.state === "deprecated")) return Promise.resolve();
      if (a !== undefined && a.state === "duplicate") return Promise.reject(duplicateAddressError(a.address, a.origin));
      if (!running) return Promise.reject(new Error(`the stack is stopped: ${address.toString()} will not become ready`));
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = { address, resolve, reject };
        if (signal !== undefined) {
          if (signal.aborted) {
            reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
            return;
          }
          signal.addEventListener(
            "abort",
            () => {
              waiters = waiters.filter((w) => w !== waiter);
              reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
            },
            { once: true },
          );
        }
        waiters.push(waiter);
      });
    },
    stats: () => ({ ...stats }),
  };
}

/** Compares two addresses byte by byte (no allocation). */
export function sameAddress(a: Ipv6Address, b: Ipv6Address): boolean {
  if (a === b) return true;
  const x = a.bytes;
  const y = b.bytes;
  for (let i = 15; i >= 0; i--) if (x[i] !== y[i]) return false;
  return true;
}
