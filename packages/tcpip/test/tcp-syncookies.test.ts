/**
 * SYN cookies (src/tcp/syncookies.ts) in virtual time: the cookie arithmetic on its own, then a
 * listener whose SYN queue is full, driven by a hand-built peer on the switch (every segment
 * built and checked by the test): the round trip with and without timestamps (window scaling and
 * SACK carried in the TSval), forged and expired cookies answered with RST, and a burst of 1,000
 * connects from a real stack to a listener with a backlog of 8, all served.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ipv4Address, type TcpFlow } from "@mirage-ts/runtime";
import { seededRandom } from "../src/prng.ts";
import { createIsnGenerator } from "../src/tcp/isn.ts";
import { COOKIE_PERIOD_MS, SynCookies, cookieMss, cookieMssIndex, cookieTsVal, encodeCookieTsOptions } from "../src/tcp/syncookies.ts";
import { TcpState } from "../src/tcp/connection.ts";
import type { DirectTcpFlow } from "../src/tcp/flow.ts";
import { TcpFlag, type TcpOptions, type TcpRepr, emitTcpRepr, emptyTcpOptions, parseTcpRepr } from "../src/tcp/wire.ts";
import { type RawHost, rawHost } from "./support/raw-host.ts";
import { ip, lan, settle } from "./support/stacks.ts";

const SERVER = "10.0.0.2";
const PEER = "10.0.0.9";
const PORT = 80;

test("a cookie round-trips its MSS index for its 4-tuple and peer ISN, for two cookie periods, and nothing else checks out", () => {
  const isns = createIsnGenerator(seededRandom(7));
  const v4 = new SynCookies(isns, 4);
  const random = seededRandom(99);
  for (let i = 0; i < 200; i++) {
    const la = random.uint32();
    const ra = random.uint32();
    const lp = 1 + (random.uint32() % 65535);
    const rp = 1 + (random.uint32() % 65535);
    const peerIsn = random.uint32();
    const now = random.uint32() * 10;
    const index = random.uint32() % 4;
    v4.tuple(la, lp, ra, rp);
    const cookie = v4.make(peerIsn, now, index);
    assert.equal(v4.check(cookie, peerIsn, now), index);
    // Valid while the coarse clock is current or one behind: at least one period, at most two.
    assert.equal(v4.check(cookie, peerIsn, now + COOKIE_PERIOD_MS - 1 - (now % COOKIE_PERIOD_MS) + COOKIE_PERIOD_MS), index, "one period later");
    assert.equal(v4.check(cookie, peerIsn, now - (now % COOKIE_PERIOD_MS) + 2 * COOKIE_PERIOD_MS), -1, "two periods later: expired");
    assert.equal(v4.check(cookie, (peerIsn + 1) >>> 0, now), -1, "another peer ISN");
    assert.equal(v4.check((cookie + 1) >>> 0, peerIsn, now), -1, "another cookie");
    v4.tuple(la, lp, ra, rp ^ 1);
    assert.equal(v4.check(cookie, peerIsn, now), -1, "another port");
    v4.tuple(la, lp, (ra + 1) >>> 0, rp);
    assert.equal(v4.check(cookie, peerIsn, now), -1, "another address");
  }
  // Forgeries: random guesses essentially never check out (each has a 2^-29 chance: count byte and 22 bits).
  v4.tuple(0x0a000002, 80, 0x0a000009, 5000);
  let accepted = 0;
  for (let i = 0; i < 100_000; i++) if (v4.check(random.uint32(), 1234, 5_000_000) >= 0) accepted++;
  assert.equal(accepted, 0);
  // IPv6 addresses (the layer's hex keys) are hashed whole: a change in any word fails the cookie.
  const v6 = new SynCookies(isns, 6);
  const a = "20010db8000000000000000000000001";
  const b = "20010db8000000000000000000000002";
  v6.tuple(a, 443, b, 40000);
  const cookie = v6.make(42, 1000, 3);
  assert.equal(v6.check(cookie, 42, 1000), 3);
  v6.tuple(a, 443, "30010db8000000000000000000000002", 40000);
  assert.equal(v6.check(cookie, 42, 1000), -1);
  // The other engine's secret does not accept it either.
  const other = new SynCookies(createIsnGenerator(seededRandom(8)), 6);
  other.tuple(a, 443, b, 40000);
  assert.equal(other.check(cookie, 42, 1000), -1);
});

test("MSS indexes round down to Linux's tables; the TSval carries WS and SACK in its low bits and never runs ahead of the clock", () => {
  assert.deepEqual([535, 536, 1299, 1300, 1460, 9000, -1].map((m) => cookieMss(4, cookieMssIndex(4, m))), [536, 536, 536, 1300, 1460, 1460, 536]);
  assert.deepEqual([1220, 1440, 8940, 65535].map((m) => cookieMss(6, cookieMssIndex(6, m))), [1220, 1440, 8940, 8940]);
  for (const now of [0, 5, 63, 64, 1000, 0xffffffff, 0x40]) {
    for (const [ws, sack] of [[-1, false], [0, true], [7, false], [14, true]] as const) {
      const options = encodeCookieTsOptions(ws, sack);
      const ts = cookieTsVal(now, options);
      assert.equal(ts & 63, options);
      const behind = (now - ts) >>> 0;
      assert.ok(behind < 64, `TSval ${ts} is at most 63 behind ${now}`);
    }
  }
});

/** A server whose listener echoes, a hand-driven peer, and helpers to exchange segments. */
function setup(synBacklog: number) {
  const l = lan();
  const server = l.stack(`${SERVER}/24`, { tcp: { synBacklog } });
  const peer = rawHost(l.sw.connect(), [ip(PEER)]);
  const accepted: TcpFlow[] = [];
  server.tcp.listen(PORT, async (flow) => {
    accepted.push(flow);
    for (;;) {
      const chunk = await flow.read();
      if (chunk === null) break;
      await flow.write(chunk);
    }
    await flow.close();
  });
  const send = async (segment: Partial<TcpRepr> & { srcPort: number; seq: number; flags: number }): Promise<void> => {
    const repr: TcpRepr = { dstPort: PORT, ack: 0, window: 65535, urgentPointer: 0, options: emptyTcpOptions(), payload: new Uint8Array(0), ...segment };
    const bytes = new Uint8Array(60 + repr.payload.length);
    const length = emitTcpRepr(repr, bytes, 0, ip(PEER), ip(SERVER));
    peer.sendIpv4(server.netif.mac, { src: ip(PEER), dst: ip(SERVER), protocol: 6, payload: bytes.subarray(0, length) });
    await l.vt.advance(1);
  };
  /** TCP segments the peer received since the last call. */
  const received = (): TcpRepr[] => {
    const out: TcpRepr[] = [];
    for (const { packet } of peer.packets.splice(0)) {
      if (packet.protocol !== 6) continue;
      const seg = parseTcpRepr(packet.payload, packet.src as Ipv4Address, packet.dst as Ipv4Address);
      assert.ok(seg.ok);
      out.push(seg.value);
    }
    return out;
  };
  return { l, server, peer, accepted, send, received };
}

