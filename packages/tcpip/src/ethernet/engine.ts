/**
 * The Ethernet layer: receives the netif's batches, keeps the frames addressed to us (our MAC,
 * broadcast, a joined multicast group), drops the rest and VLAN-tagged or 802.3 frames with a
 * counter, and hands each kept frame to the handler of its EtherType. Sending writes the 14-byte
 * header in front of a payload the layer above already built in place, so a frame is assembled
 * inside-out in one buffer and handed to the netif without a copy.
 *
 * Handlers receive the whole frame (the payload starts at ETHERNET_HEADER_LEN): no subarray is
 * made per frame. The frame is only valid during the call (the netif reuses its buffer).
 *
 * The netif hands over frames in batches (a TAP read, a switch delivery); callbacks registered
 * with `afterBatch` run once at the end of each, so a layer above can act once per batch rather
 * than once per frame: TCP sends one ACK per connection per batch (tcp/engine.ts), as a Linux
 * receiver does for what GRO merged.
 *
 * Multicast groups are counted: IPv6 joins the group of a solicited-node address once per
 * address that needs it (a link-local and a SLAAC address with one interface identifier share
 * 33:33:ff:xx:xx:xx), and the group is left only when the last of them leaves. The IPv4 path
 * pays nothing for it: unicast frames are matched before any group lookup.
 */
import type { Log, MacAddress, Netif } from "@mirage-ts/runtime";
import { get16, set16 } from "../bytes.ts";
import { silentLog } from "../logs.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "./wire.ts";

export type EthernetHandler = (frame: Uint8Array) => void;

export interface EthernetStats {
  rxFrames: number;
  rxBytes: number;
  /** Unicast for another MAC, or a multicast group not joined. */
  rxNotForUs: number;
  rxVlanTagged: number;
  /** 802.3 frames (a length where the EtherType would be). */
  rxNot8023: number;
  rxTruncated: number;
  /** No handler for the EtherType (LLDP..., or IPv6 with --ipv4-only). */
  rxUnknownEtherType: number;
  /** A handler threw: a bug, counted and logged, never allowed to stop the stack. */
  rxHandlerErrors: number;
  txFrames: number;
  txBytes: number;
  /** The netif refused the frame (queue full, down). */
  txDropped: number;
}

export interface EthernetEngine {
  readonly mac: MacAddress;
  /** The largest payload (IP packet) a frame carries. */
  readonly mtu: number;
  setHandler(etherType: number, handler: EthernetHandler | undefined): void;
  /** Receives frames for `group` (a multicast MAC); counted: each join needs its leave. */
  joinMulticast(group: MacAddress): void;
  leaveMulticast(group: MacAddress): void;
  /**
   * Writes the header at `buffer[start..start+14]` and sends `buffer[start..start+14+payloadLength]`
   * (the payload is already in place after the header). False when the netif refused it.
   */
  transmit(buffer: Uint8Array, start: number, payloadLength: number, dst: MacAddress, etherType: number): boolean;
  /**
   * Registers `callback` to run once after each batch of received frames has been handed to the
   * handlers (after the last frame's handler returned). Callbacks run in registration order.
   */
  afterBatch(callback: () => void): void;
  /** Starts receiving from the netif. */
  start(): void;
  /** Stops delivering frames to handlers (the netif itself is not disconnected: it is not ours). */
  stop(): void;
  stats(): EthernetStats;
}

export interface EthernetOptions {
  netif: Netif;
  log?: Log;
}

/** A MAC as one number (48 bits fit a double exactly): a Set key without a string per frame. */
function macKey(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! * 0x10000000000 + bytes[offset + 1]! * 0x100000000 + (((get16(bytes, offset + 2) << 16) | get16(bytes, offset + 4)) >>> 0);
}

