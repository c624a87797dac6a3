/**
 * The TCP engine: the runtime's `Tcp` over one network layer (ip-layer.ts: IPv4 with addresses as
 * numbers, or IPv6). It demultiplexes segments to connections (connection.ts, the state machine)
 * and listeners, answers closed ports with RST (reset.ts), builds every segment straight into the
 * layer's send buffer (header, options, payload copied once from the send ring, checksum) and
 * fires each connection's deadlines with one lazily re-armed timer. A dual stack runs one engine
 * per family behind stack/dual-transport.ts.
 *
 * Demultiplexing is two Map lookups. With numeric address keys (IPv4: `ip.key` is the address
 * itself) the first is remote address * 65536 + remote port and the second the local port, as
 * numbers, so the IPv4 path allocates nothing; with string keys (IPv6) the first is the key and
 * the second remote port * 65536 + local port.
 *
 * SYN floods: each listener holds at most `synBacklog` half-open connections and the engine at
 * most `maxConnections`, so memory stays bounded. A SYN that finds its listener's queue full is
 * answered with a SYN cookie (syncookies.ts, as Linux does) and leaves no state: the ACK that
 * returns the cookie creates the connection ESTABLISHED. So a flood costs one SYN-ACK per SYN,
 * real clients still connect while the queue is full of the flood's half-open connections, and
 * a burst of connects larger than the queue is served whole. Cookies are checked only on a
 * listener that sent some lately (Linux's tcp_synq_no_recent_overflow): otherwise an ACK for no
 * connection is answered with RST, as is one whose cookie fails.
 */
import { FlowError, type IpAddress, type Log, type MonotonicClock, type Random, type Tcp, type TcpFlow, type TcpListenOptions, type Time, type Timer } from "@mirage-ts/runtime";
import { BufferPool } from "../buffer-pool.ts";
import { SlabAllocator } from "../slab.ts";
import { get16, get32, set16, set32 } from "../bytes.ts";
import { checksumValid, internetChecksum } from "../checksum.ts";
import type { IpErrorReport, IpLayer, IpRx, IpSendStatus } from "../ip-layer.ts";
import { IpProtocol } from "../ipv4/wire.ts";
import { silentLog } from "../logs.ts";
import { EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN } from "../udp/engine.ts";
import { type CongestionControl, newReno } from "./congestion.ts";
import {
  DEFAULT_TCP_CONFIG,
  TcpConnection,
  TcpEvent,
  type TcpConfig,
  type TcpSegmentIn,
  TcpState,
  type TcpTransmit,
  advertiseWindow,
  copySendData,
  fillSegmentOptions,
  fillSynOptions,
  tcpAbort,
  tcpAccept,
  tcpBatchEnd,
  tcpIcmpError,
  tcpInput,
  tcpNextDeadline,
  tcpOpen,
  tcpOutput,
  tcpRefreshKeepAlive,
  tcpReleaseSendBuffer,
  tcpSetPathMss,
  tcpTimer,
} from "./connection.ts";
import { seqGe, seqLt } from "./seq.ts";
import { DirectTcpFlow, type TcpFlowHost, describeConnectionClose } from "./flow.ts";
import { createIsnGenerator } from "./isn.ts";
import { COOKIE_PERIOD_MS, SynCookies, cookieMssIndex, cookieSynAckWindow, cookieSynOptions, cookieTsVal, encodeCookieTsOptions, tcpAcceptCookie } from "./syncookies.ts";
import { resetForClosed } from "./reset.ts";
import { TCP_HEADER_LEN, TcpFlag, decodeTcpOptionsInto, emitTcpOptions, emptyTcpOptions, tcpOptionsLength } from "./wire.ts";

export interface TcpEngineConfig extends TcpConfig {
  /** Half-open connections per listener (SYN-RECEIVED); further SYNs are answered with SYN cookies. */
  synBacklog: number;
  /** Connections of every state; further SYNs and connects are refused. */
  maxConnections: number;
}

export const DEFAULT_TCP_ENGINE_CONFIG: TcpEngineConfig = { ...DEFAULT_TCP_CONFIG, synBacklog: 128, maxConnections: 16384 };

