/**
 * One TCP connection's state machine (RFC 9293 §3.10), with RFC 6298 retransmission timing,
 * RFC 7323 window scaling and timestamps, RFC 2018 SACK, RFC 5961 blind-attack checks and
 * congestion control behind congestion.ts.
 *
 * Pure in the sense that matters for testing: no I/O, no timers, no clock. Every entry point takes
 * `now` and an event (a segment, a timer, an application call), updates the connection and
 * produces actions: segments through the `TcpTransmit` sink (which builds them straight into
 * the frame) and notifications as bits in `events` for the engine to act on. Timers are absolute
 * deadlines in the state (`nextDeadline`), fired by the engine as `tcpTimer` events. The state
 * is a mutable object rather than a fresh value per step: a bulk transfer steps it per segment,
 * and that must not allocate.
 */
import type { FlowErrorCode } from "@mirage-ts/runtime";
import type { BufferPool } from "../buffer-pool.ts";
import type { SlabAllocator } from "../slab.ts";
import type { CongestionControl, CongestionState } from "./congestion.ts";
import { SegmentFlag, SentSegments } from "./sent-segments.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from "./seq.ts";
import { TcpFlag, type TcpOptions } from "./wire.ts";

export const TcpState = {
  closed: 0,
  listen: 1,
  synSent: 2,
  synReceived: 3,
  established: 4,
  finWait1: 5,
  finWait2: 6,
  closeWait: 7,
  closing: 8,
  lastAck: 9,
  timeWait: 10,
} as const;
export type TcpStateValue = (typeof TcpState)[keyof typeof TcpState];
export const TCP_STATE_NAMES = ["CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"] as const;

/** Notifications for the engine, OR-ed into `events`. */
export const TcpEvent = { established: 1, readable: 2, writable: 4, closed: 8 } as const;

export interface TcpConfig {
  /** Bytes the application may queue unsent/unacknowledged. */
  sendBufferSize: number;
  /** Bytes received and not yet read; the advertised window never exceeds it. */
  receiveBufferSize: number;
  /** Maximum segment lifetime; TIME-WAIT lasts 2 * msl. */
  mslMs: number;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  /** SYN (or SYN-ACK) retransmissions before connect fails with "timeout". */
  synRetries: number;
  /** Data retransmissions before the connection is aborted. */
  maxRetries: number;
  /** The longest an ACK is delayed (RFC 9293 §3.8.6.3: under 500 ms; every second full segment is ACKed at once). */
  delayedAckMs: number;
  timestamps: boolean;
  sack: boolean;
  windowScaling: boolean;
  /** How long an orphaned connection waits in FIN-WAIT-2 for the peer's FIN. */
  finWait2TimeoutMs: number;
  /** Keepalive defaults for setKeepAlive(true) without idleMs. */
  keepAliveIdleMs: number;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  /** Challenge ACKs per second per connection (RFC 5961 §7). */
  challengeAckLimit: number;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  sendBufferSize: 256 * 1024,
  receiveBufferSize: 256 * 1024,
  mslMs: 30_000,
  initialRtoMs: 1000,
  minRtoMs: 200,
  maxRtoMs: 60_000,
  synRetries: 6,
  maxRetries: 15,
  delayedAckMs: 40,
  timestamps: true,
  sack: true,
  windowScaling: true,
  finWait2TimeoutMs: 60_000,
  keepAliveIdleMs: 7_200_000,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  challengeAckLimit: 100,
};

export interface TcpConnectionStats {
  segmentsSent: number;
  segmentsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  challengeAcks: number;
  dupAcksReceived: number;
  outOfOrderSegments: number;
  /** Segments dropped by PAWS (RFC 7323 §5). */
  pawsDrops: number;
  /** Data arrived after the application closed the connection: answered with RST (RFC 9293 §3.6.1, RFC 2525). */
  abortsOnData: number;
  /** Tail loss probes sent (RFC 8985 §7). */
  lossProbes: number;
  /** Retransmissions found lost again by RACK (RFC 8985 §6), repaired without waiting for the timer. */
  lostRetransmissions: number;
  /** Duplicate SACKs received (RFC 2883): segments the peer got twice. */
  dsacks: number;
}

/**
 * Where the machine's segments go. `segment` sends one: `len` data bytes taken from the send
 * buffer at `seq` (see `copySendData`), ACK/window/options filled from the connection's state
 * by `prepareHeader`.
 */
export interface TcpTransmit {
  segment(conn: TcpConnection, seq: number, flags: number, len: number): void;
}

/** A received segment as the machine sees it: the engine fills one of these per segment, reused. */
export interface TcpSegmentIn {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** The payload is `buffer[offset .. offset+length]`; the machine copies what it keeps. */
  buffer: Uint8Array;
  offset: number;
  length: number;
  options: TcpOptions;
}

/**
 * `A` is the network layer's address type (a number for IPv4, an Ipv6Address for IPv6): the
 * machine never looks at addresses, it only carries them for the engine.
 */
export class TcpConnection<A = unknown> implements CongestionState {
  state: TcpStateValue = TcpState.closed;
  /** Opened by connect() (SYN-SENT) rather than by a listener. */
  active = false;
  events = 0;
  /** Why the connection closed, when it did not close cleanly. */
  error: FlowErrorCode | undefined = undefined;
  /** The last ICMP error about its segments ("ICMPv6 port unreachable from ..."), named when it fails. */
  icmpError: string | undefined = undefined;
  readonly stats: TcpConnectionStats = {
    segmentsSent: 0,
    segmentsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    retransmits: 0,
    fastRetransmits: 0,
    timeouts: 0,
    challengeAcks: 0,
    dupAcksReceived: 0,
    outOfOrderSegments: 0,
    pawsDrops: 0,
    abortsOnData: 0,
    lossProbes: 0,
    lostRetransmissions: 0,
    dsacks: 0,
  };

  // Send sequence space.
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** The highest sequence number sent (SND.NXT goes back to SND.UNA after a timeout). */
  sndMax = 0;
  sndWnd = 0;
  maxSndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** The peer's window scale shift (0 when not negotiated). */
  sndWscale = 0;
  /** The peer's SYN carried a window scale option. */
  sndWscaleOffered = false;
  /** The sender MSS: the peer's MSS option capped by ours, minus the timestamp option. */
  sndMss = 536;
  /** Our MSS (MTU - 40), announced in our SYN. */
  ourMss = 1460;

  // Send buffer: a ring holding bytes from `bufSeq` (the first unacknowledged data byte). It is
  // taken by the first write (tcpWrite), not with the connection: a SYN queue full of half-open
  // connections, or connections that only receive, must not cost a send buffer each. It starts
  // at SEND_RING_INITIAL bytes and doubles, as data queues up, to `sndBufSize`: a connection that
  // sends a short reply never pays for (zero-filling, page-faulting) a bulk transfer's ring.
  sndBuf: Uint8Array = NO_SEND_BUFFER;
  /** Where send rings come from and go back to (the engine's pool); undefined: allocated and left to the GC. */
  sndBufPool: BufferPool | undefined = undefined;
  readonly sndBufSize: number;
  sndHead = 0;
  sndLen = 0;
  bufSeq = 0;
  /** The application shut down writing: a FIN follows the data. */
  finQueued = false;
  noDelay = false;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** RCV.NXT + the window last advertised: never moved left (RFC 9293 §3.8.6.2.2). */
  rcvAdvEdge = 0;
  rcvWscale = 0;
  readonly rcvBufSize: number;
  /** In-order data not yet read by the application, and its byte count. */
  readonly rcvQueue: Uint8Array[] = [];
  rcvQueueHead = 0;
  rcvQueued = 0;
  /**
   * Where received payloads are copied (the engine's slabs, shared by its connections): in-order
   * segments grow the last unread chunk in place (SlabAllocator.copyAfter). Undefined: each
   * payload is sliced into a buffer of its own.
   */
  rcvSlab: SlabAllocator | undefined = undefined;
  /** Out-of-order segments, sorted, non-overlapping. */
  readonly ooo: Array<{ seq: number; data: Uint8Array }> = [];
  /** Index into `ooo` of the block that arrived last (reported first in SACK). */
  lastOooSeq = -1;
  /** The peer's FIN arrived (and was consumed): reads end after the queue. */
  finReceived = false;
  /** A FIN seen beyond RCV.NXT (its sequence number), waiting for the hole to fill. */
  pendingFinSeq = -1;
  /** The application shut down reading: data is acknowledged and discarded. */
  readShutdown = false;

  // ACK generation.
  ackNow = false;
  segsSinceAck = 0;
  delayedAckAt = -1;
  /**
   * The engine calls `tcpBatchEnd` after each batch of received segments (ip-layer.ts
   * `afterBatch`): in-order data then owes one ACK at the batch's end (`ackAtBatchEnd`) rather
   * than one per second segment, as a Linux receiver ACKs what GRO merged.
   */
  batchAcks = false;
  ackAtBatchEnd = false;

  // Options.
  tsEnabled = false;
  tsRecent = 0;
  /** TIME-WAIT ended by a new SYN on the 4-tuple (RFC 6191): the engine passes that SYN on to the listener. */
  reopenedBySyn = false;
  tsOffset = 0;
  sackEnabled = false;
  /** The peer's SACK scoreboard: ranges above SND.UNA it holds (pairs, sorted). */
  readonly sacked: number[] = [];
  /** Every segment in [SND.UNA, SND.MAX): when it was sent, SACKed, lost, retransmitted. */
  readonly sent = new SentSegments();

