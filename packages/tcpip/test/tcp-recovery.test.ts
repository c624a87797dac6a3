/**
 * Loss recovery: the RFC 6675 SACK scoreboard with PRR, RACK (RFC 8985 §6) and the tail loss
 * probe (RFC 8985 §7). Scenario tests drive two TcpConnections in virtual time over a wire with a
 * fixed one-way delay, where the test decides which transmissions are lost or held back; a
 * throughput test runs two direct stacks over the switch with the link-fault wrapper.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  DEFAULT_TCP_CONFIG,
  TcpConnection,
  type TcpSegmentIn,
  TcpState,
  type TcpTransmit,
  advertiseWindow,
  copySendData,
  fillSegmentOptions,
  fillSynOptions,
  tcpAccept,
  tcpConsumed,
  tcpInput,
  tcpNextDeadline,
  tcpOpen,
  tcpOutput,
  tcpShutdownWrite,
  tcpTimer,
  tcpWrite,
} from "../src/tcp/connection.ts";
import { newReno } from "../src/tcp/congestion.ts";
import { seqDiff } from "../src/tcp/seq.ts";
import { TcpFlag, type TcpOptions, emptyTcpOptions } from "../src/tcp/wire.ts";
import { SegmentFlag, SentSegments } from "../src/tcp/sent-segments.ts";
import { exchangeBothWays, pair, pattern } from "./support/tcp.ts";

const ISS_A = 0xffff0000; // near the wrap, so the arithmetic is modular
const ISS_B = 0x01020304;
const MSS = 1448; // 1460 less the timestamp option

interface Wire {
  from: "A" | "B";
  seq: number;
  ack: number;
  flags: number;
  window: number;
  payload: Uint8Array;
  options: TcpOptions;
  /** How many times this data (from, seq) was sent before: 0 for the original. */
  nth: number;
  /** The sequence number relative to the sender's first data byte. */
  rel: number;
  sentAt: number;
}

/**
 * A (the sender) and B (the receiver) joined by a wire with `oneWayMs` delay each way. `fate`
 * decides each transmission's extra delay: -1 loses it. B's application reads everything at once.
 */