export interface TcpStats {
  rxSegments: number;
  rxTruncated: number;
  rxBadHeaderLength: number;
  rxBadChecksum: number;
  rxBadOptions: number;
  /** Segments carrying RST for no connection (never answered). */
  rxResets: number;
  txResets: number;
  txSegments: number;
  /** SYNs (and cookie ACKs) dropped because the connection table was full. */
  synDropped: number;
  /** SYN-ACKs with a SYN cookie, sent for SYNs that found their listener's SYN queue full. */
  syncookiesSent: number;
  /** ACKs whose cookie checked out: connections created from them. */
  syncookiesValid: number;
  /** ACKs for no connection to a listener that sent cookies lately, whose cookie did not check out (answered with RST). */
  syncookiesFailed: number;
  connectionsOpened: number;
  connectionsAccepted: number;
  activeConnections: number;
  retransmits: number;
  handlerErrors: number;
}

export interface TcpEngine extends Tcp {
  /** The IP family this engine runs over. */
  readonly family: 4 | 6;
  start(): void;
  stop(): void;
  listening(): number[];
  stats(): TcpStats;
  /** Connections in the table (every state). */
  connections(): Array<{ state: string; local: string; remote: string }>;
}

export interface TcpEngineOptions<A> {
  /** The network layer: `ipv4Layer(ipv4, icmp)` (ipv4/ip-layer.ts) or the IPv6 engine. */
  ip: IpLayer<A>;
  clock: MonotonicClock;
  time: Time;
  random: Random;
  config?: Partial<TcpEngineConfig>;
  congestionControl?: CongestionControl;
  log?: Log;
}

interface Listener<A> {
  port: number;
  handler: (flow: TcpFlow) => void | Promise<void>;
  options: TcpListenOptions | undefined;
  /** Half-open (SYN-RECEIVED) connections, oldest first. */
  embryos: Set<Entry<A>>;
  /** Until when ACKs for no connection are checked for a cookie: two cookie periods after the last one sent. */
  cookiesUntil: number;
}

/** A connection's place in the engine. */
interface Entry<A> {
  conn: TcpConnection<A>;
  /** Its place in the table (see `slot`). */
  key: number | string;
  portKey: number;
  flow: DirectTcpFlow | undefined;
  /** In `acksOwed`. */
  ackOwed: boolean;
  listener: Listener<A> | undefined;
  timer: Timer | undefined;
  timerAt: number;
  onTimer: () => void;
  connected: ((flow: TcpFlow) => void) | undefined;
  failed: ((e: Error) => void) | undefined;
}

/** At most this much memory held in send rings of closed connections for reuse. */
const SEND_RING_POOL_BYTES = 4 * 1024 * 1024;

const STATE_NAMES = ["CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"];