  // RACK (RFC 8985 §6): the most recently sent segment among those delivered (ACKed or SACKed).
  /** Its transmit time (-1: nothing delivered yet) and transmission order (`xmitOrder` then). */
  rackXmit = -1;
  rackOrder = 0;
  /** Counts transmissions of data, for the segment records' order. */
  xmitOrder = 0;
  /** The RTT measured on it. */
  rackRtt = 0;
  /** The highest end of a delivered segment (RACK.fack). */
  rackFack = 0;
  /** The peer was seen delivering out of order: losses then wait for the reordering window. */
  reorderingSeen = false;
  /** The reordering window in min_RTT/4 steps, raised by DSACKs (RFC 8985 §6.2 step 4). */
  reoWndMult = 1;
  /** No further raise until SND.UNA passes this (once per round trip). */
  dsackRoundEnd = 0;
  recoveriesSinceDsack = 0;
  /** The RACK reordering timer: segments that become lost if still undelivered then. */
  rackAt = -1;

  // Tail loss probe (RFC 8985 §7).
  tlpAt = -1;
  /** The timer fired: tcpOutput sends the probe. */
  tlpProbeNow = false;
  /** A probe is outstanding, up to `tlpEndSeq`; `tlpRetransmitted`: it repeated a segment. */
  tlpActive = false;
  /** Probes sent since SND.UNA last advanced. */
  tlpCount = 0;
  tlpEndSeq = 0;
  tlpSeq = 0;
  tlpRetransmitted = false;
  /** A DSACK covered the probe: the segment it repeated had arrived, nothing was lost. */
  tlpDsacked = false;

  // Loss recovery (RFC 6675 with RFC 6937 PRR when SACK is on; RFC 6582 NewReno otherwise).
  /** tcpOutput retransmits the first lost segment whatever the window (fast retransmit). */
  retransmitNow = false;
  /** After a retransmission timeout, until SND.UNA reaches `recover`: the lost segments go again in slow start. */
  rtoRecovery = false;
  /** PRR: bytes delivered to the peer and sent by us since recovery began, and the flight then. */
  prrDelivered = 0;
  prrOut = 0;
  recoverFs = 0;

  // RTO (RFC 6298).
  srtt = -1;
  rttvar = 0;
  /** The latest RTT sample and the smallest seen (ms; -1 before the first). */
  lastRtt = -1;
  minRtt = -1;
  rto: number;
  rtoAt = -1;
  retries = 0;
  /** Timing one segment without timestamps (Karn: never a retransmitted one). */
  rttSeq = -1;
  rttStart = 0;

  // Congestion control.
  cwnd = 0;
  ssthresh = 0;
  dupAcks = 0;
  inRecovery = false;
  recover = 0;

  // Other timers.
  persistAt = -1;
  persistBackoff = 0;
  keepAliveIdleMs = 0;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  keepAliveAt = -1;
  keepAliveSent = 0;
  timeWaitAt = -1;
  finWait2At = -1;
  lastReceivedAt = 0;
  challengeWindowStart = 0;
  challengeCount = 0;
  /** Closed by the application (no Flow reads any more). */
  orphaned = false;

  constructor(
    readonly config: TcpConfig,
    readonly cc: CongestionControl,
    readonly localAddress: A,
    readonly localPort: number,
    readonly remoteAddress: A,
    readonly remotePort: number,
  ) {
    this.sndBufSize = config.sendBufferSize;
    this.rcvBufSize = config.receiveBufferSize;
    this.rto = config.initialRtoMs;
    this.keepAliveIntervalMs = config.keepAliveIntervalMs;
    this.keepAliveProbes = config.keepAliveProbes;
    let shift = 0;
    while (shift < 14 && config.receiveBufferSize >> shift > 0xffff) shift++;
    this.rcvWscale = config.windowScaling ? shift : 0;
  }

