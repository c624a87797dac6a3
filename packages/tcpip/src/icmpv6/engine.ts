/**
 * The ICMPv6 engine (RFC 4443): answers echo requests, pings, sends the errors the other layers
 * ask for (destination unreachable, time exceeded for reassembly, parameter problem), reacts to
 * Packet Too Big (the path MTU), and hands neighbour discovery and MLD to the NDP engine.
 *
 * Echo replies copy the request into the IPv6 send buffer and change its type; the checksum is
 * updated incrementally (RFC 1624) when the addresses are the request's swapped (the pseudo-header
 * sum does not change), and recomputed for a request to a group, answered from a unicast address
 * (RFC 4443 §4.2).
 *
 * Errors are rate-limited with a token bucket as ICMPv4 does (RFC 4443 §2.4 f), quote as much of
 * the invoking packet as fits in 1280 bytes, and are never sent about an error, to a multicast
 * destination (except what §2.4 e allows), or to a source that does not name one node.
 */
import { FlowError, Ipv6Address, type Log, type MonotonicClock, type Random, type Time, type Timer } from "@mirage-ts/runtime";
import { get16, set16, set32 } from "../bytes.ts";
import { checksumValid, foldSum, internetChecksum, pseudoHeaderSum } from "../checksum.ts";
import { DEFAULT_ICMP_CONFIG, type IcmpConfig, type PingOptions } from "../icmpv4/engine.ts";
import type { IpErrorKind, IpRx } from "../ip-layer.ts";
import type { Ipv6Engine } from "../ipv6/engine.ts";
import { IPV6_HEADER_LEN, Ipv6NextHeader } from "../ipv6/wire.ts";
import { silentLog } from "../logs.ts";
import { TokenBucket } from "../token-bucket.ts";
import {
  ICMPV6_ERROR_QUOTE_LIMIT,
  ICMPV6_HEADER_LEN,
  IcmpV6DestinationUnreachableCode,
  IcmpV6TimeExceededCode,
  IcmpV6Type,
  isIcmpV6Error,
  mayAnswerWithError,
  parseQuotedIpv6,
} from "./wire.ts";

export type Icmpv6Config = Omit<IcmpConfig, "maxErrorLength">;

export const DEFAULT_ICMPV6_CONFIG: Icmpv6Config = {
  errorRatePerSecond: DEFAULT_ICMP_CONFIG.errorRatePerSecond,
  errorBurst: DEFAULT_ICMP_CONFIG.errorBurst,
  echoRatePerSecond: DEFAULT_ICMP_CONFIG.echoRatePerSecond,
  echoBurst: DEFAULT_ICMP_CONFIG.echoBurst,
};

/** Options of `ping` over IPv6: those of ICMPv4's ping (`ttl` is the hop limit). */
export type Ping6Options = PingOptions;

export interface Echo6Reply {
  src: Ipv6Address;
  identifier: number;
  sequence: number;
  /** The echoed data (a copy). */
  data: Uint8Array;
  hopLimit: number;
  /** Round-trip time by the injected clock. */
  rttMs: number;
}

/** A received ICMPv6 error, for transports that want to react. */
export interface Icmpv6ErrorReport {
  type: number;
  code: number;
  src: Ipv6Address;
  /** The pointer of a parameter problem, the MTU of a packet too big, 0 otherwise. */
  value: number;
  /** The quoted packet (a copy). */
  original: Uint8Array;
}

export interface Icmpv6Stats {
  rxMessages: number;
  rxTruncated: number;
  rxBadChecksum: number;
  rxEchoRequests: number;
  rxEchoReplies: number;
  rxErrors: number;
  rxPacketTooBig: number;
  /** Neighbour discovery and MLD, handed to the NDP engine. */
  rxNdp: number;
  rxOther: number;
  txEchoReplies: number;
  txEchoRequests: number;
  txDestinationUnreachable: number;
  txTimeExceeded: number;
  txParameterProblem: number;
  rateLimitedEcho: number;
  rateLimitedErrors: number;
}