function wire(oneWayMs: number, fate: (w: Wire) => number = () => 0) {
  const cfg = { ...DEFAULT_TCP_CONFIG, sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 };
  const a = new TcpConnection(cfg, newReno, 1, 40000, 2, 80);
  const b = new TcpConnection(cfg, newReno, 2, 80, 1, 40000);
  b.tsOffset = 5_000_000;
  const queue: Array<{ at: number; n: number; w: Wire }> = [];
  const sent = new Map<string, number>();
  let order = 0;
  const net = {
    a,
    b,
    now: 1000,
    /** Every data transmission from A: [seq relative to the first data byte, nth, time]. */
    dataLog: [] as Array<{ seq: number; nth: number; at: number; lost: boolean }>,
    received: [] as Uint8Array[],
    tx: undefined as unknown as TcpTransmit,
    /** Moves time to the next delivery or timer and handles it; false when nothing is pending. */
    step(): boolean {
      let at = queue.length > 0 ? queue[0]!.at : -1;
      for (const c of [a, b]) {
        const d = tcpNextDeadline(c);
        if (d >= 0 && (at < 0 || d < at)) at = d;
      }
      if (at < 0) return false;
      net.now = Math.max(net.now, at);
      while (queue.length > 0 && queue[0]!.at <= net.now) {
        const { w } = queue.shift()!;
        const to = w.from === "A" ? b : a;
        const seg: TcpSegmentIn = { seq: w.seq, ack: w.ack, flags: w.flags, window: w.window, buffer: w.payload, offset: 0, length: w.payload.length, options: w.options };
        tcpInput(to, net.now, seg, net.tx);
        net.drain();
        if (to.state !== TcpState.closed) tcpOutput(to, net.now, net.tx);
      }
      for (const c of [a, b]) {
        const d = tcpNextDeadline(c);
        if (d >= 0 && d <= net.now) {
          tcpTimer(c, net.now, net.tx);
          if (c.state !== TcpState.closed) tcpOutput(c, net.now, net.tx);
        }
      }
      return true;
    },
    /** B's application reads what arrived. */
    drain(): void {
      while (b.rcvQueue.length > 0) {
        const chunk = b.rcvQueue.shift()!;
        net.received.push(chunk.slice());
        tcpConsumed(b, chunk.length);
      }
    },
    /** Steps until `done` (or throws after `limitMs` of virtual time). */
    runUntil(done: () => boolean, limitMs = 120_000): void {
      const end = net.now + limitMs;
      while (!done()) {
        assert.ok(net.now < end, "the exchange does not finish in time");
        assert.ok(net.step(), "nothing is pending but the exchange is not done");
      }
    },
    receivedBytes(): number {
      return net.received.reduce((n, c) => n + c.length, 0);
    },
  };
  net.tx = {
    segment(c, seq, flags, len) {
      const from = c === a ? "A" : "B";
      const syn = (flags & TcpFlag.syn) !== 0;
      const options = emptyTcpOptions();
      if ((flags & TcpFlag.rst) === 0) {
        if (syn) fillSynOptions(c, net.now, options);
        else fillSegmentOptions(c, net.now, flags, options);
      }
      const payload = new Uint8Array(len);
      if (len > 0) copySendData(c, seq, len, payload, 0);
      const key = `${from}:${seq}`;
      const nth = len > 0 || (flags & TcpFlag.fin) !== 0 ? (sent.get(key) ?? 0) : 0;
      if (len > 0 || (flags & TcpFlag.fin) !== 0) sent.set(key, nth + 1);
      const w: Wire = {
        from,
        seq,
        ack: (flags & TcpFlag.ack) !== 0 ? c.rcvNxt : 0,
        flags,
        window: advertiseWindow(c, syn),
        payload,
        options: { ...options, sackBlocks: options.sackBlocks.slice() },
        nth,
        rel: seqDiff(seq, c.iss + 1),
        sentAt: net.now,
      };
      const extra = syn ? 0 : fate(w);
      if (from === "A" && (len > 0 || (flags & TcpFlag.fin) !== 0)) net.dataLog.push({ seq: w.rel, nth, at: net.now, lost: extra < 0 });
      if (extra < 0) return;
      const item = { at: net.now + oneWayMs + extra, n: order++, w };
      let i = queue.length;
      while (i > 0 && (queue[i - 1]!.at > item.at || (queue[i - 1]!.at === item.at && queue[i - 1]!.n > item.n))) i--;
      queue.splice(i, 0, item);
    },
  };
  // The handshake (A connects, B accepts A's SYN as a listener would).
  tcpOpen(a, net.now, ISS_A, 1460);
  tcpOutput(a, net.now, net.tx);
  const synItem = queue.shift()!;
  net.now = synItem.at;
  const s = synItem.w;
  tcpAccept(b, net.now, { seq: s.seq, ack: 0, flags: s.flags, window: s.window, buffer: s.payload, offset: 0, length: 0, options: s.options }, ISS_B, 1460);
  tcpOutput(b, net.now, net.tx);
  net.runUntil(() => a.state === TcpState.established && b.state === TcpState.established);
  return net;
}

type Net = ReturnType<typeof wire>;

/** A's application writes `n` bytes (a counting pattern), then closes for writing; B reads them. */
function send(net: Net, n: number): Uint8Array {
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 7 + (i >>> 11)) & 0xff;
  let off = 0;
  const write = (): void => {
    if (off < n) off += tcpWrite(net.a, data, off);
    if (off === n && !net.a.finQueued) tcpShutdownWrite(net.a, net.now);
    tcpOutput(net.a, net.now, net.tx);
  };
  write();
  const base = net.receivedBytes();
  net.runUntil(() => {
    write();
    return net.receivedBytes() - base === n && net.a.sndUna === net.a.sndMax;
  });
  return data;
}

function assertReceived(net: Net, data: Uint8Array): void {
  const got = Buffer.concat(net.received);
  assert.equal(got.length, data.length, "every byte arrived");
  assert.ok(got.equals(data), "in order and intact");
}

/** The data transmissions of the segment at `seq` (relative to the first data byte). */
const sendsOf = (net: Net, seq: number) => net.dataLog.filter((d) => d.seq === seq);

test("a lost retransmission is found by RACK and sent again without waiting for the retransmission timer", () => {
  const hole = 40 * MSS;
  const net = wire(10, (w) => (w.from === "A" && w.rel === hole && w.nth <= 1 ? -1 : 0));
  const data = send(net, 400 * MSS);
  assertReceived(net, data);
  const sends = sendsOf(net, hole);
  assert.equal(sends.length, 3, "the original, the lost retransmission, and the one that arrived");
  assert.equal(net.a.stats.timeouts, 0, "no retransmission timeout");
  assert.equal(net.a.stats.lostRetransmissions, 1, "RACK deemed the retransmission lost");
  // RACK waits about one round trip (20 ms) plus the reordering window after the retransmission;
  // the timer would have waited at least its 200 ms minimum.
  assert.ok(sends[2]!.at - sends[1]!.at < 200, `sent again ${sends[2]!.at - sends[1]!.at} ms after the lost retransmission`);
});