  get flight(): number {
    return seqDiff(this.sndMax, this.sndUna);
  }
  /** Room left in the send buffer. */
  get sendSpace(): number {
    return this.sndBufSize - this.sndLen;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

const NO_SEND_BUFFER = new Uint8Array(0);
/**
 * With receive batches, in-order full segments are ACKed once per batch, but at least every this
 * many (a TAP batch holds up to 64 frames): GRO stops merging at 64 KiB, about 45 segments.
 */
const ACK_STRETCH_MAX = 32;

/** The send ring's first size: a typical reply (an HTTP response, a TLS flight) fits. */
export const SEND_RING_INITIAL = 16 * 1024;

/**
 * Makes the send ring hold at least `need` bytes (never more than `sndBufSize`): the next size
 * up, doubling, with the queued bytes copied to its start.
 */
function growSendBuffer(c: TcpConnection, need: number): void {
  const old = c.sndBuf;
  let size = old.length === 0 ? Math.min(SEND_RING_INITIAL, c.sndBufSize) : old.length;
  while (size < need) size = Math.min(size * 2, c.sndBufSize);
  const ring = c.sndBufPool !== undefined ? c.sndBufPool.take(size) : new Uint8Array(size);
  if (c.sndLen > 0) {
    const first = Math.min(c.sndLen, old.length - c.sndHead);
    ring.set(old.subarray(c.sndHead, c.sndHead + first), 0);
    if (first < c.sndLen) ring.set(old.subarray(0, c.sndLen - first), first);
  }
  c.sndBuf = ring;
  c.sndHead = 0;
  if (old.length > 0) c.sndBufPool?.give(old);
}

/**
 * Gives the send ring back once nothing can use it again: no data queued and none ever will be
 * (the FIN is queued), or the connection `closed` (whatever it still held is never sent). A
 * TIME-WAIT connection holds no ring.
 */
export function tcpReleaseSendBuffer(c: TcpConnection, closed = false): void {
  if (c.sndBuf.length === 0 || (c.sndLen > 0 && !closed)) return;
  const ring = c.sndBuf;
  c.sndBuf = NO_SEND_BUFFER;
  c.sndHead = 0;
  c.sndBufPool?.give(ring);
}

const isSynchronized = (s: TcpStateValue): boolean => s >= TcpState.established;
const canSend = (s: TcpStateValue): boolean =>
  s === TcpState.established || s === TcpState.closeWait || s === TcpState.finWait1 || s === TcpState.closing || s === TcpState.lastAck;
const canReceiveData = (s: TcpStateValue): boolean => s === TcpState.established || s === TcpState.finWait1 || s === TcpState.finWait2;

function tsNow(c: TcpConnection, now: number): number {
  return (Math.floor(now) + c.tsOffset) >>> 0;
}

/** Copies `len` bytes of the send buffer starting at sequence `seq` into `into[at..]`. */
export function copySendData(c: TcpConnection, seq: number, len: number, into: Uint8Array, at: number): void {
  const size = c.sndBuf.length;
  let start = c.sndHead + seqDiff(seq, c.bufSeq);
  if (start >= size) start -= size;
  const first = Math.min(len, size - start);
  into.set(c.sndBuf.subarray(start, start + first), at);
  if (first < len) into.set(c.sndBuf.subarray(0, len - first), at + first);
}

/**
 * The window field for an outgoing segment (scaled, except on SYNs), with receiver-side silly
 * window avoidance (RFC 9293 §3.8.6.2.2) and never shrinking the right edge already offered.
 */
export function advertiseWindow(c: TcpConnection, syn: boolean): number {
  let wnd = Math.max(0, c.rcvBufSize - c.rcvQueued);
  if (wnd < Math.min(c.rcvBufSize >> 1, c.ourMss)) wnd = 0;
  const offered = seqDiff(c.rcvAdvEdge, c.rcvNxt);
  if (offered > wnd) wnd = offered;
  const shift = syn ? 0 : c.rcvWscale;
  const field = Math.min((wnd + (1 << shift) - 1) >>> shift, 0xffff);
  const edge = seqAdd(c.rcvNxt, field << shift);
  if (seqGt(edge, c.rcvAdvEdge)) c.rcvAdvEdge = edge;
  return field;
}

/** Fills TSval/TSecr and SACK blocks for an outgoing non-SYN segment. */
export function fillSegmentOptions(c: TcpConnection, now: number, flags: number, o: TcpOptions): void {
  o.mss = -1;
  o.windowScale = -1;
  o.sackPermitted = false;
  o.sackCount = 0;
  o.timestamps = c.tsEnabled;
  if (c.tsEnabled) {
    o.tsVal = tsNow(c, now);
    o.tsEcr = (flags & TcpFlag.ack) !== 0 ? c.tsRecent : 0;
  }
  const finAhead = c.pendingFinSeq >= 0 && !c.finReceived;
  if (c.sackEnabled && (c.ooo.length > 0 || finAhead)) {
    const max = c.tsEnabled ? 3 : 4;
    // The block holding the latest arrival first (RFC 2018 §4), then the others in order.
    let n = 0;
    const put = (l: number, r: number): void => {
      for (let k = 0; k < n; k++) if (o.sackBlocks[2 * k] === l) return;
      o.sackBlocks[2 * n] = l;
      o.sackBlocks[2 * n + 1] = r;
      n++;
    };
    let i = 0;
    const blocks: number[] = [];
    while (i < c.ooo.length) {
      const l = c.ooo[i]!.seq;
      let r = seqAdd(l, c.ooo[i]!.data.length);
      i++;
      while (i < c.ooo.length && c.ooo[i]!.seq === r) r = seqAdd(r, c.ooo[i++]!.data.length);
      blocks.push(l, r);
    }
    // A FIN held beyond a hole is SACKed too (as Linux does): the sender's segment that carries
    // it ends one past the data, and a block without it would never cover that segment.
    if (finAhead) {
      if (blocks.length > 0 && blocks[blocks.length - 1] === c.pendingFinSeq) blocks[blocks.length - 1] = seqAdd(c.pendingFinSeq, 1);
      else blocks.push(c.pendingFinSeq, seqAdd(c.pendingFinSeq, 1));
    }
    for (let b = 0; b < blocks.length; b += 2) {
      if (c.lastOooSeq >= 0 && seqGe(c.lastOooSeq, blocks[b]!) && seqLt(c.lastOooSeq, blocks[b + 1]!)) put(blocks[b]!, blocks[b + 1]!);
    }
    for (let b = 0; b < blocks.length && n < max; b += 2) put(blocks[b]!, blocks[b + 1]!);
    o.sackCount = n;
  }
}

/**
 * The most data a segment sent now may carry: the MSS less the SACK option `fillSegmentOptions`
 * will add (the MSS already allows for timestamps). Without this, a full segment sent while we
 * SACK the peer's data is 4 + 8n bytes over the path MTU, and IPv4 fragments it: a loss of
 * either fragment loses the segment, and the TCP checksum alone then guards data split over two
 * frames (two link errors, one in each fragment, can cancel in the one's complement sum).
 */
function segmentMss(c: TcpConnection): number {
  if (!c.sackEnabled) return c.sndMss;
  const finAhead = c.pendingFinSeq >= 0 && !c.finReceived;
  if (c.ooo.length === 0 && !finAhead) return c.sndMss;
  // Counted as fillSegmentOptions lays them out: contiguous held ranges merge into one block,
  // and a FIN held beyond a hole extends the last block or takes one of its own.
  let blocks = 0;
  let r = -1;
  for (let i = 0; i < c.ooo.length; ) {
    r = seqAdd(c.ooo[i]!.seq, c.ooo[i]!.data.length);
    i++;
    while (i < c.ooo.length && c.ooo[i]!.seq === r) r = seqAdd(r, c.ooo[i++]!.data.length);
    blocks++;
  }
  if (finAhead && !(blocks > 0 && r === c.pendingFinSeq)) blocks++;
  const n = Math.min(blocks, c.tsEnabled ? 3 : 4);
  return c.sndMss - (4 + 8 * n);
}

/** Options of our SYN or SYN-ACK: MSS always; the rest as configured, and on a SYN-ACK only if the peer offered them. */
export function fillSynOptions(c: TcpConnection, now: number, o: TcpOptions): void {
  o.mss = c.ourMss;
  const offer = c.state === TcpState.synSent;
  o.windowScale = c.config.windowScaling && (offer || c.sndWscaleOffered) ? c.rcvWscale : -1;
  o.sackPermitted = offer ? c.config.sack : c.sackEnabled;
  o.timestamps = offer ? c.config.timestamps : c.tsEnabled;
  o.tsVal = tsNow(c, now);
  o.tsEcr = offer ? 0 : c.tsRecent;
  o.sackCount = 0;
}


function send(c: TcpConnection, tx: TcpTransmit, seq: number, flags: number, len: number): void {
  if ((flags & TcpFlag.ack) !== 0) {
    c.ackNow = false;
    c.ackAtBatchEnd = false;
    c.segsSinceAck = 0;
    c.delayedAckAt = -1;
  }
  c.stats.segmentsSent++;
  tx.segment(c, seq, flags, len);
}

function sendAck(c: TcpConnection, tx: TcpTransmit): void {
  // SND.MAX, not SND.NXT: after a timeout SND.NXT went back to SND.UNA, and an ACK numbered there
  // would fall left of the peer's window and be dropped (each side then ignores the other's ACKs).
  send(c, tx, c.sndMax, TcpFlag.ack, 0);
}

/** RFC 5961 §7: challenge ACKs are rate limited. */
function challengeAck(c: TcpConnection, now: number, tx: TcpTransmit): void {
  if (now - c.challengeWindowStart >= 1000) {
    c.challengeWindowStart = now;
    c.challengeCount = 0;
  }
  if (c.challengeCount >= c.config.challengeAckLimit) return;
  c.challengeCount++;
  c.stats.challengeAcks++;
  sendAck(c, tx);
}

function enterClosed(c: TcpConnection, error: FlowErrorCode | undefined): void {
  c.state = TcpState.closed;
  c.ackAtBatchEnd = false;
  if (error !== undefined && c.error === undefined) c.error = error;
  c.rtoAt = c.delayedAckAt = c.persistAt = c.keepAliveAt = c.timeWaitAt = c.finWait2At = c.tlpAt = c.rackAt = -1;
  c.events |= TcpEvent.closed | TcpEvent.readable | TcpEvent.writable;
}

function enterTimeWait(c: TcpConnection, now: number): void {
  c.state = TcpState.timeWait;
  c.rtoAt = c.persistAt = c.keepAliveAt = c.finWait2At = c.tlpAt = c.rackAt = -1;
  c.sent.clear();
  c.timeWaitAt = now + 2 * c.config.mslMs;
}

function applyPeerSynOptions(c: TcpConnection, seg: TcpSegmentIn): void {
  const o = seg.options;
  const cfg = c.config;
  c.sndWscaleOffered = o.windowScale >= 0;
  if (cfg.windowScaling && o.windowScale >= 0) c.sndWscale = o.windowScale;
  else {
    c.sndWscale = 0;
    c.rcvWscale = 0;
  }
  c.tsEnabled = cfg.timestamps && o.timestamps;
  if (c.tsEnabled) c.tsRecent = o.tsVal;
  c.sackEnabled = cfg.sack && o.sackPermitted;
  const peerMss = o.mss >= 0 ? o.mss : 536;
  c.sndMss = Math.max(64, Math.min(peerMss, c.ourMss) - (c.tsEnabled ? 12 : 0));
}

function updateRtt(c: TcpConnection, sample: number): void {
  const cfg = c.config;
  if (sample < 0) return;
  c.lastRtt = sample;
  if (c.minRtt < 0 || sample < c.minRtt) c.minRtt = sample;
  if (c.srtt < 0) {
    c.srtt = sample;
    c.rttvar = sample / 2;
  } else {
    c.rttvar = 0.75 * c.rttvar + 0.25 * Math.abs(c.srtt - sample);
    c.srtt = 0.875 * c.srtt + 0.125 * sample;
  }
  c.rto = Math.min(cfg.maxRtoMs, Math.max(cfg.minRtoMs, c.srtt + Math.max(1, 4 * c.rttvar)));
}

// ---------------------------------------------------------------------------------------------
// Opening

/** Active open: CLOSED → SYN-SENT. The SYN goes out with the next `tcpOutput`. */
export function tcpOpen(c: TcpConnection, now: number, iss: number, ourMss: number): void {
  c.active = true;
  c.iss = c.sndUna = c.sndNxt = c.sndMax = iss;
  c.bufSeq = seqAdd(iss, 1);
  c.ourMss = ourMss;
  c.sndMss = Math.min(536, ourMss);
  c.state = TcpState.synSent;
  c.lastReceivedAt = now;
  c.cc.init(c);
}

/** Passive open: a SYN reached a listener (the LISTEN rules of §3.10.7.2): CLOSED → SYN-RECEIVED. */
export function tcpAccept(c: TcpConnection, now: number, seg: TcpSegmentIn, iss: number, ourMss: number): void {
  c.iss = c.sndUna = c.sndNxt = c.sndMax = iss;
  c.bufSeq = seqAdd(iss, 1);
  c.ourMss = ourMss;
  c.irs = seg.seq;
  c.rcvNxt = c.rcvAdvEdge = seqAdd(seg.seq, 1);
  applyPeerSynOptions(c, seg);
  c.sndWnd = seg.window; // never scaled in a SYN
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = seg.seq;
  c.sndWl2 = iss;
  c.state = TcpState.synReceived;
  c.lastReceivedAt = now;
  c.cc.init(c);
}

// ---------------------------------------------------------------------------------------------
// Segment arrival (§3.10.7.3 and §3.10.7.4)

export function tcpInput(c: TcpConnection, now: number, seg: TcpSegmentIn, tx: TcpTransmit): void {
  c.stats.segmentsReceived++;
  c.lastReceivedAt = now;
  c.keepAliveSent = 0;
  if (c.state === TcpState.synSent) return synSentInput(c, now, seg, tx);
  if (c.state === TcpState.closed || c.state === TcpState.listen) return;
  const flags = seg.flags;
  const rst = (flags & TcpFlag.rst) !== 0;
  const o = seg.options;

  // TIME-WAIT: a SYN with a later timestamp (or, without timestamps, beyond RCV.NXT) starts a new
  // incarnation of the 4-tuple (RFC 6191, RFC 9293 §3.10.7.4): this one ends now, and the engine
  // hands the SYN to the listener (TcpEvent.closed with the state TIME-WAIT had).
  if (c.state === TcpState.timeWait && (flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst)) === TcpFlag.syn && (c.tsEnabled && o.timestamps ? seqGt(o.tsVal, c.tsRecent) : seqGt(seg.seq, c.rcvNxt))) {
    c.reopenedBySyn = true;
    return enterClosed(c, undefined);
  }

  // SYN-RECEIVED: the peer retransmitted its SYN (our SYN-ACK was lost): answer it again.
  if (c.state === TcpState.synReceived && (flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst)) === TcpFlag.syn && seg.seq === c.irs) {
    c.sndNxt = c.iss;
    return;
  }

  // PAWS (RFC 7323 §5.3).
  if (c.tsEnabled && o.timestamps && !rst && seqLt(o.tsVal, c.tsRecent)) {
    c.stats.pawsDrops++;
    c.ackNow = true;
    return;
  }

