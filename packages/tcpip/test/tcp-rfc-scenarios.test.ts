/**
 * RFC scenarios for the TCP state machine, driven segment by segment: simultaneous open and close
 * (RFC 9293 §3.5, §3.6), challenge ACKs for in-window RST and SYN (RFC 5961 §3, §4), PAWS
 * (RFC 7323 §5). Two TcpConnections are joined by a TcpTransmit that records each emitted segment;
 * the test decides when (and in which order) segments reach the other side, so crossing segments
 * really cross. The SYN flood (listen backlog) runs at the engine level on direct stacks.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Ipv4Address, TcpFlow } from "@mirage-ts/runtime";
import {
  DEFAULT_TCP_CONFIG,
  TCP_STATE_NAMES,
  TcpConnection,
  type TcpConfig,
  type TcpSegmentIn,
  TcpState,
  type TcpTransmit,
  TcpEvent,
  advertiseWindow,
  copySendData,
  fillSegmentOptions,
  fillSynOptions,
  tcpAccept,
  tcpInput,
  tcpOpen,
  tcpOutput,
  tcpShutdownWrite,
  tcpTimer,
  tcpWrite,
} from "../src/tcp/connection.ts";
import { newReno } from "../src/tcp/congestion.ts";
import { seqAdd } from "../src/tcp/seq.ts";
import { TcpFlag, type TcpOptions, emitTcp, emptyTcpOptions } from "../src/tcp/wire.ts";
import type { DirectTcpFlow } from "../src/tcp/flow.ts";
import { seededRandom } from "../src/prng.ts";
import { rawHost } from "./support/raw-host.ts";
import { ip, lan, settle, shortDrain } from "./support/stacks.ts";

const ADDR_A = 0x0a000001;
const ADDR_B = 0x0a000002;
const PORT_A = 40000;
const PORT_B = 80;
const ISS_A = 0xfffff000; // near the wrap, so the arithmetic is modular
const ISS_B = 0x12345678;
const T0 = 1_000_000;

interface Wire {
  from: "A" | "B";
  seq: number;
  ack: number;
  flags: number;
  window: number;
  payload: Uint8Array;
  options: TcpOptions;
}

const copyOptions = (o: TcpOptions): TcpOptions => ({ ...o, sackBlocks: o.sackBlocks.slice() });
const stateName = (c: TcpConnection): string => TCP_STATE_NAMES[c.state];

/** Two connections A (PORT_A) and B (PORT_B) and the segments in flight between them. */
function link(config: Partial<TcpConfig> = {}) {
  const cfg: TcpConfig = { ...DEFAULT_TCP_CONFIG, ...config };
  const a = new TcpConnection(cfg, newReno, ADDR_A, PORT_A, ADDR_B, PORT_B);
  const b = new TcpConnection(cfg, newReno, ADDR_B, PORT_B, ADDR_A, PORT_A);
  b.tsOffset = 7_000_000; // each side has its own timestamp clock
  const net = {
    a,
    b,
    now: T0,
    /** Emitted and not yet delivered, in order. */
    inFlight: [] as Wire[],
    /** Every segment ever emitted, in order. */
    log: [] as Wire[],
    /** Each side's state after every step, without repeats. */
    states: { A: [stateName(a)], B: [stateName(b)] },
    tx: undefined as unknown as TcpTransmit,
    sideOf: (c: TcpConnection): "A" | "B" => (c === a ? "A" : "B"),
    record(): void {
      for (const [side, c] of [["A", a], ["B", b]] as const) {
        const s = net.states[side];
        if (s[s.length - 1] !== stateName(c)) s.push(stateName(c));
      }
    },
    /** tcpOutput on one side. */
    output(c: TcpConnection): void {
      tcpOutput(c, net.now, net.tx);
      net.record();
    },
    /** Removes and returns what is in flight. */
    take(): Wire[] {
      return net.inFlight.splice(0);
    },
    /** Hands a segment to the side it is addressed to, as the engine does (input, then output). */
    deliver(w: Wire): void {
      const to = w.from === "A" ? b : a;
      net.inject(to, w);
    },
    /** Feeds `to` a segment (possibly forged), then lets it output. */
    inject(to: TcpConnection, w: Omit<Wire, "from">): void {
      const seg: TcpSegmentIn = { seq: w.seq, ack: w.ack, flags: w.flags, window: w.window, buffer: w.payload, offset: 0, length: w.payload.length, options: copyOptions(w.options) };
      tcpInput(to, net.now, seg, net.tx);
      if (to.state !== TcpState.closed) tcpOutput(to, net.now, net.tx);
      net.record();
    },
    /** Delivers everything in flight, in order, until nothing is (bounded). */
    run(limit = 1000): void {
      for (let i = 0; net.inFlight.length > 0; i++) {
        assert.ok(i < limit, "the exchange does not settle");
        net.deliver(net.inFlight.shift()!);
      }
    },
    /** Segments emitted by `side` since `mark` (an index into the log). */
    since(mark: number, side?: "A" | "B"): Wire[] {
      return net.log.slice(mark).filter((w) => side === undefined || w.from === side);
    },
  };
  net.tx = {
    segment(c, seq, flags, len) {
      const syn = (flags & TcpFlag.syn) !== 0;
      const rst = (flags & TcpFlag.rst) !== 0;
      const options = emptyTcpOptions();
      if (!rst) {
        if (syn) fillSynOptions(c, net.now, options);
        else fillSegmentOptions(c, net.now, flags, options);
      }
      const payload = new Uint8Array(len);
      if (len > 0) copySendData(c, seq, len, payload, 0);
      const w: Wire = { from: net.sideOf(c), seq, ack: (flags & TcpFlag.ack) !== 0 ? c.rcvNxt : 0, flags, window: rst ? 0 : advertiseWindow(c, syn), payload, options: copyOptions(options) };
      net.inFlight.push(w);
      net.log.push(w);
    },
  };
  return net;
}

