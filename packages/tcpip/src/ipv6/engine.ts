/**
 * The IPv6 engine (RFC 8200, RFC 4861 §5 conceptual sending, RFC 6724 source selection, RFC 8201
 * path MTU): an `IpLayer<Ipv6Address>` between Ethernet and the transports, with neighbour
 * discovery (../ndp/engine.ts) owned and driven by it.
 *
 * Receive: the fixed header is checked in place; packets for our usable addresses (DAD passed)
 * and for the groups we joined are kept. TCP, UDP and ICMPv6 right after the fixed header take
 * the fast path; anything else walks the extension headers (walkIpv6ExtensionHeaders), which may
 * ask for an ICMPv6 parameter problem. Fragments go through the reassembly state machine; a
 * reassembled packet is rebuilt as one unfragmented packet and received again, so that it takes
 * the same path (and an error about it quotes a consistent packet).
 *
 * Send: transports build their bytes at IPV6_TX_PAYLOAD_OFFSET in `txBuffer`; the fixed header
 * and the Ethernet header are written in front. The offset leaves room for a Fragment header too:
 * above the path MTU the packet is cut in place, each fragment's headers written over the tail of
 * the previous fragment, which the netif has consumed (as IPv4 does). Next hop: the destination
 * when it is link-local, a redirect's target (RFC 4861 §8.3: accepted only from the destination's
 * current first-hop router, kept REDIRECT_AGE_MS), the destination when in an on-link prefix (a
 * static address's, or advertised with L), else a default router (`--ipv6-gateway`, or learnt
 * from advertisements). The neighbour's MAC comes from the neighbour cache; a packet waiting for
 * resolution is copied into its bounded queue. When the neighbour never answers, the transports
 * hear of their dropped packets through `setErrorHandler` (a hard "unreachable"), as ICMPv6
 * errors from the path reach them too (`reportError`, called by the ICMPv6 engine).
 *
 * The path MTU of a destination starts at the link MTU (an advertised MTU may lower it) and is
 * lowered by Packet Too Big, never below 1280; entries age out after 10 minutes (RFC 8201 §4).
 */
import {
  FlowError,
  type IpAddress,
  Ipv6Address,
  type Ipv6Prefix,
  type Log,
  type MacAddress,
  type MonotonicClock,
  type Random,
  type Time,
  type Timer,
} from "@mirage-ts/runtime";
import { get16, set16, set32 } from "../bytes.ts";
import { pseudoHeaderSum } from "../checksum.ts";
import { createDeadlineTimer } from "../deadline-timer.ts";
import type { EthernetEngine } from "../ethernet/engine.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "../ethernet/wire.ts";
import type { IpErrorHandler, IpErrorReport, IpLayer, IpRx, IpRxHandler, IpSendStatus } from "../ip-layer.ts";
import { logBug, silentLog } from "../logs.ts";
import { ipv6MulticastMac } from "../ndp/addresses.ts";
import { type Ipv6AddressInfo, type NdpEngine, type NdpTuning, createNdp, sameAddress } from "../ndp/engine.ts";
import type { ReassemblyConfig } from "../reassembly-buffer.ts";
import { walkIpv6ExtensionHeaders } from "./extension-headers.ts";
import { IPV6_FRAGMENT_HEADER_LEN } from "./fragment.ts";
import {
  type Ipv6ReassemblyAction,
  type Ipv6ReassemblyEvent,
  type Ipv6ReassemblyState,
  createIpv6ReassemblyState,
  ipv6ReassemblyNextDeadline,
  ipv6ReassemblyStep,
} from "./reassembly.ts";
import { IPV6_HEADER_LEN, IPV6_MAX_PAYLOAD_LEN, IPV6_MIN_MTU, Ipv6NextHeader, writeIpv6Header } from "./wire.ts";

/** Where a transport writes its bytes in `txBuffer`: after Ethernet, IPv6 and room for a Fragment header. */
export const IPV6_TX_PAYLOAD_OFFSET = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN;
/** Where an unfragmented packet's IPv6 header starts in `txBuffer`. */
const HEADER_AT = IPV6_TX_PAYLOAD_OFFSET - IPV6_HEADER_LEN;
/** Where an unfragmented packet's frame starts in `txBuffer`. */
const FRAME_AT = HEADER_AT - ETHERNET_HEADER_LEN;
export const DEFAULT_HOP_LIMIT = 64;
/** RFC 8201 §4: try a larger path MTU again after this long. */
export const PATH_MTU_AGE_MS = 10 * 60 * 1000;
const PATH_MTU_CACHE_MAX = 1024;
/**
 * How long a redirect holds (RFC 4861 leaves it to the implementation): after this the destination
 * goes back to the default router, which redirects again if it still should.
 */