  // 1. Sequence acceptability.
  let seqNo = seg.seq;
  let dataLen = seg.length;
  let dataOff = seg.offset;
  let fin = (flags & TcpFlag.fin) !== 0;
  let syn = (flags & TcpFlag.syn) !== 0;
  // Simultaneous open (§3.5 figure 7, line 6): the peer's SYN-ACK repeats the SYN we hold at IRS.
  // That SYN is old (trimmed, as §3.10.7.4 trims any old part), so the ACK it carries completes
  // the handshake at once, as in Linux, rather than the whole segment failing the window test.
  if (syn && !rst && c.state === TcpState.synReceived && seqNo === c.irs) {
    seqNo = seqAdd(seqNo, 1);
    syn = false;
  }
  const segLen = dataLen + (syn ? 1 : 0) + (fin ? 1 : 0);
  const wnd = Math.max(0, seqDiff(c.rcvAdvEdge, c.rcvNxt));
  let acceptable: boolean;
  // An empty segment exactly at the window's right edge is accepted too, as Linux does
  // (tcp_sequence), though RFC 9293's table says SEG.SEQ < RCV.NXT+RCV.WND: a peer that filled
  // our window, with a hole in it, sends its ACKs there, and dropping them stalls our sending.
  // Not an RST: RFC 5961 §3.2 wants those strictly inside.
  if (segLen === 0) acceptable = wnd === 0 ? seqNo === c.rcvNxt : seqGe(seqNo, c.rcvNxt) && (rst ? seqLt : seqLe)(seqNo, seqAdd(c.rcvNxt, wnd));
  else if (wnd === 0) acceptable = seqNo === c.rcvNxt; // a zero-window probe: its ACK is processed, its data not kept
  else {
    const last = seqAdd(seqNo, segLen - 1);
    acceptable =
      (seqGe(seqNo, c.rcvNxt) && seqLt(seqNo, seqAdd(c.rcvNxt, wnd))) || (seqGe(last, c.rcvNxt) && seqLt(last, seqAdd(c.rcvNxt, wnd)));
  }
  if (!acceptable) {
    if (!rst) {
      c.ackNow = true;
      if (c.state === TcpState.timeWait) c.timeWaitAt = now + 2 * c.config.mslMs;
    }
    return;
  }

  // 2. RST (RFC 5961 §3.2): only an exact RCV.NXT resets; in-window elsewhere draws a challenge ACK.
  if (rst) {
    if (seqNo !== c.rcvNxt) return challengeAck(c, now, tx);
    if (c.state === TcpState.synReceived && !c.active) {
      enterClosed(c, undefined); // back to LISTEN: the engine forgets the embryo
      return;
    }
    if (c.state === TcpState.synReceived) return enterClosed(c, "refused");
    if (c.state === TcpState.closing || c.state === TcpState.lastAck || c.state === TcpState.timeWait) return enterClosed(c, undefined);
    return enterClosed(c, "reset");
  }

  // 3. SYN in a synchronized state (RFC 5961 §4.2), or in SYN-RECEIVED other than the one at IRS
  // (trimmed above): challenge ACK.
  if (syn) return challengeAck(c, now, tx);

  // Timestamps: remember the peer's latest TSval for segments covering RCV.NXT (RFC 7323 §4.3).
  if (c.tsEnabled && o.timestamps && seqLe(seqNo, c.rcvNxt)) c.tsRecent = o.tsVal;

  // 4. ACK.
  if ((flags & TcpFlag.ack) === 0) return;
  const ack = seg.ack;
  if (c.state === TcpState.synReceived) {
    if (seqGt(ack, c.sndUna) && seqLe(ack, c.sndMax)) {
      c.state = TcpState.established;
      c.events |= TcpEvent.established;
      c.sndWnd = seg.window << c.sndWscale;
      c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
      c.sndWl1 = seg.seq;
      c.sndWl2 = ack;
      if (c.finQueued) c.state = TcpState.finWait1;
    } else {
      tx.segment(c, ack, TcpFlag.rst, 0); // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
  }
  // RFC 5961 §5.2: an ACK outside [SND.UNA - MAX.SND.WND, SND.MAX] draws a challenge ACK.
  if (seqGt(ack, c.sndMax) || seqLt(ack, seqAdd(c.sndUna, -c.maxSndWnd))) return challengeAck(c, now, tx);
  processAck(c, now, seg, ack, dataLen, tx);

  // FIN-acknowledged transitions.
  const finAcked = c.finQueued && c.sndUna === seqAdd(c.bufSeq, c.sndLen + 1) && seqGt(c.sndMax, seqAdd(c.bufSeq, c.sndLen));
  if (finAcked) {
    if (c.state === TcpState.finWait1) {
      c.state = TcpState.finWait2;
      if (c.orphaned) c.finWait2At = now + c.config.finWait2TimeoutMs;
    } else if (c.state === TcpState.closing) enterTimeWait(c, now);
    else if (c.state === TcpState.lastAck) return enterClosed(c, undefined);
  }
  if (c.state === TcpState.timeWait) {
    if (fin) {
      c.ackNow = true;
      c.timeWaitAt = now + 2 * c.config.mslMs;
    }
    return;
  }

  // 5. Data (trimmed to RCV.NXT and to the window).
  if (!canReceiveData(c.state)) return;
  const skip = seqDiff(c.rcvNxt, seqNo);
  if (skip > 0) {
    if (skip >= dataLen) {
      // Everything already received (a retransmission): ACK it so the peer stops.
      if (fin && seqAdd(seqNo, dataLen) === seqAdd(c.rcvNxt, -1) && c.finReceived) c.ackNow = true;
      dataOff += dataLen;
      seqNo = seqAdd(seqNo, dataLen);
      if (dataLen > 0) c.ackNow = true;
      dataLen = 0;
      if (seqLt(seqNo, c.rcvNxt)) fin = false;
    } else {
      dataOff += skip;
      dataLen -= skip;
      seqNo = c.rcvNxt;
    }
  }
  const room = seqDiff(c.rcvAdvEdge, seqNo);
  if (dataLen > room) {
    dataLen = Math.max(0, room);
    fin = false;
  }
  if (dataLen > 0 && c.orphaned) {
    // Nobody will ever read this: RFC 9293 §3.6.1 (and RFC 2525, "failure to RST on close with
    // data pending") says reset, as Linux does (LINUX_MIB_TCPABORTONDATA), rather than ACK and drop.
    c.stats.abortsOnData++;
    tx.segment(c, seg.ack, TcpFlag.rst, 0);
    return enterClosed(c, "reset");
  }
  if (dataLen > 0) {
    c.stats.bytesReceived += dataLen;
    if (seqNo === c.rcvNxt) {
      deliverCopy(c, seg.buffer, dataOff, dataLen);
      const hadOoo = c.ooo.length > 0;
      if (hadOoo) drainOutOfOrder(c);
      if (hadOoo || (flags & TcpFlag.psh) !== 0 && dataLen < c.sndMss) c.ackNow = true;
      else if (++c.segsSinceAck >= 2) {
        // Every second full segment is ACKed at once (RFC 9293 §3.8.6.3, RFC 5681 §4.2), or with
        // receive batches once per batch (a stretch ACK, as GRO makes), at least every ACK_STRETCH_MAX.
        if (c.batchAcks && c.segsSinceAck < ACK_STRETCH_MAX) c.ackAtBatchEnd = true;
        else c.ackNow = true;
      } else if (c.delayedAckAt < 0) c.delayedAckAt = now + c.config.delayedAckMs;
    } else {
      c.stats.outOfOrderSegments++;
      insertOutOfOrder(c, seqNo, seg.buffer, dataOff, dataLen);
      c.ackNow = true;
    }
  } else if (seg.length > 0 && wnd === 0) c.ackNow = true; // a zero-window probe

  // 6. FIN.
  if (fin) c.pendingFinSeq = seqAdd(seqNo, dataLen);
  if (c.pendingFinSeq >= 0 && c.pendingFinSeq === c.rcvNxt && !c.finReceived) consumeFin(c, now);
}

/** Delivers in-order payload bytes still in the netif's buffer: copied, onto the last unread chunk when it can grow. */
function deliverCopy(c: TcpConnection, buffer: Uint8Array, offset: number, length: number): void {
  if (c.readShutdown) {
    c.rcvNxt = seqAdd(c.rcvNxt, length);
    return;
  }
  const slab = c.rcvSlab;
  if (slab === undefined) return deliver(c, buffer.slice(offset, offset + length));
  const q = c.rcvQueue;
  const last = q.length > 0 ? q[q.length - 1] : undefined;
  const chunk = slab.copyAfter(last, buffer, offset, offset + length);
  if (last !== undefined && chunk.byteOffset === last.byteOffset && chunk.buffer === last.buffer) {
    q[q.length - 1] = chunk;
    c.rcvNxt = seqAdd(c.rcvNxt, length);
    c.rcvQueued += length;
    c.events |= TcpEvent.readable;
    return;
  }
  deliver(c, chunk);
}

function deliver(c: TcpConnection, data: Uint8Array): void {
  c.rcvNxt = seqAdd(c.rcvNxt, data.length);
  if (c.readShutdown) return;
  c.rcvQueue.push(data);
  c.rcvQueued += data.length;
  c.events |= TcpEvent.readable;
}

function drainOutOfOrder(c: TcpConnection): void {
  while (c.ooo.length > 0) {
    const first = c.ooo[0]!;
    const skip = seqDiff(c.rcvNxt, first.seq);
    if (skip < 0) break;
    c.ooo.shift();
    if (skip < first.data.length) deliver(c, skip === 0 ? first.data : first.data.subarray(skip));
  }
  if (c.ooo.length === 0) c.lastOooSeq = -1;
}

/** Keeps a copy of out-of-order data, trimmed against what is already held, in sequence order. */
function insertOutOfOrder(c: TcpConnection, seq: number, buffer: Uint8Array, offset: number, length: number): void {
  c.lastOooSeq = seq;
  let start = seq;
  let end = seqAdd(seq, length);
  let i = 0;
  while (i < c.ooo.length && seqLe(seqAdd(c.ooo[i]!.seq, c.ooo[i]!.data.length), start)) i++;
  // Insert pieces of [start, end) in the gaps between held segments.
  while (seqLt(start, end)) {
    const next = c.ooo[i];
    if (next === undefined || seqGe(next.seq, end)) {
      c.ooo.splice(i, 0, { seq: start, data: buffer.slice(offset + seqDiff(start, seq), offset + seqDiff(end, seq)) });
      return;
    }
    if (seqLt(start, next.seq)) {
      c.ooo.splice(i, 0, { seq: start, data: buffer.slice(offset + seqDiff(start, seq), offset + seqDiff(next.seq, seq)) });
      i++;
    }
    start = seqMax(start, seqAdd(next.seq, next.data.length));
    i++;
  }
}

function consumeFin(c: TcpConnection, now: number): void {
  c.finReceived = true;
  c.pendingFinSeq = -1;
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.ackNow = true;
  c.events |= TcpEvent.readable;
  switch (c.state) {
    case TcpState.synReceived:
    case TcpState.established:
      c.state = TcpState.closeWait;
      break;
    case TcpState.finWait1:
      // Our FIN not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
      c.state = TcpState.closing;
      break;
    case TcpState.finWait2:
      enterTimeWait(c, now);
      break;
    default:
      break;
  }
}

function synSentInput(c: TcpConnection, now: number, seg: TcpSegmentIn, tx: TcpTransmit): void {
  const flags = seg.flags;
  const hasAck = (flags & TcpFlag.ack) !== 0;
  if (hasAck && (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndMax))) {
    if ((flags & TcpFlag.rst) === 0) tx.segment(c, seg.ack, TcpFlag.rst, 0);
    return;
  }
  if ((flags & TcpFlag.rst) !== 0) {
    if (hasAck) enterClosed(c, "refused");
    return;
  }
  if ((flags & TcpFlag.syn) === 0) return;
  c.irs = seg.seq;
  c.rcvNxt = c.rcvAdvEdge = seqAdd(seg.seq, 1);
  applyPeerSynOptions(c, seg);
  c.cc.init(c);
  if (hasAck) {
    c.sndUna = seg.ack;
    if (c.tsEnabled && seg.options.tsEcr !== 0) updateRtt(c, now - ((seg.options.tsEcr - c.tsOffset) >>> 0) - (Math.floor(now) - now));
    else if (c.retries === 0) updateRtt(c, now - c.rttStart);
    c.retries = 0;
    c.rtoAt = -1;
    c.sndWnd = seg.window << c.sndWscale;
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    c.state = c.finQueued ? TcpState.finWait1 : TcpState.established;
    c.events |= TcpEvent.established;
    c.ackNow = true;
  } else {
    // Simultaneous open (§3.10.7.3): SYN-RECEIVED, our SYN again with an ACK.
    c.state = TcpState.synReceived;
    c.sndWnd = seg.window;
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndNxt = c.iss;
    c.ackNow = false;
  }
  void now;
}

