/**
 * The TCP engine: the runtime's `Tcp` over the IPv4 engine. It demultiplexes segments to
 * connections (connection.ts, the state machine) and listeners, answers closed ports with RST
 * (reset.ts), builds every segment straight into the IPv4 send buffer (header, options, payload
 * copied once from the send ring, checksum) and fires each connection's deadlines with one
 * lazily re-armed timer.
 *
 * SYN floods: each listener holds at most `synBacklog` half-open connections and the engine at
 * most `maxConnections`, so memory stays bounded. A SYN that finds its listener's queue full
 * evicts the oldest half-open connection (as a BSD syncache does) rather than being dropped: a
 * flood's half-open connections never complete, so with tail drop they would hold the queue for
 * the whole SYN-ACK retry time and starve real clients; evicted, each lives only as long as the
 * flood takes to send `synBacklog` more SYNs, while a real handshake needs one round trip.
 */
import { FlowError, type IpAddress, Ipv4Address, type Log, type MonotonicClock, type Random, type Tcp, type TcpFlow, type TcpListenOptions, type Time, type Timer } from "@mirage-ts/runtime";
import { get16, get32, set16, set32 } from "../bytes.ts";
import { checksumValid, internetChecksum, pseudoHeaderSumV4 } from "../checksum.ts";
import { IPV4_TX_PAYLOAD_OFFSET, type Ipv4Engine, type Ipv4Rx } from "../ipv4/engine.ts";
import { IPV4_HEADER_LEN, IpProtocol } from "../ipv4/wire.ts";
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
  tcpInput,
  tcpNextDeadline,
  tcpOpen,
  tcpOutput,
  tcpRefreshKeepAlive,
  tcpTimer,
} from "./connection.ts";
import { DirectTcpFlow, type TcpFlowHost } from "./flow.ts";
import { createIsnGenerator } from "./isn.ts";
import { resetForClosed } from "./reset.ts";
import { TCP_HEADER_LEN, TcpFlag, decodeTcpOptionsInto, emitTcpOptions, emptyTcpOptions, tcpOptionsLength } from "./wire.ts";

export interface TcpEngineConfig extends TcpConfig {
  /** Half-open connections per listener (SYN-RECEIVED); further SYNs are dropped. */
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
  /** SYNs dropped because the connection table was full, plus half-open connections evicted from a full SYN queue. */
  synDropped: number;
  connectionsOpened: number;
  connectionsAccepted: number;
  activeConnections: number;
  retransmits: number;
  handlerErrors: number;
}

export interface TcpEngine extends Tcp {
  start(): void;
  stop(): void;
  listening(): number[];
  stats(): TcpStats;
  /** Connections in the table (every state). */
  connections(): Array<{ state: string; local: string; remote: string }>;
}

export interface TcpEngineOptions {
  ipv4: Ipv4Engine;
  clock: MonotonicClock;
  time: Time;
  random: Random;
  config?: Partial<TcpEngineConfig>;
  congestionControl?: CongestionControl;
  log?: Log;
}

interface Listener {
  port: number;
  handler: (flow: TcpFlow) => void | Promise<void>;
  options: TcpListenOptions | undefined;
  /** Half-open (SYN-RECEIVED) connections, oldest first. */
  embryos: Set<Entry>;
}

/** A connection's place in the engine. */
interface Entry {
  conn: TcpConnection;
  key: number;
  flow: DirectTcpFlow | undefined;
  listener: Listener | undefined;
  timer: Timer | undefined;
  timerAt: number;
  onTimer: () => void;
  connected: ((flow: TcpFlow) => void) | undefined;
  failed: ((e: Error) => void) | undefined;
}

const STATE_NAMES = ["CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"];

