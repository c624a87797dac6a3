/**
 * The IPv4 engine (RFC 791, RFC 1122 host requirements): receive, reassembly, routing, send and
 * fragmentation, between the Ethernet/ARP layers below and the transports (ICMP, UDP, TCP) above.
 *
 * Receive: the header is checked in place (version, IHL, total length, checksum; options are
 * skipped), datagrams for our address, the limited broadcast or our directed broadcast are kept,
 * fragments go through the reassembly state machine (timer-driven), and each datagram is handed
 * to its protocol's handler as an `Ipv4Rx`: one reusable object describing where header and
 * payload are, with no copy and no allocation per packet.
 *
 * Send: a transport builds its bytes in place in `txBuffer` at IPV4_TX_PAYLOAD_OFFSET, then calls
 * `send`; the IPv4 header and the Ethernet header are written in front of them and the frame goes
 * to the netif from the same buffer. Above the MTU the datagram is cut in place: the header of
 * fragment k is written over the last bytes of fragment k-1, which the netif has already consumed
 * (a Netif's `write` consumes the frame before returning), so fragmentation copies nothing either.
 * Only a datagram that must wait (ARP resolution, loopback) is copied.
 */
import {
  FlowError,
  Ipv4Address,
  type Ipv4Prefix,
  type Log,
  MacAddress,
  type MonotonicClock,
  type Random,
  type Time,
  type Timer,
} from "@mirage-ts/runtime";
import type { ArpEngine } from "../arp/engine.ts";
import { ipv4MulticastMac } from "../arp/state-machine.ts";
import { get16, get32, set16 } from "../bytes.ts";
import { checksumValid, internetChecksum } from "../checksum.ts";
import { createDeadlineTimer } from "../deadline-timer.ts";
import type { EthernetEngine } from "../ethernet/engine.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "../ethernet/wire.ts";
import { logBug, silentLog } from "../logs.ts";
import {
  type ReassemblyAction,
  type ReassemblyConfig,
  type ReassemblyState,
  createReassemblyState,
  reassemblyNextDeadline,
  reassemblyStep,
} from "./reassembly.ts";
import {
  ROUTE_BROADCAST,
  ROUTE_LOCAL,
  ROUTE_MULTICAST,
  ROUTE_NO_ADDRESS,
  ROUTE_NONE,
  type RouteTable,
  describeNoRoute,
  ipv4Route,
  routeTable,
} from "./routing.ts";
import { IPV4_HEADER_LEN, IPV4_MAX_PACKET_LEN, writeIpv4Header } from "./wire.ts";

/** Where a transport writes its bytes in `txBuffer`: after the Ethernet and IPv4 headers. */
export const IPV4_TX_PAYLOAD_OFFSET = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;
/** The largest transport payload of one IPv4 datagram. */
export const IPV4_MAX_PAYLOAD_LEN = IPV4_MAX_PACKET_LEN - IPV4_HEADER_LEN;
export const DEFAULT_TTL = 64;

/**
 * A received datagram, as handed to a protocol handler. The object is reused for the next
 * datagram and the bytes belong to the netif unless `owned`: a handler copies what it keeps.
 */
export interface Ipv4Rx {
  /** Holds the payload (the transport's bytes). */
  buffer: Uint8Array;
  payloadOffset: number;
  payloadLength: number;
  /** Holds the IPv4 header (the same array as `buffer`, except for a reassembled datagram). */
  header: Uint8Array;
  headerOffset: number;
  headerLength: number;
  src: number;
  dst: number;
  protocol: number;
  ttl: number;
  /** The same as `ttl`: the name the IpLayer contract (ip-layer.ts) gives it for both families. */
  hopLimit: number;
  tos: number;
  /**
   * Sent to our own unicast address. False for broadcasts, and for anything accepted while we
   * have no address (DHCP): such datagrams never draw an ICMP error or a TCP reset (RFC 1122).
   */
  unicast: boolean;
  /** `buffer` is not the netif's (reassembled or looped back) and may be kept as it is. */
  owned: boolean;
}

export type Ipv4Handler = (rx: Ipv4Rx) => void;

