/**
 * The UDP engine (RFC 768, RFC 1122 §4.1, RFC 8200 §8.1): the runtime's `Udp` over one network
 * layer (ip-layer.ts: IPv4, or IPv6). A dual stack runs one engine per family behind
 * stack/dual-transport.ts.
 *
 * Receive checks length and checksum in place (over IPv4 a zero checksum means none; over IPv6
 * the checksum is mandatory and a zero one is refused), then finds the listener by port; a
 * unicast datagram for a port nobody listens on draws a port unreachable (ICMP or ICMPv6, through
 * the layer's `portUnreachable`). Each datagram
 * handed to a handler owns its bytes (handlers may be async and keep them), so the payload is
 * copied once, except when it already lives in a buffer of its own (reassembled).
 *
 * Send writes header and payload straight into the IPv4 send buffer. Without `srcPort` an
 * ephemeral port is drawn from the injected Random in 49152–65535 (RFC 6335) for each datagram.
 */
import { type Datagram, FlowError, type Log, type Random, type Udp, type UdpSendOptions } from "@mirage-ts/runtime";
import { get16, set16 } from "../bytes.ts";
import { checksumValid, internetChecksum } from "../checksum.ts";
import type { IpLayer, IpRx } from "../ip-layer.ts";
import { IPV4_MAX_PAYLOAD_LEN } from "../ipv4/engine.ts";
import { IpProtocol } from "../ipv4/wire.ts";
import { silentLog } from "../logs.ts";
import { SlabAllocator } from "../slab.ts";
import { UDP_HEADER_LEN } from "./wire.ts";

export const EPHEMERAL_PORT_MIN = 49152;
export const EPHEMERAL_PORT_MAX = 65535;
/** The largest UDP payload over IPv4 (over any layer: `ip.maxDatagramPayload - UDP_HEADER_LEN`). */
export const UDP_MAX_PAYLOAD_LEN = IPV4_MAX_PAYLOAD_LEN - UDP_HEADER_LEN;

export interface UdpStats {
  rxDatagrams: number;
  rxTruncated: number;
  rxBadLength: number;
  /** A wrong checksum, or (IPv6) none at all. */
  rxBadChecksum: number;
  /** No listener on the port (an ICMP port unreachable went back when allowed). */
  rxNoListener: number;
  rxDelivered: number;
  /** A handler threw or its promise rejected. */
  handlerErrors: number;
  txDatagrams: number;
}

export interface UdpEngine extends Udp {
  /** The IP family this engine runs over. */
  readonly family: 4 | 6;
  start(): void;
  /** Forgets every listener. */
  stop(): void;
  stats(): UdpStats;
}

export interface UdpOptions<A> {
  /** The network layer: `ipv4Layer(ipv4, icmp)` (ipv4/ip-layer.ts) or the IPv6 engine; closed ports go to its `portUnreachable`. */
  ip: IpLayer<A>;
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

export function createUdp<A>(options: UdpOptions<A>): UdpEngine {
  const { ip, random } = options;
  const log = options.log ?? silentLog;
  const tx = ip.txBuffer;
  const txAt = ip.txPayloadOffset;
  const maxPayload = ip.maxDatagramPayload - UDP_HEADER_LEN;
  /** RFC 8200 §8.1: over IPv6 the checksum is not optional. */
  const checksumRequired = ip.family === 6;
  const where = (dst: unknown): string => (ip.family === 6 ? `[${String(dst)}]` : String(dst));
  const listeners = new Map<number, Listener>();
  const payloads = new SlabAllocator();
  const stats: UdpStats = { rxDatagrams: 0, rxTruncated: 0, rxBadLength: 0, rxBadChecksum: 0, rxNoListener: 0, rxDelivered: 0, handlerErrors: 0, txDatagrams: 0 };

  const receive = (rx: IpRx<A>): void => {
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
    if (get16(buffer, off + 6) === 0 ? checksumRequired : !checksumValid(buffer, off, length, ip.pseudoHeaderSum(rx.src, rx.dst, IpProtocol.udp, length))) {
      stats.rxBadChecksum++;
      return;
    }
    const dstPort = get16(buffer, off + 2);
    const listener = listeners.get(dstPort);
    if (listener === undefined) {
      stats.rxNoListener++;
      if (rx.unicast) ip.portUnreachable(rx);
      return;
    }
    stats.rxDelivered++;
    const start = off + UDP_HEADER_LEN;
    const datagram: Datagram = {
      src: ip.toAddress(rx.src),
      srcPort: get16(buffer, off),
      dst: ip.toAddress(rx.dst),
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
    const dst = ip.fromAddress(o.dst);
    if (dst === undefined) throw new FlowError("unreachable", `UDP send to ${where(o.dst)}: this UDP runs over IPv${ip.family}, not IPv${o.dst.family}`);
    if (!validPort(o.dstPort)) throw portError(o.dstPort, `UDP send to ${where(o.dst)}`);
    const data = o.data;
    if (data.length > maxPayload) throw new RangeError(`UDP send to ${where(o.dst)}: ${data.length} bytes exceed the ${maxPayload} a datagram holds`);
    let srcPort: number;
    if (o.srcPort === undefined || o.srcPort === 0) srcPort = ephemeralPort();
    else {
      if (!validPort(o.srcPort)) throw portError(o.srcPort, "UDP send");
      srcPort = o.srcPort;
    }
    const ttl = o.ttl ?? 64;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new RangeError(`UDP send: ttl ${ttl} is not an integer from 1 to 255`);
    const notOurs = (): Error => new Error(`UDP send: ${o.src} is not an address of this stack`);
    let src: A | undefined;
    const explicit = o.src !== undefined && !o.src.isUnspecified();
    if (explicit) {
      // The layer's send refuses a source that is not ours ("invalid"); the size was checked above.
      src = ip.fromAddress(o.src!);
      if (src === undefined) throw notOurs();
    } else {
      src = ip.source(dst);
      if (src === undefined) throw ip.sendError("no-address", dst);
    }
    const length = UDP_HEADER_LEN + data.length;
    const at = txAt;
    set16(tx, at, srcPort);
    set16(tx, at + 2, o.dstPort);
    set16(tx, at + 4, length);
    set16(tx, at + 6, 0);
    tx.set(data, at + UDP_HEADER_LEN);
    const checksum = internetChecksum(tx, at, length, ip.pseudoHeaderSum(src, dst, IpProtocol.udp, length));
    set16(tx, at + 6, checksum === 0 ? 0xffff : checksum);
    const status = ip.send(dst, src, IpProtocol.udp, length, ttl);
    if (status === "invalid" && explicit) throw notOurs();
    if (status !== "sent" && status !== "queued") throw ip.sendError(status, dst);
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
    family: ip.family,
    start(): void {
      ip.setHandler(IpProtocol.udp, receive);
    },
    stop(): void {
      ip.setHandler(IpProtocol.udp, undefined);
      listeners.clear();
    },
    stats: () => ({ ...stats }),
  };
}
