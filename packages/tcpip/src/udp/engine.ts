/**
 * The UDP engine (RFC 768, RFC 1122 §4.1): the runtime's `Udp` over the IPv4 engine.
 *
 * Receive checks length and checksum (when present) in place, then finds the listener by port;
 * a unicast datagram for a port nobody listens on draws an ICMP port unreachable. Each datagram
 * handed to a handler owns its bytes (handlers may be async and keep them), so the payload is
 * copied once, except when it already lives in a buffer of its own (reassembled).
 *
 * Send writes header and payload straight into the IPv4 send buffer. Without `srcPort` an
 * ephemeral port is drawn from the injected Random in 49152–65535 (RFC 6335) for each datagram.
 */
import { type Datagram, Ipv4Address, type Log, type Random, type Udp, type UdpSendOptions } from "@mirage-ts/runtime";
import { get16, set16 } from "../bytes.ts";
import { checksumValid, internetChecksum, pseudoHeaderSumV4 } from "../checksum.ts";
import { DestinationUnreachableCode } from "../icmpv4/wire.ts";
import type { Icmpv4Engine } from "../icmpv4/engine.ts";
import { IPV4_MAX_PAYLOAD_LEN, IPV4_TX_PAYLOAD_OFFSET, type Ipv4Engine, type Ipv4Rx } from "../ipv4/engine.ts";
import { IpProtocol } from "../ipv4/wire.ts";
import { silentLog } from "../logs.ts";
import { SlabAllocator } from "../slab.ts";
import { UDP_HEADER_LEN } from "./wire.ts";

export const EPHEMERAL_PORT_MIN = 49152;
export const EPHEMERAL_PORT_MAX = 65535;
/** The largest UDP payload over IPv4. */
export const UDP_MAX_PAYLOAD_LEN = IPV4_MAX_PAYLOAD_LEN - UDP_HEADER_LEN;

export interface UdpStats {
  rxDatagrams: number;
  rxTruncated: number;
  rxBadLength: number;
  rxBadChecksum: number;
  /** No listener on the port (an ICMP port unreachable went back when allowed). */
  rxNoListener: number;
  rxDelivered: number;
  /** A handler threw or its promise rejected. */
  handlerErrors: number;
  txDatagrams: number;
}

export interface UdpEngine extends Udp {
  start(): void;
  /** Forgets every listener. */
  stop(): void;
  stats(): UdpStats;
}

export interface UdpOptions {
  ipv4: Ipv4Engine;
  /** Sends port unreachable for closed ports; none are sent without it. */
  icmp?: Icmpv4Engine;
  random: Random;
  log?: Log;
}

interface Listener {
  handler: (datagram: Datagram) => void | Promise<void>;
  /** Made once per listener, so a rejected handler costs no closure per datagram. */
  failed: (error: unknown) => void;
}

const DONE: Promise<void> = Promise.resolve();

function portError(port: number, what: string): RangeError {
  return new RangeError(`${what}: port ${port} is not an integer from 1 to 65535`);
}

/** Checked per datagram sent: the message is only built when the port is wrong. */
function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