/** What became of a datagram given to `send`. */
export type Ipv4SendStatus =
  | "sent"
  /** Waiting for ARP resolution of the next hop (it goes out when the neighbour answers). */
  | "queued"
  | "no-route"
  /** We have no address yet and the destination is not the limited broadcast. */
  | "no-address"
  /** Above 65535 bytes, or a source address that is not ours. */
  | "invalid"
  /** The netif refused a frame. */
  | "dropped"
  | "stopped";

/** Where the engine reports what ICMP must answer (the ICMP engine registers itself). */
export interface Ipv4ErrorSink {
  /** A unicast datagram for a protocol nobody handles. */
  protocolUnreachable(rx: Ipv4Rx): void;
  /** A datagram did not reassemble in time; `quote` is its first fragment's header and 8 bytes. */
  reassemblyTimeout(quote: Uint8Array, src: number): void;
}

export interface Ipv4Config {
  /** Our address and network; undefined while DHCP has not bound a lease. */
  address: Ipv4Prefix | undefined;
  gateway: Ipv4Address | undefined;
}

export interface Ipv4Stats {
  rxPackets: number;
  rxTruncated: number;
  rxBadVersion: number;
  rxBadHeaderLength: number;
  rxBadLength: number;
  rxBadChecksum: number;
  rxNotForUs: number;
  /**
   * A source no host may have on the wire (RFC 1122 §3.2.1.3): broadcast, multicast, 0.0.0.0/8
   * other than 0.0.0.0 itself (a DHCP client's), 127.0.0.0/8, or our own address coming back.
   */
  rxMartian: number;
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
  /** Datagrams dropped because their next hop did not answer ARP (or its queue was full). */
  txUnresolved: number;
  txDropped: number;
  txLoopback: number;
  /** Datagrams to our own address whose delivery threw (a bug, logged). */
  rxLoopbackErrors: number;
}

export interface Ipv4Engine {
  /** Transports build outgoing datagrams here, their bytes at IPV4_TX_PAYLOAD_OFFSET. */
  readonly txBuffer: Uint8Array;
  /** The link MTU (largest IPv4 packet per frame). */
  readonly mtu: number;
  config(): Ipv4Config;
  /** Changes address and gateway at run time (DHCP); the new address is announced by ARP. */
  setConfig(config: Ipv4Config): void;
  /** Our address as a 32-bit integer, 0 when we have none. */
  source(): number;
  /**
   * Sends `txBuffer[IPV4_TX_PAYLOAD_OFFSET ..+payloadLength]` as a datagram of `protocol` from
   * `src` (ours, or 0 while we have no address) to `dst`, fragmenting above the MTU.
   */
  send(dst: number, src: number, protocol: number, payloadLength: number, ttl?: number): Ipv4SendStatus;
  /** The error a failed send deserves, for the transport to throw (FlowError "unreachable"). */
  sendError(status: Ipv4SendStatus, dst: number): Error;
  setHandler(protocol: number, handler: Ipv4Handler | undefined): void;
  setErrorSink(sink: Ipv4ErrorSink): void;
  /**
   * Registers `callback` to run once after each batch of received datagrams: each netif batch
   * (EthernetEngine.afterBatch) and each batch of datagrams to our own address.
   */
  afterBatch(callback: () => void): void;
  start(): void;
  stop(): void;
  stats(): Ipv4Stats;
}

export interface Ipv4Options {
  ethernet: EthernetEngine;
  arp: ArpEngine<Uint8Array>;
  clock: MonotonicClock;
  time: Time;
  config: { address: Ipv4Prefix | undefined; gateway?: Ipv4Address | undefined };
  /** Seeds the identification counter (RFC 6864 asks only for uniqueness; a random start hides uptime). */
  random?: Random;
  reassembly?: Partial<ReassemblyConfig>;
  /** Bytes of datagrams held while their next hop resolves; default ARP_QUEUE_MAX_BYTES. */
  arpQueueMaxBytes?: number;
  log?: Log;
}

/** 4 MiB: sixty-four 64 KiB datagrams, or thousands of ordinary ones. */
export const ARP_QUEUE_MAX_BYTES = 4 * 1024 * 1024;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