test("a tail loss is repaired by the loss probe, not the retransmission timer", () => {
  const n = 8 * MSS; // within the initial window: one flight, nothing sent after it
  const lastSeq = 7 * MSS;
  const net = wire(10, (w) => (w.from === "A" && w.rel === lastSeq && w.nth === 0 ? -1 : 0));
  const data = send(net, n);
  assertReceived(net, data);
  assert.equal(net.a.stats.timeouts, 0, "no retransmission timeout");
  assert.equal(net.a.stats.lossProbes, 1, "one tail loss probe");
  const sends = sendsOf(net, lastSeq);
  assert.equal(sends.length, 2);
  assert.ok(sends[1]!.at - sends[0]!.at < net.a.config.minRtoMs, `probed ${sends[1]!.at - sends[0]!.at} ms after the loss (PTO about 2·SRTT)`);
});

test("the loss probe also uncovers losses before the tail: RACK repairs them in the same episode", () => {
  const lost = new Set([5 * MSS, 6 * MSS, 7 * MSS]);
  const net = wire(10, (w) => (w.from === "A" && lost.has(w.rel) && w.nth === 0 ? -1 : 0));
  const data = send(net, 8 * MSS);
  assertReceived(net, data);
  assert.equal(net.a.stats.timeouts, 0, "no retransmission timeout");
  assert.equal(net.a.stats.lossProbes, 1);
  for (const seq of lost) assert.equal(sendsOf(net, seq).length, 2, `segment at ${seq} retransmitted once`);
});

test("several holes in one window are all retransmitted within one round trip (SACK scoreboard, not one hole per RTT)", () => {
  // After 300 clean segments the window is wide; then five segments of one flight are lost.
  const holes = [310, 318, 326, 334, 342].map((i) => i * MSS);
  const net = wire(10, (w) => (w.from === "A" && holes.includes(w.rel) && w.nth === 0 ? -1 : 0));
  const data = send(net, 600 * MSS);
  assertReceived(net, data);
  assert.equal(net.a.stats.timeouts, 0);
  assert.equal(net.a.stats.fastRetransmits, 1, "one recovery episode");
  const times = holes.map((seq) => {
    const s = sendsOf(net, seq);
    assert.equal(s.length, 2, `the hole at ${seq / MSS} was retransmitted exactly once`);
    return s[1]!.at;
  });
  const rtt = 20;
  assert.ok(Math.max(...times) - Math.min(...times) < rtt, `the five retransmissions went out within ${Math.max(...times) - Math.min(...times)} ms`);
  assert.equal(net.a.stats.retransmits, holes.length, "nothing but the holes was retransmitted");
});

test("reordering within the reordering window causes no spurious retransmissions once seen", () => {
  // Every 25th segment is held back by 3 ms on a path with a 20 ms round trip: RACK's window
  // (min_RTT/4 = 5 ms) covers it once reordering was seen.
  const net = wire(10, (w) => (w.from === "A" && w.payload.length > 0 && w.nth === 0 && (w.rel / MSS) % 25 === 24 ? 3 : 0));
  const data = send(net, 1000 * MSS);
  assertReceived(net, data);
  assert.ok(net.a.reorderingSeen, "the sender saw the reordering");
  const held = net.dataLog.filter((d) => d.nth === 0 && (d.seq / MSS) % 25 === 24).length;
  assert.ok(held >= 39, `${held} segments were held back`);
  // At most the first, before any reordering was seen, may be retransmitted.
  assert.ok(net.a.stats.retransmits <= 1, `${net.a.stats.retransmits} retransmissions for ${held} late segments`);
  assert.equal(net.a.stats.timeouts, 0);
});

test("without SACK the peer gets NewReno: one hole per partial ACK, and the transfer completes", () => {
  const holes = [100, 104].map((i) => i * MSS);
  const net = wire(10, (w) => (w.from === "A" && holes.includes(w.rel) && w.nth === 0 ? -1 : 0));
  // Turn SACK off after the handshake negotiated it: the sender behaves as with a non-SACK peer.
  net.a.sackEnabled = net.b.sackEnabled = false;
  const data = send(net, 300 * MSS);
  assertReceived(net, data);
  for (const seq of holes) assert.equal(sendsOf(net, seq).length, 2);
  assert.equal(net.a.stats.fastRetransmits, 1);
  assert.equal(net.a.stats.lossProbes, 0, "no loss probes without SACK");
});