const synOptions = (o: Partial<TcpOptions>): TcpOptions => ({ ...emptyTcpOptions(), ...o });

/** Fills the backlog-1 queue with a half-open connection the peer never completes. */
async function fillQueue(s: ReturnType<typeof setup>, srcPort = 5000): Promise<void> {
  await s.send({ srcPort, seq: 777, flags: TcpFlag.syn, options: synOptions({ mss: 1460 }) });
  const synAck = s.received().find((r) => r.dstPort === srcPort);
  assert.ok(synAck !== undefined && synAck.flags === (TcpFlag.syn | TcpFlag.ack));
  assert.equal(s.server.stats().tcp.syncookiesSent, 0, "the first SYN takes the queue's place");
}

async function cookieFor(s: ReturnType<typeof setup>, srcPort: number, seq: number, options: TcpOptions): Promise<TcpRepr> {
  const sent = s.server.stats().tcp.syncookiesSent;
  await s.send({ srcPort, seq, flags: TcpFlag.syn, options });
  const synAck = s.received().find((r) => r.dstPort === srcPort);
  assert.ok(synAck !== undefined, "a SYN-ACK answers the SYN");
  assert.equal(synAck.flags, TcpFlag.syn | TcpFlag.ack);
  assert.equal(synAck.ack, (seq + 1) >>> 0);
  assert.equal(s.server.stats().tcp.syncookiesSent, sent + 1, "with a cookie");
  return synAck;
}