export function createIpv4(options: Ipv4Options): Ipv4Engine {
  const { ethernet, arp, clock, time } = options;
  const log = options.log ?? silentLog;
  const loopbackBug = logBug(log, "a datagram to our own address");
  let address: Ipv4Prefix | undefined = options.config.address;
  let gateway: Ipv4Address | undefined = options.config.gateway;
  // Hot-path copies of the configuration as integers (-1: none).
  let routes: RouteTable = routeTable(address, gateway);
  let ourAddress = -1;
  let directedBroadcast = -1;
  const refreshConfig = (): void => {
    routes = routeTable(address, gateway);
    ourAddress = routes.address;
    directedBroadcast = routes.broadcast;
  };
  refreshConfig();

  const txBuffer = new Uint8Array(ETHERNET_HEADER_LEN + IPV4_MAX_PACKET_LEN);
  const savedHeader = new Uint8Array(IPV4_HEADER_LEN);
  let identification = options.random !== undefined ? options.random.uint32() & 0xffff : 0;
  let reassembly: ReassemblyState = createReassemblyState(options.reassembly);
  const reassemblyTimer = createDeadlineTimer(clock, time, () => reassemble({ type: "tick" }), logBug(log, "the reassembly timer"));
  let icmp: Ipv4Handler | undefined;
  let udp: Ipv4Handler | undefined;
  let tcp: Ipv4Handler | undefined;
  const others = new Map<number, Ipv4Handler>();
  let errors: Ipv4ErrorSink | undefined;
  let running = false;
  let loopback: Uint8Array[] = [];
  let loopbackTimer: Timer | undefined;
  const stats: Ipv4Stats = {
    rxPackets: 0, rxTruncated: 0, rxBadVersion: 0, rxBadHeaderLength: 0, rxBadLength: 0, rxBadChecksum: 0,
    rxNotForUs: 0, rxLoopbackErrors: 0, rxMartian: 0, rxFragments: 0, rxReassembled: 0, rxReassemblyDrops: 0, rxReassemblyTimeouts: 0,
    rxUnknownProtocol: 0, rxDelivered: 0, txPackets: 0, txFragments: 0, txQueued: 0, txNoRoute: 0,
    txUnresolved: 0, txDropped: 0, txLoopback: 0,
  };
  const rx: Ipv4Rx = {
    buffer: txBuffer, payloadOffset: 0, payloadLength: 0, header: txBuffer, headerOffset: 0, headerLength: 0,
    src: 0, dst: 0, protocol: 0, ttl: 0, hopLimit: 0, tos: 0, unicast: false, owned: false,
  };

  // ---- receive

  const deliver = (): void => {
    const p = rx.protocol;
    const handler = p === 17 ? udp : p === 6 ? tcp : p === 1 ? icmp : others.get(p);
    if (handler === undefined) {
      stats.rxUnknownProtocol++;
      if (rx.unicast) errors?.protocolUnreachable(rx);
      return;
    }
    stats.rxDelivered++;
    handler(rx);
  };

  const performReassembly = (action: ReassemblyAction): void => {
    switch (action.type) {
      case "reassembled": {
        stats.rxReassembled++;
        const packet = action.packet;
        const header = new Uint8Array(IPV4_HEADER_LEN);
        writeIpv4Header(packet, IPV4_HEADER_LEN + packet.payload.length, header, 0);
        const dst = packet.dst.value;
        rx.buffer = packet.payload;
        rx.payloadOffset = 0;
        rx.payloadLength = packet.payload.length;
        rx.header = header;
        rx.headerOffset = 0;
        rx.headerLength = IPV4_HEADER_LEN;
        rx.src = packet.src.value;
        rx.dst = dst;
        rx.protocol = packet.protocol;
        rx.ttl = rx.hopLimit = packet.ttl;
        rx.tos = packet.tos;
        rx.unicast = dst === ourAddress;
        rx.owned = true;
        deliver();
        break;
      }
      case "dropped":
        stats.rxReassemblyDrops++;
        log.debug(() => `fragments of ${action.id.src} → ${action.id.dst} id ${action.id.identification} dropped: ${action.reason}`);
        break;
      case "timed-out":
        stats.rxReassemblyTimeouts++;
        if (action.quote !== undefined && action.id.dst.value === ourAddress) errors?.reassemblyTimeout(action.quote, action.id.src.value);
        break;
    }
  };

  function reassemble(event: Parameters<typeof reassemblyStep>[2]): void {
    if (!running) return;
    const r = reassemblyStep(reassembly, clock.now(), event);
    reassembly = r.state;
    reassemblyTimer.arm(reassemblyNextDeadline(reassembly));
    for (let i = 0; i < r.actions.length; i++) performReassembly(r.actions[i]!);
  }

  /** Receives the datagram at `bytes[offset..end]` (end: the bytes available, padding included). */
  const receive = (bytes: Uint8Array, offset: number, end: number, owned: boolean): void => {
    stats.rxPackets++;
    const available = end - offset;
    if (available < IPV4_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    const versionIhl = bytes[offset]!;
    if (versionIhl >> 4 !== 4) {
      stats.rxBadVersion++;
      return;
    }
    const headerLength = (versionIhl & 0x0f) * 4;
    if (headerLength < IPV4_HEADER_LEN) {
      stats.rxBadHeaderLength++;
      return;
    }
    if (headerLength > available) {
      stats.rxTruncated++;
      return;
    }
    const totalLength = get16(bytes, offset + 2);
    if (totalLength < headerLength) {
      stats.rxBadLength++;
      return;
    }
    if (totalLength > available) {
      stats.rxTruncated++;
      return;
    }
    if (!checksumValid(bytes, offset, headerLength)) {
      stats.rxBadChecksum++;
      return;
    }
    const protocol = bytes[offset + 9]!;
    const src = get32(bytes, offset + 12);
    const dst = get32(bytes, offset + 16);
    let unicast = false;
    if (dst === ourAddress) unicast = true;
    else if (dst !== 0xffffffff && dst !== directedBroadcast && !(ourAddress === -1 && protocol === 17)) {
      // Without an address, UDP to any address is accepted: a DHCP server may unicast its
      // offer to the address it offers (RFC 2131 §4.1) before we have it.
      stats.rxNotForUs++;
      return;
    }
    const srcNet = src >>> 24;
    if (
      src === 0xffffffff ||
      src >>> 28 === 0xe ||
      src === directedBroadcast ||
      (!owned && (src === ourAddress || srcNet === 127 || (srcNet === 0 && src !== 0)))
    ) {
      stats.rxMartian++;
      return;
    }
    const flags = get16(bytes, offset + 6);
    if ((flags & (FLAG_MF | OFFSET_MASK)) !== 0) {
      stats.rxFragments++;
      // Only fragments allocate: the reassembly machine copies their bytes and keys them by address.
      reassemble({
        type: "fragment",
        packet: {
          src: Ipv4Address.ofInt(src),
          dst: Ipv4Address.ofInt(dst),
          protocol,
          ttl: bytes[offset + 8]!,
          tos: bytes[offset + 1]!,
          identification: get16(bytes, offset + 4),
          dontFragment: (flags & FLAG_DF) !== 0,
          moreFragments: (flags & FLAG_MF) !== 0,
          fragmentOffset: (flags & OFFSET_MASK) * 8,
          payload: bytes.subarray(offset + headerLength, offset + totalLength),
        },
      });
      return;
    }
    rx.buffer = bytes;
    rx.payloadOffset = offset + headerLength;
    rx.payloadLength = totalLength - headerLength;
    rx.header = bytes;
    rx.headerOffset = offset;
    rx.headerLength = headerLength;
    rx.src = src;
    rx.dst = dst;
    rx.protocol = protocol;
    rx.ttl = rx.hopLimit = bytes[offset + 8]!;
    rx.tos = bytes[offset + 1]!;
    rx.unicast = unicast;
    rx.owned = owned;
    deliver();
  };

  const receiveFrame = (frame: Uint8Array): void => {
    if (running) receive(frame, ETHERNET_HEADER_LEN, frame.length, false);
  };

  /** Callbacks run at the end of each received batch (see afterBatch). */
  const batchEnd: Array<() => void> = [];
  const deliverLoopback = (): void => {
    loopbackTimer = undefined;
    const queue = loopback;
    loopback = [];
    for (const packet of queue) {
      if (!running) break;
      try {
        receive(packet, 0, packet.length, true);
      } catch (e) {
        stats.rxLoopbackErrors++;
        loopbackBug(e);
      }
    }
    for (const callback of batchEnd) {
      try {
        callback();
      } catch (e) {
        stats.rxLoopbackErrors++;
        loopbackBug(e);
      }
    }
  };

  // ---- send

  /** Sends the datagram at txBuffer[14 .. 14+totalLength] (header written) to `mac`, fragmenting above the MTU. */
  const transmit = (mac: MacAddress, totalLength: number): boolean => {
    const mtu = ethernet.mtu;
    if (totalLength <= mtu) {
      if (!ethernet.transmit(txBuffer, 0, totalLength, mac, EtherType.ipv4)) {
        stats.txDropped++;
        return false;
      }
      stats.txPackets++;
      return true;
    }
    const step = (mtu - IPV4_HEADER_LEN) & ~7;
    const flags = get16(txBuffer, ETHERNET_HEADER_LEN + 6);
    if (step <= 0 || (flags & FLAG_DF) !== 0) {
      stats.txDropped++;
      return false;
    }
    savedHeader.set(txBuffer.subarray(ETHERNET_HEADER_LEN, IPV4_TX_PAYLOAD_OFFSET));
    const baseOffset = (flags & OFFSET_MASK) * 8;
    const lastHasMore = (flags & FLAG_MF) !== 0;
    const payloadLength = totalLength - IPV4_HEADER_LEN;
    for (let at = 0; at < payloadLength; at += step) {
      const length = Math.min(step, payloadLength - at);
      const more = at + length < payloadLength || lastHasMore;
      // Fragment k's frame starts `at` bytes in: its headers overwrite the tail of fragment
      // k-1's payload, already consumed by the netif.
      const h = at + ETHERNET_HEADER_LEN;
      if (at > 0) txBuffer.set(savedHeader, h);
      set16(txBuffer, h + 2, IPV4_HEADER_LEN + length);
      set16(txBuffer, h + 6, (more ? FLAG_MF : 0) | (((baseOffset + at) >>> 3) & OFFSET_MASK));
      set16(txBuffer, h + 10, 0);
      set16(txBuffer, h + 10, internetChecksum(txBuffer, h, IPV4_HEADER_LEN));
      if (!ethernet.transmit(txBuffer, at, IPV4_HEADER_LEN + length, mac, EtherType.ipv4)) {
        stats.txDropped++;
        return false;
      }
      stats.txFragments++;
    }
    stats.txPackets++;
    return true;
  };

  /**
   * Bytes of datagrams waiting for ARP. The ARP machine bounds packets per address and addresses
   * at once, but datagrams of up to 64 KiB times those bounds would still be a gigabyte that
   * spoofed on-link senders could make us hold; this caps the bytes themselves.
   */
  let arpQueuedBytes = 0;
  const arpQueueMaxBytes = options.arpQueueMaxBytes ?? ARP_QUEUE_MAX_BYTES;
  const unqueue = (packets: readonly Uint8Array[]): void => {
    for (const packet of packets) arpQueuedBytes -= packet.length;
  };

  arp.setQueueHandler({
    resolved(_ip, mac, packets): void {
      unqueue(packets);
      for (const packet of packets) {
        txBuffer.set(packet, ETHERNET_HEADER_LEN);
        transmit(mac, packet.length);
      }
    },
    unreachable(_ip, packets): void {
      unqueue(packets);
      stats.txUnresolved += packets.length;
    },
    dropped(_ip, packets): void {
      unqueue(packets);
      stats.txUnresolved += packets.length;
    },
  });

  const send = (dst: number, src: number, protocol: number, payloadLength: number, ttl = DEFAULT_TTL): Ipv4SendStatus => {
    if (!running) return "stopped";
    dst = dst >>> 0;
    const totalLength = IPV4_HEADER_LEN + payloadLength;
    if (payloadLength < 0 || totalLength > IPV4_MAX_PACKET_LEN) return "invalid";
    const hop = ipv4Route(routes, dst);
    if (hop === ROUTE_NONE) {
      stats.txNoRoute++;
      return "no-route";
    }
    if (hop === ROUTE_NO_ADDRESS) {
      stats.txNoRoute++;
      return "no-address";
    }
    if (src !== 0 ? src !== ourAddress : ourAddress !== -1 && hop !== ROUTE_BROADCAST) return "invalid";
    const h = ETHERNET_HEADER_LEN;
    txBuffer[h] = 0x45;
    txBuffer[h + 1] = 0;
    set16(txBuffer, h + 2, totalLength);
    set16(txBuffer, h + 4, identification);
    identification = (identification + 1) & 0xffff;
    set16(txBuffer, h + 6, 0);
    txBuffer[h + 8] = ttl;
    txBuffer[h + 9] = protocol;
    set16(txBuffer, h + 10, 0);
    txBuffer[h + 12] = src >>> 24;
    txBuffer[h + 13] = src >>> 16;
    txBuffer[h + 14] = src >>> 8;
    txBuffer[h + 15] = src;
    txBuffer[h + 16] = dst >>> 24;
    txBuffer[h + 17] = dst >>> 16;
    txBuffer[h + 18] = dst >>> 8;
    txBuffer[h + 19] = dst;
    set16(txBuffer, h + 10, internetChecksum(txBuffer, h, IPV4_HEADER_LEN));
    if (hop === ROUTE_LOCAL) {
      stats.txLoopback++;
      loopback.push(txBuffer.slice(h, h + totalLength));
      loopbackTimer ??= time.schedule(0, deliverLoopback);
      return "sent";
    }
    let mac: MacAddress | undefined;
    if (hop === ROUTE_BROADCAST) mac = MacAddress.broadcast;
    else if (hop === ROUTE_MULTICAST) mac = ipv4MulticastMac(Ipv4Address.ofInt(dst));
    else {
      mac = arp.lookup(hop);
      if (mac === undefined) {
        if (arpQueuedBytes + totalLength > arpQueueMaxBytes) {
          stats.txUnresolved++;
          arp.resolve(hop);
          return "dropped";
        }
        stats.txQueued++;
        arpQueuedBytes += totalLength;
        arp.resolve(hop, txBuffer.slice(h, h + totalLength));
        return "queued";
      }
    }
    return transmit(mac, totalLength) ? "sent" : "dropped";
  };

  return {
    txBuffer,
    get mtu(): number {
      return ethernet.mtu;
    },
    config: () => ({ address, gateway }),
    setConfig(config: Ipv4Config): void {
      const changed = !(config.address === address || (config.address !== undefined && address !== undefined && config.address.equals(address)));
      address = config.address;
      gateway = config.gateway;
      refreshConfig();
      if (changed) arp.setAddresses(address === undefined ? [] : [address.address]);
    },
    source: () => (ourAddress === -1 ? 0 : ourAddress),
    send,
    sendError(status: Ipv4SendStatus, dst: number): Error {
      const to = Ipv4Address.ofInt(dst);
      switch (status) {
        case "no-route":
        case "no-address":
          return new FlowError("unreachable", describeNoRoute(address, gateway, to));
        case "invalid":
          return new RangeError(`cannot send to ${to}: the datagram exceeds 65535 bytes or its source address is not ours`);
        case "stopped":
          return new FlowError("closed", `cannot send to ${to}: the stack is disconnected`);
        default:
          return new Error(`sending to ${to} failed: ${status}`);
      }
    },
    setHandler(protocol, handler): void {
      if (protocol === 17) udp = handler;
      else if (protocol === 6) tcp = handler;
      else if (protocol === 1) icmp = handler;
      else if (handler === undefined) others.delete(protocol);
      else others.set(protocol, handler);
    },
    setErrorSink(sink): void {
      errors = sink;
    },
    afterBatch(callback): void {
      batchEnd.push(callback);
      ethernet.afterBatch(callback);
    },
    start(): void {
      if (running) return;
      running = true;
      ethernet.setHandler(EtherType.ipv4, receiveFrame);
    },
    stop(): void {
      running = false;
      ethernet.setHandler(EtherType.ipv4, undefined);
      reassemblyTimer.stop();
      loopbackTimer?.cancel();
      loopbackTimer = undefined;
      loopback = [];
      reassembly = createReassemblyState(reassembly.config);
    },
    stats: () => ({ ...stats }),
  };
}