test("the segment record's byte counts (RFC 6675 pipe) always match its flags, whatever happens to the segments", () => {
  type Op = { kind: "send"; len: number } | { kind: "ack"; upTo: number } | { kind: "sack"; from: number; n: number } | { kind: "lose"; at: number } | { kind: "resend"; at: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("send" as const), len: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ kind: fc.constant("ack" as const), upTo: fc.integer({ min: 0, max: 20_000 }) }),
    fc.record({ kind: fc.constant("sack" as const), from: fc.integer({ min: 0, max: 40 }), n: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ kind: fc.constant("lose" as const), at: fc.integer({ min: 0, max: 200 }) }),
    fc.record({ kind: fc.constant("resend" as const), at: fc.integer({ min: 0, max: 200 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const board = new SentSegments();
      const base = 0xfffff000; // wraps
      let una = base;
      let max = base;
      let order = 0;
      for (const o of ops) {
        if (o.kind === "send") {
          const end = (max + o.len) >>> 0;
          board.push(max, end, 0, ++order);
          max = end;
        } else if (o.kind === "ack") {
          const ack = (una + Math.min(o.upTo, seqDiff(max, una))) >>> 0;
          board.acknowledge(ack, () => {});
          una = ack;
        } else if (o.kind === "sack" && board.count > 0) {
          const i = Math.min(o.from, board.count - 1);
          const j = Math.min(i + o.n, board.count) - 1;
          board.markSacked(board.seqAt(i), board.endAt(j), board.seqAt(i), board.endAt(j), () => {});
        } else if (o.kind === "lose" && board.count > 0) board.markLost(o.at % board.count);
        else if (o.kind === "resend" && board.count > 0) board.markRetransmitted(o.at % board.count, 0, ++order);
        // The invariants: records tile [una, max); the counters are the sums their flags say.
        let sacked = 0;
        let lost = 0;
        let retrans = 0;
        let sackedCount = 0;
        let at = una;
        for (let i = 0; i < board.count; i++) {
          assert.equal(board.seqAt(i), at);
          at = board.endAt(i);
          const f = board.flagsAt(i);
          const len = board.lenAt(i);
          if ((f & SegmentFlag.sacked) !== 0) {
            sacked += len;
            sackedCount++;
            assert.equal(f & (SegmentFlag.lost | SegmentFlag.retransmitted), 0, "a SACKed segment is neither lost nor in flight");
          }
          if ((f & SegmentFlag.lost) !== 0) lost += len;
          if ((f & SegmentFlag.retransmitted) !== 0) retrans += len;
        }
        assert.equal(at, board.count > 0 ? max : at);
        assert.deepEqual([board.sackedBytes, board.sackedCount, board.lostBytes, board.retransBytes], [sacked, sackedCount, lost, retrans]);
        const flight = seqDiff(max, una);
        assert.equal(board.pipe(flight), Math.max(0, flight - sacked - lost + retrans));
        const first = board.firstLostUnsent();
        if (first >= 0) assert.equal(board.flagsAt(first) & (SegmentFlag.lost | SegmentFlag.retransmitted), SegmentFlag.lost);
        else for (let i = 0; i < board.count; i++) assert.notEqual(board.flagsAt(i) & (SegmentFlag.lost | SegmentFlag.retransmitted), SegmentFlag.lost);
      }
    }),
    { numRuns: 300 },
  );
});

// ---------------------------------------------------------------------------------------------
// Throughput over the switch under 5% loss


test("8 MiB each way under 5% loss (4 ms RTT): retransmission timeouts are a small fraction of the losses", async (t) => {
  const size = 8 << 20;
  const { a, b, settle, netif } = pair({}, 64, { seed: 11, loss: 0.05, delayMs: 2 });
  const up = pattern(size, 3);
  const down = pattern(size, 4);
  const { client: client, server: server } = await exchangeBothWays({ a, b, settle }, up, down);
  const c = client.info();
  const s = server.info();
  const lost = netif!.faultStats().lost;
  const timeouts = c.timeouts + s.timeouts;
  t.diagnostic(
    `lost ${lost} frames; retransmits ${c.retransmits + s.retransmits}, timeouts ${timeouts}, loss probes ${c.lossProbes + s.lossProbes}, ` +
      `lost retransmissions found by RACK ${c.lostRetransmissions + s.lostRetransmissions}`,
  );
  assert.ok(lost > 500, `the link lost ${lost} frames`);
  assert.ok(timeouts < 0.1 * lost, `${timeouts} retransmission timeouts for ${lost} lost frames`);
  // Repairs are retransmissions of what was lost, not of what arrived: at most about one per lost frame.
  assert.ok(c.retransmits + s.retransmits < 1.2 * lost, `${c.retransmits + s.retransmits} retransmissions for ${lost} lost frames`);
});