export interface Icmpv6Engine {
  /** Sends an echo request and resolves with the reply; rejects with FlowError "timeout", "unreachable" or "closed". */
  ping(dst: Ipv6Address, options?: Ping6Options): Promise<Echo6Reply>;
  /** Called for every ICMPv6 error received (Packet Too Big included, after the path MTU was updated). */
  onError(handler: ((report: Icmpv6ErrorReport) => void) | undefined): void;
  start(): void;
  stop(): void;
  stats(): Icmpv6Stats;
}

export interface Icmpv6Options {
  ipv6: Ipv6Engine;
  clock: MonotonicClock;
  time: Time;
  random?: Random;
  config?: Partial<Icmpv6Config>;
  log?: Log;
}

interface PendingPing {
  dst: Ipv6Address;
  sentAt: number;
  timer: Timer;
  resolve(reply: Echo6Reply): void;
  reject(error: Error): void;
}

type ErrorKind = "destination-unreachable" | "time-exceeded" | "parameter-problem";

export function createIcmpv6(options: Icmpv6Options): Icmpv6Engine {
  const { ipv6, clock, time } = options;
  const log = options.log ?? silentLog;
  const config: Icmpv6Config = { ...DEFAULT_ICMPV6_CONFIG, ...options.config };
  const errorBucket = new TokenBucket({ ratePerSecond: config.errorRatePerSecond, burst: config.errorBurst }, clock.now());
  const echoBucket = new TokenBucket({ ratePerSecond: config.echoRatePerSecond, burst: config.echoBurst }, clock.now());
  const tx = ipv6.txBuffer;
  const at = ipv6.txPayloadOffset;
  const identifier = options.random !== undefined ? options.random.uint32() & 0xffff : 0x6d69;
  let sequence = 0;
  const pending = new Map<number, PendingPing>();
  let errorHandler: ((report: Icmpv6ErrorReport) => void) | undefined;
  let running = false;
  const stats: Icmpv6Stats = {
    rxMessages: 0, rxTruncated: 0, rxBadChecksum: 0, rxEchoRequests: 0, rxEchoReplies: 0, rxErrors: 0, rxPacketTooBig: 0,
    rxNdp: 0, rxOther: 0, txEchoReplies: 0, txEchoRequests: 0, txDestinationUnreachable: 0, txTimeExceeded: 0,
    txParameterProblem: 0, rateLimitedEcho: 0, rateLimitedErrors: 0,
  };

  const echoReply = (rx: IpRx<Ipv6Address>): void => {
    stats.rxEchoRequests++;
    if (rx.src.isUnspecified()) return;
    if (!echoBucket.take(clock.now())) {
      stats.rateLimitedEcho++;
      return;
    }
    const { buffer, payloadOffset: off, payloadLength: length } = rx;
    // RFC 4443 §4.2: a request to a group is answered from one of our unicast addresses.
    const src = rx.dst.isMulticast() ? ipv6.source(rx.src) : rx.dst;
    if (src === undefined) return;
    tx.set(buffer.subarray(off, off + length), at);
    tx[at] = IcmpV6Type.echoReply;
    if (src === rx.dst) {
      // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the old type/code word, m' the new one.
      const sum = foldSum((~get16(buffer, off + 2) & 0xffff) + (~get16(buffer, off) & 0xffff) + get16(tx, at));
      set16(tx, at + 2, ~sum & 0xffff);
    } else {
      set16(tx, at + 2, 0);
      set16(tx, at + 2, internetChecksum(tx, at, length, pseudoHeaderSum(src, rx.src, Ipv6NextHeader.icmpv6, length)));
    }
    const status = ipv6.send(rx.src, src, Ipv6NextHeader.icmpv6, length);
    if (status === "sent" || status === "queued") stats.txEchoReplies++;
  };

  const echoReplyReceived = (rx: IpRx<Ipv6Address>): void => {
    stats.rxEchoReplies++;
    const { buffer, payloadOffset: off } = rx;
    const key = ((get16(buffer, off + 4) << 16) | get16(buffer, off + 6)) >>> 0;
    const ping = pending.get(key);
    if (ping === undefined || (!ping.dst.isMulticast() && !ping.dst.equals(rx.src))) return;
    pending.delete(key);
    ping.timer.cancel();
    ping.resolve({
      src: rx.src,
      identifier: key >>> 16,
      sequence: key & 0xffff,
      data: buffer.slice(off + ICMPV6_HEADER_LEN, off + rx.payloadLength),
      hopLimit: rx.hopLimit,
      rttMs: clock.now() - ping.sentAt,
    });
  };

  const errorReceived = (rx: IpRx<Ipv6Address>, type: number): void => {
    stats.rxErrors++;
    const { buffer, payloadOffset: off, payloadLength: length } = rx;
    if (length < ICMPV6_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    const original = buffer.slice(off + ICMPV6_HEADER_LEN, off + length);
    const value = ((buffer[off + 4]! << 24) | (buffer[off + 5]! << 16) | get16(buffer, off + 6)) >>> 0;
    const code = buffer[off + 1]!;
    const quoted = parseQuotedIpv6(original);
    // Only about a packet we sent (its source is one of ours): otherwise anyone could shrink any path.
    const ours = quoted.ok && ipv6.addresses().some((a) => a.address.equals(quoted.value.src));
    if (type === IcmpV6Type.packetTooBig) {
      stats.rxPacketTooBig++;
      if (ours && ipv6.source(quoted.value.dst) !== undefined) ipv6.packetTooBig(quoted.value.dst, value);
    }
    log.debug(() => `ICMPv6 error type ${type} code ${code} from ${rx.src.toString()}`);
    // The transport whose packet it quotes hears of it (TCP: a smaller MSS, or a failed connect).
    const meaning = errorMeaning(type, code);
    if (ours && meaning !== undefined && quoted.value.transport.length >= 8) {
      const q = quoted.value;
      ipv6.reportError(q.protocol, {
        kind: meaning.kind,
        hard: meaning.hard,
        mtu: meaning.kind === "too-big" ? ipv6.pathMtu(q.dst) : 0,
        local: q.src,
        remote: q.dst,
        localPort: get16(q.transport, 0),
        remotePort: get16(q.transport, 2),
        header: q.transport.slice(0, Math.min(q.transport.length, 60)),
        description: `ICMPv6 ${meaning.text} from ${rx.src.toString()}`,
      });
    }
    errorHandler?.({ type, code, src: rx.src, value, original });
  };

  const receive = (rx: IpRx<Ipv6Address>): void => {
    stats.rxMessages++;
    const { buffer, payloadOffset: off, payloadLength: length } = rx;
    if (length < 4) {
      stats.rxTruncated++;
      return;
    }
    if (!checksumValid(buffer, off, length, pseudoHeaderSum(rx.src, rx.dst, Ipv6NextHeader.icmpv6, length))) {
      stats.rxBadChecksum++;
      return;
    }
    const type = buffer[off]!;
    if (type === IcmpV6Type.echoRequest || type === IcmpV6Type.echoReply) {
      if (length < ICMPV6_HEADER_LEN) {
        stats.rxTruncated++;
        return;
      }
      if (type === IcmpV6Type.echoRequest) echoReply(rx);
      else echoReplyReceived(rx);
    } else if (isIcmpV6Error(type)) errorReceived(rx, type);
    else if ((type >= IcmpV6Type.mldQuery && type <= IcmpV6Type.redirect) || type === IcmpV6Type.mldV2Report) {
      stats.rxNdp++;
      ipv6.ndp.receive(rx);
    } else stats.rxOther++; // RFC 4443 §2.4 (b): unknown informational messages are dropped.
  };

  /** Sends an error about `packet` (IPv6 header first) when RFC 4443 §2.4 (e) and the rate limit allow. */
  const sendError = (kind: ErrorKind, type: number, code: number, value: number, packet: Uint8Array, multicastAllowed = false): boolean => {
    if (!running || packet.length < IPV6_HEADER_LEN) return false;
    const invokingSrc = Ipv6Address.ofBytes(packet, 8);
    const invokingDst = Ipv6Address.ofBytes(packet, 24);
    const invokingIcmpType = packet[6] === Ipv6NextHeader.icmpv6 && packet.length > IPV6_HEADER_LEN ? packet[IPV6_HEADER_LEN] : undefined;
    const invoking = invokingIcmpType !== undefined ? { src: invokingSrc, dst: invokingDst, invokingIcmpType } : { src: invokingSrc, dst: invokingDst };
    if (!mayAnswerWithError(invoking, { type: kind, code, multicastAllowed })) return false;
    // From the address the packet was sent to when it is ours, else the best one towards its sender.
    const ours = ipv6.addresses().find((a) => (a.state === "preferred" || a.state === "deprecated") && a.address.equals(invokingDst));
    const src = ours?.address ?? ipv6.source(invokingSrc);
    if (src === undefined) return false;
    if (!errorBucket.take(clock.now())) {
      stats.rateLimitedErrors++;
      return false;
    }
    const quoted = Math.min(packet.length, ICMPV6_ERROR_QUOTE_LIMIT);
    tx[at] = type;
    tx[at + 1] = code;
    set16(tx, at + 2, 0);
    set32(tx, at + 4, value);
    tx.set(packet.subarray(0, quoted), at + ICMPV6_HEADER_LEN);
    const length = ICMPV6_HEADER_LEN + quoted;
    set16(tx, at + 2, internetChecksum(tx, at, length, pseudoHeaderSum(src, invokingSrc, Ipv6NextHeader.icmpv6, length)));
    const status = ipv6.send(invokingSrc, src, Ipv6NextHeader.icmpv6, length);
    return status === "sent" || status === "queued";
  };

  return {
    ping(dst: Ipv6Address, pingOptions: Ping6Options = {}): Promise<Echo6Reply> {
      if (!running) return Promise.reject(new FlowError("closed", "ping: the stack is disconnected"));
      const data = pingOptions.data ?? patternOf(pingOptions.size ?? 56);
      const id = (pingOptions.identifier ?? identifier) & 0xffff;
      const seq = (pingOptions.sequence ?? sequence++) & 0xffff;
      const key = ((id << 16) | seq) >>> 0;
      if (pending.has(key)) return Promise.reject(new Error(`ping: identifier ${id} sequence ${seq} is already in flight`));
      const length = ICMPV6_HEADER_LEN + data.length;
      if (length > ipv6.maxDatagramPayload) return Promise.reject(new RangeError(`ping: ${data.length} data bytes do not fit in an IPv6 packet`));
      const src = ipv6.source(dst);
      if (src === undefined) return Promise.reject(ipv6.sendError("no-address", dst));
      tx[at] = IcmpV6Type.echoRequest;
      tx[at + 1] = 0;
      set16(tx, at + 2, 0);
      set16(tx, at + 4, id);
      set16(tx, at + 6, seq);
      tx.set(data, at + ICMPV6_HEADER_LEN);
      set16(tx, at + 2, internetChecksum(tx, at, length, pseudoHeaderSum(src, dst, Ipv6NextHeader.icmpv6, length)));
      const sentAt = clock.now();
      const status = ipv6.send(dst, src, Ipv6NextHeader.icmpv6, length, pingOptions.ttl);
      if (status !== "sent" && status !== "queued") return Promise.reject(ipv6.sendError(status, dst));
      stats.txEchoRequests++;
      const timeoutMs = pingOptions.timeoutMs ?? 1000;
      return new Promise<Echo6Reply>((resolve, reject) => {
        const timer = time.schedule(timeoutMs, () => {
          pending.delete(key);
          reject(new FlowError("timeout", `no echo reply from ${dst.toString()} (sequence ${seq}) within ${timeoutMs} ms`));
        });
        pending.set(key, { dst, sentAt, timer, resolve, reject });
      });
    },
    onError(handler): void {
      errorHandler = handler;
    },
    start(): void {
      running = true;
      ipv6.setHandler(Ipv6NextHeader.icmpv6, receive);
      ipv6.setErrorSink({
        parameterProblem: (packet, code, pointer, multicastAllowed) => {
          if (sendError("parameter-problem", IcmpV6Type.parameterProblem, code, pointer, packet, multicastAllowed)) stats.txParameterProblem++;
        },
        reassemblyTimeout: (quote) => {
          if (sendError("time-exceeded", IcmpV6Type.timeExceeded, IcmpV6TimeExceededCode.reassembly, 0, quote)) stats.txTimeExceeded++;
        },
        destinationUnreachable: (packet, code) => {
          if (sendError("destination-unreachable", IcmpV6Type.destinationUnreachable, code, 0, packet)) stats.txDestinationUnreachable++;
        },
      });
    },
    stop(): void {
      running = false;
      ipv6.setHandler(Ipv6NextHeader.icmpv6, undefined);
      for (const ping of pending.values()) {
        ping.timer.cancel();
        ping.reject(new FlowError("closed", "ping: the stack was disconnected"));
      }
      pending.clear();
    },
    stats: () => ({ ...stats }),
  };
}

/**
 * What an ICMPv6 error means to a transport (RFC 4443 §3). Hard, as Linux's icmpv6_err_convert
 * has them fatal: port unreachable, administratively prohibited, source address failed
 * ingress/egress policy, reject route; no route, beyond scope and address unreachable are soft
 * (RFC 1122 §4.2.3.9's net and host unreachable).
 */
export function errorMeaning(type: number, code: number): { kind: IpErrorKind; hard: boolean; text: string } | undefined {
  switch (type) {
    case IcmpV6Type.destinationUnreachable:
      switch (code) {
        case IcmpV6DestinationUnreachableCode.port:
          return { kind: "refused", hard: true, text: "port unreachable" };
        case 1:
          return { kind: "prohibited", hard: true, text: "destination unreachable (administratively prohibited)" };
        case 5:
          return { kind: "prohibited", hard: true, text: "destination unreachable (source address failed policy)" };
        case 6:
          return { kind: "prohibited", hard: true, text: "destination unreachable (reject route)" };
        case 0:
          return { kind: "unreachable", hard: false, text: "destination unreachable (no route)" };
        case 3:
          return { kind: "unreachable", hard: false, text: "destination unreachable (address unreachable)" };
        default:
          return { kind: "unreachable", hard: false, text: `destination unreachable (code ${code})` };
      }
    case IcmpV6Type.packetTooBig:
      return { kind: "too-big", hard: false, text: "packet too big" };
    case IcmpV6Type.timeExceeded:
      return { kind: "time-exceeded", hard: false, text: code === IcmpV6TimeExceededCode.reassembly ? "time exceeded (reassembly)" : "time exceeded (hop limit)" };
    case IcmpV6Type.parameterProblem:
      return { kind: "parameter-problem", hard: false, text: `parameter problem (code ${code})` };
    default:
      return undefined;
  }
}

/** Port unreachable (RFC 4443 §3.1 code 4): what IpLayer.portUnreachable sends. */
export const PORT_UNREACHABLE = IcmpV6DestinationUnreachableCode.port;

/** ping's default data: bytes counting up from 0x08 after an 8-byte gap, as iputils fills it. */
function patternOf(size: number): Uint8Array {
  const data = new Uint8Array(Math.max(0, size));
  for (let i = 0; i < data.length; i++) data[i] = (i + 8) & 0xff;
  return data;
}
