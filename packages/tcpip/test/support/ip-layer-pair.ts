/**
 * Two in-memory network layers joined back to back: each is an `IpLayer` (src/ip-layer.ts) with
 * its own addresses, and what one sends reaches the other on the next turn of (virtual) time,
 * as the real engines' netifs deliver. The transports (TCP, UDP) run over them unchanged, so
 * they can be tested over IPv6 addresses without the IPv6 engine, or over IPv4 numbers without
 * Ethernet and ARP.
 *
 * Each layer records what it was asked to report (`portUnreachables`), every datagram it sent
 * (`sent`, when `record` is on), and lets a test drop datagrams (`filter`) or hand one to its own
 * handlers as if received (`inject`).
 */
import { FlowError, type IpAddress, Ipv4Address, Ipv6Address, type Time } from "@mirage-ts/runtime";
import { pseudoHeaderSum, pseudoHeaderSumV4 } from "../../src/checksum.ts";
import type { IpLayer, IpRx, IpRxHandler, IpSendStatus } from "../../src/ip-layer.ts";

/** What differs between the families. */
export interface AddressFamily<A> {
  family: 4 | 6;
  headerLength: number;
  maxDatagramPayload: number;
  isMulticast(a: A): boolean;
  toAddress(a: A): IpAddress;
  fromAddress(a: IpAddress): A | undefined;
  key(a: A): number | string;
  equal(a: A, b: A): boolean;
  hash32(a: A): number;
  format(a: A): string;
  pseudoHeaderSum(src: A, dst: A, protocol: number, length: number): number;
  /** The best of `ours` to send to `dst` from (same scope first). */
  pickSource(ours: readonly A[], dst: A): A | undefined;
}

export const IPV6: AddressFamily<Ipv6Address> = {
  family: 6,
  headerLength: 40,
  maxDatagramPayload: 65535,
  isMulticast: (a) => a.isMulticast(),
  toAddress: (a) => a,
  fromAddress: (a) => (a.family === 6 ? a : undefined),
  key: (a) => String.fromCharCode(...a.bytes),
  equal: (a, b) => a.equals(b),
  hash32: (a) => {
    let h = 0;
    for (let i = 0; i < 16; i += 4) h ^= ((a.bytes[i]! << 24) | (a.bytes[i + 1]! << 16) | (a.bytes[i + 2]! << 8) | a.bytes[i + 3]!) >>> 0;
    return h >>> 0;
  },
  format: (a) => a.toString(),
  pseudoHeaderSum: (src, dst, protocol, length) => pseudoHeaderSum(src, dst, protocol, length),
  pickSource: (ours, dst) => ours.find((a) => a.isLinkLocal() === dst.isLinkLocal()) ?? ours[0],
};

export const IPV4: AddressFamily<number> = {
  family: 4,
  headerLength: 20,
  maxDatagramPayload: 65515,
  isMulticast: (a) => a >>> 28 === 0xe || a >>> 0 === 0xffffffff,
  toAddress: (a) => Ipv4Address.ofInt(a),
  fromAddress: (a) => (a.family === 4 ? a.value : undefined),
  key: (a) => a,
  equal: (a, b) => a === b,
  hash32: (a) => a >>> 0,
  format: (a) => Ipv4Address.ofInt(a).toString(),
  pseudoHeaderSum: pseudoHeaderSumV4,
  pickSource: (ours) => ours[0],
};

export interface SentDatagram<A> {
  src: A;
  dst: A;
  protocol: number;
  hopLimit: number;
  /** A copy of the transport's bytes. */
  payload: Uint8Array;
}

export interface TestIpLayer<A> extends IpLayer<A> {
  readonly addresses: A[];
  /** Every `portUnreachable` call, with the datagram's addresses and a copy of its payload. */
  readonly portUnreachables: SentDatagram<A>[];
  /** Every datagram sent, when `record` is true. */
  readonly sent: SentDatagram<A>[];
  record: boolean;
  /** Return false to drop a datagram on its way out. */
  filter: ((datagram: SentDatagram<A>) => boolean) | undefined;
  /** Hands `payload` to this layer's handler for `protocol`, as if it came from `src` (synchronously). */
  inject(protocol: number, src: A, dst: A, payload: Uint8Array, hopLimit?: number): void;
  /** `confirmed`: calls of `confirmReachable` (a transport saw forward progress). */
  readonly counters: { sent: number; delivered: number; dropped: number; noHandler: number; confirmed: number };
}

export interface IpLayerPairOptions {
  time: Time;
  /** Link MTU (largest IP packet); default 1500. */
  mtu?: number;
  /** Mark received datagrams as owned (the transport may keep the bytes); default false, so transports copy. */
  owned?: boolean;
}

