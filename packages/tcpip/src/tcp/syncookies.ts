/**
 * SYN cookies (RFC 4987 §3.6), in Linux's scheme (net/ipv4/syncookies.c): when a listener's SYN
 * queue is full, the SYN is answered with a SYN-ACK whose ISN carries everything the handshake
 * needs, and nothing is kept. The peer's ACK (ACK = ISN + 1, SEQ = its ISN + 1) brings it back;
 * if it checks out, the connection is created ESTABLISHED from it.
 *
 * The ISN is, as Linux computes it (COOKIEBITS = 24):
 *
 *     H0(4-tuple) + peer ISN + (count << 24) + ((H1(4-tuple, count, peer ISN) + (mss index << 22)) mod 2^24)
 *
 * with H0 and H1 keyed HalfSipHash-2-4 (isn.ts's secret, distinct inputs) and `count` a coarse
 * clock ticking every COOKIE_PERIOD_MS. A cookie is accepted while `count` is current or one
 * behind (Linux's MAX_SYNCOOKIE_AGE of 2): at most 2 periods, at least 1. The 24 low bits leave
 * an attacker who guesses a 1-in-2^22 chance per try (22 of them must come out 0), and it must
 * also guess the count and the top byte. Two changes from Linux, which adds the index (0-3) to
 * the low bits and hashes only the 4-tuple and count into H1: the index goes in the top 2 of the
 * 24 bits and H1 also hashes the peer's ISN, so that an ACK one off in its ACK or SEQ fails
 * rather than decoding as a neighbouring MSS index.
 *
 * The MSS is rounded down to one of four table values (Linux's msstab). Window scaling and SACK
 * cannot fit: they go in the low 6 bits of our SYN-ACK's TSval when the peer sent timestamps (it
 * echoes them in the ACK's TSecr), as Linux's cookie_init_timestamp does: bits 0-3 the peer's
 * window scale (15: none), bit 4 SACK permitted, bit 5 ECN (always 0: this stack has no ECN).
 * Without timestamps the SYN-ACK offers only the MSS, as Linux does.
 */
import type { IsnGenerator } from "./isn.ts";
import { seqAdd, seqGt } from "./seq.ts";
import { advertiseWindow, tcpAccept, tcpInput, type TcpConnection, type TcpSegmentIn, type TcpTransmit } from "./connection.ts";
import type { TcpOptions } from "./wire.ts";

/** The coarse clock of cookies (Linux: one minute). */
export const COOKIE_PERIOD_MS = 60_000;
/** Counts a cookie is valid for: the current one and the one before. */
const MAX_COOKIE_AGE = 2;
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** The MSS index sits in the top 2 of the 24 bits; the 22 below must come out 0. */
const INDEX_SHIFT = 22;
const INDEX_CHECK_MASK = (1 << INDEX_SHIFT) - 1;

/** Linux's msstab (IPv4) and msstab (IPv6): common MSS values, the peer's rounded down to one. */
const MSS_TABLE_V4 = [536, 1300, 1440, 1460] as const;
const MSS_TABLE_V6 = [1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60] as const;

/** TSval low bits (Linux TSBITS): window scale (TS_OPT_WSCALE_MASK), SACK, ECN. */
const TS_BITS = 6;
const TS_MASK = (1 << TS_BITS) - 1;
const TS_OPT_WSCALE_MASK = 0xf;
const TS_OPT_SACK = 1 << 4;

/** Domain separation from the ISN and timestamp-offset hashes (isn.ts), which hash 3 words. */
const TAG_H0 = 0x636f6f30; // "coo0"
const TAG_H1 = 0x636f6f31; // "coo1"

/** The index of the largest table MSS not above the peer's `mss` (-1: none announced, 536 assumed). */
export function cookieMssIndex(family: 4 | 6, mss: number): number {
  const table = family === 4 ? MSS_TABLE_V4 : MSS_TABLE_V6;
  const m = mss < 0 ? 536 : mss;
  for (let i = table.length - 1; i > 0; i--) if (m >= table[i]!) return i;
  return 0;
}

/** The MSS an index stands for. */
export function cookieMss(family: 4 | 6, index: number): number {
  return (family === 4 ? MSS_TABLE_V4 : MSS_TABLE_V6)[index]!;
}

/** What the TSval's low bits carry: the peer's window scale (-1: none) and SACK permitted. */
export function encodeCookieTsOptions(windowScale: number, sackPermitted: boolean): number {
  return (windowScale >= 0 ? Math.min(windowScale, 14) : TS_OPT_WSCALE_MASK) | (sackPermitted ? TS_OPT_SACK : 0);
}

/**
 * Our SYN-ACK's TSval: the connection's timestamp clock `tsNow` with the options in its low bits,
 * never ahead of the clock (Linux subtracts one step when it would be), so that the connection's
 * later TSvals never go back (PAWS at the peer).
 */
export function cookieTsVal(tsNow: number, options: number): number {
  let ts = ((tsNow & ~TS_MASK) | options) >>> 0;
  if (seqGt(ts, tsNow)) ts = (ts - (TS_MASK + 1)) >>> 0;
  return ts;
}

/** The 4-tuple's addresses as hash words: an IPv4 address is its number, an IPv6 one (its 32-digit hex key) four words. */
function putAddress(words: Uint32Array, at: number, key: number | string): number {
  if (typeof key === "number") {
    words[at] = key >>> 0;
    return at + 1;
  }
  for (let w = 0; w < key.length; w += 8) {
    let v = 0;
    for (let i = w; i < w + 8 && i < key.length; i++) {
      const c = key.charCodeAt(i);
      v = ((v << 4) | (c <= 57 ? c - 48 : (c | 0x20) - 87)) >>> 0;
    }
    words[at++] = v;
  }
  return at;
}

