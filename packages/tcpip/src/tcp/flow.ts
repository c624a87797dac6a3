/**
 * The runtime's TcpFlow over one TcpConnection: promise-based reads and writes with
 * back-pressure. A write resolves once its bytes are in the bounded send buffer; a read takes
 * the next received chunk, and reading is what reopens the receive window.
 */
import { type Endpoint, FlowError, type Flow, type TcpFlow } from "@mirage-ts/runtime";
import { TCP_STATE_NAMES, TcpEvent, type TcpConnection, TcpState, type TcpConnectionStats, tcpConsumed, tcpShutdownWrite, tcpWrite } from "./connection.ts";

/** What the flow needs from the engine. */
export interface TcpFlowHost {
  /** Runs output, events and timers for the connection after an application call. */
  pump(conn: TcpConnection): void;
  /** Resets the connection (RST) and closes it at once. */
  abort(conn: TcpConnection): void;
  now(): number;
  keepAliveDefaults(): { idleMs: number };
}

/**
 * Per-connection statistics readable from a flow of the direct stack (`tcpFlowInfo(flow)`), and
 * logged at debug level on the tcp source when the connection closes. Times in milliseconds,
 * windows and buffers in bytes.
 */
export interface TcpFlowInfo extends TcpConnectionStats {
  state: string;
  /** Why the connection ended, when it did not end cleanly ("reset", "timeout", "refused"...). */
  error: string | undefined;
  /** Smoothed RTT and its variation (RFC 6298); -1 and 0 before the first sample. */
  srttMs: number;
  rttvarMs: number;
  /** The latest RTT sample and the smallest; -1 before the first. */
  rttMs: number;
  minRttMs: number;
  rtoMs: number;
  cwnd: number;
  ssthresh: number;
  /** The segment size we send (the peer's MSS, capped by ours, less options) and the MSS we announced. */
  sndMss: number;
  ourMss: number;
  /** The peer's window, and the bytes sent and not yet acknowledged. */
  sndWnd: number;
  bytesInFlight: number;
  /** Bytes written by the application and not yet acknowledged, and the send buffer's size. */
  sendBuffered: number;
  sendBufferSize: number;
  /** Bytes received and not yet read, and the receive buffer's size. */
  receiveQueued: number;
  receiveBufferSize: number;
  windowScaling: boolean;
  timestamps: boolean;
  sack: boolean;
}

/** The statistics of a direct-stack TCP flow; undefined for other flows (the socket stack's). */
export function tcpFlowInfo(flow: Flow): TcpFlowInfo | undefined {
  return flow instanceof DirectTcpFlow ? flow.info() : undefined;
}

/** One line for logs: what a connection did. */
export function describeConnectionClose(i: TcpFlowInfo): string {
  const rtt = i.srttMs < 0 ? "no RTT sample" : `srtt ${i.srttMs.toFixed(1)} ms, rttvar ${i.rttvarMs.toFixed(1)} ms, min rtt ${i.minRttMs.toFixed(1)} ms`;
  return (
    `${i.error ?? "clean"}; ${i.bytesSent} bytes in ${i.segmentsSent} segments out, ${i.bytesReceived} bytes in ${i.segmentsReceived} segments in; ` +
    `${i.retransmits} retransmits (${i.fastRetransmits} fast, ${i.timeouts} timeouts); ${rtt}, rto ${i.rtoMs} ms; ` +
    `cwnd ${i.cwnd}, ssthresh ${i.ssthresh}, mss ${i.sndMss}; ${i.outOfOrderSegments} out of order, ${i.dupAcksReceived} dup acks, ${i.challengeAcks} challenge acks`
  );
}

interface PendingWrite {
  chunks: readonly Uint8Array[];
  index: number;
  offset: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

const DONE = Promise.resolve();

export class DirectTcpFlow implements TcpFlow {
  private readonly readers: Array<{ resolve: (v: Uint8Array | null) => void; reject: (e: Error) => void }> = [];
  private readonly writes: PendingWrite[] = [];
  private readonly shutdownWaiters: Array<() => void> = [];
  private writeShut = false;

  constructor(
    readonly conn: TcpConnection,
    private readonly host: TcpFlowHost,
    readonly local: Endpoint,
    readonly remote: Endpoint,
  ) {}