export const REDIRECT_AGE_MS = 10 * 60 * 1000;
const REDIRECT_CACHE_MAX = 1024;
/** Bytes of packets held while their next hop resolves, across neighbours. */
export const NDP_QUEUE_MAX_BYTES = 4 * 1024 * 1024;

/** Where the engine reports what ICMPv6 must answer (the ICMPv6 engine registers itself). */
export interface Ipv6ErrorSink {
  /** `packet` (IPv6 header first) deserves a parameter problem; `multicastAllowed`: even if it was sent to a group (RFC 4443 §2.4 e.2). */
  parameterProblem(packet: Uint8Array, code: number, pointer: number, multicastAllowed: boolean): void;
  /** A datagram did not reassemble in time; `quote` is its first fragment. */
  reassemblyTimeout(quote: Uint8Array): void;
  /** Destination unreachable (port unreachable, code 4, for a closed UDP port) about `packet`. */
  destinationUnreachable(packet: Uint8Array, code: number): void;
}

export interface Ipv6Stats {
  rxPackets: number;
  rxTruncated: number;
  rxBadVersion: number;
  rxNotForUs: number;
  /** A multicast source, or one of our own addresses coming back from the wire. */
  rxMartian: number;
  /** Extension headers that failed the walk (a parameter problem went back when RFC 8200 asks). */
  rxBadExtensionHeaders: number;
  rxFragments: number;
  rxReassembled: number;
  rxReassemblyDrops: number;
  rxReassemblyTimeouts: number;
  rxUnknownProtocol: number;
  rxDelivered: number;
  txPackets: number;
  txFragments: number;
  txQueued: number;
  txNoRoute: number;
  txNoAddress: number;
  /** Packets dropped because their next hop did not answer neighbour discovery (or its queue was full). */
  txUnresolved: number;
  txDropped: number;
  txLoopback: number;
  rxLoopbackErrors: number;
  /** Packet Too Big messages that lowered a path MTU. */
  pathMtuUpdates: number;
  /** Redirects followed (RFC 4861 §8.3), and those refused (not from the destination's current first hop). */
  redirects: number;
  redirectsRefused: number;
}

export interface Ipv6Config {
  /** Static addresses (`--ipv6`); DAD runs on them. */
  addresses: readonly Ipv6Prefix[];
  /** `--ipv6-gateway`: a default router besides those advertised. */
  gateway: Ipv6Address | undefined;
  /** `--accept-router-advertisements` (default true). */
  acceptRouterAdvertisements: boolean;
}

export interface Ipv6Engine extends IpLayer<Ipv6Address> {
  readonly family: 6;
  readonly ndp: NdpEngine;
  /** The link MTU for IPv6: the netif's, or lower when an advertisement said so. */
  readonly mtu: number;
  readonly config: Ipv6Config;
  /** Every address and its DAD state. */
  addresses(): Ipv6AddressInfo[];
  /** The default routers: `--ipv6-gateway` first, then those advertised. */
  routers(): Ipv6Address[];
  /** The hop limit packets leave with (64, or what an advertisement set). */
  hopLimit(): number;
  pathMtu(dst: Ipv6Address): number;
  /** A Packet Too Big about a packet we sent to `dst` reported `mtu`. */
  packetTooBig(dst: Ipv6Address, mtu: number): void;
  /** The neighbour a packet to `dst` goes to now (itself, a redirect's target, or a default router); undefined: no route. */
  nextHop(dst: Ipv6Address): Ipv6Address | undefined;
  /**
   * Hands an error about a packet of `protocol` we sent to the transport that registered with
   * `setErrorHandler` (the ICMPv6 engine calls it for the errors it receives).
   */
  reportError(protocol: number, report: IpErrorReport<Ipv6Address>): void;
  setErrorSink(sink: Ipv6ErrorSink): void;
  start(): void;
  stop(): void;
  stats(): Ipv6Stats;
}

export interface Ipv6Options {
  ethernet: EthernetEngine;
  clock: MonotonicClock;
  time: Time;
  random: Random;
  config: Partial<Ipv6Config>;
  reassembly?: Partial<ReassemblyConfig>;
  ndp?: Partial<NdpTuning>;
  /** Bytes of packets held while their next hop resolves; default NDP_QUEUE_MAX_BYTES. */
  queueMaxBytes?: number;
  log?: Log;
  ndpLog?: Log;
}

const hexKeys = new WeakMap<Ipv6Address, string>();

/** The address as 32 hex digits, memoised per address object (Map keys for transports). */
export function ipv6Key(a: Ipv6Address): string {
  let key = hexKeys.get(a);
  if (key === undefined) {
    key = "";
    const b = a.bytes;
    for (let i = 0; i < 16; i++) key += (b[i]! < 16 ? "0" : "") + b[i]!.toString(16);
    hexKeys.set(a, key);
  }
  return key;
}