export function createEthernet(options: EthernetOptions): EthernetEngine {
  const { netif } = options;
  const log = options.log ?? silentLog;
  const mac = netif.mac;
  const macBytes = mac.toBytes();
  const groups = new Map<number, number>();
  const others = new Map<number, EthernetHandler>();
  let ipv4: EthernetHandler | undefined;
  let arp: EthernetHandler | undefined;
  let ipv6: EthernetHandler | undefined;
  let running = false;
  const batchEnd: Array<() => void> = [];
  const stats: EthernetStats = {
    rxFrames: 0, rxBytes: 0, rxNotForUs: 0, rxVlanTagged: 0, rxNot8023: 0, rxTruncated: 0,
    rxUnknownEtherType: 0, rxHandlerErrors: 0, txFrames: 0, txBytes: 0, txDropped: 0,
  };

  const forUs = (frame: Uint8Array): boolean => {
    if ((frame[0]! & 1) === 0) return mac.matches(frame, 0);
    if ((frame[0]! & frame[1]! & frame[2]! & frame[3]! & frame[4]! & frame[5]!) === 0xff) return true;
    return groups.size > 0 && groups.has(macKey(frame, 0));
  };

  const receiveFrame = (frame: Uint8Array): void => {
    stats.rxFrames++;
    stats.rxBytes += frame.length;
    if (frame.length < ETHERNET_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    if (!forUs(frame)) {
      stats.rxNotForUs++;
      return;
    }
    const etherType = get16(frame, 12);
    let handler: EthernetHandler | undefined;
    if (etherType === EtherType.ipv4) handler = ipv4;
    else if (etherType === EtherType.arp) handler = arp;
    else if (etherType === EtherType.ipv6) handler = ipv6;
    else if (etherType === EtherType.vlan || etherType === EtherType.qinq || etherType === EtherType.qinqLegacy) {
      stats.rxVlanTagged++;
      return;
    } else if (etherType < 0x0600) {
      stats.rxNot8023++;
      return;
    } else handler = others.get(etherType);
    if (handler === undefined) {
      stats.rxUnknownEtherType++;
      return;
    }
    handler(frame);
  };

  const onFrames = (frames: readonly Uint8Array[]): void => {
    if (!running) return;
    for (let i = 0; i < frames.length; i++) {
      try {
        receiveFrame(frames[i]!);
      } catch (e) {
        stats.rxHandlerErrors++;
        if (stats.rxHandlerErrors <= 10) log.err(`a received frame made the stack throw (a bug): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
    for (let i = 0; i < batchEnd.length; i++) {
      try {
        batchEnd[i]!();
      } catch (e) {
        stats.rxHandlerErrors++;
        if (stats.rxHandlerErrors <= 10) log.err(`the end of a received batch made the stack throw (a bug): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  };

  return {
    mac,
    get mtu(): number {
      return netif.mtu;
    },
    setHandler(etherType, handler): void {
      if (etherType === EtherType.ipv4) ipv4 = handler;
      else if (etherType === EtherType.arp) arp = handler;
      else if (etherType === EtherType.ipv6) ipv6 = handler;
      else if (handler === undefined) others.delete(etherType);
      else others.set(etherType, handler);
    },
    joinMulticast(group): void {
      if (!group.isMulticast()) return;
      const key = macKey(group.toBytes(), 0);
      groups.set(key, (groups.get(key) ?? 0) + 1);
    },
    leaveMulticast(group): void {
      const key = macKey(group.toBytes(), 0);
      const count = groups.get(key);
      if (count === undefined) return;
      if (count <= 1) groups.delete(key);
      else groups.set(key, count - 1);
    },
    afterBatch(callback): void {
      batchEnd.push(callback);
    },
    transmit(buffer, start, payloadLength, dst, etherType): boolean {
      dst.toBytes(buffer, start);
      buffer.set(macBytes, start + 6);
      set16(buffer, start + 12, etherType);
      const length = ETHERNET_HEADER_LEN + payloadLength;
      if (!netif.write(buffer.subarray(start, start + length))) {
        stats.txDropped++;
        return false;
      }
      stats.txFrames++;
      stats.txBytes += length;
      return true;
    },
    start(): void {
      if (running) return;
      running = true;
      netif.listen(onFrames);
    },
    stop(): void {
      running = false;
    },
    stats: () => ({ ...stats }),
  };
}