function processAck(c: TcpConnection, now: number, seg: TcpSegmentIn, ack: number, dataLen: number, tx: TcpTransmit): void {
  const o = seg.options;
  const window = seg.window << c.sndWscale;
  const board = c.sent;
  const sackedBefore = board.sackedBytes;
  deliveredConn = c;
  deliveredNow = now;
  deliveredTsEcr = c.tsEnabled && o.timestamps ? o.tsEcr : -1;
  if (c.sackEnabled && o.sackCount > 0) checkDsack(c, o, ack);
  const newSack = c.sackEnabled && o.sackCount > 0 && recordSack(c, o);
  let acked = 0;
  let dupThreshLoss = false;
  if (seqGt(ack, c.sndUna)) {
    acked = seqDiff(ack, c.sndUna);
    // RTT: from the echoed timestamp (RFC 7323 §4.1), or the timed segment (Karn's rule).
    if (c.tsEnabled && o.timestamps && o.tsEcr !== 0) updateRtt(c, Math.floor(now) + c.tsOffset - o.tsEcr >= 0 ? ((Math.floor(now) + c.tsOffset - o.tsEcr) >>> 0) : -1);
    else if (c.rttSeq >= 0 && seqGe(ack, c.rttSeq)) {
      updateRtt(c, now - c.rttStart);
      c.rttSeq = -1;
    }
    // Release acknowledged data from the send buffer.
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, c.bufSeq)), c.sndLen);
    if (dataAcked > 0) {
      c.sndHead = (c.sndHead + dataAcked) % c.sndBuf.length;
      c.sndLen -= dataAcked;
      c.bufSeq = seqAdd(c.bufSeq, dataAcked);
      c.events |= TcpEvent.writable;
      if (c.sndLen === 0 && c.finQueued) tcpReleaseSendBuffer(c);
    }
    deliveredFirst = true;
    deliveredBySack = false;
    board.acknowledge(ack, rackDelivered);
    c.sndUna = ack;
    if (seqLt(c.sndNxt, c.sndUna)) c.sndNxt = c.sndUna;
    while (c.sacked.length > 0 && seqLe(c.sacked[1]!, ack)) c.sacked.splice(0, 2);
    if (c.sacked.length > 0 && seqLt(c.sacked[0]!, ack)) c.sacked[0] = ack;
    c.retries = 0;
    c.persistBackoff = 0;
    // Congestion control (RFC 5681, RFC 6582; with SACK, PRR below sets cwnd during recovery).
    if (c.inRecovery) {
      if (seqGe(ack, c.recover)) {
        c.inRecovery = false;
        c.cc.onExitRecovery(c);
      } else if (!c.sackEnabled) {
        // RFC 6582 partial ACK: the next hole goes at once.
        c.cc.onPartialAck(c, acked);
        if (board.count > 0 && board.markLost(0)) c.retransmitNow = true;
      }
    } else {
      if (c.rtoRecovery && seqGe(ack, c.recover)) c.rtoRecovery = false;
      // One step per segment's worth acknowledged: a stretch ACK (a receiver that ACKs a whole
      // receive batch at once, as ours does and GRO makes Linux do) grows the window as much as
      // the ACKs it stands for would have (RFC 3465 byte counting; Linux counts segments).
      for (let left = acked; left > 0; left -= c.sndMss) c.cc.onAck(c, Math.min(left, c.sndMss), now);
    }
    c.dupAcks = 0;
    // RFC 6298 §5.2/5.3: all acknowledged → stop the timer; otherwise restart it.
    c.rtoAt = c.sndUna === c.sndMax ? -1 : now + c.rto;
    // The end of a tail loss probe episode (RFC 8985 §7.4): a probe that repeated a segment and
    // drew no DSACK repaired a loss, which congestion control must hear of.
    c.tlpCount = 0;
    if (c.tlpActive && seqGe(ack, c.tlpEndSeq)) {
      c.tlpActive = false;
      if (c.tlpRetransmitted && !c.tlpDsacked && !c.inRecovery && !c.rtoRecovery) {
        c.cc.onEnterRecovery(c);
        c.cc.onExitRecovery(c);
      }
    }
  } else if (ack === c.sndUna && c.sndUna !== c.sndMax && (newSack || (dataLen === 0 && (seg.flags & TcpFlag.fin) === 0 && window === c.sndWnd))) {
    // A duplicate ACK (RFC 5681 §2), or with SACK one that SACKs new data even when it carries
    // data or a new window (RFC 6675 §2): in a transfer both ways nearly every ACK carries data.
    c.stats.dupAcksReceived++;
    c.dupAcks++;
    if (c.sackEnabled) {
      // RFC 6675 §5: DupThresh duplicate ACKs deem the first segment lost, even when the SACK
      // blocks do not (a peer that SACKs little); loss detection below does the rest.
      if (c.dupAcks >= DUP_THRESH && !c.reorderingSeen && board.count > 0 && (board.flagsAt(0) & (SegmentFlag.lost | SegmentFlag.sacked)) === 0) dupThreshLoss = board.markLost(0);
    } else if (c.inRecovery) c.cc.onDupAck(c);
    else if (c.dupAcks >= DUP_THRESH && seqGt(ack, c.recover) && !c.rtoRecovery) {
      // NewReno (RFC 6582) without SACK: fast retransmit of the segment at SND.UNA.
      c.inRecovery = true;
      c.recover = c.sndMax;
      c.cc.onEnterRecovery(c);
      c.stats.fastRetransmits++;
      c.rttSeq = -1;
      if (board.count > 0 && board.markLost(0)) c.retransmitNow = true;
      c.rtoAt = now + c.rto;
    }
  }
  if (c.sackEnabled) {
    // RFC 6675 IsLost and RACK (RFC 8985) decide what is lost; a loss starts recovery.
    if ((detectLosses(c, now) || dupThreshLoss) && !c.inRecovery && !c.rtoRecovery) enterSackRecovery(c);
    if (c.inRecovery) updatePrr(c, acked + board.sackedBytes - sackedBefore);
    armLossProbe(c, now);
  }
  // Window update (§3.10.7.4 "If SND.WL1 < SEG.SEQ or ...").
  if (seqLt(c.sndWl1, seg.seq) || (c.sndWl1 === seg.seq && seqLe(c.sndWl2, ack))) {
    c.sndWnd = window;
    c.sndWl1 = seg.seq;
    c.sndWl2 = ack;
    if (window > c.maxSndWnd) c.maxSndWnd = window;
    if (window > 0) {
      c.persistAt = -1;
      c.persistBackoff = 0;
    }
  }
}

/** Merges the segment's SACK blocks and marks the segments they cover; true when they SACK bytes not SACKed before. */
function recordSack(c: TcpConnection, o: TcpOptions): boolean {
  const board = c.sent;
  const before = board.sackedBytes;
  for (let b = 0; b < o.sackCount; b++) {
    let l = o.sackBlocks[2 * b]!;
    let r = o.sackBlocks[2 * b + 1]!;
    if (!seqLt(l, r) || seqLe(r, c.sndUna) || seqGt(r, c.sndMax)) continue; // RFC 2018 §4: ignore bogus blocks
    if (seqLt(l, c.sndUna)) l = c.sndUna;
    const blockL = l;
    const blockR = r;
    // Merge into the sorted list of ranges.
    const s = c.sacked;
    let i = 0;
    while (i < s.length && seqLt(s[i + 1]!, l)) i += 2;
    while (i < s.length && seqLe(s[i]!, r)) {
      if (seqLt(s[i]!, l)) l = s[i]!;
      if (seqGt(s[i + 1]!, r)) r = s[i + 1]!;
      s.splice(i, 2);
    }
    s.splice(i, 0, l, r);
    // Segments of the block wholly inside the merged range are SACKed (and delivered, for RACK).
    deliveredBySack = true;
    board.markSacked(blockL, blockR, l, r, rackDelivered);
  }
  return board.sackedBytes > before;
}