export function createUdp(options: UdpOptions): UdpEngine {
  const { ipv4, icmp, random } = options;
  const log = options.log ?? silentLog;
  const tx = ipv4.txBuffer;
  const listeners = new Map<number, Listener>();
  const payloads = new SlabAllocator();
  const stats: UdpStats = { rxDatagrams: 0, rxTruncated: 0, rxBadLength: 0, rxBadChecksum: 0, rxNoListener: 0, rxDelivered: 0, handlerErrors: 0, txDatagrams: 0 };

  const receive = (rx: Ipv4Rx): void => {
    stats.rxDatagrams++;
    const { buffer, payloadOffset: off } = rx;
    if (rx.payloadLength < UDP_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    const length = get16(buffer, off + 4);
    if (length < UDP_HEADER_LEN) {
      stats.rxBadLength++;
      return;
    }
    if (length > rx.payloadLength) {
      stats.rxTruncated++;
      return;
    }
    if (get16(buffer, off + 6) !== 0 && !checksumValid(buffer, off, length, pseudoHeaderSumV4(rx.src, rx.dst, IpProtocol.udp, length))) {
      stats.rxBadChecksum++;
      return;
    }
    const dstPort = get16(buffer, off + 2);
    const listener = listeners.get(dstPort);
    if (listener === undefined) {
      stats.rxNoListener++;
      if (rx.unicast) icmp?.destinationUnreachable(rx, DestinationUnreachableCode.port);
      return;
    }
    stats.rxDelivered++;
    const start = off + UDP_HEADER_LEN;
    const datagram: Datagram = {
      src: Ipv4Address.ofInt(rx.src),
      srcPort: get16(buffer, off),
      dst: Ipv4Address.ofInt(rx.dst),
      dstPort,
      data: rx.owned ? buffer.subarray(start, off + length) : payloads.copy(buffer, start, off + length),
    };
    try {
      const running = listener.handler(datagram);
      if (running !== undefined && typeof (running as Promise<void>).then === "function") (running as Promise<void>).then(undefined, listener.failed);
    } catch (e) {
      listener.failed(e);
    }
  };

  /**
   * A random port of the ephemeral range that no listener holds, so that replies to it cannot
   * reach a listener's handler (a few draws; the range has 16,384 ports).
   */
  const ephemeralPort = (): number => {
    let port = 0;
    for (let tries = 0; tries < 16; tries++) {
      port = EPHEMERAL_PORT_MIN + (random.uint32() % (EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1));
      if (!listeners.has(port)) return port;
    }
    for (port = EPHEMERAL_PORT_MIN; port <= EPHEMERAL_PORT_MAX; port++) if (!listeners.has(port)) return port;
    throw new Error("UDP send: every ephemeral port is listened on");
  };

  /** Builds and sends; throws what `send` rejects with. */
  const sendNow = (o: UdpSendOptions): void => {
    if (o.dst.family !== 4) throw new Error(`UDP send to ${o.dst}: IPv6 is not implemented on the direct stack yet`);
    if (!validPort(o.dstPort)) throw portError(o.dstPort, `UDP send to ${o.dst}`);
    const data = o.data;
    if (data.length > UDP_MAX_PAYLOAD_LEN) throw new RangeError(`UDP send to ${o.dst}: ${data.length} bytes exceed the ${UDP_MAX_PAYLOAD_LEN} a datagram holds`);
    let srcPort: number;
    if (o.srcPort === undefined || o.srcPort === 0) srcPort = ephemeralPort();
    else {
      if (!validPort(o.srcPort)) throw portError(o.srcPort, "UDP send");
      srcPort = o.srcPort;
    }
    const ttl = o.ttl ?? 64;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new RangeError(`UDP send: ttl ${ttl} is not an integer from 1 to 255`);
    const src = ipv4.source();
    if (o.src !== undefined && !o.src.isUnspecified() && !(o.src.family === 4 && o.src.value === src)) {
      throw new Error(`UDP send: ${o.src} is not an address of this stack`);
    }
    const dst = o.dst.value;
    const length = UDP_HEADER_LEN + data.length;
    const at = IPV4_TX_PAYLOAD_OFFSET;
    set16(tx, at, srcPort);
    set16(tx, at + 2, o.dstPort);
    set16(tx, at + 4, length);
    set16(tx, at + 6, 0);
    tx.set(data, at + UDP_HEADER_LEN);
    const checksum = internetChecksum(tx, at, length, pseudoHeaderSumV4(src, dst, IpProtocol.udp, length));
    set16(tx, at + 6, checksum === 0 ? 0xffff : checksum);
    const status = ipv4.send(dst, src, IpProtocol.udp, length, ttl);
    if (status !== "sent" && status !== "queued") throw ipv4.sendError(status, dst);
    stats.txDatagrams++;
  };

  return {
    listen(port, handler): void {
      if (!validPort(port)) throw portError(port, "UDP listen");
      if (listeners.has(port)) throw new Error(`UDP port ${port} is already listened on by this stack`);
      const failed = (e: unknown): void => {
        stats.handlerErrors++;
        log.warn(`UDP port ${port}: the datagram handler failed: ${e instanceof Error ? e.message : String(e)}`);
      };
      listeners.set(port, { handler, failed });
    },
    unlisten(port): void {
      listeners.delete(port);
    },
    send(o: UdpSendOptions): Promise<void> {
      try {
        sendNow(o);
        return DONE;
      } catch (e) {
        return Promise.reject(e);
      }
    },
    start(): void {
      ipv4.setHandler(IpProtocol.udp, receive);
    },
    stop(): void {
      ipv4.setHandler(IpProtocol.udp, undefined);
      listeners.clear();
    },
    stats: () => ({ ...stats }),
  };
}