test("with timestamps: the cookie SYN-ACK offers WS, SACK and timestamps, and the ACK that returns it creates the connection with them", async () => {
  const s = setup(1);
  await fillQueue(s);
  const active = s.server.stats().tcp.activeConnections;
  const synAck = await cookieFor(s, 6000, 0xfffffff0, synOptions({ mss: 1460, windowScale: 7, sackPermitted: true, timestamps: true, tsVal: 1000 }));
  assert.equal(s.server.stats().tcp.activeConnections, active, "the cookie keeps no state");
  assert.equal(synAck.options.mss, 1460);
  assert.ok(synAck.options.windowScale > 0, "our window scale is offered");
  assert.equal(synAck.options.sackPermitted, true);
  assert.equal(synAck.options.timestamps, true);
  assert.equal(synAck.options.tsEcr, 1000);
  assert.equal(synAck.options.tsVal & 63, 7 | 16, "the TSval's low bits carry WS 7 and SACK");

  const hello = new TextEncoder().encode("hello, cookie");
  await s.send({
    srcPort: 6000,
    seq: 0xfffffff1,
    ack: (synAck.seq + 1) >>> 0,
    flags: TcpFlag.ack | TcpFlag.psh,
    window: 1000, // scaled by 7: 128,000 bytes
    options: synOptions({ timestamps: true, tsVal: 1001, tsEcr: synAck.options.tsVal }),
    payload: hello,
  });
  await s.l.vt.advance(50);
  const stats = s.server.stats().tcp;
  assert.equal(stats.syncookiesValid, 1);
  assert.equal(stats.connectionsAccepted, 1);
  assert.equal(s.accepted.length, 1);
  const c = (s.accepted[0] as DirectTcpFlow).conn;
  assert.equal(c.state, TcpState.established);
  assert.equal(c.iss, synAck.seq);
  assert.equal(c.sndWscale, 7, "the peer's window scale, from the TSecr");
  assert.equal(c.rcvWscale, synAck.options.windowScale, "ours, as the SYN-ACK offered it");
  assert.equal(c.sndWnd, 1000 << 7);
  assert.equal(c.sackEnabled, true);
  assert.equal(c.tsEnabled, true);
  assert.equal(c.sndMss, 1460 - 12);
  const echo = s.received().filter((r) => r.dstPort === 6000 && r.payload.length > 0);
  assert.equal(new TextDecoder().decode(echo[0]!.payload), "hello, cookie", "the data in the ACK was delivered and echoed");
  assert.ok(echo[0]!.options.timestamps && ((echo[0]!.options.tsVal - synAck.options.tsVal) | 0) >= 0, "timestamps do not go back after the cookie's");
  assert.equal(echo[0]!.options.tsEcr, 1001);
});

test("without timestamps: the cookie SYN-ACK offers only the MSS (as Linux), rounded to the table on the way back", async () => {
  const s = setup(1);
  await fillQueue(s);
  const synAck = await cookieFor(s, 6001, 1000, synOptions({ mss: 1400, windowScale: 7, sackPermitted: true }));
  assert.equal(synAck.options.mss, 1460);
  assert.equal(synAck.options.windowScale, -1);
  assert.equal(synAck.options.sackPermitted, false);
  assert.equal(synAck.options.timestamps, false);
  await s.send({ srcPort: 6001, seq: 1001, ack: (synAck.seq + 1) >>> 0, flags: TcpFlag.ack, window: 5000 });
  await s.l.vt.advance(10);
  assert.equal(s.accepted.length, 1);
  const c = (s.accepted[0] as DirectTcpFlow).conn;
  assert.equal(c.state, TcpState.established);
  assert.equal(c.sndWscale, 0);
  assert.equal(c.rcvWscale, 0);
  assert.equal(c.sackEnabled, false);
  assert.equal(c.tsEnabled, false);
  assert.equal(c.sndMss, 1300, "1400 rounded down to the table's 1300");
  assert.equal(c.sndWnd, 5000);
  // It carries data both ways.
  await s.send({ srcPort: 6001, seq: 1001, ack: (synAck.seq + 1) >>> 0, flags: TcpFlag.ack | TcpFlag.psh, window: 5000, payload: new TextEncoder().encode("ping") });
  await s.l.vt.advance(50);
  const echo = s.received().filter((r) => r.dstPort === 6001 && r.payload.length > 0);
  assert.equal(new TextDecoder().decode(echo[0]!.payload), "ping");
});

