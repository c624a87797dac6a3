/** The TCP codec with options: property tests (any bytes → value or typed error; emit → parse). */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv4Address } from "@mirage-ts/runtime";
import {
  TcpFlag,
  type TcpOptions,
  emitTcpOptions,
  emitTcpRepr,
  emptyTcpOptions,
  parseTcpOptions,
  parseTcpRepr,
  tcpOptionsLength,
} from "../src/tcp/wire.ts";
import { createIsnGenerator, halfSipHash24 } from "../src/tcp/isn.ts";
import { seededRandom } from "../src/prng.ts";

const A = Ipv4Address.of("10.0.0.1");
const B = Ipv4Address.of("10.0.0.2");

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const optionsArb: fc.Arbitrary<TcpOptions> = fc
  .record({
    mss: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: -1 }),
    windowScale: fc.option(fc.integer({ min: 0, max: 14 }), { nil: -1 }),
    sackPermitted: fc.boolean(),
    ts: fc.option(fc.tuple(u32, u32), { nil: undefined }),
    sack: fc.array(fc.tuple(u32, u32), { maxLength: 4 }),
  })
  .map((r) => {
    const o = emptyTcpOptions();
    o.mss = r.mss;
    o.windowScale = r.windowScale;
    o.sackPermitted = r.sackPermitted;
    if (r.ts) {
      o.timestamps = true;
      o.tsVal = r.ts[0];
      o.tsEcr = r.ts[1];
    }
    r.sack.forEach(([l, h], i) => {
      o.sackBlocks[2 * i] = l;
      o.sackBlocks[2 * i + 1] = h;
    });
    o.sackCount = r.sack.length;
    return o;
  })
  .filter((o) => {
    try {
      tcpOptionsLength(o);
      return true;
    } catch {
      return false;
    }
  });

test("options: emit then parse gives the same options, padded to 32-bit words", () => {
  fc.assert(
    fc.property(optionsArb, (o) => {
      const bytes = new Uint8Array(tcpOptionsLength(o));
      assert.equal(emitTcpOptions(o, bytes, 0), bytes.length);
      assert.equal(bytes.length % 4, 0);
      const back = parseTcpOptions(bytes);
      assert.ok(back.ok, JSON.stringify(back));
      assert.deepEqual({ ...back.value, sackBlocks: back.value.sackBlocks.slice(0, 2 * o.sackCount) }, { ...o, sackBlocks: o.sackBlocks.slice(0, 2 * o.sackCount) });
    }),
  );
});

test("options: any bytes give options or a typed error, never a throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const r = parseTcpOptions(bytes);
      if (!r.ok) assert.ok(["truncated", "bad-length", "bad-field"].includes(r.error.code) && r.error.protocol === "tcp");
    }),
  );
});

test("options: unknown kinds are skipped, EOL ends the list, bad lengths are refused", () => {
  const r = parseTcpOptions(Uint8Array.of(1, 99, 4, 0xaa, 0xbb, 2, 4, 0x05, 0xb4, 0, 3, 3, 7));
  assert.ok(r.ok);
  assert.equal(r.value.mss, 1460);
  assert.equal(r.value.windowScale, -1, "after EOL nothing is read");
  const bad = parseTcpOptions(Uint8Array.of(2, 3, 0));
  assert.ok(!bad.ok && bad.error.code === "bad-field");
  const zero = parseTcpOptions(Uint8Array.of(30, 0));
  assert.ok(!zero.ok && zero.error.code === "bad-length");
  const past = parseTcpOptions(Uint8Array.of(8, 10, 0, 0));
  assert.ok(!past.ok && past.error.code === "truncated");
  const big = parseTcpOptions(Uint8Array.of(3, 3, 20, 0));
  assert.ok(big.ok && big.value.windowScale === 14, "shifts above 14 count as 14");
});

test("segments: emit → parse round trip with options and a verified pseudo-header checksum", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      u32,
      u32,
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffff }),
      optionsArb,
      fc.uint8Array({ maxLength: 100 }),
      (srcPort, dstPort, seq, ack, flags, window, options, payload) => {
        const repr = { srcPort, dstPort, seq, ack, flags, window, urgentPointer: 0, options, payload };
        const out = new Uint8Array(20 + tcpOptionsLength(options) + payload.length);
        emitTcpRepr(repr, out, 0, A, B);
        const back = parseTcpRepr(out, A, B);
        assert.ok(back.ok);
        assert.equal(back.value.seq, seq);
        assert.equal(back.value.flags, flags);
        assert.deepEqual(back.value.payload, payload);
        assert.equal(back.value.options.mss, options.mss);
        // The checksum covers the pseudo-header: the same bytes between other hosts fail.
        const wrong = parseTcpRepr(out, B, Ipv4Address.of("10.0.0.3"));
        assert.ok(!wrong.ok && wrong.error.code === "bad-checksum");
      },
    ),
  );
});

test("segments: any bytes parse to a repr or a typed error", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const r = parseTcpRepr(bytes, A, B);
      if (!r.ok) assert.equal(r.error.protocol, "tcp");
    }),
  );
  assert.equal(TcpFlag.syn, 2);
});

test("ISNs: keyed by the 4-tuple, advancing with a 4 µs clock, different per key", () => {
  const g = createIsnGenerator(seededRandom(1));
  const h = createIsnGenerator(seededRandom(2));
  const a = g.isn(1, 80, 2, 40000, 0);
  assert.equal(g.isn(1, 80, 2, 40000, 1000), (a + 250_000) >>> 0, "1 s later the ISN moved by 250 000");
  assert.notEqual(g.isn(1, 80, 2, 40001, 0), a);
  assert.notEqual(h.isn(1, 80, 2, 40000, 0), a);
  const words = [1, 2, 3];
  assert.equal(halfSipHash24(5, 6, words), halfSipHash24(5, 6, words));
  assert.notEqual(halfSipHash24(5, 6, words), halfSipHash24(5, 7, words));
});
