/**
 * The bulk paths' economies (issue 4, "a fast path for bulk data"): send rings that grow on demand
 * and are reused, one ACK per connection per receive batch, received segments copied onto the
 * last unread chunk. Each must keep every byte where it belongs.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import type { TcpFlow } from "@mirage-ts/runtime";
import { BufferPool } from "../src/buffer-pool.ts";
import { SlabAllocator } from "../src/slab.ts";
import { newReno } from "../src/tcp/congestion.ts";
import { DEFAULT_TCP_CONFIG, SEND_RING_INITIAL, TcpConnection, copySendData, tcpReleaseSendBuffer, tcpWrite } from "../src/tcp/connection.ts";
import type { DirectTcpFlow } from "../src/tcp/flow.ts";
import { ip } from "./support/stacks.ts";
import { pair, readAll } from "./support/tcp.ts";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** What the send buffer holds, read through copySendData as segments are built. */
function queued(c: TcpConnection): Uint8Array {
  const out = new Uint8Array(c.sndLen);
  if (c.sndLen > 0) copySendData(c, c.bufSeq, c.sndLen, out, 0);
  return out;
}

/** What processAck does to the ring when `n` bytes are acknowledged. */
function acknowledge(c: TcpConnection, n: number): void {
  c.sndHead = (c.sndHead + n) % c.sndBuf.length;
  c.sndLen -= n;
  c.bufSeq = (c.bufSeq + n) >>> 0;
}