/** FNV-1a over the 16 bytes. */
export function ipv6Hash32(a: Ipv6Address): number {
  let h = 0x811c9dc5;
  const b = a.bytes;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** Link-local or interface-/link-scoped multicast: answered from the link-local address (RFC 6724 §3.1). */
function linkScoped(a: Ipv6Address): boolean {
  const b = a.bytes;
  if (b[0] === 0xff) return (b[1]! & 0x0f) <= 2;
  return a.isLinkLocal();
}

/** Bits in common from the start (RFC 6724 rule 8). */
function commonPrefixLength(a: Ipv6Address, b: Ipv6Address): number {
  for (let i = 0; i < 16; i++) {
    const x = a.bytes[i]! ^ b.bytes[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

/** The index of the address equal to the 16 bytes at `bytes[offset]` in `list`, or -1. */
function indexAt(list: readonly Ipv6Address[], bytes: Uint8Array, offset: number): number {
  for (let k = 0; k < list.length; k++) {
    const a = list[k]!.bytes;
    let i = 15;
    while (i >= 0 && a[i] === bytes[offset + i]) i--;
    if (i < 0) return k;
  }
  return -1;
}

export function createIpv6(options: Ipv6Options): Ipv6Engine {
  const { ethernet, clock, time, random } = options;
  const log = options.log ?? silentLog;
  const loopbackBug = logBug(log, "a packet to our own address");
  const config: Ipv6Config = {
    addresses: options.config.addresses ?? [],
    gateway: options.config.gateway,
    acceptRouterAdvertisements: options.config.acceptRouterAdvertisements ?? true,
  };
  const txBuffer = new Uint8Array(IPV6_TX_PAYLOAD_OFFSET + IPV6_MAX_PAYLOAD_LEN);
  const savedHeader = new Uint8Array(IPV6_HEADER_LEN);
  let reassembly: Ipv6ReassemblyState = createIpv6ReassemblyState(options.reassembly);
  const reassemblyTimer = createDeadlineTimer(clock, time, () => reassemble({ type: "tick" }), logBug(log, "the IPv6 reassembly timer"));
  let icmp: IpRxHandler<Ipv6Address> | undefined;
  let udp: IpRxHandler<Ipv6Address> | undefined;
  let tcp: IpRxHandler<Ipv6Address> | undefined;
  const others = new Map<number, IpRxHandler<Ipv6Address>>();
  let errors: Ipv6ErrorSink | undefined;
  let running = false;
  let loopback: Uint8Array[] = [];
  let loopbackTimer: Timer | undefined;
  const pathMtus = new Map<string, { mtu: number; expiresAt: number }>();
  const queueMaxBytes = options.queueMaxBytes ?? NDP_QUEUE_MAX_BYTES;
  let queuedBytes = 0;
  const stats: Ipv6Stats = {
    rxPackets: 0, rxTruncated: 0, rxBadVersion: 0, rxNotForUs: 0, rxMartian: 0, rxBadExtensionHeaders: 0, rxFragments: 0,
    rxReassembled: 0, rxReassemblyDrops: 0, rxReassemblyTimeouts: 0, rxUnknownProtocol: 0, rxDelivered: 0, txPackets: 0,
    txFragments: 0, txQueued: 0, txNoRoute: 0, txNoAddress: 0, txUnresolved: 0, txDropped: 0, txLoopback: 0,
    rxLoopbackErrors: 0, pathMtuUpdates: 0, redirects: 0, redirectsRefused: 0,
  };
  const errorHandlers = new Map<number, IpErrorHandler<Ipv6Address>>();
  /** The destination cache's redirected entries (RFC 4861 §8.3), keyed by ipv6Key(destination). */
  const redirects = new Map<string, { target: Ipv6Address; expiresAt: number }>();

  // Hot-path copies of what neighbour discovery decided, refreshed when it changes.
  /** Usable (DAD passed, valid) addresses; `usablePreferred[k]` says whether ours[k] is preferred. */
  let ours: Ipv6Address[] = [];
  let oursInfo: Ipv6AddressInfo[] = [];
  let groupList: Ipv6Address[] = [];
  let onLink: Ipv6Prefix[] = [...config.addresses];
  let routerList: Ipv6Address[] = config.gateway !== undefined ? [config.gateway] : [];
  let linkMtu = ethernet.mtu;
  let curHopLimit = DEFAULT_HOP_LIMIT;

  const refresh = (): void => {
    oursInfo = ndp.usable();
    ours = oursInfo.map((a) => a.address);
    groupList = ndp.groups();
    onLink = [...config.addresses, ...ndp.onLinkPrefixes()];
    routerList = config.gateway !== undefined ? [config.gateway, ...ndp.routers().filter((r) => !r.equals(config.gateway!))] : ndp.routers();
    const parameters = ndp.linkParameters();
    linkMtu = Math.max(IPV6_MIN_MTU, Math.min(ethernet.mtu, parameters.mtu ?? ethernet.mtu));
    curHopLimit = parameters.curHopLimit ?? DEFAULT_HOP_LIMIT;
  };

  const rx: IpRx<Ipv6Address> = {
    buffer: txBuffer, payloadOffset: 0, payloadLength: 0, src: Ipv6Address.unspecified, dst: Ipv6Address.unspecified,
    protocol: 0, hopLimit: 0, unicast: false, owned: false,
  };
  /** The packet being delivered (header first), for an error about it; `deliveringPacket` says until when. */
  let currentPacket: Uint8Array = txBuffer;
  let currentOffset = 0;
  let currentLength = 0;
  let delivering = false;
  // The last source seen: consecutive packets of one flow reuse its address object.
  let lastSrc: Ipv6Address = Ipv6Address.unspecified;

  // ---- receive

  const packetOf = (): Uint8Array => currentPacket.subarray(currentOffset, currentOffset + currentLength);

  const deliver = (): void => {
    const p = rx.protocol;
    const handler = p === 6 ? tcp : p === 17 ? udp : p === 58 ? icmp : others.get(p);
    if (handler === undefined) {
      stats.rxUnknownProtocol++;
      return;
    }
    stats.rxDelivered++;
    delivering = true;
    try {
      handler(rx);
    } finally {
      delivering = false;
    }
  };

  function reassemble(event: Ipv6ReassemblyEvent): void {
    if (!running) return;
    const r = ipv6ReassemblyStep(reassembly, clock.now(), event);
    reassembly = r.state;
    reassemblyTimer.arm(ipv6ReassemblyNextDeadline(reassembly));
    for (let i = 0; i < r.actions.length; i++) performReassembly(r.actions[i]!, event);
  }

  const performReassembly = (action: Ipv6ReassemblyAction, event: Ipv6ReassemblyEvent): void => {
    switch (action.type) {
      case "reassembled": {
        stats.rxReassembled++;
        const { header, unfragmentable, nextHeader, payload } = action.packet;
        // One unfragmented packet: the header, the unfragmentable headers chained to the fragmentable part.
        const whole = new Uint8Array(IPV6_HEADER_LEN + unfragmentable.length + payload.length);
        writeIpv6Header({ ...header, nextHeader: unfragmentable.length > 0 ? header.nextHeader : nextHeader }, whole.length - IPV6_HEADER_LEN, whole, 0);
        if (unfragmentable.length > 0) {
          whole.set(unfragmentable, IPV6_HEADER_LEN);
          let last = 0;
          for (let h = 0; h < unfragmentable.length; h += (unfragmentable[h + 1]! + 1) * 8) last = h;
          whole[IPV6_HEADER_LEN + last] = nextHeader;
        }
        whole.set(payload, IPV6_HEADER_LEN + unfragmentable.length);
        receive(whole, 0, whole.length, true, false);
        break;
      }
      case "dropped":
        stats.rxReassemblyDrops++;
        log.debug(() => `fragments of ${action.id.src.toString()} → ${action.id.dst.toString()} id ${action.id.identification} dropped: ${action.reason}`);
        break;
      case "timed-out":
        stats.rxReassemblyTimeouts++;
        if (action.quote !== undefined) errors?.reassemblyTimeout(action.quote);
        break;
      case "parameter-problem":
        stats.rxReassemblyDrops++;
        if (event.type === "fragment") errors?.parameterProblem(event.packet, action.code, action.pointer, false);
        break;
    }
  };

  /** Receives the packet at `bytes[offset..end]` (end: the bytes available, Ethernet padding included). */
  const receive = (bytes: Uint8Array, offset: number, end: number, owned: boolean, linkMulticast: boolean): void => {
    stats.rxPackets++;
    const available = end - offset;
    if (available < IPV6_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    if (bytes[offset]! >> 4 !== 6) {
      stats.rxBadVersion++;
      return;
    }
    const payloadLength = get16(bytes, offset + 4);
    if (IPV6_HEADER_LEN + payloadLength > available) {
      stats.rxTruncated++;
      return;
    }
    let dst: Ipv6Address;
    let unicast: boolean;
    const k = indexAt(ours, bytes, offset + 24);
    if (k >= 0) {
      dst = ours[k]!;
      unicast = !linkMulticast;
    } else {
      const g = bytes[offset + 24] === 0xff ? indexAt(groupList, bytes, offset + 24) : -1;
      if (g < 0) {
        stats.rxNotForUs++;
        return;
      }
      dst = groupList[g]!;
      unicast = false;
    }
    if (bytes[offset + 8] === 0xff || (!owned && indexAt(ours, bytes, offset + 8) >= 0)) {
      stats.rxMartian++;
      return;
    }
    let src = lastSrc;
    {
      const s = src.bytes;
      let i = 15;
      while (i >= 0 && s[i] === bytes[offset + 8 + i]) i--;
      if (i >= 0) src = lastSrc = Ipv6Address.ofBytes(bytes, offset + 8);
    }
    if (src.isUnspecified()) unicast = false;
    const nextHeader = bytes[offset + 6]!;
    currentPacket = bytes;
    currentOffset = offset;
    currentLength = IPV6_HEADER_LEN + payloadLength;
    rx.src = src;
    rx.dst = dst;
    rx.hopLimit = bytes[offset + 7]!;
    rx.unicast = unicast;
    rx.owned = owned;
    rx.buffer = bytes;
    if (nextHeader === Ipv6NextHeader.tcp || nextHeader === Ipv6NextHeader.udp || nextHeader === Ipv6NextHeader.icmpv6) {
      rx.payloadOffset = offset + IPV6_HEADER_LEN;
      rx.payloadLength = payloadLength;
      rx.protocol = nextHeader;
      deliver();
      return;
    }
    const payload = bytes.subarray(offset + IPV6_HEADER_LEN, offset + IPV6_HEADER_LEN + payloadLength);
    const walk = walkIpv6ExtensionHeaders(payload, nextHeader);
    if (!walk.ok) {
      stats.rxBadExtensionHeaders++;
      const problem = walk.error.parameterProblem;
      log.debug(() => `IPv6 packet from ${src.toString()} dropped: ${walk.error.message}`);
      if (problem !== undefined) errors?.parameterProblem(packetOf(), problem.code, problem.pointer, !problem.notIfMulticast);
      return;
    }
    const w = walk.value;
    if (w.fragment !== undefined) {
      stats.rxFragments++;
      const fragmentAt = w.headers[w.headers.length - 1]!.offset;
      reassemble({
        type: "fragment",
        header: { src, dst, nextHeader, hopLimit: rx.hopLimit, trafficClass: (get16(bytes, offset) >> 4) & 0xff, flowLabel: 0 },
        unfragmentable: payload.subarray(0, fragmentAt),
        fragment: w.fragment.header,
        data: payload.subarray(w.fragment.offset),
        packet: packetOf(),
      });
      return;
    }
    if (w.nextHeader === Ipv6NextHeader.noNextHeader) return;
    rx.payloadOffset = offset + IPV6_HEADER_LEN + w.offset;
    rx.payloadLength = payloadLength - w.offset;
    rx.protocol = w.nextHeader;
    const p = w.nextHeader;
    if (p !== 6 && p !== 17 && p !== 58 && !others.has(p)) {
      stats.rxUnknownProtocol++;
      // RFC 8200 §4: an unrecognised Next Header draws a parameter problem, code 1, pointing at it.
      errors?.parameterProblem(packetOf(), 1, w.nextHeaderPointer, false);
      return;
    }
    deliver();
  };

  const receiveFrame = (frame: Uint8Array): void => {
    if (running) receive(frame, ETHERNET_HEADER_LEN, frame.length, false, (frame[0]! & 1) !== 0);
  };

  const deliverLoopback = (): void => {
    loopbackTimer = undefined;
    const queue = loopback;
    loopback = [];
    for (const packet of queue) {
      if (!running) break;
      try {
        receive(packet, 0, packet.length, true, false);
      } catch (e) {
        stats.rxLoopbackErrors++;
        loopbackBug(e);
      }
    }
  };

  // ---- routing

  const pathMtu = (dst: Ipv6Address): number => {
    if (pathMtus.size === 0) return linkMtu;
    const key = ipv6Key(dst);
    const entry = pathMtus.get(key);
    if (entry === undefined) return linkMtu;
    if (entry.expiresAt <= clock.now()) {
      pathMtus.delete(key);
      return linkMtu;
    }
    return Math.min(entry.mtu, linkMtu);
  };

  /** The neighbour a packet to `dst` goes to, or undefined without a route (RFC 4861 §5.2). */
  const nextHop = (dst: Ipv6Address): Ipv6Address | undefined => {
    if (dst.isLinkLocal()) return dst;
    if (redirects.size > 0) {
      const key = ipv6Key(dst);
      const r = redirects.get(key);
      if (r !== undefined) {
        if (r.expiresAt > clock.now()) return r.target;
        redirects.delete(key);
      }
    }
    for (let i = 0; i < onLink.length; i++) if (onLink[i]!.contains(dst)) return dst;
    return routerList[0];
  };

  const source = (dst: Ipv6Address): Ipv6Address | undefined => {
    if (ours.length === 0) return undefined;
    const scoped = linkScoped(dst);
    let best: Ipv6Address | undefined;
    let bestPreferred = false;
    let bestCommon = -1;
    for (let k = 0; k < ours.length; k++) {
      const a = ours[k]!;
      // Rule 1: the destination itself.
      if (sameAddress(a, dst)) return a;
      // Rule 2: the scope of the destination: link-local for link-scoped destinations, global otherwise.
      if (a.isLinkLocal() !== scoped) continue;
      const preferred = oursInfo[k]!.state === "preferred";
      const common = commonPrefixLength(a, dst);
      // Rule 3: avoid deprecated addresses; rule 8: the longest matching prefix.
      if (best === undefined || (preferred && !bestPreferred) || (preferred === bestPreferred && common > bestCommon)) {
        best = a;
        bestPreferred = preferred;
        bestCommon = common;
      }
    }
    return best;
  };

  // ---- send

  /** Sends the packet at txBuffer[HEADER_AT .. HEADER_AT+totalLength] (header written) to `mac`, fragmenting above the path MTU. */
  const transmit = (mac: MacAddress, dst: Ipv6Address, totalLength: number): boolean => {
    const mtu = dst.isMulticast() ? linkMtu : pathMtu(dst);
    if (totalLength <= mtu) {
      if (!ethernet.transmit(txBuffer, FRAME_AT, totalLength, mac, EtherType.ipv6)) {
        stats.txDropped++;
        return false;
      }
      stats.txPackets++;
      return true;
    }
    const step = (mtu - IPV6_HEADER_LEN - IPV6_FRAGMENT_HEADER_LEN) & ~7;
    savedHeader.set(txBuffer.subarray(HEADER_AT, IPV6_TX_PAYLOAD_OFFSET));
    const nextHeader = savedHeader[6]!;
    const identification = random.uint32();
    const payloadLength = totalLength - IPV6_HEADER_LEN;
    for (let at = 0; at < payloadLength; at += step) {
      const length = Math.min(step, payloadLength - at);
      const more = at + length < payloadLength;
      // Fragment k's frame starts `at` bytes in: its headers overwrite the tail of fragment k-1's data, already sent.
      const h = at + ETHERNET_HEADER_LEN;
      txBuffer.set(savedHeader, h);
      set16(txBuffer, h + 4, IPV6_FRAGMENT_HEADER_LEN + length);
      txBuffer[h + 6] = Ipv6NextHeader.fragment;
      const f = h + IPV6_HEADER_LEN;
      txBuffer[f] = nextHeader;
      txBuffer[f + 1] = 0;
      set16(txBuffer, f + 2, at | (more ? 1 : 0));
      set32(txBuffer, f + 4, identification);
      if (!ethernet.transmit(txBuffer, at, IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN + length, mac, EtherType.ipv6)) {
        stats.txDropped++;
        return false;
      }
      stats.txFragments++;
    }
    stats.txPackets++;
    return true;
  };

  /** Sends txBuffer's payload with any source; `mac` skips routing and resolution. */
  const output = (dst: Ipv6Address, src: Ipv6Address, nextHeader: number, payloadLength: number, hopLimit: number, mac: MacAddress | undefined): IpSendStatus => {
    if (!running) return "stopped";
    if (payloadLength < 0 || payloadLength > IPV6_MAX_PAYLOAD_LEN) return "invalid";
    const h = HEADER_AT;
    set32(txBuffer, h, 0x60000000);
    set16(txBuffer, h + 4, payloadLength);
    txBuffer[h + 6] = nextHeader;
    txBuffer[h + 7] = hopLimit;
    txBuffer.set(src.bytes, h + 8);
    txBuffer.set(dst.bytes, h + 24);
    const totalLength = IPV6_HEADER_LEN + payloadLength;
    if (mac === undefined) {
      if (dst.isMulticast()) mac = ipv6MulticastMac(dst);
      else if (indexAt(ours, dst.bytes, 0) >= 0) {
        stats.txLoopback++;
        loopback.push(txBuffer.slice(h, h + totalLength));
        loopbackTimer ??= time.schedule(0, deliverLoopback);
        return "sent";
      } else {
        const hop = nextHop(dst);
        if (hop === undefined) {
          stats.txNoRoute++;
          return "no-route";
        }
        mac = ndp.resolve(hop);
        if (mac === undefined) {
          if (queuedBytes + totalLength > queueMaxBytes) {
            stats.txUnresolved++;
            return "dropped";
          }
          stats.txQueued++;
          queuedBytes += totalLength;
          ndp.enqueue(hop, txBuffer.slice(h, h + totalLength));
          return "queued";
        }
      }
    }
    return transmit(mac, dst, totalLength) ? "sent" : "dropped";
  };

  const unqueue = (packets: readonly Uint8Array[]): void => {
    for (const packet of packets) queuedBytes -= packet.length;
  };

  const ndp: NdpEngine = createNdp({
    ethernet,
    clock,
    time,
    random,
    statics: config.addresses,
    acceptRouterAdvertisements: config.acceptRouterAdvertisements,
    ...(options.ndp !== undefined ? { tuning: options.ndp } : {}),
    ...(options.ndpLog !== undefined ? { log: options.ndpLog } : {}),
    link: {
      txBuffer,
      txPayloadOffset: IPV6_TX_PAYLOAD_OFFSET,
      sendControl: (dst, src, nextHeader, length, hopLimit, mac) => output(dst, src, nextHeader, length, hopLimit, mac),
      source: (dst) => source(dst),
      release(mac, packets): void {
        unqueue(packets);
        for (const packet of packets) {
          if (!running) return;
          txBuffer.set(packet, HEADER_AT);
          transmit(mac, Ipv6Address.ofBytes(packet, 24), packet.length);
        }
      },
      discard(ip, packets, reason): void {
        unqueue(packets);
        stats.txUnresolved += packets.length;
        if (reason !== "unreachable") return;
        // A redirect through a neighbour that stopped answering no longer holds (RFC 4861 §7.3.3).
        for (const [key, r] of redirects) if (sameAddress(r.target, ip)) redirects.delete(key);
        // The transports learn that these packets will never go, as Linux reports a failed
        // neighbour to its own sockets (EHOSTUNREACH): a connect to a dead neighbour fails in
        // seconds instead of retrying its SYN for minutes. No ICMPv6 goes on the wire for them.
        for (const packet of packets) reportUnresolved(packet, ip);
      },
      redirect(from, target, destination): boolean {
        // RFC 4861 §8.1: only the router we use for that destination may redirect it.
        const hop = nextHop(destination);
        if (hop === undefined || !sameAddress(hop, from) || destination.isLinkLocal()) {
          stats.redirectsRefused++;
          return false;
        }
        // A target equal to the destination means "it is on-link": the entry sends there directly.
        const key = ipv6Key(destination);
        if (!redirects.has(key) && redirects.size >= REDIRECT_CACHE_MAX) redirects.delete(redirects.keys().next().value!);
        redirects.set(key, { target, expiresAt: clock.now() + REDIRECT_AGE_MS });
        stats.redirects++;
        log.debug(() => `redirect from ${from.toString()}: ${destination.toString()} via ${sameAddress(target, destination) ? "the link (on-link)" : target.toString()}`);
        return true;
      },
      changed: () => refresh(),
    },
  });

  /** Reports a packet of ours (whole, IPv6 header first, as queued) whose next hop `hop` never answered. */
  function reportUnresolved(packet: Uint8Array, hop: Ipv6Address): void {
    const protocol = packet[6]!;
    if (packet.length < IPV6_HEADER_LEN + 8) return;
    const handler = errorHandlers.get(protocol);
    if (handler === undefined) return;
    const remote = Ipv6Address.ofBytes(packet, 24);
    const header = packet.slice(IPV6_HEADER_LEN, Math.min(packet.length, IPV6_HEADER_LEN + 60));
    const via = sameAddress(hop, remote) ? "" : ` (the router ${hop.toString()})`;
    handler({
      kind: "unreachable",
      hard: true,
      mtu: 0,
      local: Ipv6Address.ofBytes(packet, 8),
      remote,
      localPort: get16(header, 0),
      remotePort: get16(header, 2),
      header,
      description: `${remote.toString()}${via} did not answer neighbour discovery (address unreachable)`,
    });
  }

  const send = (dst: Ipv6Address, src: Ipv6Address, protocol: number, payloadLength: number, hopLimit?: number): IpSendStatus => {
    if (!running) return "stopped";
    if (indexAt(ours, src.bytes, 0) < 0) {
      if (ours.length === 0) {
        stats.txNoAddress++;
        return "no-address";
      }
      return "invalid";
    }
    const status = output(dst, src, protocol, payloadLength, hopLimit ?? curHopLimit, undefined);
    if (status === "no-route") log.debug(() => `no route to ${dst.toString()}`);
    return status;
  };

  const describeNoRoute = (dst: Ipv6Address): string => {
    if (ours.length === 0) return `cannot send to ${dst.toString()}: no IPv6 address is ready yet (duplicate address detection or SLAAC still running)`;
    if (source(dst) === undefined) return `cannot send to ${dst.toString()}: no IPv6 address of a suitable scope (only link-local addresses are configured)`;
    return `no route to ${dst.toString()}: it is not on-link and there is no IPv6 default router (--ipv6-gateway, or router advertisements)`;
  };

  return {
    family: 6,
    txBuffer,
    txPayloadOffset: IPV6_TX_PAYLOAD_OFFSET,
    maxDatagramPayload: IPV6_MAX_PAYLOAD_LEN,
    ndp,
    config,
    get mtu(): number {
      return linkMtu;
    },
    maxUnfragmentedPayload: (dst) => (dst === undefined ? linkMtu : pathMtu(dst)) - IPV6_HEADER_LEN,
    source,
    send,
    sendError(status: IpSendStatus, dst: Ipv6Address): Error {
      switch (status) {
        case "no-route":
        case "no-address":
          return new FlowError("unreachable", describeNoRoute(dst));
        case "invalid":
          return new RangeError(`cannot send to ${dst.toString()}: the packet exceeds 65535 bytes or its source address is not ours`);
        case "stopped":
          return new FlowError("closed", `cannot send to ${dst.toString()}: the stack is disconnected`);
        default:
          return new Error(`sending to ${dst.toString()} failed: ${status}`);
      }
    },
    pseudoHeaderSum: (src, dst, protocol, length) => pseudoHeaderSum(src, dst, protocol, length),
    setHandler(protocol, handler): void {
      if (protocol === 6) tcp = handler;
      else if (protocol === 17) udp = handler;
      else if (protocol === 58) icmp = handler;
      else if (handler === undefined) others.delete(protocol);
      else others.set(protocol, handler);
    },
    portUnreachable(about): void {
      if (errors === undefined || !about.unicast) return;
      let packet: Uint8Array;
      if (delivering && about === rx) packet = packetOf();
      else {
        // Not the packet being delivered: rebuild one from what the transport kept.
        packet = new Uint8Array(IPV6_HEADER_LEN + about.payloadLength);
        writeIpv6Header({ src: about.src, dst: about.dst, nextHeader: about.protocol, hopLimit: about.hopLimit, trafficClass: 0, flowLabel: 0 }, about.payloadLength, packet, 0);
        packet.set(about.buffer.subarray(about.payloadOffset, about.payloadOffset + about.payloadLength), IPV6_HEADER_LEN);
      }
      errors.destinationUnreachable(packet, 4);
    },
    toAddress: (a: Ipv6Address): IpAddress => a,
    fromAddress: (a: IpAddress): Ipv6Address | undefined => (a.family === 6 ? a : undefined),
    key: ipv6Key,
    equal: sameAddress,
    hash32: ipv6Hash32,
    format: (a) => a.toString(),
    confirmReachable(dst: Ipv6Address): void {
      const hop = nextHop(dst);
      if (hop !== undefined) ndp.confirm(hop);
    },
    afterBatch(callback: () => void): void {
      ethernet.afterBatch(callback);
    },
    addresses: () => ndp.addresses(),
    routers: () => [...routerList],
    hopLimit: () => curHopLimit,
    pathMtu,
    packetTooBig(dst: Ipv6Address, mtu: number): void {
      // RFC 8201 §4: never below 1280 (a smaller report is an attack or a translator's; RFC 8021).
      const value = Math.max(IPV6_MIN_MTU, Math.min(mtu, linkMtu));
      if (value >= pathMtu(dst)) return;
      if (pathMtus.size >= PATH_MTU_CACHE_MAX) pathMtus.delete(pathMtus.keys().next().value!);
      pathMtus.set(ipv6Key(dst), { mtu: value, expiresAt: clock.now() + PATH_MTU_AGE_MS });
      stats.pathMtuUpdates++;
      log.debug(() => `path MTU to ${dst.toString()} is ${value}`);
    },
    nextHop,
    reportError(protocol, report): void {
      errorHandlers.get(protocol)?.(report);
    },
    setErrorHandler(protocol, handler): void {
      if (handler === undefined) errorHandlers.delete(protocol);
      else errorHandlers.set(protocol, handler);
    },
    setErrorSink(sink): void {
      errors = sink;
    },
    start(): void {
      if (running) return;
      running = true;
      ethernet.setHandler(EtherType.ipv6, receiveFrame);
      ndp.start();
      refresh();
    },
    stop(): void {
      if (!running) return;
      ndp.stop();
      running = false;
      ethernet.setHandler(EtherType.ipv6, undefined);
      reassemblyTimer.stop();
      loopbackTimer?.cancel();
      loopbackTimer = undefined;
      loopback = [];
      redirects.clear();
      reassembly = createIpv6ReassemblyState(reassembly.config);
    },
    stats: () => ({ ...stats }),
  };
}