export function createTcp(options: TcpEngineOptions): TcpEngine {
  const { ipv4, clock, time, random } = options;
  const log = options.log ?? silentLog;
  const config: TcpEngineConfig = { ...DEFAULT_TCP_ENGINE_CONFIG, ...options.config };
  const cc = options.congestionControl ?? newReno;
  const tx = ipv4.txBuffer;
  const isns = createIsnGenerator(random);
  const listeners = new Map<number, Listener>();
  /** Keyed by remote address * 65536 + remote port, then by local port. */
  const table = new Map<number, Map<number, Entry>>();
  const byConn = new Map<TcpConnection, Entry>();
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
    connectionsOpened: 0,
    connectionsAccepted: 0,
    activeConnections: 0,
    retransmits: 0,
    handlerErrors: 0,
  };
  const segIn: TcpSegmentIn = { seq: 0, ack: 0, flags: 0, window: 0, buffer: new Uint8Array(0), offset: 0, length: 0, options: emptyTcpOptions() };
  const txOptions = emptyTcpOptions();
  let lastSendStatus = "sent";
  let running = false;

  const ourMss = (): number => Math.max(536, Math.min(ipv4.mtu, 65535) - IPV4_HEADER_LEN - TCP_HEADER_LEN);

  const transmit: TcpTransmit = {
    segment(c, seq, flags, len) {
      const at = IPV4_TX_PAYLOAD_OFFSET;
      const now = clock.now();
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
      set16(tx, at + 16, internetChecksum(tx, at, length, pseudoHeaderSumV4(c.localAddress, c.remoteAddress, IpProtocol.tcp, length)));
      lastSendStatus = ipv4.send(c.remoteAddress, c.localAddress, IpProtocol.tcp, length);
      stats.txSegments++;
      if (rst) stats.txResets++;
    },
  };

  const remove = (entry: Entry): void => {
    const inner = table.get(entry.key);
    if (inner?.get(entry.conn.localPort) === entry) {
      inner.delete(entry.conn.localPort);
      if (inner.size === 0) table.delete(entry.key);
    }
    byConn.delete(entry.conn);
    entry.timer?.cancel();
    entry.timer = undefined;
    stats.activeConnections--;
    stats.retransmits += entry.conn.stats.retransmits;
  };

  const endpoint = (address: number, port: number) => ({ address: Ipv4Address.ofInt(address), port });

  const host: TcpFlowHost = {
    pump: (c) => {
      const entry = byConn.get(c);
      if (entry !== undefined) pump(entry);
    },
    now: () => clock.now(),
    keepAliveDefaults: () => ({ idleMs: config.keepAliveIdleMs }),
  };

  const handlerFailed = (port: number) => (e: unknown): void => {
    stats.handlerErrors++;
    log.warn(`TCP port ${port}: the connection handler failed: ${e instanceof Error ? e.message : String(e)}`);
  };

  /** After every event: output, then notifications, then the timer. */
  function pump(entry: Entry): void {
    const c = entry.conn;
    const now = clock.now();
    if (c.state !== TcpState.closed) tcpOutput(c, now, transmit);
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
          failed(new FlowError(c.error === "refused" ? "refused" : c.error ?? "closed", `TCP connect to ${Ipv4Address.ofInt(c.remoteAddress)}:${c.remotePort}: ${c.error ?? "closed"}`));
        }
        remove(entry);
        return;
      }
    }
    tcpRefreshKeepAlive(c);
    arm(entry, tcpNextDeadline(c));
  }

  /** Lazy timers: a deadline later than the one armed waits for that one to fire. */
  function arm(entry: Entry, at: number): void {
    if (at < 0) return;
    if (entry.timer !== undefined && entry.timerAt <= at) return;
    entry.timer?.cancel();
    entry.timerAt = at;
    entry.timer = time.schedule(Math.max(0, at - clock.now()), entry.onTimer);
  }

  function fire(entry: Entry): void {
    entry.timer = undefined;
    if (!byConn.has(entry.conn)) return;
    const now = clock.now();
    const at = tcpNextDeadline(entry.conn);
    if (at >= 0 && at <= now) tcpTimer(entry.conn, now, transmit);
    pump(entry);
  }

  function register(conn: TcpConnection, listener: Listener | undefined): Entry {
    const key = conn.remoteAddress * 65536 + conn.remotePort;
    const entry: Entry = { conn, key, flow: undefined, listener, timer: undefined, timerAt: -1, onTimer: () => fire(entry), connected: undefined, failed: undefined };
    let inner = table.get(key);
    if (inner === undefined) table.set(key, (inner = new Map()));
    inner.set(conn.localPort, entry);
    byConn.set(conn, entry);
    stats.activeConnections++;
    return entry;
  }

  const sendReset = (rx: Ipv4Rx, off: number, headerLength: number): void => {
    const { buffer } = rx;
    const flags = buffer[off + 13]!;
    const reset = resetForClosed({ seq: get32(buffer, off + 4), ack: get32(buffer, off + 8), flags, payloadLength: rx.payloadLength - headerLength });
    if (reset === undefined) {
      stats.rxResets++;
      return;
    }
    if (!rx.unicast) return; // RFC 1122 §4.2.3.10
    const at = IPV4_TX_PAYLOAD_OFFSET;
    set16(tx, at, get16(buffer, off + 2));
    set16(tx, at + 2, get16(buffer, off));
    set32(tx, at + 4, reset.seq);
    set32(tx, at + 8, reset.ack);
    tx[at + 12] = (TCP_HEADER_LEN / 4) << 4;
    tx[at + 13] = reset.flags;
    set16(tx, at + 14, 0);
    set16(tx, at + 16, 0);
    set16(tx, at + 18, 0);
    set16(tx, at + 16, internetChecksum(tx, at, TCP_HEADER_LEN, pseudoHeaderSumV4(rx.dst, rx.src, IpProtocol.tcp, TCP_HEADER_LEN)));
    const status = ipv4.send(rx.src, rx.dst, IpProtocol.tcp, TCP_HEADER_LEN);
    if (status === "sent" || status === "queued") stats.txResets++;
  };

  const receive = (rx: Ipv4Rx): void => {
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
    if (!checksumValid(buffer, off, length, pseudoHeaderSumV4(rx.src, rx.dst, IpProtocol.tcp, length))) {
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
    const entry = table.get(rx.src * 65536 + srcPort)?.get(dstPort);
    const now = clock.now();
    if (entry !== undefined && entry.conn.localAddress === rx.dst) {
      tcpInput(entry.conn, now, segIn, transmit);
      pump(entry);
      return;
    }
    const listener = listeners.get(dstPort);
    const flags = segIn.flags;
    if (listener !== undefined && rx.unicast && (flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst | TcpFlag.fin)) === TcpFlag.syn) {
      if (listener.embryos.size >= config.synBacklog) {
        const oldest = listener.embryos.values().next().value;
        if (oldest === undefined) {
          stats.synDropped++;
          return;
        }
        listener.embryos.delete(oldest);
        oldest.listener = undefined;
        remove(oldest);
        stats.synDropped++;
      }
      if (stats.activeConnections >= config.maxConnections) {
        stats.synDropped++;
        return;
      }
      const conn = new TcpConnection(config, cc, rx.dst, dstPort, rx.src, srcPort);
      conn.tsOffset = isns.tsOffset(rx.dst, dstPort, rx.src, srcPort);
      tcpAccept(conn, now, segIn, isns.isn(rx.dst, dstPort, rx.src, srcPort, now), ourMss());
      const entry = register(conn, listener);
      listener.embryos.add(entry);
      pump(entry);
      return;
    }
    sendReset(rx, off, headerLength);
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
      listeners.set(port, { port, handler, options: listenOptions, embryos: new Set() });
    },
    unlisten(port): void {
      listeners.delete(port);
    },
    connect(address: IpAddress, port: number): Promise<TcpFlow> {
      if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new RangeError(`TCP connect: port ${port} is not an integer from 1 to 65535`));
      if (address.family !== 4) return Promise.reject(new FlowError("unreachable", `TCP connect to [${address}]:${port}: IPv6 is not implemented on the direct stack yet`));
      const src = ipv4.source();
      const where = `${Ipv4Address.ofInt(address.value)}:${port}`;
      if (src === 0) return Promise.reject(new FlowError("unreachable", `TCP connect to ${where}: the stack has no IPv4 address`));
      if (stats.activeConnections >= config.maxConnections) return Promise.reject(new FlowError("refused", `TCP connect to ${where}: too many connections`));
      const dst = address.value >>> 0;
      const span = EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1;
      let localPort = -1;
      const inner = table.get(dst * 65536 + port);
      for (let tries = 0, p = random.uint32() % span; tries < span; tries++, p = (p + 1) % span) {
        const candidate = EPHEMERAL_PORT_MIN + p;
        if (inner?.has(candidate) !== true && !listeners.has(candidate)) {
          localPort = candidate;
          break;
        }
      }
      if (localPort < 0) return Promise.reject(new FlowError("unreachable", `TCP connect to ${where}: no ephemeral port free`));
      const now = clock.now();
      const conn = new TcpConnection(config, cc, src, localPort, dst, port);
      conn.tsOffset = isns.tsOffset(src, localPort, dst, port);
      tcpOpen(conn, now, isns.isn(src, localPort, dst, port, now), ourMss());
      stats.connectionsOpened++;
      const entry = register(conn, undefined);
      return new Promise<TcpFlow>((resolve, reject) => {
        entry.connected = resolve;
        entry.failed = reject;
        pump(entry);
        if (lastSendStatus === "no-route" || lastSendStatus === "no-address" || lastSendStatus === "invalid" || lastSendStatus === "stopped") {
          const error = ipv4.sendError(lastSendStatus as "no-route", dst);
          entry.connected = entry.failed = undefined;
          tcpAbort(conn, transmit);
          pump(entry);
          reject(new FlowError("unreachable", `TCP connect to ${where}: ${error.message}`));
        }
      });
    },
    listening: () => [...listeners.keys()].sort((a, b) => a - b),
    start(): void {
      running = true;
      ipv4.setHandler(IpProtocol.tcp, receive);
    },
    stop(): void {
      if (!running) return;
      running = false;
      closeAll();
      ipv4.setHandler(IpProtocol.tcp, undefined);
      listeners.clear();
    },
    stats: () => {
      let retransmits = stats.retransmits;
      for (const c of byConn.keys()) retransmits += c.stats.retransmits;
      return { ...stats, retransmits };
    },
    connections: () =>
      [...byConn.keys()].map((c) => ({
        state: STATE_NAMES[c.state]!,
        local: `${Ipv4Address.ofInt(c.localAddress)}:${c.localPort}`,
        remote: `${Ipv4Address.ofInt(c.remoteAddress)}:${c.remotePort}`,
      })),
  };
}