/** Makes and checks cookies for one engine. Not reentrant: `tuple` sets the 4-tuple the next calls use. */
export class SynCookies {
  /** Tag, ports, count, peer ISN, then two addresses of 1 or 4 words. */
  private readonly words = new Uint32Array(12);
  private length = 0;

  constructor(
    private readonly isns: IsnGenerator,
    private readonly family: 4 | 6,
  ) {}

  /** The 4-tuple of the next `make` or `check`: addresses as the layer's Map keys (ip-layer.ts `key`). */
  tuple(localKey: number | string, localPort: number, remoteKey: number | string, remotePort: number): void {
    const w = this.words;
    w[1] = (localPort << 16) | remotePort;
    let at = putAddress(w, 4, localKey);
    at = putAddress(w, at, remoteKey);
    this.length = at;
  }

  private hash(tag: number, count: number, peerIsn: number): number {
    const w = this.words;
    w[0] = tag;
    w[2] = count;
    w[3] = peerIsn;
    return this.isns.keyed(w, this.length * 4);
  }

  private static count(nowMs: number): number {
    return Math.floor(nowMs / COOKIE_PERIOD_MS);
  }

  /** The ISN for a SYN with sequence number `peerIsn` and the peer's MSS rounded to `mssIndex`. */
  make(peerIsn: number, nowMs: number, mssIndex: number): number {
    const count = SynCookies.count(nowMs);
    return (this.hash(TAG_H0, 0, 0) + peerIsn + ((count << COOKIE_BITS) >>> 0) + ((this.hash(TAG_H1, count, peerIsn) + (mssIndex << INDEX_SHIFT)) & COOKIE_MASK)) >>> 0;
  }

  /** The MSS index `cookie` (our ISN, the ACK's number - 1) carries for `peerIsn` (its SEQ - 1), or -1 when it is not ours or too old. */
  check(cookie: number, peerIsn: number, nowMs: number): number {
    const count = SynCookies.count(nowMs);
    const c = (cookie - this.hash(TAG_H0, 0, 0) - peerIsn) >>> 0;
    const age = (count - (c >>> COOKIE_BITS)) & (0xffffffff >>> COOKIE_BITS);
    if (age >= MAX_COOKIE_AGE) return -1;
    const data = (c - this.hash(TAG_H1, count - age, peerIsn)) & COOKIE_MASK;
    return (data & INDEX_CHECK_MASK) === 0 ? data >>> INDEX_SHIFT : -1;
  }
}

/** The peer's SYN options a valid cookie ACK stands for, or undefined when its TSecr's bits are not ones we can have sent. */
export function cookieSynOptions(family: 4 | 6, mssIndex: number, ack: TcpOptions, config: { timestamps: boolean; sack: boolean; windowScaling: boolean }, into: TcpOptions): TcpOptions | undefined {
  into.mss = cookieMss(family, mssIndex);
  into.windowScale = -1;
  into.sackPermitted = false;
  into.timestamps = false;
  into.sackCount = 0;
  if (!ack.timestamps) return into; // Linux: options cleared; the connection has none of them
  if (!config.timestamps) return undefined;
  const options = ack.tsEcr & TS_MASK;
  if ((options & ~(TS_OPT_WSCALE_MASK | TS_OPT_SACK)) !== 0) return undefined; // ECN: never offered
  into.timestamps = true;
  into.tsVal = ack.tsVal;
  into.tsEcr = 0;
  if ((options & TS_OPT_SACK) !== 0) {
    if (!config.sack) return undefined;
    into.sackPermitted = true;
  }
  const ws = options & TS_OPT_WSCALE_MASK;
  if (ws !== TS_OPT_WSCALE_MASK) {
    if (!config.windowScaling || ws > 14) return undefined;
    into.windowScale = ws;
  }
  return into;
}

/**
 * Completes a handshake from a valid cookie ACK: `c` (new, CLOSED) becomes what a SYN-RECEIVED
 * connection would have been after sending the cookie SYN-ACK (`syn` is the peer's SYN as the
 * cookie recalls it), then takes the ACK `seg` as one, which makes it ESTABLISHED (and takes any
 * data or FIN the segment carries).
 */
export function tcpAcceptCookie(c: TcpConnection, now: number, seg: TcpSegmentIn, synOptions: TcpOptions, ourMss: number, tx: TcpTransmit): void {
  const iss = seqAdd(seg.ack, -1);
  const syn: TcpSegmentIn = { seq: seqAdd(seg.seq, -1), ack: 0, flags: 0, window: seg.window, buffer: seg.buffer, offset: seg.offset, length: 0, options: synOptions };
  tcpAccept(c, now, syn, iss, ourMss);
  // As if our SYN-ACK had gone out: its SYN consumed ISS, and its window (unscaled, with an empty
  // receive queue, as the stateless SYN-ACK announced it) set the right edge.
  c.sndNxt = c.sndMax = seqAdd(iss, 1);
  advertiseWindow(c, true);
  tcpInput(c, now, seg, tx);
}

/**
 * The window field of a cookie SYN-ACK: what `advertiseWindow` gives a new connection (empty
 * receive queue, SYN: unscaled).
 */
export function cookieSynAckWindow(receiveBufferSize: number): number {
  return Math.min(receiveBufferSize, 0xffff);
}