function createLayer<A>(f: AddressFamily<A>, addresses: A[], options: IpLayerPairOptions): TestIpLayer<A> & { peer: TestIpLayer<A> | undefined } {
  const mtu = options.mtu ?? 1500;
  const txPayloadOffset = 14 + f.headerLength;
  const handlers = new Map<number, IpRxHandler<A>>();
  const queue: SentDatagram<A>[] = [];
  let scheduled = false;
  const rx: IpRx<A> = { buffer: new Uint8Array(0), payloadOffset: 0, payloadLength: 0, src: addresses[0]!, dst: addresses[0]!, protocol: 0, hopLimit: 0, unicast: false, owned: false };

  const receive = (d: SentDatagram<A>): void => {
    const handler = handlers.get(d.protocol);
    if (handler === undefined) {
      layer.counters.noHandler++;
      return;
    }
    layer.counters.delivered++;
    rx.buffer = d.payload;
    rx.payloadOffset = 0;
    rx.payloadLength = d.payload.length;
    rx.src = d.src;
    rx.dst = d.dst;
    rx.protocol = d.protocol;
    rx.hopLimit = d.hopLimit;
    rx.unicast = !f.isMulticast(d.dst) && addresses.some((a) => f.equal(a, d.dst));
    rx.owned = options.owned ?? false;
    handler(rx);
  };

  const deliverQueued = (): void => {
    scheduled = false;
    const peer = layer.peer!;
    for (const d of queue.splice(0)) peer.inject(d.protocol, d.src, d.dst, d.payload, d.hopLimit);
  };

  const layer = {
    family: f.family,
    txBuffer: new Uint8Array(txPayloadOffset + f.maxDatagramPayload),
    txPayloadOffset,
    maxDatagramPayload: f.maxDatagramPayload,
    maxUnfragmentedPayload: () => mtu - f.headerLength,
    addresses,
    portUnreachables: [] as SentDatagram<A>[],
    sent: [] as SentDatagram<A>[],
    record: false,
    filter: undefined as ((datagram: SentDatagram<A>) => boolean) | undefined,
    counters: { sent: 0, delivered: 0, dropped: 0, noHandler: 0, confirmed: 0 },
    peer: undefined as TestIpLayer<A> | undefined,
    source: (dst: A) => f.pickSource(addresses, dst),
    send(dst: A, src: A, protocol: number, payloadLength: number, hopLimit = 64): IpSendStatus {
      if (payloadLength < 0 || payloadLength > f.maxDatagramPayload) return "invalid";
      if (!addresses.some((a) => f.equal(a, src))) return "invalid";
      const peer = layer.peer!;
      if (!f.isMulticast(dst) && !peer.addresses.some((a) => f.equal(a, dst))) return "no-route";
      const d: SentDatagram<A> = { src, dst, protocol, hopLimit, payload: layer.txBuffer.slice(txPayloadOffset, txPayloadOffset + payloadLength) };
      layer.counters.sent++;
      if (layer.record) layer.sent.push(d);
      if (layer.filter !== undefined && !layer.filter(d)) {
        layer.counters.dropped++;
        return "sent";
      }
      queue.push(d);
      if (!scheduled) {
        scheduled = true;
        options.time.schedule(0, deliverQueued);
      }
      return "sent";
    },
    sendError(status: IpSendStatus, dst: A): Error {
      return status === "stopped" ? new FlowError("closed", `cannot send to ${f.format(dst)}: stopped`) : new FlowError("unreachable", `cannot send to ${f.format(dst)}: ${status}`);
    },
    pseudoHeaderSum: f.pseudoHeaderSum,
    setHandler(protocol: number, handler: IpRxHandler<A> | undefined): void {
      if (handler === undefined) handlers.delete(protocol);
      else handlers.set(protocol, handler);
    },
    portUnreachable(r: IpRx<A>): void {
      layer.portUnreachables.push({ src: r.src, dst: r.dst, protocol: r.protocol, hopLimit: r.hopLimit, payload: r.buffer.slice(r.payloadOffset, r.payloadOffset + r.payloadLength) });
    },
    inject(protocol: number, src: A, dst: A, payload: Uint8Array, hopLimit = 64): void {
      receive({ src, dst, protocol, hopLimit, payload });
    },
    confirmReachable(): void {
      layer.counters.confirmed++;
    },
    toAddress: f.toAddress,
    fromAddress: f.fromAddress,
    key: f.key,
    equal: f.equal,
    hash32: f.hash32,
    format: f.format,
  };
  return layer;
}

/** Two layers of family `f`, `a` and `b`, each with its addresses, joined back to back. */
export function ipLayerPair<A>(f: AddressFamily<A>, a: A[], b: A[], options: IpLayerPairOptions): { a: TestIpLayer<A>; b: TestIpLayer<A> } {
  const la = createLayer(f, a, options);
  const lb = createLayer(f, b, options);
  la.peer = lb;
  lb.peer = la;
  return { a: la, b: lb };
}

/** IPv6: a has 2001:db8::1 and fe80::1, b has 2001:db8::2 and fe80::2 (unless given). */
export function ipv6LayerPair(options: IpLayerPairOptions & { a?: string[]; b?: string[] }): { a: TestIpLayer<Ipv6Address>; b: TestIpLayer<Ipv6Address> } {
  const parse = (list: string[]) => list.map((s) => Ipv6Address.of(s));
  return ipLayerPair(IPV6, parse(options.a ?? ["2001:db8::1", "fe80::1"]), parse(options.b ?? ["2001:db8::2", "fe80::2"]), options);
}

/** IPv4 as numbers: a has 10.0.0.1, b has 10.0.0.2 (unless given). */
export function ipv4LayerPair(options: IpLayerPairOptions & { a?: string; b?: string }): { a: TestIpLayer<number>; b: TestIpLayer<number> } {
  return ipLayerPair(IPV4, [Ipv4Address.of(options.a ?? "10.0.0.1").value], [Ipv4Address.of(options.b ?? "10.0.0.2").value], options);
}