/**
 * A DSACK (RFC 2883: the first block lies below the cumulative ACK, or inside the second) says
 * a segment arrived twice: a spurious retransmission, or a duplicate on the path. Once per round
 * trip it widens RACK's reordering window (RFC 8985 §6.2 step 4), and it tells a loss probe
 * that what it repeated had arrived.
 */
function checkDsack(c: TcpConnection, o: TcpOptions, ack: number): void {
  const l = o.sackBlocks[0]!;
  const r = o.sackBlocks[1]!;
  const dsack = seqLe(r, ack) || (o.sackCount > 1 && seqGe(l, o.sackBlocks[2]!) && seqLe(r, o.sackBlocks[3]!));
  if (!dsack || !seqLt(l, r)) return;
  c.stats.dsacks++;
  // A segment arrived twice: most likely one deemed lost was only late (a duplicating path
  // says the same, and costs only the reordering window's wait).
  c.reorderingSeen = true;
  if (c.tlpActive && c.tlpRetransmitted && seqLe(l, c.tlpSeq) && seqGe(r, c.tlpEndSeq)) c.tlpDsacked = true;
  if (seqGe(c.sndUna, c.dsackRoundEnd)) {
    c.reoWndMult = Math.min(c.reoWndMult + 1, REO_WND_MULT_MAX);
    c.dsackRoundEnd = c.sndMax;
    c.recoveriesSinceDsack = 0;
  }
}

/** RFC 6675 DupThresh. */
const DUP_THRESH = 3;
const REO_WND_MULT_MAX = 16;
/** RFC 8985 §7.2: the worst-case delayed ACK a lone segment's probe waits for (Linux: TCP_DELACK_MAX). */
const TLP_WC_DELACK_MS = 200;
/** Added to 2·SRTT in the probe timeout, for scheduling and ACK jitter (Linux adds 2 jiffies). */
const TLP_EXTRA_MS = 4;
/** Loss probes while SND.UNA stands still, before the retransmission timer has its turn. */
const TLP_MAX_PROBES = 2;

// The ACK being processed, for rackDelivered (a plain function, so that delivering segments allocates no closure).
let deliveredConn: TcpConnection | undefined;
let deliveredNow = 0;
let deliveredTsEcr = -1;
/** The next delivered segment is the first of a cumulative ACK's advance: the one that filled the hole. */
let deliveredFirst = false;
/** Segments are being delivered by SACK blocks (rather than by the cumulative ACK). */
let deliveredBySack = false;

/**
 * RACK's update for one newly delivered segment (RFC 8985 §6.2 steps 2 and 3): the latest-sent
 * delivered segment and its RTT, and reordering (a never-retransmitted segment delivered below
 * one delivered before it).
 */
function rackDelivered(board: SentSegments, i: number): void {
  const c = deliveredConn!;
  const xmit = board.timeAt(i);
  const end = board.endAt(i);
  const flags = board.flagsAt(i);
  const first = deliveredFirst;
  deliveredFirst = false;
  if ((flags & SegmentFlag.everRetransmitted) !== 0) {
    // The ACK may be for the original transmission: skip unless it provably is for the latest.
    // A cumulative ACK echoes the timestamp of the segment that filled the hole (RFC 7323 §4.3;
    // a SACK echoes an older one): an echo from before the latest transmission says the one
    // deemed lost arrived after all, late (RFC 3522's Eifel detection): the path reorders.
    if (!deliveredBySack && deliveredTsEcr > 0 && seqLt(deliveredTsEcr, tsNow(c, xmit))) {
      if (first) c.reorderingSeen = true;
      return;
    }
    // Delivered sooner than any round trip (RFC 8985 §6.2 step 2, as Linux): the original was,
    // or the one before. The clock and timestamps tick in milliseconds, so under one
    // millisecond is as ambiguous.
    if (deliveredNow - xmit < Math.max(c.minRtt, 1)) return;
  } else if (c.rackXmit >= 0 && seqLt(end, c.rackFack)) {
    // Only the segment that filled the first hole (or one SACKed late) says so: the rest of a
    // cumulative advance may have been SACKed in blocks that the receiver no longer reported.
    if (first || deliveredBySack) c.reorderingSeen = true;
  }
  if (c.rackXmit < 0 || seqGt(end, c.rackFack)) c.rackFack = end;
  const order = board.orderAt(i);
  if (order > c.rackOrder || c.rackXmit < 0) {
    c.rackXmit = xmit;
    c.rackOrder = order;
    c.rackRtt = Math.max(0, deliveredNow - xmit);
  }
}

/** RACK's reordering window (RFC 8985 §6.2 step 4). */
function reorderingWindow(c: TcpConnection): number {
  if (!c.reorderingSeen && (c.inRecovery || c.rtoRecovery || c.sent.sackedCount >= DUP_THRESH)) return 0;
  if (c.minRtt < 0) return 0;
  return Math.min((c.minRtt / 4) * c.reoWndMult, c.srtt);
}

/**
 * Deems segments lost: RFC 6675 IsLost (DupThresh segments, or more than (DupThresh-1)·SMSS
 * bytes, SACKed above; only while no reordering was seen), and RACK (sent before a delivered
 * segment, and older than its RTT plus the reordering window), which also finds lost
 * retransmissions. Arms the RACK timer for segments not lost yet. True when any became lost.
 */
function detectLosses(c: TcpConnection, now: number): boolean {
  const board = c.sent;
  if (board.count === 0 || (board.sackedCount === 0 && board.retransBytes === 0)) {
    c.rackAt = -1;
    return false;
  }
  let marked = false;
  if (!c.reorderingSeen && board.sackedCount > 0) {
    let segs = 0;
    let bytes = 0;
    for (let i = board.count - 1; i >= 0; i--) {
      const f = board.flagsAt(i);
      if ((f & SegmentFlag.sacked) !== 0) {
        segs++;
        bytes += board.lenAt(i);
      } else if ((f & SegmentFlag.lost) === 0 && (segs >= DUP_THRESH || bytes > (DUP_THRESH - 1) * c.sndMss)) marked = board.markLost(i) || marked;
    }
  }
  if (c.rackXmit < 0) return marked;
  const reo = reorderingWindow(c);
  let wait = 0;
  for (let i = 0; i < board.count; i++) {
    const f = board.flagsAt(i);
    if ((f & SegmentFlag.sacked) !== 0 || (f & (SegmentFlag.lost | SegmentFlag.retransmitted)) === SegmentFlag.lost) continue;
    if (board.orderAt(i) > c.rackOrder) continue; // sent after the latest delivered segment
    const remaining = board.timeAt(i) + c.rackRtt + reo - now;
    if (remaining <= 0) {
      if ((f & SegmentFlag.retransmitted) !== 0) c.stats.lostRetransmissions++;
      marked = board.markLost(i) || marked;
    } else if (remaining > wait) wait = remaining;
  }
  c.rackAt = wait > 0 ? now + wait : -1;
  return marked;
}

/** A loss found with SACK: fast recovery (RFC 6675 §5) with PRR (RFC 6937) pacing what goes out. */
function enterSackRecovery(c: TcpConnection): void {
  c.inRecovery = true;
  c.recover = c.sndMax;
  c.cc.onEnterRecovery(c);
  c.prrDelivered = 0;
  c.prrOut = 0;
  c.recoverFs = Math.max(1, c.flight);
  c.stats.fastRetransmits++;
  c.rttSeq = -1;
  c.retransmitNow = true;
  c.tlpActive = false;
  if (++c.recoveriesSinceDsack >= 16) c.reoWndMult = 1;
}

/** PRR (RFC 6937 §3): cwnd for this ACK, from what it delivered. */
function updatePrr(c: TcpConnection, delivered: number): void {
  c.prrDelivered += delivered;
  const pipe = c.sent.pipe(c.flight);
  let sndcnt: number;
  if (pipe > c.ssthresh) sndcnt = Math.ceil((c.prrDelivered * c.ssthresh) / c.recoverFs) - c.prrOut;
  else sndcnt = Math.min(c.ssthresh - pipe, Math.max(c.prrDelivered - c.prrOut, delivered) + c.sndMss);
  c.cwnd = pipe + Math.max(0, sndcnt);
}

/**
 * Arms the tail loss probe (RFC 8985 §7.2): with SACK and data in flight, 2·SRTT after the
 * latest send or ACK, so that a loss at the tail of a flight is found in about two round trips
 * rather than at the retransmission timeout.
 *
 * Unlike RFC 8985 and Linux, probes also go in recovery and after a timeout, at most
 * TLP_MAX_PROBES while SND.UNA stands still: a lost retransmission with nothing sent after it
 * (a small window in recovery, or the one segment slow start allows after a timeout) gives RACK
 * no later delivery to judge by, and would otherwise wait for the (backed-off) timer; the probe's
 * SACK is that later delivery. Measured against Linux at 5% loss, most timeouts were these.
 */
function armLossProbe(c: TcpConnection, now: number): void {
  if (!c.sackEnabled || c.tlpCount >= TLP_MAX_PROBES || c.srtt < 0 || c.sndUna === c.sndMax || !canSend(c.state)) {
    c.tlpAt = -1;
    return;
  }
  let pto = 2 * c.srtt + TLP_EXTRA_MS;
  if (c.flight <= c.sndMss) pto = Math.max(pto, 1.5 * c.srtt + TLP_WC_DELACK_MS);
  const at = now + pto;
  c.tlpAt = c.rtoAt >= 0 && at > c.rtoAt ? c.rtoAt : at;
}

/**
 * The probe itself (RFC 8985 §7.3): a new segment if the peer's window allows, else the last
 * segment again (or, when that was SACKed, the first one not SACKed).
 */