export function createTcp<A>(options: TcpEngineOptions<A>): TcpEngine {
  const { ip, clock, time, random } = options;
  const log = options.log ?? silentLog;
  const config: TcpEngineConfig = { ...DEFAULT_TCP_ENGINE_CONFIG, ...options.config };
  const cc = options.congestionControl ?? newReno;
  const tx = ip.txBuffer;
  const txAt = ip.txPayloadOffset;
  const confirmReachable = ip.confirmReachable?.bind(ip);
  const isns = createIsnGenerator(random);
  const listeners = new Map<number, Listener<A>>();
  /** Two levels: see `slot`. */
  const table = new Map<number | string, Map<number, Entry<A>>>();
  /** The inner key of the last `slot` call (an out-parameter, so that demultiplexing allocates nothing). */
  let slotInner = 0;
  /** The outer key of a 4-tuple in `table`, and its inner key in `slotInner`. */
  const slot = (remote: A, remotePort: number, localPort: number): number | string => {
    const k = ip.key(remote);
    if (typeof k === "number") {
      slotInner = localPort;
      return k * 65536 + remotePort;
    }
    slotInner = remotePort * 65536 + localPort;
    return k;
  };
  const byConn = new Map<TcpConnection, Entry<A>>();
  /** Send rings of closed connections, for the next ones (see buffer-pool.ts). */
  const sendRings = new BufferPool(SEND_RING_POOL_BYTES);
  /** Received payloads are copied here, for every connection (see slab.ts). */
  const receiveSlab = new SlabAllocator();
  /** Connections that owe an ACK at the end of the current receive batch (`tcpBatchEnd`). */
  const acksOwed: Array<Entry<A>> = [];
  /** The layer reports the end of receive batches: ACKs of in-order data wait for it. */
  const batchAcks = ip.afterBatch !== undefined;
  let batchHooked = false;
  const stats: TcpStats = {
    rxSegments: 0,
    rxTruncated: 0,
    rxBadHeaderLength: 0,
    rxBadChecksum: 0,
    rxBadOptions: 0,
    rxResets: 0,
    txResets: 0,
    txSegments: 0,
    synDropped: 0,
    syncookiesSent: 0,
    syncookiesValid: 0,
    syncookiesFailed: 0,
    connectionsOpened: 0,
    connectionsAccepted: 0,
    activeConnections: 0,
    retransmits: 0,
    handlerErrors: 0,
  };
  const segIn: TcpSegmentIn = { seq: 0, ack: 0, flags: 0, window: 0, buffer: new Uint8Array(0), offset: 0, length: 0, options: emptyTcpOptions() };
  const txOptions = emptyTcpOptions();
  let lastSendStatus: IpSendStatus = "sent";
  /**
   * The time of the step being run (a segment's arrival, an output pass), for the segments it
   * sends: one clock read per step rather than one per segment. -1 outside a step.
   */
  let stepNow = -1;
  let running = false;
  const cookies = new SynCookies(isns, ip.family);
  /** Our window scale shift, as a new connection computes it (a cookie SYN-ACK announces it). */
  const cookieWscale = new TcpConnection<A>(config, cc, undefined as A, 0, undefined as A, 0).rcvWscale;

  /** The MSS we announce: what fits in one unfragmented packet towards `dst`. */
  const ourMss = (dst: A): number => Math.max(536, Math.min(ip.maxUnfragmentedPayload(dst), 65535) - TCP_HEADER_LEN);
  const formatEndpoint = (address: A, port: number): string => (ip.family === 6 ? `[${ip.format(address)}]:${port}` : `${ip.format(address)}:${port}`);

  const transmit: TcpTransmit = {
    // Every connection the machine hands back is one this engine made, over `ip`.
    segment(c: TcpConnection<A>, seq: number, flags: number, len: number) {
      const at = txAt;
      const now = stepNow >= 0 ? stepNow : clock.now();
      const syn = (flags & TcpFlag.syn) !== 0;
      let optionsLength = 0;
      if ((flags & TcpFlag.rst) === 0) {
        if (syn) fillSynOptions(c, now, txOptions);
        else fillSegmentOptions(c, now, flags, txOptions);
        optionsLength = tcpOptionsLength(txOptions);
        if (optionsLength > 0) emitTcpOptions(txOptions, tx, at + TCP_HEADER_LEN);
      }
      const headerLength = TCP_HEADER_LEN + optionsLength;
      const rst = (flags & TcpFlag.rst) !== 0;
      set16(tx, at, c.localPort);
      set16(tx, at + 2, c.remotePort);
      set32(tx, at + 4, seq);
      set32(tx, at + 8, (flags & TcpFlag.ack) !== 0 ? c.rcvNxt : 0);
      tx[at + 12] = (headerLength / 4) << 4;
      tx[at + 13] = flags;
      set16(tx, at + 14, rst ? 0 : advertiseWindow(c, syn));
      set16(tx, at + 16, 0);
      set16(tx, at + 18, 0);
      if (len > 0) copySendData(c, seq, len, tx, at + headerLength);
      const length = headerLength + len;
      set16(tx, at + 16, internetChecksum(tx, at, length, ip.pseudoHeaderSum(c.localAddress, c.remoteAddress, IpProtocol.tcp, length)));
      lastSendStatus = ip.send(c.remoteAddress, c.localAddress, IpProtocol.tcp, length);
      stats.txSegments++;
      if (rst) stats.txResets++;
    },
  };

  const remove = (entry: Entry<A>): void => {
    const inner = table.get(entry.key);
    if (inner?.get(entry.portKey) === entry) {
      inner.delete(entry.portKey);
      if (inner.size === 0) table.delete(entry.key);
    }
    byConn.delete(entry.conn);
    tcpReleaseSendBuffer(entry.conn, true);
    entry.timer?.cancel();
    entry.timer = undefined;
    stats.activeConnections--;
    stats.retransmits += entry.conn.stats.retransmits;
    // Only connections that were established: a SYN flood's embryos would drown the log.
    if (entry.flow !== undefined) {
      const c = entry.conn;
      log.debug(() => `${formatEndpoint(c.localAddress, c.localPort)} - ${formatEndpoint(c.remoteAddress, c.remotePort)} closed: ${describeConnectionClose(entry.flow!.info())}`);
    }
  };

  const endpoint = (address: A, port: number) => ({ address: ip.toAddress(address), port });

  const host: TcpFlowHost = {
    pump: (c) => {
      const entry = byConn.get(c);
      if (entry !== undefined) pump(entry);
    },
    abort: (c) => {
      const entry = byConn.get(c);
      if (entry === undefined) return;
      tcpAbort(entry.conn, transmit);
      pump(entry);
    },
    now: () => clock.now(),
    keepAliveDefaults: () => ({ idleMs: config.keepAliveIdleMs }),
  };

  const handlerFailed = (port: number) => (e: unknown): void => {
    stats.handlerErrors++;
    log.warn(`TCP port ${port}: the connection handler failed: ${e instanceof Error ? e.message : String(e)}`);
  };

  /** After every event: output, then notifications, then the timer. */
  function pump(entry: Entry<A>, now = clock.now()): void {
    const c = entry.conn;
    if (c.state !== TcpState.closed) {
      stepNow = now;
      try {
        tcpOutput(c, now, transmit);
      } finally {
        stepNow = -1;
      }
    }
    const events = c.events;
    c.events = 0;
    if (events !== 0) {
      if ((events & TcpEvent.established) !== 0) {
        const flow = new DirectTcpFlow(c, host, endpoint(c.localAddress, c.localPort), endpoint(c.remoteAddress, c.remotePort));
        entry.flow = flow;
        if (entry.listener !== undefined) {
          const l = entry.listener;
          l.embryos.delete(entry);
          entry.listener = undefined;
          stats.connectionsAccepted++;
          if (l.options?.keepAlive !== undefined) {
            c.keepAliveIdleMs = l.options.keepAlive.idleMs;
            if (l.options.keepAlive.intervalMs !== undefined) c.keepAliveIntervalMs = l.options.keepAlive.intervalMs;
            if (l.options.keepAlive.probes !== undefined) c.keepAliveProbes = l.options.keepAlive.probes;
          }
          try {
            const r = l.handler(flow);
            if (r !== undefined && typeof (r as Promise<void>).then === "function") (r as Promise<void>).then(undefined, handlerFailed(l.port));
          } catch (e) {
            handlerFailed(l.port)(e);
          }
        } else if (entry.connected !== undefined) {
          const connected = entry.connected;
          entry.connected = entry.failed = undefined;
          connected(flow);
        }
      }
      entry.flow?.onEvents(events);
      if ((events & TcpEvent.closed) !== 0) {
        entry.listener?.embryos.delete(entry);
        entry.listener = undefined;
        if (entry.failed !== undefined) {
          const failed = entry.failed;
          entry.connected = entry.failed = undefined;
          const why = c.icmpError !== undefined ? ` (${c.icmpError})` : "";
          failed(new FlowError(c.error === "refused" ? "refused" : c.error ?? "closed", `TCP connect to ${formatEndpoint(c.remoteAddress, c.remotePort)}: ${c.error ?? "closed"}${why}`));
        }
        remove(entry);
        return;
      }
    }
    tcpRefreshKeepAlive(c);
    arm(entry, tcpNextDeadline(c));
  }

  /** Lazy timers: a deadline later than the one armed waits for that one to fire. */
  function arm(entry: Entry<A>, at: number): void {
    if (at < 0) return;
    if (entry.timer !== undefined && entry.timerAt <= at) return;
    entry.timer?.cancel();
    entry.timerAt = at;
    entry.timer = time.schedule(Math.max(0, at - clock.now()), entry.onTimer);
  }

  function fire(entry: Entry<A>): void {
    entry.timer = undefined;
    if (!byConn.has(entry.conn)) return;
    const now = clock.now();
    const at = tcpNextDeadline(entry.conn);
    if (at >= 0 && at <= now) tcpTimer(entry.conn, now, transmit);
    pump(entry);
  }

  function register(conn: TcpConnection<A>, listener: Listener<A> | undefined): Entry<A> {
    const key = slot(conn.remoteAddress, conn.remotePort, conn.localPort);
    const portKey = slotInner;
    const entry: Entry<A> = { conn, key, portKey, flow: undefined, ackOwed: false, listener, timer: undefined, timerAt: -1, onTimer: () => fire(entry), connected: undefined, failed: undefined };
    conn.sndBufPool = sendRings;
    conn.rcvSlab = receiveSlab;
    conn.batchAcks = batchAcks;
    let inner = table.get(key);
    if (inner === undefined) table.set(key, (inner = new Map()));
    inner.set(portKey, entry);
    byConn.set(conn, entry);
    stats.activeConnections++;
    return entry;
  }

  const sendReset = (rx: IpRx<A>, off: number, headerLength: number): void => {
    const { buffer } = rx;
    const flags = buffer[off + 13]!;
    const reset = resetForClosed({ seq: get32(buffer, off + 4), ack: get32(buffer, off + 8), flags, payloadLength: rx.payloadLength - headerLength });
    if (reset === undefined) {
      stats.rxResets++;
      return;
    }
    if (!rx.unicast) return; // RFC 1122 §4.2.3.10
    const at = txAt;
    set16(tx, at, get16(buffer, off + 2));
    set16(tx, at + 2, get16(buffer, off));
    set32(tx, at + 4, reset.seq);
    set32(tx, at + 8, reset.ack);
    tx[at + 12] = (TCP_HEADER_LEN / 4) << 4;
    tx[at + 13] = reset.flags;
    set16(tx, at + 14, 0);
    set16(tx, at + 16, 0);
    set16(tx, at + 18, 0);
    set16(tx, at + 16, internetChecksum(tx, at, TCP_HEADER_LEN, ip.pseudoHeaderSum(rx.dst, rx.src, IpProtocol.tcp, TCP_HEADER_LEN)));
    const status = ip.send(rx.src, rx.dst, IpProtocol.tcp, TCP_HEADER_LEN);
    if (status === "sent" || status === "queued") stats.txResets++;
  };

  const receive = (rx: IpRx<A>): void => {
    stats.rxSegments++;
    const { buffer, payloadOffset: off, payloadLength: length } = rx;
    if (length < TCP_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    const headerLength = (buffer[off + 12]! >> 4) * 4;
    if (headerLength < TCP_HEADER_LEN || headerLength > length) {
      stats.rxBadHeaderLength++;
      return;
    }
    if (!checksumValid(buffer, off, length, ip.pseudoHeaderSum(rx.src, rx.dst, IpProtocol.tcp, length))) {
      stats.rxBadChecksum++;
      return;
    }
    if (decodeTcpOptionsInto(buffer, off + TCP_HEADER_LEN, off + headerLength, segIn.options) !== undefined) {
      stats.rxBadOptions++;
      return;
    }
    const srcPort = get16(buffer, off);
    const dstPort = get16(buffer, off + 2);
    segIn.seq = get32(buffer, off + 4);
    segIn.ack = get32(buffer, off + 8);
    segIn.flags = buffer[off + 13]!;
    segIn.window = get16(buffer, off + 14);
    segIn.buffer = buffer;
    segIn.offset = off + headerLength;
    segIn.length = length - headerLength;
    const outer = slot(rx.src, srcPort, dstPort);
    const entry = table.get(outer)?.get(slotInner);
    const now = clock.now();
    if (entry !== undefined && ip.equal(entry.conn.localAddress, rx.dst)) {
      const una = entry.conn.sndUna;
      stepNow = now;
      try {
        tcpInput(entry.conn, now, segIn, transmit);
      } finally {
        stepNow = -1;
      }
      // New data acknowledged: forward progress that IPv6's neighbour cache may take as reachability (RFC 4861 §7.3.1).
      if (confirmReachable !== undefined && entry.conn.sndUna !== una) confirmReachable(rx.src);
      pump(entry, now);
      if (entry.conn.ackAtBatchEnd && !entry.ackOwed) {
        entry.ackOwed = true;
        acksOwed.push(entry);
      }
      if (!entry.conn.reopenedBySyn) return;
      // RFC 6191: the SYN ended TIME-WAIT; it goes on to the listener as a new connection.
    }
    const listener = listeners.get(dstPort);
    const flags = segIn.flags;
    if (listener !== undefined && rx.unicast && (flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst | TcpFlag.fin)) === TcpFlag.syn) {
      if (stats.activeConnections >= config.maxConnections) {
        stats.synDropped++;
        return;
      }
      if (listener.embryos.size >= config.synBacklog) {
        sendCookie(listener, rx, srcPort, dstPort, now);
        return;
      }
      // The IPv4 engine reuses nothing it hands out as an address (numbers); an IPv6 layer hands out immutable objects.
      const conn = new TcpConnection<A>(config, cc, rx.dst, dstPort, rx.src, srcPort);
      const la = ip.hash32(rx.dst);
      const ra = ip.hash32(rx.src);
      conn.tsOffset = isns.tsOffset(la, dstPort, ra, srcPort);
      tcpAccept(conn, now, segIn, isns.isn(la, dstPort, ra, srcPort, now), ourMss(rx.src));
      const entry = register(conn, listener);
      listener.embryos.add(entry);
      pump(entry);
      return;
    }
    if (listener !== undefined && rx.unicast && (flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst)) === TcpFlag.ack && now < listener.cookiesUntil) {
      if (acceptCookie(listener, rx, srcPort, dstPort, now)) return;
    }
    sendReset(rx, off, headerLength);
  };

  /** Scratch for the peer's SYN options a cookie recalls. */
  const cookieOptions = emptyTcpOptions();

  /**
   * Answers the SYN in `segIn` with a cookie SYN-ACK (syncookies.ts), built straight into the
   * send buffer like `transmit.segment` builds a connection's, keeping nothing.
   */
  const sendCookie = (listener: Listener<A>, rx: IpRx<A>, srcPort: number, dstPort: number, now: number): void => {
    const o = segIn.options;
    const mss = ourMss(rx.src);
    cookies.tuple(ip.key(rx.dst), dstPort, ip.key(rx.src), srcPort);
    const iss = cookies.make(segIn.seq, now, cookieMssIndex(ip.family, o.mss));
    txOptions.mss = mss;
    txOptions.windowScale = -1;
    txOptions.sackPermitted = false;
    txOptions.timestamps = false;
    txOptions.sackCount = 0;
    if (config.timestamps && o.timestamps) {
      // Window scaling and SACK only when their choice can ride in the TSval (Linux clears them otherwise).
      const ws = config.windowScaling && o.windowScale >= 0;
      const sack = config.sack && o.sackPermitted;
      if (ws) txOptions.windowScale = cookieWscale;
      txOptions.sackPermitted = sack;
      txOptions.timestamps = true;
      const tsOffset = isns.tsOffset(ip.hash32(rx.dst), dstPort, ip.hash32(rx.src), srcPort);
      txOptions.tsVal = cookieTsVal((Math.floor(now) + tsOffset) >>> 0, encodeCookieTsOptions(ws ? o.windowScale : -1, sack));
      txOptions.tsEcr = o.tsVal;
    }
    const at = txAt;
    const optionsLength = tcpOptionsLength(txOptions);
    emitTcpOptions(txOptions, tx, at + TCP_HEADER_LEN);
    const length = TCP_HEADER_LEN + optionsLength;
    set16(tx, at, dstPort);
    set16(tx, at + 2, srcPort);
    set32(tx, at + 4, iss);
    set32(tx, at + 8, (segIn.seq + 1) >>> 0);
    tx[at + 12] = (length / 4) << 4;
    tx[at + 13] = TcpFlag.syn | TcpFlag.ack;
    set16(tx, at + 14, cookieSynAckWindow(config.receiveBufferSize));
    set16(tx, at + 16, 0);
    set16(tx, at + 18, 0);
    set16(tx, at + 16, internetChecksum(tx, at, length, ip.pseudoHeaderSum(rx.dst, rx.src, IpProtocol.tcp, length)));
    ip.send(rx.src, rx.dst, IpProtocol.tcp, length);
    stats.txSegments++;
    stats.syncookiesSent++;
    listener.cookiesUntil = now + 2 * COOKIE_PERIOD_MS;
  };

  /**
   * An ACK for no connection on a listener that sent cookies lately: when it returns a valid
   * cookie, the connection it completes, handed to the listener. False when the cookie fails (the
   * caller answers with RST, as Linux does).
   */
  const acceptCookie = (listener: Listener<A>, rx: IpRx<A>, srcPort: number, dstPort: number, now: number): boolean => {
    cookies.tuple(ip.key(rx.dst), dstPort, ip.key(rx.src), srcPort);
    const index = cookies.check((segIn.ack - 1) >>> 0, (segIn.seq - 1) >>> 0, now);
    const synOptions = index < 0 ? undefined : cookieSynOptions(ip.family, index, segIn.options, config, cookieOptions);
    if (synOptions === undefined) {
      stats.syncookiesFailed++;
      return false;
    }
    stats.syncookiesValid++;
    if (stats.activeConnections >= config.maxConnections) {
      stats.synDropped++;
      return true; // dropped: the peer's next segment (its data, or a retransmission) tries again
    }
    const conn = new TcpConnection<A>(config, cc, rx.dst, dstPort, rx.src, srcPort);
    conn.tsOffset = isns.tsOffset(ip.hash32(rx.dst), dstPort, ip.hash32(rx.src), srcPort);
    const entry = register(conn, listener);
    tcpAcceptCookie(conn, now, segIn, synOptions, ourMss(rx.src), transmit);
    pump(entry);
    if (entry.conn.ackAtBatchEnd && !entry.ackOwed) {
      entry.ackOwed = true;
      acksOwed.push(entry);
    }
    return true;
  };

  /**
   * An ICMP error (or a failed neighbour resolution) about one of our segments (ip-layer.ts):
   * Packet Too Big / fragmentation needed lowers that connection's MSS (RFC 8201, RFC 1191); a
   * hard error fails a connect (RFC 1122 §4.2.3.9); the rest is recorded. Only errors quoting a
   * sequence number in flight count (RFC 5927 §4.1): a blind attacker would have to guess one.
   */
  const icmpError = (report: IpErrorReport<A>): void => {
    const entry = table.get(slot(report.remote, report.remotePort, report.localPort))?.get(slotInner);
    if (entry === undefined || !ip.equal(entry.conn.localAddress, report.local)) return;
    const c = entry.conn;
    const seq = get32(report.header, 4);
    if (!(seqGe(seq, c.sndUna) && seqLt(seq, c.sndMax))) return;
    if (report.kind === "too-big") {
      // The IP header (no options, no extension headers) and TCP's fixed header come off the MTU; the floors are the
      // family's minimum MTU (1280, RFC 8200 §5; 576, RFC 1122 §3.3.3) so computed.
      const ipHeader = ip.family === 6 ? 40 : 20;
      const floor = (ip.family === 6 ? 1280 : 576) - ipHeader - TCP_HEADER_LEN;
      if (tcpSetPathMss(c, report.mtu - ipHeader - TCP_HEADER_LEN, floor)) {
        log.debug(() => `${formatEndpoint(c.remoteAddress, c.remotePort)}: path MTU ${report.mtu}, MSS now ${c.sndMss}`);
      }
      return;
    }
    tcpIcmpError(c, report.kind === "refused" ? "refused" : "unreachable", report.hard, report.description);
    pump(entry);
  };

  /** The end of a receive batch: one ACK per connection that received in-order data in it. */
  const sendOwedAcks = (): void => {
    for (let i = 0; i < acksOwed.length; i++) {
      const entry = acksOwed[i]!;
      entry.ackOwed = false;
      if (byConn.has(entry.conn)) tcpBatchEnd(entry.conn, transmit);
    }
    acksOwed.length = 0;
  };

  const closeAll = (): void => {
    for (const entry of [...byConn.values()]) {
      tcpAbort(entry.conn, transmit);
      pump(entry);
    }
  };

  return {
    listen(port, handler, listenOptions): void {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`TCP listen: port ${port} is not an integer from 1 to 65535`);
      if (listeners.has(port)) throw new Error(`TCP port ${port} is already listened on by this stack`);
      listeners.set(port, { port, handler, options: listenOptions, embryos: new Set(), cookiesUntil: -1 });
    },
    unlisten(port): void {
      listeners.delete(port);
    },
    connect(address: IpAddress, port: number): Promise<TcpFlow> {
      if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new RangeError(`TCP connect: port ${port} is not an integer from 1 to 65535`));
      const dst = ip.fromAddress(address);
      if (dst === undefined) {
        const text = address.family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
        return Promise.reject(new FlowError("unreachable", `TCP connect to ${text}: this TCP runs over IPv${ip.family}, not IPv${address.family}`));
      }
      const where = formatEndpoint(dst, port);
      const src = ip.source(dst);
      if (src === undefined) return Promise.reject(new FlowError("unreachable", `TCP connect to ${where}: ${ip.sendError("no-address", dst).message}`));
      if (stats.activeConnections >= config.maxConnections) return Promise.reject(new FlowError("refused", `TCP connect to ${where}: too many connections`));
      const span = EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1;
      let localPort = -1;
      const inner = table.get(slot(dst, port, 0));
      for (let tries = 0, p = random.uint32() % span; tries < span; tries++, p = (p + 1) % span) {
        const candidate = EPHEMERAL_PORT_MIN + p;
        slot(dst, port, candidate);
        if (inner?.has(slotInner) !== true && !listeners.has(candidate)) {
          localPort = candidate;
          break;
        }
      }
      if (localPort < 0) return Promise.reject(new FlowError("unreachable", `TCP connect to ${where}: no ephemeral port free`));
      const now = clock.now();
      const conn = new TcpConnection<A>(config, cc, src, localPort, dst, port);
      const la = ip.hash32(src);
      const ra = ip.hash32(dst);
      conn.tsOffset = isns.tsOffset(la, localPort, ra, port);
      tcpOpen(conn, now, isns.isn(la, localPort, ra, port, now), ourMss(dst));
      stats.connectionsOpened++;
      const entry = register(conn, undefined);
      return new Promise<TcpFlow>((resolve, reject) => {
        entry.connected = resolve;
        entry.failed = reject;
        pump(entry);
        if (lastSendStatus === "no-route" || lastSendStatus === "no-address" || lastSendStatus === "invalid" || lastSendStatus === "stopped") {
          const error = ip.sendError(lastSendStatus, dst);
          entry.connected = entry.failed = undefined;
          tcpAbort(conn, transmit);
          pump(entry);
          reject(new FlowError("unreachable", `TCP connect to ${where}: ${error.message}`));
        }
      });
    },
    family: ip.family,
    listening: () => [...listeners.keys()].sort((a, b) => a - b),
    start(): void {
      running = true;
      ip.setHandler(IpProtocol.tcp, receive);
      if (!batchHooked && ip.afterBatch !== undefined) {
        batchHooked = true;
        ip.afterBatch(sendOwedAcks);
      }
      ip.setErrorHandler?.(IpProtocol.tcp, icmpError);
    },
    stop(): void {
      if (!running) return;
      running = false;
      closeAll();
      // One line at shutdown: what a run against a faulty link is judged by.
      log.info(
        `IPv${ip.family} TCP stopped: ${stats.connectionsAccepted} accepted, ${stats.connectionsOpened} opened, ${stats.retransmits} retransmits, ` +
          `${stats.txSegments} segments sent, ${stats.rxSegments} received, ${stats.rxBadChecksum} bad checksums, ${stats.synDropped} SYNs dropped, ` +
          `${stats.syncookiesSent} SYN cookies sent, ${stats.syncookiesValid} valid, ${stats.syncookiesFailed} failed`,
      );
      ip.setHandler(IpProtocol.tcp, undefined);
      ip.setErrorHandler?.(IpProtocol.tcp, undefined);
      listeners.clear();
    },
    stats: () => {
      let retransmits = stats.retransmits;
      for (const c of byConn.keys()) retransmits += c.stats.retransmits;
      return { ...stats, retransmits };
    },
    connections: () =>
      [...byConn.values()].map(({ conn: c }) => ({
        state: STATE_NAMES[c.state]!,
        local: formatEndpoint(c.localAddress, c.localPort),
        remote: formatEndpoint(c.remoteAddress, c.remotePort),
      })),
  };
}