type Net = ReturnType<typeof link>;

/** A normal three-way handshake: A connects, B accepts A's SYN as a listener would. */
function established(config: Partial<TcpConfig> = {}): Net {
  const net = link(config);
  tcpOpen(net.a, net.now, ISS_A, 1460);
  net.output(net.a);
  const [syn] = net.take();
  assert.ok(syn !== undefined);
  const seg: TcpSegmentIn = { seq: syn.seq, ack: 0, flags: syn.flags, window: syn.window, buffer: syn.payload, offset: 0, length: 0, options: syn.options };
  tcpAccept(net.b, net.now, seg, ISS_B, 1460);
  net.output(net.b);
  net.run();
  assert.equal(net.a.state, TcpState.established);
  assert.equal(net.b.state, TcpState.established);
  net.a.events = net.b.events = 0;
  return net;
}

const has = (w: Wire, flag: number): boolean => (w.flags & flag) !== 0;
const flagsOf = (w: Wire): string =>
  [["SYN", TcpFlag.syn], ["FIN", TcpFlag.fin], ["RST", TcpFlag.rst], ["ACK", TcpFlag.ack]]
    .filter(([, f]) => (w.flags & (f as number)) !== 0)
    .map(([n]) => n)
    .join(",");

/** A pure ACK as connection `c` would send it now (its SEQ, ACK and timestamps), to forge variants of. */
function currentAck(c: TcpConnection, now: number): Omit<Wire, "from"> {
  const options = emptyTcpOptions();
  fillSegmentOptions(c, now, TcpFlag.ack, options);
  return { seq: c.sndNxt, ack: c.rcvNxt, flags: TcpFlag.ack, window: 0xffff, payload: new Uint8Array(0), options };
}