  read(): Promise<Uint8Array | null> {
    const c = this.conn;
    if (c.rcvQueue.length > 0) return Promise.resolve(this.take());
    if (c.error !== undefined) return Promise.reject(new FlowError(c.error === "reset" ? "reset" : c.error));
    if (c.finReceived || c.state === TcpState.closed || c.readShutdown) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  private take(): Uint8Array {
    const c = this.conn;
    const chunk = c.rcvQueue.shift()!;
    tcpConsumed(c, chunk.length);
    if (c.ackNow) this.host.pump(c);
    return chunk;
  }

  write(data: Uint8Array): Promise<void> {
    return this.writev([data]);
  }

  writev(data: readonly Uint8Array[]): Promise<void> {
    const c = this.conn;
    if (c.error !== undefined) return Promise.reject(new FlowError(c.error));
    if (this.writeShut || c.finQueued || c.state === TcpState.closed || c.state === TcpState.timeWait) return Promise.reject(new FlowError("closed"));
    if (this.writes.length === 0) {
      let i = 0;
      let offset = 0;
      let wrote = false;
      while (i < data.length) {
        const chunk = data[i]!;
        const n = tcpWrite(c, chunk, offset);
        offset += n;
        if (n > 0) wrote = true;
        if (offset >= chunk.length) {
          i++;
          offset = 0;
        } else break;
      }
      if (wrote) this.host.pump(c);
      if (i >= data.length) return DONE;
      return new Promise((resolve, reject) => this.writes.push({ chunks: data, index: i, offset, resolve, reject }));
    }
    return new Promise((resolve, reject) => this.writes.push({ chunks: data, index: 0, offset: 0, resolve, reject }));
  }

  async shutdown(mode: "read" | "write" | "both" = "write"): Promise<void> {
    const c = this.conn;
    if (mode === "read" || mode === "both") {
      c.readShutdown = true;
      while (c.rcvQueue.length > 0) tcpConsumed(c, c.rcvQueue.shift()!.length);
      this.settleReaders();
    }
    if (mode === "write" || mode === "both") {
      if (this.writeShut) return;
      this.writeShut = true;
      if (this.writes.length > 0) await new Promise<void>((resolve) => this.shutdownWaiters.push(resolve));
      tcpShutdownWrite(c, this.host.now());
      this.host.pump(c);
    }
  }

  async close(): Promise<void> {
    const c = this.conn;
    c.orphaned = true;
    // Closing with received data unread resets, as Linux does (RFC 2525 "failure to RST on close
    // with data pending"): the peer learns that its data was not consumed.
    if (c.rcvQueued > 0 && c.state !== TcpState.closed && c.state !== TcpState.timeWait) {
      this.writeShut = true;
      this.host.abort(c);
      return;
    }
    await this.shutdown("both");
  }

  setNoDelay(noDelay: boolean): void {
    this.conn.noDelay = noDelay;
    if (noDelay) this.host.pump(this.conn);
  }

  setKeepAlive(enable: boolean, idleMs?: number): void {
    const c = this.conn;
    c.keepAliveIdleMs = enable ? Math.max(1, idleMs ?? this.host.keepAliveDefaults().idleMs) : 0;
    c.keepAliveSent = 0;
    this.host.pump(c);
  }

  /** Statistics of this connection: retransmissions, RTT, congestion window... */
  info(): TcpFlowInfo {
    const c = this.conn;
    return {
      ...c.stats,
      state: TCP_STATE_NAMES[c.state]!,
      error: c.error,
      srttMs: c.srtt,
      rttvarMs: c.rttvar,
      rttMs: c.lastRtt,
      minRttMs: c.minRtt,
      rtoMs: c.rto,
      cwnd: c.cwnd,
      ssthresh: c.ssthresh,
      sndMss: c.sndMss,
      ourMss: c.ourMss,
      sndWnd: c.sndWnd,
      bytesInFlight: c.state === TcpState.closed ? 0 : c.flight,
      sendBuffered: c.sndLen,
      sendBufferSize: c.sndBufSize,
      receiveQueued: c.rcvQueued,
      receiveBufferSize: c.rcvBufSize,
      windowScaling: c.sndWscaleOffered && c.config.windowScaling,
      timestamps: c.tsEnabled,
      sack: c.sackEnabled,
    };
  }

  /** The engine reports the machine's events here. */
  onEvents(events: number): void {
    const c = this.conn;
    if ((events & TcpEvent.readable) !== 0) this.settleReaders();
    if ((events & TcpEvent.writable) !== 0 && this.writes.length > 0) {
      let wrote = false;
      while (this.writes.length > 0) {
        const w = this.writes[0]!;
        if (c.state === TcpState.closed) break;
        while (w.index < w.chunks.length) {
          const chunk = w.chunks[w.index]!;
          const n = tcpWrite(c, chunk, w.offset);
          if (n > 0) wrote = true;
          w.offset += n;
          if (w.offset >= chunk.length) {
            w.index++;
            w.offset = 0;
          } else break;
        }
        if (w.index < w.chunks.length) break;
        this.writes.shift();
        w.resolve();
      }
      if (this.writes.length === 0) for (const r of this.shutdownWaiters.splice(0)) r();
      if (wrote) this.host.pump(c);
    }
    if ((events & TcpEvent.closed) !== 0) {
      // An Error captures a stack trace: made only when a write waits for it (measured: making
      // one per closed connection was a sixth of the CPU of a connection load).
      if (this.writes.length > 0) {
        const error = new FlowError(c.error ?? "closed");
        for (const w of this.writes.splice(0)) w.reject(error);
      }
      for (const r of this.shutdownWaiters.splice(0)) r();
      this.settleReaders();
    }
  }

  private settleReaders(): void {
    const c = this.conn;
    while (this.readers.length > 0) {
      if (c.rcvQueue.length > 0) this.readers.shift()!.resolve(this.take());
      else if (c.error !== undefined) this.readers.shift()!.reject(new FlowError(c.error));
      else if (c.finReceived || c.state === TcpState.closed || c.readShutdown) this.readers.shift()!.resolve(null);
      else break;
    }
  }
}
