/**
 * The sender's per-segment record (RFC 6675 scoreboard, RFC 8985 RACK): one entry per segment
 * sent, covering [SND.UNA, SND.MAX) without gaps, each with its sequence range, the time of its
 * latest transmission and what is known of it (SACKed, deemed lost, retransmitted).
 *
 * A ring of parallel typed arrays, so a bulk transfer records and releases segments without
 * allocating: it grows (doubling) only when more segments are in flight than ever before.
 * It also keeps the byte counts RFC 6675's `pipe` needs, updated as flags change, so that
 * pipe = flight - sacked - lost + retransmitted is O(1), as Linux counts packets_out,
 * sacked_out, lost_out and retrans_out.
 */
import { seqDiff, seqGe, seqGt, seqLe, seqLt } from "./seq.ts";

/** Flags of one record. */
export const SegmentFlag = {
  /** Covered by the peer's SACK blocks. */
  sacked: 1,
  /** Deemed lost (RFC 6675 IsLost, RACK, or the retransmission timer), and not SACKed since. */
  lost: 2,
  /** Retransmitted, and that retransmission still counts in the pipe (not SACKed, ACKed or deemed lost since). */
  retransmitted: 4,
  /** Sent more than once, ever (RACK and Karn: its ACK may be for either transmission). */
  everRetransmitted: 8,
} as const;

const INITIAL_CAPACITY = 64;
const EMPTY_F64 = new Float64Array(0);
const EMPTY_U8 = new Uint8Array(0);

export class SentSegments {
  // Allocated by the first segment sent: a SYN queue of embryos, or a connection that only
  // receives, costs nothing here.
  private seqs = EMPTY_F64;
  private ends = EMPTY_F64;
  private times = EMPTY_F64;
  /** A transmission counter per record: which of two was sent later, even within one clock tick. */
  private orders = EMPTY_F64;
  private flagBits = EMPTY_U8;
  private head = 0;
  /** Records held. */
  count = 0;
  /** Bytes of records SACKed. */
  sackedBytes = 0;
  /** Records SACKed. */
  sackedCount = 0;
  /** Bytes of records deemed lost (and not SACKed). */
  lostBytes = 0;
  /** Bytes of records whose retransmission still counts in flight. */
  retransBytes = 0;
  /** Index (0-based from the oldest) at or after which the first lost, not yet retransmitted record lies. */
  lostHint = 0;

  private slot(i: number): number {
    return (this.head + i) & (this.seqs.length - 1);
  }

  seqAt(i: number): number {
    return this.seqs[this.slot(i)]!;
  }
  endAt(i: number): number {
    return this.ends[this.slot(i)]!;
  }
  timeAt(i: number): number {
    return this.times[this.slot(i)]!;
  }
  orderAt(i: number): number {
    return this.orders[this.slot(i)]!;
  }
  flagsAt(i: number): number {
    return this.flagBits[this.slot(i)]!;
  }
  lenAt(i: number): number {
    const s = this.slot(i);
    return seqDiff(this.ends[s]!, this.seqs[s]!);
  }

  /** Forgets every record (the connection closed, or starts over). */
  clear(): void {
    this.head = this.count = 0;
    this.sackedBytes = this.sackedCount = this.lostBytes = this.retransBytes = this.lostHint = 0;
  }

  /**
   * Records a first transmission of [seq, end) at `now` (the `order`-th transmission); `seq`
   * must be the end of the last record. Each segment is its own record: SACK blocks cover whole
   * segments.
   */
  push(seq: number, end: number, now: number, order: number): void {
    if (this.count > 0 && this.ends[this.slot(this.count - 1)] !== seq) this.clear(); // never in a correct connection: start over
    if (this.count === this.seqs.length) this.grow();
    const s = this.slot(this.count++);
    this.seqs[s] = seq;
    this.ends[s] = end;
    this.times[s] = now;
    this.orders[s] = order;
    this.flagBits[s] = 0;
  }

  private grow(): void {
    const n = Math.max(INITIAL_CAPACITY, this.seqs.length * 2);
    const seqs = new Float64Array(n);
    const ends = new Float64Array(n);
    const times = new Float64Array(n);
    const orders = new Float64Array(n);
    const flags = new Uint8Array(n);
    for (let i = 0; i < this.count; i++) {
      const s = this.slot(i);
      seqs[i] = this.seqs[s]!;
      ends[i] = this.ends[s]!;
      times[i] = this.times[s]!;
      orders[i] = this.orders[s]!;
      flags[i] = this.flagBits[s]!;
    }
    this.seqs = seqs;
    this.ends = ends;
    this.times = times;
    this.orders = orders;
    this.flagBits = flags;
    this.head = 0;
  }

  /** Takes `bytes` of a record's share out of the counters, per its flags `f`. */
  private uncount(f: number, bytes: number): void {
    if ((f & SegmentFlag.sacked) !== 0) this.sackedBytes -= bytes;
    if ((f & SegmentFlag.lost) !== 0) this.lostBytes -= bytes;
    if ((f & SegmentFlag.retransmitted) !== 0) this.retransBytes -= bytes;
  }

