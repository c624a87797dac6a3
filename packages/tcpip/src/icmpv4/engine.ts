/**
 * The ICMPv4 engine (RFC 792, RFC 1122 §3.2.2): answers echo requests, sends the errors the
 * other layers ask for (destination unreachable, time exceeded), and pings.
 *
 * Echo replies are built by copying the request into the IPv4 send buffer and changing its type;
 * the checksum is updated incrementally (RFC 1624) from the one just verified, so even a large
 * ping is summed once. Large (fragmented) pings arrive reassembled and their replies are
 * fragmented by IPv4 on the way out.
 *
 * Rate limits, two token buckets: ICMP errors at 1000/s with a burst of 50 (Linux's
 * icmp_msgs_per_sec/icmp_msgs_burst), because a port scan or a fragment flood must not turn the
 * stack into a packet generator; echo replies separately and generously (50 000/s, burst 5 000).
 * An echo reply is the size of its request, so it amplifies nothing, and Linux exempts it from
 * its limit (icmp_ratemask): a `ping -f` of 10 000 requests, which keeps one request in flight,
 * must see no loss. The echo bucket only bounds the CPU a flood from many senders can take.
 */
import { FlowError, Ipv4Address, type Log, type MonotonicClock, type Random, type Time, type Timer } from "@mirage-ts/runtime";
import { get16, set16, set32 } from "../bytes.ts";
import { checksumValid, foldSum, internetChecksum } from "../checksum.ts";
import type { Ipv4Engine, Ipv4Rx } from "../ipv4/engine.ts";
import { IPV4_TX_PAYLOAD_OFFSET } from "../ipv4/engine.ts";
import { IpProtocol } from "../ipv4/wire.ts";
import { silentLog } from "../logs.ts";
import { TokenBucket } from "../token-bucket.ts";
import { DestinationUnreachableCode, ICMPV4_HEADER_LEN, IcmpV4Type, TimeExceededCode } from "./wire.ts";

export interface IcmpConfig {
  errorRatePerSecond: number;
  errorBurst: number;
  echoRatePerSecond: number;
  echoBurst: number;
  /** Largest error message (IP header included): RFC 1812 §4.3.2.3's 576 bytes, as Linux. */
  maxErrorLength: number;
}

export const DEFAULT_ICMP_CONFIG: IcmpConfig = {
  errorRatePerSecond: 1000,
  errorBurst: 50,
  echoRatePerSecond: 50_000,
  echoBurst: 5_000,
  maxErrorLength: 576,
};

export interface EchoReply {
  src: Ipv4Address;
  identifier: number;
  sequence: number;
  /** The echoed data (a copy). */
  data: Uint8Array;
  ttl: number;
  /** Round-trip time by the injected clock. */
  rttMs: number;
}

export interface PingOptions {
  /** The data to send (default: `size` bytes of a counting pattern). */
  data?: Uint8Array;
  /** Data bytes when `data` is absent (default 56, as ping). */
  size?: number;
  /** Rejects with FlowError "timeout" after this long (default 1000 ms). */
  timeoutMs?: number;
  /** Default: this engine's identifier. */
  identifier?: number;
  /** Default: a counter. */
  sequence?: number;
  ttl?: number;
}

/** A received ICMP error, for transports that want to react (e.g. a later TCP). */
export interface IcmpErrorReport {
  type: number;
  code: number;
  src: Ipv4Address;
  /** The quoted datagram (a copy). */
  original: Uint8Array;
}

export interface IcmpStats {
  rxMessages: number;
  rxTruncated: number;
  rxBadChecksum: number;
  rxEchoRequests: number;
  rxEchoReplies: number;
  rxErrors: number;
  rxOther: number;
  /** Echo requests to a broadcast address, ignored as Linux does (icmp_echo_ignore_broadcasts). */
  rxBroadcastEchoIgnored: number;
  txEchoReplies: number;
  txEchoRequests: number;
  txDestinationUnreachable: number;
  txTimeExceeded: number;
  rateLimitedEcho: number;
  rateLimitedErrors: number;
}