function sendLossProbe(c: TcpConnection, tx: TcpTransmit, now: number): void {
  const board = c.sent;
  const dataEnd = seqAdd(c.bufSeq, c.sndLen);
  const unsent = Math.max(0, seqDiff(dataEnd, c.sndNxt));
  const room = seqDiff(seqAdd(c.sndUna, c.sndWnd), c.sndNxt);
  let seq = c.sndNxt;
  let retransmitted = false;
  if (unsent > 0 && room > 0) sendNew(c, tx, now, Math.min(unsent, segmentMss(c), room), dataEnd, room);
  else {
    let i = board.count - 1;
    if (i >= 0 && (board.flagsAt(i) & SegmentFlag.sacked) !== 0) for (i = 0; i < board.count && (board.flagsAt(i) & SegmentFlag.sacked) !== 0; i++);
    if (i < 0 || i >= board.count) return;
    seq = board.seqAt(i);
    retransmitRecord(c, tx, i, now);
    retransmitted = true;
  }
  c.stats.lossProbes++;
  c.tlpCount++;
  if (!c.tlpActive) {
    c.tlpActive = true;
    c.tlpDsacked = false;
    c.tlpRetransmitted = false;
    c.tlpSeq = seq;
  }
  if (retransmitted) c.tlpRetransmitted = true;
  c.tlpEndSeq = c.sndMax;
  c.rtoAt = now + c.rto;
}

/** Sends record i of the sent segments again (split to the MSS if it shrank since). */
function retransmitRecord(c: TcpConnection, tx: TcpTransmit, i: number, now: number): void {
  const board = c.sent;
  const len = board.lenAt(i);
  sendRange(c, tx, board.seqAt(i), len);
  board.markRetransmitted(i, now, ++c.xmitOrder);
  if (c.inRecovery) c.prrOut += len;
  c.rttSeq = -1; // Karn: no RTT from a segment sent twice
  if (c.rtoAt < 0) c.rtoAt = now + c.rto;
}

/**
 * RFC 6675 NextSeg rule 3, in SACK recovery when no lost segment waits and no new data can go: a
 * not-yet-lost hole below the highest SACKed segment, only while no reordering was seen (with
 * reordering it is more likely late than lost). True when one was sent. Rule 4 (the rescue
 * retransmission of the last segment) is left out: RACK's timer finds a lost tail in recovery,
 * and the rescue repeats a tail that arrived whenever nothing was lost there.
 */
function retransmitUnlost(c: TcpConnection, tx: TcpTransmit, now: number): boolean {
  const board = c.sent;
  if (c.reorderingSeen || board.sackedCount === 0) return false;
  const high = board.highestSacked(c.sndUna);
  for (let i = 0; i < board.count && seqLt(board.seqAt(i), high); i++) {
    if ((board.flagsAt(i) & (SegmentFlag.sacked | SegmentFlag.lost | SegmentFlag.everRetransmitted)) !== 0) continue;
    retransmitRecord(c, tx, i, now);
    return true;
  }
  return false;
}

/** Sends the data (and the FIN, where it falls) in [seq, seq+len) of what was already sent once, in segments of at most the MSS. */
function sendRange(c: TcpConnection, tx: TcpTransmit, seq: number, len: number): void {
  const dataEnd = seqAdd(c.bufSeq, c.sndLen);
  const end = seqAdd(seq, len);
  const mss = segmentMss(c);
  let at = seq;
  do {
    const dataLen = Math.max(0, Math.min(seqDiff(end, at), mss, seqDiff(dataEnd, at)));
    const next = seqAdd(at, dataLen);
    let flags = TcpFlag.ack;
    if (c.finQueued && next === dataEnd && seqGt(c.sndMax, dataEnd) && seqGt(end, dataEnd)) flags |= TcpFlag.fin;
    if (dataLen === 0 && (flags & TcpFlag.fin) === 0) return;
    if (dataLen > 0) flags |= TcpFlag.psh;
    c.stats.retransmits++;
    c.stats.bytesSent += dataLen;
    send(c, tx, at, flags, dataLen);
    at = (flags & TcpFlag.fin) !== 0 ? seqAdd(next, 1) : next;
  } while (seqLt(at, end));
}

// ---------------------------------------------------------------------------------------------
// Output: what can go now (data within the windows, Nagle, FIN, SYN, pending ACK)

export function tcpOutput(c: TcpConnection, now: number, tx: TcpTransmit): void {
  if (c.state === TcpState.synSent || c.state === TcpState.synReceived) {
    if (c.sndNxt === c.iss) {
      const flags = c.state === TcpState.synSent ? TcpFlag.syn : TcpFlag.syn | TcpFlag.ack;
      if (c.sndMax !== c.iss) c.stats.retransmits++;
      else c.rttStart = now;
      send(c, tx, c.iss, flags, 0);
      c.sndNxt = c.sndMax = seqAdd(c.iss, 1);
      if (c.rtoAt < 0) c.rtoAt = now + c.rto;
    }
    if (c.ackNow && c.state === TcpState.synReceived) sendAck(c, tx);
    return;
  }
  if (canSend(c.state)) {
    const board = c.sent;
    const sentBefore = c.xmitOrder;
    // Fast retransmit: the first lost segment goes whatever the window (RFC 6675 §5 step 4.3).
    if (c.retransmitNow) {
      c.retransmitNow = false;
      const i = board.firstLostUnsent();
      if (i >= 0) retransmitRecord(c, tx, i, now);
    }
    if (c.tlpProbeNow) {
      c.tlpProbeNow = false;
      sendLossProbe(c, tx, now);
    }
    for (;;) {
      const dataEnd = seqAdd(c.bufSeq, c.sndLen);
      const unsent = Math.max(0, seqDiff(dataEnd, c.sndNxt));
      const inFlight = seqDiff(c.sndNxt, c.sndUna);
      // RFC 6675 pipe: what the network holds by our best guess (flight less SACKed and lost,
      // plus retransmissions).
      const pipe = board.pipe(c.flight);
      // NextSeg rule 1: lost segments first (in recovery, after a timeout, NewReno's holes).
      if (board.lostBytes > 0 && pipe < c.cwnd) {
        const i = board.firstLostUnsent();
        if (i >= 0) {
          retransmitRecord(c, tx, i, now);
          continue;
        }
      }
      let usable: number;
      if (c.sackEnabled) usable = Math.min(c.sndWnd - inFlight, c.cwnd - pipe);
      else {
        // RFC 3042 limited transmit: each of the first two duplicate ACKs lets one new segment out
        // beyond cwnd, so that a small window still draws the three dupacks fast retransmit needs.
        const wnd = Math.min(c.sndWnd, c.cwnd + (c.inRecovery ? 0 : Math.min(c.dupAcks, 2) * c.sndMss));
        usable = wnd - inFlight;
      }
      const mss = segmentMss(c);
      const len = Math.min(unsent, mss, Math.max(0, usable));
      if (len > 0) {
        // Nagle (RFC 9293 §3.7.4) and sender-side SWS avoidance: a short segment waits while
        // data is in flight, unless it ends the data and Nagle is off or a FIN follows.
        if (len < mss && inFlight > 0 && !(len === unsent && (c.noDelay || c.finQueued))) break;
        sendNew(c, tx, now, len, dataEnd, usable);
        continue;
      }
      if (c.finQueued && c.sndNxt === dataEnd && (c.state === TcpState.finWait1 || c.state === TcpState.closing || c.state === TcpState.lastAck)) {
        if (seqLt(c.sndNxt, c.sndMax)) c.stats.retransmits++;
        const seq = c.sndNxt;
        send(c, tx, seq, TcpFlag.fin | TcpFlag.ack, 0);
        c.sndNxt = seqAdd(seq, 1);
        if (seqGt(c.sndNxt, c.sndMax)) {
          c.sndMax = c.sndNxt;
          board.push(seq, c.sndNxt, now, ++c.xmitOrder);
        }
        if (c.rtoAt < 0) c.rtoAt = now + c.rto;
        continue;
      }
      // NextSeg rule 3: nothing lost waits and no new data can go.
      if (c.inRecovery && c.sackEnabled && pipe < c.cwnd && retransmitUnlost(c, tx, now)) continue;
      // Zero window with data waiting and nothing in flight: probe (RFC 9293 §3.8.6.1).
      if (unsent > 0 && c.sndWnd === 0 && inFlight === 0 && c.persistAt < 0) c.persistAt = now + persistInterval(c);
      break;
    }
    if (c.xmitOrder !== sentBefore) armLossProbe(c, now);
  }
  if (c.ackNow && (c.state as TcpStateValue) !== TcpState.closed) sendAck(c, tx);
}

/** Sends `len` new bytes at SND.NXT (with the FIN if it ends the data and `usable` leaves room), and records the segment. */
function sendNew(c: TcpConnection, tx: TcpTransmit, now: number, len: number, dataEnd: number, usable: number): void {
  let flags = TcpFlag.ack;
  const unsent = seqDiff(dataEnd, c.sndNxt);
  if (len === unsent) flags |= TcpFlag.psh;
  const seq = c.sndNxt;
  const next = seqAdd(seq, len);
  if (c.finQueued && next === dataEnd && usable > len) flags |= TcpFlag.fin;
  if (seqLt(seq, c.sndMax)) c.stats.retransmits++;
  else if (c.rttSeq < 0 && !c.tsEnabled) {
    c.rttSeq = next;
    c.rttStart = now;
  }
  c.stats.bytesSent += len;
  if (c.inRecovery) c.prrOut += len;
  send(c, tx, seq, flags, len);
  c.sndNxt = (flags & TcpFlag.fin) !== 0 ? seqAdd(next, 1) : next;
  if (seqGt(c.sndNxt, c.sndMax)) {
    c.sndMax = c.sndNxt;
    c.sent.push(seq, c.sndNxt, now, ++c.xmitOrder);
  }
  if (c.rtoAt < 0) c.rtoAt = now + c.rto;
}