test("simultaneous open (RFC 9293 §3.5 figure 7): both SYNs cross, both sides pass SYN-RECEIVED and end ESTABLISHED with both ISNs acknowledged", () => {
  const net = link();
  tcpOpen(net.a, net.now, ISS_A, 1460);
  tcpOpen(net.b, net.now, ISS_B, 1460);
  net.output(net.a);
  net.output(net.b);
  const syns = net.take();
  assert.deepEqual(syns.map((w) => [w.from, flagsOf(w), w.seq]), [["A", "SYN", ISS_A], ["B", "SYN", ISS_B]]);

  // The SYNs cross: each side receives the other's SYN while in SYN-SENT.
  net.now += 5;
  for (const w of syns) net.deliver(w);
  assert.equal(net.a.state, TcpState.synReceived);
  assert.equal(net.b.state, TcpState.synReceived);
  const synAcks = net.take().sort((x, y) => x.from.localeCompare(y.from));
  assert.deepEqual(
    synAcks.map((w) => [w.from, flagsOf(w), w.seq, w.ack]),
    [["A", "SYN,ACK", ISS_A, seqAdd(ISS_B, 1)], ["B", "SYN,ACK", ISS_B, seqAdd(ISS_A, 1)]],
    "each answers with its own SYN again, now acknowledging the peer's",
  );

  // The SYN-ACKs cross too; then whatever follows settles.
  net.now += 5;
  for (const w of synAcks) net.deliver(w);
  net.run();
  assert.deepEqual(net.states.A, ["CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED"]);
  assert.deepEqual(net.states.B, ["CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED"]);
  assert.ok((net.a.events & TcpEvent.established) !== 0 && (net.b.events & TcpEvent.established) !== 0);
  assert.equal(net.a.sndUna, seqAdd(ISS_A, 1), "A's ISN is acknowledged");
  assert.equal(net.b.sndUna, seqAdd(ISS_B, 1), "B's ISN is acknowledged");
  assert.equal(net.a.rcvNxt, seqAdd(ISS_B, 1));
  assert.equal(net.b.rcvNxt, seqAdd(ISS_A, 1));
  assert.equal(net.log.filter((w) => has(w, TcpFlag.rst)).length, 0, "no RST anywhere");
  assert.equal(net.a.stats.challengeAcks + net.b.stats.challengeAcks, 0);

  // And the connection carries data both ways.
  tcpWrite(net.a, new TextEncoder().encode("from A"), 0);
  tcpWrite(net.b, new TextEncoder().encode("from B!"), 0);
  net.output(net.a);
  net.output(net.b);
  net.run();
  assert.equal(net.b.rcvQueued, 6);
  assert.equal(net.a.rcvQueued, 7);
  assert.equal(net.a.sndUna, seqAdd(ISS_A, 7));
  assert.equal(net.b.sndUna, seqAdd(ISS_B, 8));
});

test("simultaneous open: a SYN-ACK received in SYN-RECEIVED completes that side at once (figure 7, line 6)", () => {
  const net = link();
  tcpOpen(net.a, net.now, ISS_A, 1460);
  tcpOpen(net.b, net.now, ISS_B, 1460);
  net.output(net.a);
  net.output(net.b);
  for (const w of net.take()) net.deliver(w);
  const synAcks = net.take();
  const synAckA = synAcks.find((w) => w.from === "A");
  const synAckB = synAcks.find((w) => w.from === "B");
  assert.ok(synAckA !== undefined && synAckB !== undefined);
  const mark = net.log.length;
  net.deliver(synAckB); // B's SYN-ACK reaches A first
  assert.equal(net.a.state, TcpState.established, "A: SYN-RECEIVED → ESTABLISHED on <SEQ=ISS_B><ACK=ISS_A+1><SYN,ACK>");
  assert.deepEqual(net.since(mark, "A"), [], "and needs nothing more: no RST, no extra ACK");
  net.deliver(synAckA);
  assert.equal(net.b.state, TcpState.established);
  net.run();
  assert.equal(net.a.state, TcpState.established);
  assert.equal(net.b.state, TcpState.established);
});

