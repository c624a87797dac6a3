/**
 * ICMPv6 (RFC 4443): byte-exact fixtures (messages Linux sent, fixtures/ipv6-linux.pcap), the
 * pseudo-header checksum, the quoting rule and the rules on what may be answered with an error;
 * property tests for the parser and emit → parse round trips.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv6Address } from "@mirage-ts/runtime";
import {
  ICMPV6_ERROR_QUOTE_LIMIT,
  type IcmpV6Message,
  IcmpV6View,
  emitIcmpV6,
  icmpV6Length,
  mayAnswerWithError,
  parseIcmpV6,
  parseQuotedIpv6,
  quoteIpv6Packet,
} from "../src/icmpv6/wire.ts";
import { MLD_HOP_BY_HOP } from "../src/ndp/mld.ts";
import { assertValueOrTypedError, damaged, ipv6Arb, payloadArb, u16, u8 } from "./support/arbitraries.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const A = Ipv6Address.of("2001:db8:99::1");
const B = Ipv6Address.of("2001:db8:99::2");

// Frame 37: B's echo reply to the atomic fragment. Frame 35: B's port unreachable for A's UDP datagram.
// Frame 39: B's parameter problem (unrecognised Next Header 253, pointer 6).
const ECHO_REPLY = hex("8100596a6d36000761746f6d69632121");
const PORT_UNREACHABLE = hex(
  "0104bb3900000000600f7564000e114020010db800990000000000000000000120010db80099000000000000000000028d56270f000eb681636c6f736564",
);
const PARAMETER_PROBLEM = hex(
  "040182e7000000066007dc6a000cfd4020010db800990000000000000000000120010db80099000000000000000000026578706572696d656e74616c",
);

function emitted(message: IcmpV6Message, src = B, dst = A): Uint8Array {
  const out = new Uint8Array(icmpV6Length(message));
  assert.equal(emitIcmpV6(message, out, 0, src, dst), out.length);
  return out;
}

test("Linux's echo reply: parsed and emitted byte for byte", () => {
  const r = parseIcmpV6(ECHO_REPLY, B, A);
  assert.ok(r.ok);
  assert.deepEqual({ ...r.value, data: [...(r.value.type === "echo-reply" ? r.value.data : [])] }, { type: "echo-reply", identifier: 0x6d36, sequence: 7, data: [...new TextEncoder().encode("atomic!!")] });
  assert.deepEqual(emitted({ type: "echo-reply", identifier: 0x6d36, sequence: 7, data: new TextEncoder().encode("atomic!!") }), ECHO_REPLY);
});

test("Linux's port unreachable: the quote is the whole (short) datagram; the UDP ports are found in it", () => {
  const r = parseIcmpV6(PORT_UNREACHABLE, B, A);
  assert.ok(r.ok && r.value.type === "destination-unreachable");
  assert.equal(r.value.code, 4);
  assert.deepEqual(emitted({ type: "destination-unreachable", code: 4, original: r.value.original }), PORT_UNREACHABLE);
  const q = parseQuotedIpv6(r.value.original);
  assert.ok(q.ok);
  assert.deepEqual([q.value.src.toString(), q.value.dst.toString(), q.value.protocol], ["2001:db8:99::1", "2001:db8:99::2", 17]);
  assert.equal((q.value.transport[2]! << 8) | q.value.transport[3]!, 9999, "the destination port");
  assert.deepEqual(quoteIpv6Packet(r.value.original), r.value.original, "short enough to quote whole");
});

test("Linux's parameter problem: code and pointer", () => {
  const r = parseIcmpV6(PARAMETER_PROBLEM, B, A);
  assert.ok(r.ok && r.value.type === "parameter-problem");
  assert.deepEqual([r.value.code, r.value.pointer], [1, 6]);
  assert.deepEqual(emitted({ type: "parameter-problem", code: 1, pointer: 6, original: r.value.original }), PARAMETER_PROBLEM);
});

test("packet too big and time exceeded: fields at their RFC 4443 places", () => {
  const ptb = emitted({ type: "packet-too-big", mtu: 1280, original: new Uint8Array(4) });
  assert.deepEqual([...ptb.subarray(0, 2)], [2, 0]);
  assert.deepEqual([...ptb.subarray(4, 8)], [0, 0, 5, 0]);
  const te = emitted({ type: "time-exceeded", code: 1, original: new Uint8Array(0) });
  assert.deepEqual([...te.subarray(0, 2), ...te.subarray(4, 8)], [3, 1, 0, 0, 0, 0]);
  const back = parseIcmpV6(ptb, B, A);
  assert.ok(back.ok && back.value.type === "packet-too-big" && back.value.mtu === 1280);
});

test("the checksum covers the pseudo-header: other addresses, or a flipped bit, are refused", () => {
  const wrong = parseIcmpV6(ECHO_REPLY, A, B);
  assert.ok(wrong.ok, "swapping source and destination keeps the sum");
  const other = parseIcmpV6(ECHO_REPLY, Ipv6Address.of("2001:db8:99::3"), A);
  assert.ok(!other.ok && other.error.code === "bad-checksum" && other.error.protocol === "icmpv6");
  const flipped = ECHO_REPLY.slice();
  flipped[10]! ^= 0x10;
  assert.ok(!parseIcmpV6(flipped, B, A).ok);
});

test("neighbour discovery and MLD types come out as 'other' for their own codecs", () => {
  const ns = emitted({ type: "other", icmpType: 135, code: 0, message: new Uint8Array([135, 0, 0, 0, ...new Array<number>(20).fill(0)]) });
  const r = parseIcmpV6(ns, B, A);
  assert.ok(r.ok && r.value.type === "other" && r.value.icmpType === 135 && r.value.message.length === 24);
});

test("the quoting rule: as much of the invoking packet as fits 1280 bytes with the error's headers", () => {
  assert.equal(ICMPV6_ERROR_QUOTE_LIMIT, 1232);
  const big = new Uint8Array(9000).map((_, i) => i & 0xff);
  const q = quoteIpv6Packet(big);
  assert.equal(q.length, 1232);
  assert.equal(q.buffer, big.buffer, "a subarray, not a copy");
  assert.equal(40 + icmpV6Length({ type: "time-exceeded", code: 0, original: q }), 1280);
  assert.equal(quoteIpv6Packet(big.subarray(0, 100)).length, 100);
});

test("what may be answered with an error (RFC 4443 §2.4 (e))", () => {
  const multicast = Ipv6Address.of("ff02::1");
  const pp = { type: "parameter-problem" as const, code: 2 };
  assert.ok(mayAnswerWithError({ src: A, dst: B }, { type: "destination-unreachable" }));
  assert.ok(!mayAnswerWithError({ src: A, dst: B, invokingIcmpType: 1 }, { type: "destination-unreachable" }), "never an error about an error");
  assert.ok(mayAnswerWithError({ src: A, dst: B, invokingIcmpType: 128 }, { type: "time-exceeded" }));
  assert.ok(!mayAnswerWithError({ src: Ipv6Address.unspecified, dst: B }, { type: "time-exceeded" }));
  assert.ok(!mayAnswerWithError({ src: multicast, dst: B }, { type: "time-exceeded" }));
  assert.ok(!mayAnswerWithError({ src: A, dst: multicast }, { type: "destination-unreachable" }));
  assert.ok(mayAnswerWithError({ src: A, dst: multicast }, { type: "packet-too-big" }));
  assert.ok(mayAnswerWithError({ src: A, dst: multicast }, { ...pp, multicastAllowed: true }));
  assert.ok(!mayAnswerWithError({ src: A, dst: multicast }, { ...pp, multicastAllowed: false }));
});

test("parseQuotedIpv6 walks quoted extension headers without acting on them, and knows a later fragment has no transport header", () => {
  const quote = new Uint8Array(40 + 8 + 8);
  quote[0] = 0x60;
  quote[6] = 0; // hop-by-hop
  quote.set(MLD_HOP_BY_HOP, 40);
  quote.set([143, 0, 0, 0, 0, 0, 0, 1], 48);
  const r = parseQuotedIpv6(quote);
  assert.ok(r.ok && r.value.protocol === 58 && r.value.transport[0] === 143);
  const frag = new Uint8Array(40 + 8 + 8);
  frag[0] = 0x60;
  frag[6] = 44;
  frag.set([17, 0, 0x05, 0xa8, 0, 0, 0, 1], 40);
  const f = parseQuotedIpv6(frag);
  assert.ok(f.ok && f.value.protocol === 17 && f.value.transport.length === 0);
  assert.ok(!parseQuotedIpv6(frag.subarray(0, 39)).ok);
  const v4 = frag.slice();
  v4[0] = 0x45;
  const bad = parseQuotedIpv6(v4);
  assert.ok(!bad.ok && bad.error.code === "bad-version");
});

// ---- properties

const messageArb: fc.Arbitrary<IcmpV6Message> = fc.oneof(
  fc.record({ type: fc.constantFrom("echo-request" as const, "echo-reply" as const), identifier: u16, sequence: u16, data: payloadArb() }),
  fc.record({ type: fc.constantFrom("destination-unreachable" as const, "time-exceeded" as const), code: u8, original: payloadArb(1232) }),
  fc.record({ type: fc.constant("packet-too-big" as const), mtu: fc.integer({ min: 0, max: 0xffffffff }), original: payloadArb(1232) }),
  fc.record({ type: fc.constant("parameter-problem" as const), code: u8, pointer: fc.integer({ min: 0, max: 0xffffffff }), original: payloadArb(1232) }),
  fc
    .tuple(fc.integer({ min: 130, max: 255 }).filter((t) => t !== 128 && t !== 129), u8, fc.uint8Array({ minLength: 4, maxLength: 64 }))
    .map(([icmpType, code, bytes]) => {
      bytes[0] = icmpType;
      bytes[1] = code;
      return { type: "other" as const, icmpType, code, message: bytes };
    }),
);

test("parseIcmpV6 and parseQuotedIpv6: any bytes give a message or a typed error", () => {
  const valid = fc.tuple(messageArb, ipv6Arb, ipv6Arb).map(([m, s, d]) => ({ bytes: emitted(m, s, d), s, d }));
  fc.assert(
    fc.property(
      fc.oneof(valid, damaged(valid.map((v) => v.bytes)).chain((bytes) => fc.tuple(ipv6Arb, ipv6Arb).map(([s, d]) => ({ bytes, s, d })))),
      ({ bytes, s, d }) => {
        const r = parseIcmpV6(bytes, s, d);
        assertValueOrTypedError(r, "icmpv6");
        if (r.ok && "original" in r.value) assertValueOrTypedError(parseQuotedIpv6(r.value.original), "icmpv6");
        assertValueOrTypedError(parseQuotedIpv6(bytes), "icmpv6");
        quoteIpv6Packet(bytes);
        const v = new IcmpV6View(bytes, 2);
        v.type(), v.code(), v.checksum(), v.identifier(), v.sequence(), v.restOfHeader(), v.body();
      },
    ),
    { numRuns: 1000 },
  );
});

test("ICMPv6: emit then parse gives the message back, and any one-bit flip is detected", () => {
  fc.assert(
    fc.property(messageArb, ipv6Arb, ipv6Arb, fc.nat(9), fc.nat(), (m, s, d, at, bit) => {
      const buffer = new Uint8Array(at + icmpV6Length(m) + 3).fill(0xee);
      emitIcmpV6(m, buffer, at, s, d);
      assert.ok(buffer.subarray(at + icmpV6Length(m)).every((b) => b === 0xee));
      const bytes = buffer.subarray(at, at + icmpV6Length(m));
      const r = parseIcmpV6(bytes, s, d);
      assert.ok(r.ok, r.ok ? "" : r.error.message);
      if (m.type === "other") {
        assert.ok(r.value.type === "other" && r.value.icmpType === m.icmpType && r.value.code === m.code);
        assert.deepEqual(r.value.message.subarray(4), m.message.subarray(4));
      } else {
        assert.deepEqual({ ...r.value }, { ...m });
      }
      const flipped = bytes.slice();
      const b = bit % (flipped.length * 8);
      flipped[b >> 3]! ^= 1 << (b & 7);
      assert.ok(!parseIcmpV6(flipped, s, d).ok || flipped.length < 4);
    }),
    { numRuns: 1000 },
  );
});