function persistInterval(c: TcpConnection): number {
  return Math.min(c.config.maxRtoMs, Math.max(c.config.minRtoMs, c.rto) * 2 ** c.persistBackoff);
}

/**
 * The end of a batch of received segments: the ACK in-order data owes goes now, once for the
 * whole batch (unless a segment sent since, data or ACK, carried it already).
 */
export function tcpBatchEnd(c: TcpConnection, tx: TcpTransmit): void {
  if (c.ackAtBatchEnd && c.state !== TcpState.closed) sendAck(c, tx);
  c.ackAtBatchEnd = false;
}

// ---------------------------------------------------------------------------------------------
// Timers

export function tcpNextDeadline(c: TcpConnection): number {
  let at = -1;
  for (const t of [c.rtoAt, c.delayedAckAt, c.persistAt, c.keepAliveAt, c.timeWaitAt, c.finWait2At]) if (t >= 0 && (at < 0 || t < at)) at = t;
  if (c.tlpAt >= 0 && (at < 0 || c.tlpAt < at)) at = c.tlpAt;
  if (c.rackAt >= 0 && (at < 0 || c.rackAt < at)) at = c.rackAt;
  return at;
}

export function tcpTimer(c: TcpConnection, now: number, tx: TcpTransmit): void {
  if (c.timeWaitAt >= 0 && now >= c.timeWaitAt) return enterClosed(c, undefined);
  if (c.finWait2At >= 0 && now >= c.finWait2At && c.state === TcpState.finWait2) return enterClosed(c, undefined);
  // RACK's reordering timer: segments still undelivered when their reordering window ran out are lost.
  if (c.rackAt >= 0 && now >= c.rackAt) {
    c.rackAt = -1;
    if (detectLosses(c, now) && !c.inRecovery && !c.rtoRecovery) {
      enterSackRecovery(c);
      updatePrr(c, 0);
    }
  }
  // The tail loss probe goes first when due; the retransmission timer is pushed back after it.
  if (c.tlpAt >= 0 && now >= c.tlpAt) {
    c.tlpAt = -1;
    if (c.sackEnabled && c.tlpCount < TLP_MAX_PROBES && c.sndUna !== c.sndMax && canSend(c.state)) {
      c.tlpProbeNow = true;
      c.rtoAt = now + c.rto;
    }
  }
  if (c.rtoAt >= 0 && now >= c.rtoAt) {
    c.stats.timeouts++;
    c.retries++;
    const synState = c.state === TcpState.synSent || c.state === TcpState.synReceived;
    if (c.retries > (synState ? c.config.synRetries : c.config.maxRetries)) return enterClosed(c, "timeout");
    c.rto = Math.min(c.rto * 2, c.config.maxRtoMs);
    if (synState) c.sndNxt = c.iss;
    else {
      c.cc.onTimeout(c);
      c.inRecovery = false;
      c.recover = c.sndMax;
      c.dupAcks = 0;
      c.tlpActive = c.tlpProbeNow = c.retransmitNow = false;
      c.tlpCount = 0;
      c.tlpAt = c.rackAt = -1;
      const board = c.sent;
      // RFC 2018 §8: the receiver may renege on what it SACKed. SACKed segments are kept after
      // the first timeout, as Linux keeps them; a second one in a row forgets them.
      if (c.retries > 1) {
        c.sacked.length = 0;
        board.unsackAll();
      }
      if (board.count > 0 && board.seqAt(0) === c.sndUna) {
        // Every segment not SACKed is lost (RFC 6675 §5.1), retransmissions too; they go again
        // in slow start, before new data, until SND.UNA reaches what was sent (`rtoRecovery`).
        for (let i = 0; i < board.count; i++) board.markLost(i);
        c.rtoRecovery = true;
      } else c.sndNxt = c.sndUna; // no record of what was sent (never expected): go back N
    }
    c.rttSeq = -1;
    c.rtoAt = now + c.rto;
  }
  if (c.delayedAckAt >= 0 && now >= c.delayedAckAt) {
    c.delayedAckAt = -1;
    c.ackNow = true;
  }
  if (c.persistAt >= 0 && now >= c.persistAt) {
    c.persistBackoff++;
    c.persistAt = c.sndWnd === 0 ? now + persistInterval(c) : -1;
    // A probe the receiver must answer with its window: one byte below SND.UNA, as Linux does.
    send(c, tx, seqAdd(c.sndUna, -1), TcpFlag.ack, 0);
  }
  if (c.keepAliveIdleMs > 0 && (c.state === TcpState.established || c.state === TcpState.closeWait)) {
    const due = c.lastReceivedAt + c.keepAliveIdleMs + c.keepAliveSent * c.keepAliveIntervalMs;
    if (now >= due) {
      if (c.keepAliveSent >= c.keepAliveProbes) return enterClosed(c, "timeout");
      c.keepAliveSent++;
      send(c, tx, seqAdd(c.sndUna, -1), TcpFlag.ack, 0);
    }
    c.keepAliveAt = c.lastReceivedAt + c.keepAliveIdleMs + c.keepAliveSent * c.keepAliveIntervalMs;
  }
}

/** Keeps `keepAliveAt` current after traffic (the engine calls it before arming). */
export function tcpRefreshKeepAlive(c: TcpConnection): void {
  c.keepAliveAt =
    c.keepAliveIdleMs > 0 && (c.state === TcpState.established || c.state === TcpState.closeWait)
      ? c.lastReceivedAt + c.keepAliveIdleMs + c.keepAliveSent * c.keepAliveIntervalMs
      : -1;
}

// ---------------------------------------------------------------------------------------------
// Application calls

/** Copies as much of `data[offset..]` as fits into the send buffer; returns the bytes taken. */
export function tcpWrite(c: TcpConnection, data: Uint8Array, offset: number): number {
  const n = Math.min(data.length - offset, c.sendSpace);
  if (n <= 0) return 0;
  if (c.sndLen + n > c.sndBuf.length) growSendBuffer(c, c.sndLen + n);
  const size = c.sndBuf.length;
  let tail = c.sndHead + c.sndLen;
  if (tail >= size) tail -= size;
  const first = Math.min(n, size - tail);
  c.sndBuf.set(data.subarray(offset, offset + first), tail);
  if (first < n) c.sndBuf.set(data.subarray(offset + first, offset + n), 0);
  c.sndLen += n;
  return n;
}

/** Shutdown for writing: the FIN follows the buffered data (ESTABLISHED → FIN-WAIT-1, CLOSE-WAIT → LAST-ACK). */
export function tcpShutdownWrite(c: TcpConnection, now: number): void {
  if (c.finQueued) return;
  switch (c.state) {
    case TcpState.synSent:
      return enterClosed(c, undefined);
    case TcpState.synReceived:
      c.finQueued = true; // sent once established
      return;
    case TcpState.established:
      c.finQueued = true;
      c.state = TcpState.finWait1;
      return;
    case TcpState.closeWait:
      c.finQueued = true;
      c.state = TcpState.lastAck;
      return;
    default:
      void now;
  }
}

/** The application consumed `n` bytes: the window may reopen, and a window update go out. */
export function tcpConsumed(c: TcpConnection, n: number): void {
  c.rcvQueued -= n;
  if (!isSynchronized(c.state)) return;
  const avail = c.rcvBufSize - c.rcvQueued;
  const potential = seqDiff(seqAdd(c.rcvNxt, avail), c.rcvAdvEdge);
  // RFC 9293 §3.8.6.2.2: update once the window grows by min(half the buffer, MSS)... and at
  // least two segments, so a reader that lags then catches up reopens the window at once.
  if (potential < Math.min(c.rcvBufSize >> 1, 2 * c.ourMss)) return;
  // ...but only when the window still offered is at most half the buffer and the update would at
  // least double it (as Linux does): while plenty is offered, the ACKs the data draws carry the
  // window anyway, and a pure window update after every read only doubles the ACKs on the wire.
  const offered = Math.max(0, seqDiff(c.rcvAdvEdge, c.rcvNxt));
  if (2 * offered <= c.rcvBufSize && potential >= offered) c.ackNow = true;
}

/**
 * Path MTU discovery (RFC 8201, RFC 1191): the path carries at most `pathMss` bytes of TCP
 * header options and data per segment (the path MTU minus the IP and TCP headers). Lowers the
 * sender MSS to fit, never below `floor` (the family's minimum: 1220 for IPv6's 1280-byte MTU,
 * 536 for IPv4), and returns whether it changed. What was sent at the old size and lost is
 * retransmitted at the new size when the retransmission timer fires; cwnd, counted in bytes,
 * stays as it is.
 */
export function tcpSetPathMss(c: TcpConnection, pathMss: number, floor: number): boolean {
  const mss = Math.max(floor, pathMss) - (c.tsEnabled ? 12 : 0);
  if (mss >= c.sndMss) return false;
  c.sndMss = Math.max(64, mss);
  return true;
}

/**
 * An ICMP error about this connection's segments (RFC 1122 §4.2.3.9, RFC 5461): a hard one
 * (`error`: "refused" for port/protocol unreachable, "unreachable" otherwise) while SYN-SENT
 * ends the connect; anything else is only recorded, and named if the connection later fails.
 */
export function tcpIcmpError(c: TcpConnection, error: FlowErrorCode, hard: boolean, description: string): void {
  c.icmpError = description;
  if (hard && c.state === TcpState.synSent) enterClosed(c, error);
}

/** Abort: RST to the peer (unless never synchronized) and CLOSED. */
export function tcpAbort(c: TcpConnection, tx: TcpTransmit): void {
  if (c.state === TcpState.closed || c.state === TcpState.timeWait) return enterClosed(c, undefined);
  if (c.state !== TcpState.synSent) tx.segment(c, c.sndNxt, TcpFlag.rst | TcpFlag.ack, 0);
  enterClosed(c, undefined);
}