export interface Icmpv4Engine {
  /** Sends an echo request and resolves with the reply; rejects with FlowError "timeout" or "unreachable". */
  ping(dst: Ipv4Address, options?: PingOptions): Promise<EchoReply>;
  /** Destination unreachable (`code`) about the datagram `rx`, when RFC 1122 allows one and the rate limit has room. */
  destinationUnreachable(rx: Ipv4Rx, code: number): void;
  /** Called for every ICMP error received. */
  onError(handler: ((report: IcmpErrorReport) => void) | undefined): void;
  start(): void;
  stop(): void;
  stats(): IcmpStats;
}

export interface IcmpOptions {
  ipv4: Ipv4Engine;
  clock: MonotonicClock;
  time: Time;
  /** Chooses this engine's echo identifier. */
  random?: Random;
  config?: Partial<IcmpConfig>;
  log?: Log;
}

interface PendingPing {
  dst: number;
  sentAt: number;
  timer: Timer;
  resolve(reply: EchoReply): void;
  reject(error: Error): void;
}

/** A unicast host address an error may be sent to (RFC 1122 §3.2.2: never to broadcast, multicast, 0, loopback). */
function errorsAllowedTo(src: number): boolean {
  return src !== 0 && src !== 0xffffffff && src >>> 28 !== 0xe && src >>> 24 !== 127 && src >>> 28 !== 0xf;
}

const isErrorType = (type: number): boolean => type === 3 || type === 4 || type === 5 || type === 11 || type === 12;