test("forged and expired cookies are answered with RST, as Linux answers a bad ACK to a listener, and create nothing", async () => {
  const s = setup(1);
  // Before any cookie was sent, an ACK for no connection is not even checked: RST.
  await s.send({ srcPort: 7000, seq: 1, ack: 12345, flags: TcpFlag.ack });
  let rst = s.received();
  assert.deepEqual(rst.map((r) => [r.flags, r.seq]), [[TcpFlag.rst, 12345]]);
  assert.equal(s.server.stats().tcp.syncookiesFailed, 0);

  await fillQueue(s);
  const synAck = await cookieFor(s, 7001, 500, synOptions({ mss: 1460, timestamps: true, tsVal: 1, windowScale: 2 }));
  // Forged: a cookie off by one, another peer ISN, a TSecr whose low bits claim ECN.
  const forgeries: Array<Partial<TcpRepr>> = [
    { seq: 501, ack: (synAck.seq + 2) >>> 0 },
    { seq: 502, ack: (synAck.seq + 1) >>> 0 },
    { seq: 501, ack: (synAck.seq + 1) >>> 0, options: synOptions({ timestamps: true, tsVal: 2, tsEcr: (synAck.options.tsVal | 32) >>> 0 }) },
  ];
  for (const [i, forged] of forgeries.entries()) {
    await s.send({ srcPort: 7001, flags: TcpFlag.ack, options: synOptions({ timestamps: true, tsVal: 2, tsEcr: synAck.options.tsVal }), ...forged } as TcpRepr);
    rst = s.received();
    assert.deepEqual(rst.map((r) => [r.flags, r.seq]), [[TcpFlag.rst, forged.ack]], `forgery ${i} answered with <SEQ=SEG.ACK><CTL=RST>`);
    assert.equal(s.server.stats().tcp.syncookiesFailed, i + 1);
  }
  assert.equal(s.accepted.length, 0);

  // Expired: the same, valid cookie two cookie periods later, while the listener still sends cookies.
  await s.l.vt.advance(2 * COOKIE_PERIOD_MS + 5_000);
  s.received();
  for (const port of [7100, 7101]) await s.send({ srcPort: port, seq: 9, flags: TcpFlag.syn, options: synOptions({ mss: 1460 }) });
  s.received();
  const failed = s.server.stats().tcp.syncookiesFailed;
  await s.send({ srcPort: 7001, seq: 501, ack: (synAck.seq + 1) >>> 0, flags: TcpFlag.ack, options: synOptions({ timestamps: true, tsVal: 3, tsEcr: synAck.options.tsVal }) });
  rst = s.received().filter((r) => r.dstPort === 7001);
  assert.deepEqual(rst.map((r) => [r.flags, r.seq]), [[TcpFlag.rst, (synAck.seq + 1) >>> 0]], "the expired cookie is answered with RST");
  assert.equal(s.server.stats().tcp.syncookiesFailed, failed + 1);
  assert.equal(s.accepted.length, 0);

  // A fresh cookie for the same 4-tuple still works.
  const fresh = await cookieFor(s, 7001, 800, synOptions({ mss: 1460 }));
  await s.send({ srcPort: 7001, seq: 801, ack: (fresh.seq + 1) >>> 0, flags: TcpFlag.ack });
  assert.equal(s.accepted.length, 1);
  assert.equal(s.server.stats().tcp.syncookiesValid, 1);
});

test("a burst of 1,000 connects to a listener with a backlog of 8: every one is served, none reset", async (t) => {
  const l = lan();
  const server = l.stack(`${SERVER}/24`, { tcp: { synBacklog: 8 } });
  const client = l.stack("10.0.0.3/24");
  let served = 0;
  server.tcp.listen(PORT, async (flow) => {
    served++;
    const chunk = await flow.read();
    if (chunk !== null) await flow.write(chunk);
    await flow.close();
  });
  const dst = ip(SERVER);
  const once = async (i: number): Promise<string> => {
    const flow = await client.tcp.connect(dst, PORT);
    await flow.write(new TextEncoder().encode(`connection ${i}`));
    const reply = await flow.read();
    await flow.close();
    return new TextDecoder().decode(reply ?? new Uint8Array(0));
  };
  // One connection first, so the client's ARP has the server (its queue holds 64 packets).
  assert.equal(await settle(l.vt, once(-1)), "connection -1");
  const count = 1000;
  const all = Promise.all(Array.from({ length: count }, (_, i) => once(i)));
  const replies = await settle(l.vt, all, 60_000);
  assert.deepEqual(replies, Array.from({ length: count }, (_, i) => `connection ${i}`));
  const stats = server.stats().tcp;
  assert.equal(served, count + 1);
  assert.equal(stats.connectionsAccepted, count + 1);
  assert.ok(stats.syncookiesSent > 0 && stats.syncookiesValid > 0, `the queue overflowed into cookies (${stats.syncookiesSent} sent)`);
  assert.equal(stats.syncookiesFailed, 0);
  assert.equal(stats.txResets, 0, "no connection was reset");
  assert.equal(client.stats().tcp.rxResets, 0, "the client saw no reset");
  t.diagnostic(`1,000 connects, backlog 8: ${stats.syncookiesSent} cookies sent, ${stats.syncookiesValid} valid`);
});