  /**
   * The cumulative ACK moved to `ack`: drops the records it covers (a record it covers in part
   * is trimmed). Calls `delivered(i)` first for each record delivered by this ACK (not SACKed
   * before), for RACK.
   */
  acknowledge(ack: number, delivered: (board: SentSegments, i: number) => void): void {
    while (this.count > 0) {
      const s = this.head;
      const end = this.ends[s]!;
      const f = this.flagBits[s]!;
      if (seqLe(end, ack)) {
        if ((f & SegmentFlag.sacked) === 0) delivered(this, 0);
        else this.sackedCount--;
        this.uncount(f, seqDiff(end, this.seqs[s]!));
        this.head = (this.head + 1) & (this.seqs.length - 1);
        this.count--;
        if (this.lostHint > 0) this.lostHint--;
        continue;
      }
      const seq = this.seqs[s]!;
      if (seqGt(ack, seq)) {
        this.uncount(f, seqDiff(ack, seq));
        this.seqs[s] = ack;
      }
      break;
    }
    if (this.count === 0) this.head = 0;
  }

  /** The index of the first record whose end lies beyond `seq` (count if none). */
  indexAfter(seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(this.endAt(mid), seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Marks SACKed the records lying wholly inside [l, r) among those overlapping [from, to) (the
   * part of a block not SACKed before). Calls `delivered(i)` for each newly SACKed record.
   */
  markSacked(from: number, to: number, l: number, r: number, delivered: (board: SentSegments, i: number) => void): void {
    for (let i = this.indexAfter(from); i < this.count; i++) {
      const s = this.slot(i);
      const seq = this.seqs[s]!;
      if (seqGe(seq, to)) break;
      const f = this.flagBits[s]!;
      if ((f & SegmentFlag.sacked) !== 0 || seqLt(seq, l) || seqGt(this.ends[s]!, r)) continue;
      delivered(this, i);
      const len = seqDiff(this.ends[s]!, seq);
      this.uncount(f, len);
      this.flagBits[s] = SegmentFlag.sacked | (f & SegmentFlag.everRetransmitted);
      this.sackedBytes += len;
      this.sackedCount++;
    }
  }

  /** Un-SACKs every record (the receiver may have reneged, RFC 2018 §8). */
  unsackAll(): void {
    for (let i = 0; i < this.count; i++) {
      const s = this.slot(i);
      this.flagBits[s]! &= ~SegmentFlag.sacked;
    }
    this.sackedBytes = this.sackedCount = 0;
  }

  /**
   * Deems record i lost (if not SACKed, and not lost and unretransmitted already): a
   * retransmission of it in flight is lost too and no longer counts. Returns whether it changed.
   */
  markLost(i: number): boolean {
    const s = this.slot(i);
    const f = this.flagBits[s]!;
    if ((f & SegmentFlag.sacked) !== 0) return false;
    if ((f & SegmentFlag.lost) !== 0 && (f & SegmentFlag.retransmitted) === 0) return false;
    const len = seqDiff(this.ends[s]!, this.seqs[s]!);
    if ((f & SegmentFlag.retransmitted) !== 0) this.retransBytes -= len;
    if ((f & SegmentFlag.lost) === 0) this.lostBytes += len;
    this.flagBits[s] = (f & ~SegmentFlag.retransmitted) | SegmentFlag.lost;
    if (i < this.lostHint) this.lostHint = i;
    return true;
  }

  /**
   * Record i was retransmitted at `now`. The retransmission counts in the pipe (RFC 6675: once
   * more, on top of the original when that is not deemed lost) until it is SACKed, acknowledged
   * or deemed lost.
   */
  markRetransmitted(i: number, now: number, order: number): void {
    const s = this.slot(i);
    const f = this.flagBits[s]!;
    // A SACKed segment sent again (never by the connection) is not in flight: the peer holds it.
    const inFlight = (f & SegmentFlag.sacked) === 0 ? SegmentFlag.retransmitted : 0;
    if ((f & SegmentFlag.retransmitted) === 0 && inFlight !== 0) this.retransBytes += seqDiff(this.ends[s]!, this.seqs[s]!);
    this.flagBits[s] = f | SegmentFlag.everRetransmitted | inFlight;
    this.times[s] = now;
    this.orders[s] = order;
  }

  /** The first record deemed lost and not retransmitted since (RFC 6675 NextSeg rule 1), or -1. */
  firstLostUnsent(): number {
    if (this.lostBytes === 0) return -1;
    for (let i = this.lostHint; i < this.count; i++) {
      const f = this.flagsAt(i);
      if ((f & (SegmentFlag.lost | SegmentFlag.retransmitted)) === SegmentFlag.lost) {
        this.lostHint = i;
        return i;
      }
    }
    this.lostHint = this.count;
    return -1;
  }

  /** The sequence number after the highest SACKed byte, or `fallback` when nothing is SACKed. */
  highestSacked(fallback: number): number {
    if (this.sackedCount === 0) return fallback;
    for (let i = this.count - 1; i >= 0; i--) if ((this.flagsAt(i) & SegmentFlag.sacked) !== 0) return this.endAt(i);
    return fallback;
  }

  /** Bytes counted in flight per RFC 6675 `pipe`, given flight = SND.MAX - SND.UNA. */
  pipe(flight: number): number {
    return Math.max(0, flight - this.sackedBytes - this.lostBytes + this.retransBytes);
  }
}