test("SYN-RECEIVED: a retransmitted SYN (at IRS) is answered with the SYN-ACK again; another SYN draws a challenge ACK", () => {
  const net = link();
  tcpOpen(net.a, net.now, ISS_A, 1460);
  net.output(net.a);
  const [syn] = net.take();
  assert.ok(syn !== undefined);
  tcpAccept(net.b, net.now, { seq: syn.seq, ack: 0, flags: syn.flags, window: syn.window, buffer: syn.payload, offset: 0, length: 0, options: syn.options }, ISS_B, 1460);
  net.output(net.b);
  net.take(); // the SYN-ACK is lost
  net.now += 10;
  net.deliver(syn); // A's SYN again
  assert.deepEqual(net.take().map((w) => [w.from, flagsOf(w), w.seq, w.ack]), [["B", "SYN,ACK", ISS_B, seqAdd(ISS_A, 1)]]);
  net.inject(net.b, { ...syn, seq: seqAdd(ISS_A, 100) });
  assert.equal(net.b.state, TcpState.synReceived);
  assert.deepEqual(net.take().map((w) => [w.from, flagsOf(w), w.seq, w.ack]), [["B", "ACK", seqAdd(ISS_B, 1), seqAdd(ISS_A, 1)]]);
  assert.equal(net.b.stats.challengeAcks, 1);
});