export function createIcmpv4(options: IcmpOptions): Icmpv4Engine {
  const { ipv4, clock, time } = options;
  const log = options.log ?? silentLog;
  const config: IcmpConfig = { ...DEFAULT_ICMP_CONFIG, ...options.config };
  const errorBucket = new TokenBucket({ ratePerSecond: config.errorRatePerSecond, burst: config.errorBurst }, clock.now());
  const echoBucket = new TokenBucket({ ratePerSecond: config.echoRatePerSecond, burst: config.echoBurst }, clock.now());
  const tx = ipv4.txBuffer;
  const identifier = options.random !== undefined ? options.random.uint32() & 0xffff : 0x6d69;
  let sequence = 0;
  const pending = new Map<number, PendingPing>();
  let errorHandler: ((report: IcmpErrorReport) => void) | undefined;
  let running = false;
  const stats: IcmpStats = {
    rxMessages: 0, rxTruncated: 0, rxBadChecksum: 0, rxEchoRequests: 0, rxEchoReplies: 0, rxErrors: 0, rxOther: 0,
    rxBroadcastEchoIgnored: 0, txEchoReplies: 0, txEchoRequests: 0, txDestinationUnreachable: 0, txTimeExceeded: 0,
    rateLimitedEcho: 0, rateLimitedErrors: 0,
  };

  const echoReply = (rx: Ipv4Rx): void => {
    stats.rxEchoRequests++;
    if (!rx.unicast) {
      stats.rxBroadcastEchoIgnored++;
      return;
    }
    if (!echoBucket.take(clock.now())) {
      stats.rateLimitedEcho++;
      return;
    }
    const { buffer, payloadOffset: off, payloadLength: length } = rx;
    tx.set(buffer.subarray(off, off + length), IPV4_TX_PAYLOAD_OFFSET);
    // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the old type/code word, m' the new one (0).
    const oldWord = get16(buffer, off);
    const sum = foldSum((~get16(buffer, off + 2) & 0xffff) + (~oldWord & 0xffff));
    tx[IPV4_TX_PAYLOAD_OFFSET] = IcmpV4Type.echoReply;
    tx[IPV4_TX_PAYLOAD_OFFSET + 1] = 0;
    set16(tx, IPV4_TX_PAYLOAD_OFFSET + 2, ~sum & 0xffff);
    const status = ipv4.send(rx.src, rx.dst, IpProtocol.icmp, length);
    if (status === "sent" || status === "queued") stats.txEchoReplies++;
  };

  const echoReplyReceived = (rx: Ipv4Rx): void => {
    stats.rxEchoReplies++;
    const { buffer, payloadOffset: off } = rx;
    const key = ((get16(buffer, off + 4) << 16) | get16(buffer, off + 6)) >>> 0;
    const ping = pending.get(key);
    if (ping === undefined || (ping.dst !== rx.src && ping.dst !== 0xffffffff)) return;
    pending.delete(key);
    ping.timer.cancel();
    ping.resolve({
      src: Ipv4Address.ofInt(rx.src),
      identifier: key >>> 16,
      sequence: key & 0xffff,
      data: buffer.slice(off + ICMPV4_HEADER_LEN, off + rx.payloadLength),
      ttl: rx.ttl,
      rttMs: clock.now() - ping.sentAt,
    });
  };

  const receive = (rx: Ipv4Rx): void => {
    stats.rxMessages++;
    const { buffer, payloadOffset: off, payloadLength: length } = rx;
    if (length < ICMPV4_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    if (!checksumValid(buffer, off, length)) {
      stats.rxBadChecksum++;
      return;
    }
    const type = buffer[off]!;
    if (type === IcmpV4Type.echoRequest) echoReply(rx);
    else if (type === IcmpV4Type.echoReply) echoReplyReceived(rx);
    else if (isErrorType(type)) {
      stats.rxErrors++;
      log.debug(() => `ICMP error type ${type} code ${buffer[off + 1]} from ${Ipv4Address.ofInt(rx.src)}`);
      errorHandler?.({
        type,
        code: buffer[off + 1]!,
        src: Ipv4Address.ofInt(rx.src),
        original: buffer.slice(off + ICMPV4_HEADER_LEN, off + length),
      });
    } else stats.rxOther++;
  };

  /** Sends an error of `type`/`code` to `dst` quoting header + payload pieces; the caller checked the preconditions. */
  const sendError = (
    type: number,
    code: number,
    dst: number,
    header: Uint8Array,
    headerOffset: number,
    headerLength: number,
    payload: Uint8Array,
    payloadOffset: number,
    payloadLength: number,
  ): boolean => {
    const src = ipv4.source();
    if (src === 0) return false;
    if (!errorBucket.take(clock.now())) {
      stats.rateLimitedErrors++;
      return false;
    }
    const room = Math.max(0, config.maxErrorLength - 20 - ICMPV4_HEADER_LEN - headerLength);
    const quoted = Math.min(payloadLength, room);
    const at = IPV4_TX_PAYLOAD_OFFSET;
    tx[at] = type;
    tx[at + 1] = code;
    set16(tx, at + 2, 0);
    set32(tx, at + 4, 0);
    tx.set(header.subarray(headerOffset, headerOffset + headerLength), at + ICMPV4_HEADER_LEN);
    tx.set(payload.subarray(payloadOffset, payloadOffset + quoted), at + ICMPV4_HEADER_LEN + headerLength);
    const length = ICMPV4_HEADER_LEN + headerLength + quoted;
    set16(tx, at + 2, internetChecksum(tx, at, length));
    const status = ipv4.send(dst, src, IpProtocol.icmp, length);
    return status === "sent" || status === "queued";
  };

  return {
    ping(dst: Ipv4Address, pingOptions: PingOptions = {}): Promise<EchoReply> {
      if (!running) return Promise.reject(new FlowError("closed", "ping: the stack is disconnected"));
      const data = pingOptions.data ?? patternOf(pingOptions.size ?? 56);
      const id = (pingOptions.identifier ?? identifier) & 0xffff;
      const seq = (pingOptions.sequence ?? sequence++) & 0xffff;
      const key = ((id << 16) | seq) >>> 0;
      if (pending.has(key)) return Promise.reject(new Error(`ping: identifier ${id} sequence ${seq} is already in flight`));
      const at = IPV4_TX_PAYLOAD_OFFSET;
      const length = ICMPV4_HEADER_LEN + data.length;
      if (length > 65515) return Promise.reject(new RangeError(`ping: ${data.length} data bytes do not fit in an IPv4 datagram`));
      tx[at] = IcmpV4Type.echoRequest;
      tx[at + 1] = 0;
      set16(tx, at + 2, 0);
      set16(tx, at + 4, id);
      set16(tx, at + 6, seq);
      tx.set(data, at + ICMPV4_HEADER_LEN);
      set16(tx, at + 2, internetChecksum(tx, at, length));
      const sentAt = clock.now();
      const status = ipv4.send(dst.value, ipv4.source(), IpProtocol.icmp, length, pingOptions.ttl);
      if (status !== "sent" && status !== "queued") return Promise.reject(ipv4.sendError(status, dst.value));
      stats.txEchoRequests++;
      const timeoutMs = pingOptions.timeoutMs ?? 1000;
      return new Promise<EchoReply>((resolve, reject) => {
        const timer = time.schedule(timeoutMs, () => {
          pending.delete(key);
          reject(new FlowError("timeout", `no echo reply from ${dst} (sequence ${seq}) within ${timeoutMs} ms`));
        });
        pending.set(key, { dst: dst.value, sentAt, timer, resolve, reject });
      });
    },
    destinationUnreachable(rx: Ipv4Rx, code: number): void {
      if (!rx.unicast || !errorsAllowedTo(rx.src)) return;
      // Never an error about an ICMP error (RFC 1122 §3.2.2).
      if (rx.protocol === IpProtocol.icmp && (rx.payloadLength < 1 || isErrorType(rx.buffer[rx.payloadOffset]!))) return;
      if (sendError(IcmpV4Type.destinationUnreachable, code, rx.src, rx.header, rx.headerOffset, rx.headerLength, rx.buffer, rx.payloadOffset, rx.payloadLength)) {
        stats.txDestinationUnreachable++;
      }
    },
    onError(handler): void {
      errorHandler = handler;
    },
    start(): void {
      running = true;
      ipv4.setHandler(IpProtocol.icmp, receive);
      ipv4.setErrorSink({
        protocolUnreachable: (rx) => {
          if (!rx.unicast || !errorsAllowedTo(rx.src)) return;
          if (sendError(IcmpV4Type.destinationUnreachable, DestinationUnreachableCode.protocol, rx.src, rx.header, rx.headerOffset, rx.headerLength, rx.buffer, rx.payloadOffset, rx.payloadLength)) {
            stats.txDestinationUnreachable++;
          }
        },
        reassemblyTimeout: (quote, src) => {
          if (!errorsAllowedTo(src) || quote.length < 20) return;
          const headerLength = (quote[0]! & 0x0f) * 4;
          if (sendError(IcmpV4Type.timeExceeded, TimeExceededCode.reassembly, src, quote, 0, headerLength, quote, headerLength, quote.length - headerLength)) {
            stats.txTimeExceeded++;
          }
        },
      });
    },
    stop(): void {
      running = false;
      ipv4.setHandler(IpProtocol.icmp, undefined);
      for (const ping of pending.values()) {
        ping.timer.cancel();
        ping.reject(new FlowError("closed", "ping: the stack was disconnected"));
      }
      pending.clear();
    },
    stats: () => ({ ...stats }),
  };
}

/** ping's default data: bytes counting up from 0x08 after an 8-byte gap, as iputils fills it. */
function patternOf(size: number): Uint8Array {
  const data = new Uint8Array(Math.max(0, size));
  for (let i = 0; i < data.length; i++) data[i] = (i + 8) & 0xff;
  return data;
}