test("the send ring starts small, doubles as data queues up, and keeps the queued bytes in order across growth and wrap-around", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ write: fc.nat({ max: 40_000 }), ack: fc.nat({ max: 40_000 }) }), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      (steps, bufSeq) => {
        const c = new TcpConnection(DEFAULT_TCP_CONFIG, newReno, 1, 80, 2, 40000);
        c.bufSeq = bufSeq;
        const expected: number[] = [];
        let next = 0;
        let peak = 0;
        for (const { write, ack } of steps) {
          const data = new Uint8Array(write).map((_, i) => (next + i) & 0xff);
          const taken = tcpWrite(c, data, 0);
          assert.equal(taken, Math.min(write, DEFAULT_TCP_CONFIG.sendBufferSize - expected.length));
          for (let i = 0; i < taken; i++) expected.push(data[i]!);
          next += taken;
          peak = Math.max(peak, c.sndLen);
          if (c.sndBuf.length > 0) {
            // Never smaller than what is queued, never larger than twice the most ever queued.
            assert.ok(c.sndBuf.length >= c.sndLen && c.sndBuf.length <= c.sndBufSize);
            assert.ok(c.sndBuf.length === SEND_RING_INITIAL || c.sndBuf.length === c.sndBufSize || c.sndBuf.length < 2 * peak, `ring ${c.sndBuf.length} for at most ${peak} bytes`);
          }
          const n = Math.min(ack, c.sndLen);
          acknowledge(c, n);
          expected.splice(0, n);
          assert.deepEqual(queued(c), Uint8Array.from(expected));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("send rings come from the engine's bounded pool and go back to it: no ring is ever shared", () => {
  const pool = new BufferPool(64 * 1024);
  const a = new TcpConnection(DEFAULT_TCP_CONFIG, newReno, 1, 80, 2, 40000);
  const b = new TcpConnection(DEFAULT_TCP_CONFIG, newReno, 1, 80, 2, 40001);
  a.sndBufPool = b.sndBufPool = pool;
  tcpWrite(a, new Uint8Array(100).fill(1), 0);
  const ringA = a.sndBuf;
  tcpReleaseSendBuffer(a); // data queued: kept
  assert.equal(a.sndBuf, ringA);
  acknowledge(a, 100);
  tcpReleaseSendBuffer(a);
  assert.equal(a.sndBuf.length, 0);
  assert.equal(pool.bytesHeld, SEND_RING_INITIAL);
  tcpReleaseSendBuffer(a); // twice: given back once only
  assert.equal(pool.bytesHeld, SEND_RING_INITIAL);
  tcpWrite(b, new Uint8Array(10).fill(2), 0);
  assert.equal(b.sndBuf, ringA, "the next connection reuses the ring");
  assert.equal(pool.bytesHeld, 0);
  tcpWrite(a, new Uint8Array(10).fill(3), 0);
  assert.notEqual(a.sndBuf, b.sndBuf);
  assert.deepEqual(queued(b), new Uint8Array(10).fill(2));
  // Growth gives the smaller ring back; a closed connection gives its ring back with data in it.
  tcpWrite(b, new Uint8Array(30_000), 0);
  assert.equal(b.sndBuf.length, 2 * SEND_RING_INITIAL);
  assert.equal(pool.bytesHeld, SEND_RING_INITIAL);
  tcpReleaseSendBuffer(b, true);
  assert.equal(pool.bytesHeld, 3 * SEND_RING_INITIAL);
  // Bounded: beyond maxBytes, rings are left to the GC; views into larger buffers are never taken.
  pool.give(new Uint8Array(64 * 1024));
  assert.equal(pool.bytesHeld, 3 * SEND_RING_INITIAL);
  pool.give(new Uint8Array(2 * SEND_RING_INITIAL).subarray(0, SEND_RING_INITIAL));
  assert.equal(pool.bytesHeld, 3 * SEND_RING_INITIAL);
});

test("connections one after another reuse one send ring through the engine's pool", async () => {
  const { a, b, vt, settle } = pair();
  const servers: DirectTcpFlow[] = [];
  b.tcp.listen(80, async (flow) => {
    servers.push(flow as DirectTcpFlow);
    await readAll(flow);
    await flow.write(new TextEncoder().encode("reply"));
    await flow.close();
  });
  const rings = new Set<ArrayBufferLike>();
  for (let i = 0; i < 5; i++) {
    const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
    await flow.write(new Uint8Array(500).fill(i));
    await flow.shutdown("write");
    assert.equal(new TextDecoder().decode(await settle(readAll(flow))), "reply");
    rings.add(servers[i]!.conn.sndBuf.buffer);
    await flow.close();
    await vt.advance(100);
    assert.equal(servers[i]!.conn.sndBuf.length, 0, "the ring went back once the FIN was acknowledged");
  }
  // The server's ring of the first connection served all of them (a fresh one each time before).
  assert.equal(rings.size, 1);
});

test("a bulk receiver sends about one ACK per receive batch, not one per two segments, and the data arrives intact", async (t) => {
  const { a, b, settle } = pair();
  const data = pattern(2 << 20, 5);
  let got = "";
  let chunks = 0;
  let largest = 0;
  b.tcp.listen(80, async (flow) => {
    const parts: Uint8Array[] = [];
    for (;;) {
      const chunk = await flow.read();
      if (chunk === null) break;
      chunks++;
      largest = Math.max(largest, chunk.length);
      parts.push(chunk);
    }
    got = sha(Buffer.concat(parts));
    await flow.close();
  });
  const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
  await settle(flow.write(data));
  await flow.shutdown("write");
  await settle(readAll(flow));
  assert.equal(got, sha(data));
  const info = (flow as DirectTcpFlow).info();
  const acks = b.stats().tcp.txSegments;
  assert.ok(info.segmentsSent > 1400, `${info.segmentsSent} segments`);
  t.diagnostic(`${acks} ACKs for ${info.segmentsSent} segments, ${chunks} chunks read, the largest ${largest} bytes`);
  assert.ok(acks < info.segmentsSent / 4, `${acks} ACKs for ${info.segmentsSent} segments (one per two segments would be ${info.segmentsSent / 2})`);
  assert.equal(info.retransmits, 0);
  // Segments that arrived while the reader was busy were read as one chunk.
  assert.ok(chunks < info.segmentsSent, `${chunks} chunks read for ${info.segmentsSent} segments`);
  assert.ok(largest > 1460, `largest chunk ${largest}`);
});

test("with coalesced ACKs, transfers both ways through loss, reordering and duplication still complete intact", async () => {
  for (const seed of [1, 2]) {
    const { a, b, settle } = pair({}, 64, { seed, loss: 0.02, reorder: 0.02, duplicate: 0.01 });
    const up = pattern(1 << 20, seed);
    const down = pattern(1 << 20, seed + 10);
    let serverDone: (hash: string) => void = () => {};
    const serverGot = new Promise<string>((resolve) => (serverDone = resolve));
    b.tcp.listen(80, async (flow: TcpFlow) => {
      const [got] = await Promise.all([readAll(flow), flow.write(down).then(() => flow.shutdown("write"))]);
      serverDone(sha(got));
    });
    const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
    const [got] = await settle(Promise.all([readAll(flow), flow.write(up).then(() => flow.shutdown("write"))]));
    assert.equal(sha(got), sha(down));
    assert.equal(await settle(serverGot), sha(up));
    assert.ok((flow as DirectTcpFlow).info().retransmits > 0);
  }
});

test("the receive slab grows the last unread chunk in place and never touches a chunk already handed out", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 9000 }), fc.boolean()), { minLength: 1, maxLength: 60 }), (pieces) => {
      const slab = new SlabAllocator();
      const frame = new Uint8Array(10_000);
      const handedOut: Array<{ chunk: Uint8Array; bytes: number[] }> = [];
      let tail: Uint8Array | undefined;
      let tailBytes: number[] = [];
      for (const [piece, take] of pieces) {
        frame.set(piece, 3);
        const out = slab.copyAfter(tail, frame, 3, 3 + piece.length);
        frame.fill(0xee);
        if (tail !== undefined && out.buffer === tail.buffer && out.byteOffset === tail.byteOffset) tailBytes.push(...piece);
        else {
          if (tail !== undefined) handedOut.push({ chunk: tail, bytes: tailBytes });
          tailBytes = [...piece];
        }
        tail = out;
        assert.deepEqual(tail, Uint8Array.from(tailBytes));
        if (take) {
          handedOut.push({ chunk: tail, bytes: tailBytes });
          tail = undefined;
          tailBytes = [];
        }
      }
      for (const { chunk, bytes } of handedOut) assert.deepEqual(chunk, Uint8Array.from(bytes));
    }),
    { numRuns: 200 },
  );
});