test("simultaneous close (RFC 9293 §3.6 figure 13): the FINs cross, both sides pass CLOSING and TIME-WAIT, then close cleanly", () => {
  const msl = 1000;
  const net = established({ mslMs: msl });
  tcpShutdownWrite(net.a, net.now);
  tcpShutdownWrite(net.b, net.now);
  net.output(net.a);
  net.output(net.b);
  assert.equal(net.a.state, TcpState.finWait1);
  assert.equal(net.b.state, TcpState.finWait1);
  const fins = net.take();
  const finSeqA = seqAdd(ISS_A, 1);
  const finSeqB = seqAdd(ISS_B, 1);
  assert.deepEqual(fins.map((w) => [w.from, flagsOf(w), w.seq, w.ack]), [["A", "FIN,ACK", finSeqA, finSeqB], ["B", "FIN,ACK", finSeqB, finSeqA]]);

  net.now += 3;
  for (const w of fins) net.deliver(w);
  assert.equal(net.a.state, TcpState.closing, "A got B's FIN before the ACK of its own");
  assert.equal(net.b.state, TcpState.closing);
  const acks = net.take().sort((x, y) => x.from.localeCompare(y.from));
  assert.deepEqual(acks.map((w) => [w.from, flagsOf(w), w.seq, w.ack]), [["A", "ACK", seqAdd(finSeqA, 1), seqAdd(finSeqB, 1)], ["B", "ACK", seqAdd(finSeqB, 1), seqAdd(finSeqA, 1)]]);

  net.now += 3;
  for (const w of acks) net.deliver(w);
  assert.equal(net.a.state, TcpState.timeWait);
  assert.equal(net.b.state, TcpState.timeWait);
  assert.equal(net.inFlight.length, 0, "nothing answers the last ACKs");
  assert.equal(net.a.timeWaitAt, net.now + 2 * msl, "TIME-WAIT lasts 2*MSL");
  assert.equal(net.b.timeWaitAt, net.now + 2 * msl);

  net.now += 2 * msl - 1;
  tcpTimer(net.a, net.now, net.tx);
  assert.equal(net.a.state, TcpState.timeWait, "still waiting 1 ms before 2*MSL");
  net.now += 1;
  tcpTimer(net.a, net.now, net.tx);
  tcpTimer(net.b, net.now, net.tx);
  net.record();
  for (const side of ["A", "B"] as const) assert.deepEqual(net.states[side], ["CLOSED", side === "A" ? "SYN-SENT" : "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "CLOSING", "TIME-WAIT", "CLOSED"]);
  assert.equal(net.a.error, undefined, "a clean close");
  assert.equal(net.b.error, undefined);
  assert.equal(net.log.filter((w) => has(w, TcpFlag.rst)).length, 0);
});

test("RFC 5961 §3.2: an in-window RST not at RCV.NXT draws a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT> and does not reset", () => {
  const net = established();
  const a = net.a;
  const rcvNxt = a.rcvNxt;
  const sndNxt = a.sndNxt;
  const wnd = a.rcvAdvEdge - rcvNxt;
  assert.ok(wnd > 1000);
  for (const offset of [1, 100, wnd - 1]) {
    const mark = net.log.length;
    net.now += 1;
    net.inject(a, { ...currentAck(net.b, net.now), seq: seqAdd(rcvNxt, offset), flags: TcpFlag.rst, options: emptyTcpOptions() });
    assert.equal(a.state, TcpState.established, `RST at RCV.NXT+${offset} does not reset`);
    const out = net.since(mark);
    assert.deepEqual(out.map((w) => [w.from, flagsOf(w), w.seq, w.ack, w.payload.length]), [["A", "ACK", sndNxt, rcvNxt, 0]], `one challenge ACK for RCV.NXT+${offset}`);
  }
  assert.equal(a.stats.challengeAcks, 3);
  net.take();

  // Outside the window (just left of RCV.NXT, or at the right edge): dropped silently.
  for (const seq of [seqAdd(rcvNxt, -1), seqAdd(rcvNxt, wnd)]) {
    const mark = net.log.length;
    net.inject(a, { ...currentAck(net.b, net.now), seq, flags: TcpFlag.rst, options: emptyTcpOptions() });
    assert.equal(a.state, TcpState.established);
    assert.equal(net.since(mark).length, 0, "an out-of-window RST is dropped without a reply");
  }
  assert.equal(a.stats.challengeAcks, 3);

  // The peer's answer to the challenge ACK would be a RST exactly at RCV.NXT: that one resets.
  const mark = net.log.length;
  net.inject(a, { ...currentAck(net.b, net.now), seq: rcvNxt, flags: TcpFlag.rst, options: emptyTcpOptions() });
  assert.equal(a.state, TcpState.closed);
  assert.equal(a.error, "reset");
  assert.ok((a.events & TcpEvent.closed) !== 0);
  assert.equal(net.since(mark).length, 0, "nothing answers a RST");
});

test("RFC 5961 §7: challenge ACKs are limited per second", () => {
  const net = established({ challengeAckLimit: 3 });
  const a = net.a;
  const mark = net.log.length;
  for (let i = 0; i < 10; i++) net.inject(a, { ...currentAck(net.b, net.now), seq: seqAdd(a.rcvNxt, 10 + i), flags: TcpFlag.rst, options: emptyTcpOptions() });
  assert.equal(net.since(mark).length, 3);
  assert.equal(a.stats.challengeAcks, 3);
  net.now += 1000;
  net.inject(a, { ...currentAck(net.b, net.now), seq: seqAdd(a.rcvNxt, 10), flags: TcpFlag.rst, options: emptyTcpOptions() });
  assert.equal(net.since(mark).length, 4, "a new second, a new allowance");
  assert.equal(a.state, TcpState.established);
});

test("RFC 5961 §4.2: a SYN in ESTABLISHED, in window or not, draws a challenge ACK and does not reset", () => {
  const net = established();
  const a = net.a;
  const rcvNxt = a.rcvNxt;
  const sndNxt = a.sndNxt;
  for (const seq of [rcvNxt, seqAdd(rcvNxt, 500), seqAdd(rcvNxt, 0x40000000)]) {
    const mark = net.log.length;
    net.now += 1;
    const syn = emptyTcpOptions();
    syn.mss = 1460;
    net.inject(a, { seq, ack: 0, flags: TcpFlag.syn, window: 65535, payload: new Uint8Array(0), options: syn });
    assert.equal(a.state, TcpState.established, `SYN at RCV.NXT+${seq - rcvNxt} does not reset`);
    assert.deepEqual(net.since(mark).map((w) => [w.from, flagsOf(w), w.seq, w.ack]), [["A", "ACK", sndNxt, rcvNxt]], "exactly one ACK <SEQ=SND.NXT><ACK=RCV.NXT>");
  }
  assert.equal(a.rcvNxt, rcvNxt, "the SYN's sequence number is not consumed");
  assert.equal(a.stats.challengeAcks, 2, "the two in-window SYNs drew challenge ACKs; the out-of-window one the plain ACK of §3.10.7.4");
  assert.equal(a.error, undefined);
  net.take();

  // The connection is intact: data still flows both ways.
  tcpWrite(net.b, new Uint8Array(100), 0);
  tcpWrite(a, new Uint8Array(50), 0);
  net.output(net.b);
  net.output(a);
  net.run();
  assert.equal(a.rcvQueued, 100);
  assert.equal(net.b.rcvQueued, 50);
});

test("RFC 7323 §5 PAWS: a segment with an older timestamp is dropped and ACKed; a current one is accepted", () => {
  const net = established();
  const a = net.a;
  assert.ok(a.tsEnabled && net.b.tsEnabled, "timestamps were negotiated");
  // Some traffic so TS.Recent is a value B sent after the handshake.
  net.now += 100;
  tcpWrite(net.b, new Uint8Array(10), 0);
  net.output(net.b);
  net.run();
  const tsRecent = a.tsRecent;
  assert.equal(tsRecent, (net.now + net.b.tsOffset) >>> 0, "TS.Recent holds B's latest TSval");
  const rcvNxt = a.rcvNxt;

  net.now += 100;
  const old = currentAck(net.b, net.now);
  old.options.tsVal = (tsRecent - 50) >>> 0;
  old.payload = new TextEncoder().encode("stale data");
  old.flags = TcpFlag.ack | TcpFlag.psh;
  const mark = net.log.length;
  net.inject(a, old);
  assert.equal(a.stats.pawsDrops, 1);
  assert.equal(a.rcvNxt, rcvNxt, "the data is not accepted");
  assert.equal(a.rcvQueued, 10);
  assert.equal(a.tsRecent, tsRecent, "TS.Recent is not moved back");
  assert.deepEqual(net.since(mark).map((w) => [flagsOf(w), w.seq, w.ack, w.options.tsEcr]), [["ACK", a.sndNxt, rcvNxt, tsRecent]], "an ACK answers the dropped segment");

  // A timestamp older across the 32-bit wrap is older too.
  const wrapped = { ...old, options: { ...old.options, tsVal: (tsRecent + 0x80000001) >>> 0 } };
  net.inject(a, wrapped);
  assert.equal(a.stats.pawsDrops, 2);
  assert.equal(a.rcvNxt, rcvNxt);

  // The same segment with a current timestamp is accepted, and TS.Recent follows it.
  const fresh = { ...old, options: { ...old.options, tsVal: (tsRecent + 100) >>> 0 } };
  net.inject(a, fresh);
  assert.equal(a.stats.pawsDrops, 2);
  assert.equal(a.rcvNxt, seqAdd(rcvNxt, 10));
  assert.equal(a.rcvQueued, 20);
  assert.equal(a.tsRecent, (tsRecent + 100) >>> 0);

  // RSTs are not subject to PAWS: a RST at RCV.NXT with an old timestamp still resets.
  const rst = currentAck(net.b, net.now);
  net.inject(a, { ...rst, seq: a.rcvNxt, flags: TcpFlag.rst, options: { ...rst.options, tsVal: (tsRecent - 1000) >>> 0 } });
  assert.equal(a.state, TcpState.closed);
  assert.equal(a.error, "reset");
});

test("a flood of 100,000 SYNs from random addresses and ports: the SYN queue never exceeds synBacklog, the connection table stays bounded, and real connects complete during and after it", async (t) => {
  const synBacklog = 16;
  const l = lan({ drain: shortDrain });
  // Small buffers: every half-open connection allocates its send buffer, and the flood makes 100,000 of them.
  const server = l.stack("10.0.0.2/24", { tcp: { synBacklog, sendBufferSize: 8192, receiveBufferSize: 8192 } });
  const client = l.stack("10.0.0.3/24");
  const sources: Ipv4Address[] = [];
  for (let i = 10; i < 250; i++) sources.push(ip(`10.0.0.${i}`));
  // The attacker answers ARP for every spoofed source, so the server really sends (and retransmits)
  // its SYN-ACKs; it never completes a handshake.
  const attacker = rawHost(l.sw.connect(), sources);
  const accepted: TcpFlow[] = [];
  server.tcp.listen(80, async (flow) => {
    accepted.push(flow);
    for (;;) {
      const chunk = await flow.read();
      if (chunk === null) break;
      await flow.write(chunk); // echo
    }
    await flow.close();
  });
  const random = seededRandom(4242);
  const dst = ip("10.0.0.2");
  const segment = new Uint8Array(20);
  const total = 100_000;
  const perStep = 20; // 20 SYNs every 10 ms of virtual time: 2,000 SYNs a second for 50 s
  let maxHalfOpen = 0;
  let maxActive = 0;
  const openAccepted = (): number => accepted.filter((f) => (f as DirectTcpFlow).conn.state !== TcpState.closed).length;
  const sample = (): void => {
    const active = server.stats().tcp.activeConnections;
    maxActive = Math.max(maxActive, active);
    maxHalfOpen = Math.max(maxHalfOpen, active - openAccepted());
  };
  let sent = 0;
  let synAcksSeen = 0;
  const flood = async (until: number): Promise<void> => {
    for (; sent < until; sent += perStep) {
      for (let i = 0; i < perStep; i++) {
        const src = sources[random.uint32() % sources.length]!;
        emitTcp(
          { srcPort: 1024 + (random.uint32() % 64000), dstPort: 80, seq: random.uint32(), ack: 0, flags: TcpFlag.syn, window: 65535, urgentPointer: 0, options: new Uint8Array(0), payload: new Uint8Array(0) },
          segment,
          0,
          src,
          dst,
        );
        attacker.sendIpv4(server.netif.mac, { src, dst, protocol: 6, payload: segment });
      }
      await l.vt.advance(10);
      sample();
      // The attacker records what it receives (SYN-ACKs, ARP); only the counts matter here.
      synAcksSeen += attacker.packets.length;
      attacker.packets.length = 0;
      attacker.frames.length = 0;
    }
  };
  const echo = async (flow: TcpFlow, text: string): Promise<string> => {
    await flow.write(new TextEncoder().encode(text));
    const got = await flow.read();
    return new TextDecoder().decode(got ?? new Uint8Array(0));
  };

  await flood(total / 2);
  assert.equal(maxHalfOpen, synBacklog, "the flood fills the SYN queue");
  // Half way through, a real client connects and talks while the flood goes on.
  let during: string | undefined;
  let failed: unknown;
  const talk = client.tcp.connect(dst, 80).then(async (flow) => {
    during = await echo(flow, "during the flood");
    await flow.close();
  });
  talk.catch((e: unknown) => (failed = e));
  await flood(total);
  assert.equal(failed, undefined);
  assert.equal(during, "during the flood", "the real connection completed and worked while the flood went on");

  const tcp = server.stats().tcp;
  assert.ok(tcp.rxSegments >= total, `every SYN reached the server (${tcp.rxSegments})`);
  assert.ok(tcp.syncookiesSent >= total - synBacklog, `every flood SYN that found the queue full was answered with a SYN cookie (${tcp.syncookiesSent})`);
  assert.ok(maxHalfOpen <= synBacklog, `half-open connections peaked at ${maxHalfOpen}, the backlog is ${synBacklog}`);
  assert.ok(maxActive <= synBacklog + 1, `the connection table peaked at ${maxActive}`);

  // After the flood, another connect completes too, and the flood's half-open connections time out.
  const after = await settle(l.vt, client.tcp.connect(dst, 80).then((flow) => echo(flow, "after the flood")), 10_000);
  assert.equal(after, "after the flood");
  assert.equal(accepted.length, 2);
  await l.vt.advance(300_000);
  sample();
  assert.equal(server.stats().tcp.activeConnections - openAccepted(), 0, "no half-open connection outlives its SYN-ACK retries");
  assert.ok(maxHalfOpen <= synBacklog);
  t.diagnostic(`${tcp.syncookiesSent} SYN cookies sent, ${tcp.syncookiesValid} valid, half-open peak ${maxHalfOpen}, table peak ${maxActive}, ${synAcksSeen} packets (SYN-ACKs) to the attacker`);
});
