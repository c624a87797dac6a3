/**
 * Property tests for the IPv6 codecs: any bytes give a value or a typed error (never an
 * exception, never a hang), views read any bytes, and emit → parse gives back what was emitted.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { type Ipv6Packet, Ipv6View, emitIpv6, ipv6Length, parseIpv6 } from "../src/ipv6/wire.ts";
import { walkIpv6ExtensionHeaders } from "../src/ipv6/extension-headers.ts";
import { type Ipv6FragmentHeader, emitIpv6FragmentHeader, parseIpv6FragmentHeader } from "../src/ipv6/fragment.ts";
import { parseIcmpV6, parseQuotedIpv6 } from "../src/icmpv6/wire.ts";
import { parseNdp } from "../src/ndp/wire.ts";
import { parseMldQuery, parseMldV2Report } from "../src/ndp/mld.ts";
import { parsePcap } from "../src/link/pcap.ts";
import { assertValueOrTypedError, damaged, ipv6Arb, payloadArb, u8 } from "./support/arbitraries.ts";

const RUNS = { numRuns: 1000 };

const ipv6PacketArb: fc.Arbitrary<Ipv6Packet> = fc.record({
  src: ipv6Arb,
  dst: ipv6Arb,
  nextHeader: u8,
  hopLimit: u8,
  trafficClass: u8,
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  payload: payloadArb(),
});

const fragmentHeaderArb: fc.Arbitrary<Ipv6FragmentHeader> = fc.record({
  nextHeader: u8,
  fragmentOffset: fc.integer({ min: 0, max: 8191 }).map((u) => u * 8),
  moreFragments: fc.boolean(),
  identification: fc.integer({ min: 0, max: 0xffffffff }),
});

/** An extension header chain built from parts that are sometimes valid: real headers and options, random bytes. */
const optionArb = fc.oneof(
  fc.constant([0]),
  fc.uint8Array({ maxLength: 6 }).map((d) => [1, d.length, ...d]),
  fc.constant([5, 2, 0, 0]),
  fc.tuple(u8, fc.uint8Array({ maxLength: 6 })).map(([t, d]) => [t, d.length, ...d]),
);
const optionsHeaderArb = fc.array(optionArb, { maxLength: 4 }).map((opts) => {
  const body = opts.flat();
  const length = (body.length + 2 + 7) & ~7;
  const padded = [...body];
  const pad = length - 2 - body.length;
  if (pad === 1) padded.push(0);
  else if (pad > 1) padded.push(1, pad - 2, ...new Array<number>(pad - 2).fill(0));
  return { type: 60, bytes: [0, length / 8 - 1, ...padded] };
});
const headerArb = fc.oneof(
  optionsHeaderArb,
  optionsHeaderArb.map((h) => ({ ...h, type: 0 })),
  fc.tuple(u8, fc.integer({ min: 0, max: 2 })).map(([routingType, left]) => ({ type: 43, bytes: [0, 0, routingType, left, 0, 0, 0, 0] })),
  fragmentHeaderArb.map((f) => {
    const b = new Uint8Array(8);
    emitIpv6FragmentHeader(f, b);
    return { type: 44, bytes: [...b] };
  }),
);
const chainArb = fc.tuple(fc.array(headerArb, { maxLength: 5 }), fc.constantFrom(6, 17, 58, 59, 253), fc.uint8Array({ maxLength: 20 })).map(([headers, upper, rest]) => {
  const bytes: number[] = [];
  headers.forEach((h, i) => {
    const copy = [...h.bytes];
    copy[0] = headers[i + 1]?.type ?? upper;
    bytes.push(...copy);
  });
  return { first: headers[0]?.type ?? upper, bytes: Uint8Array.from([...bytes, ...rest]) };
});

const validIpv6 = ipv6PacketArb.map((p) => {
  const out = new Uint8Array(ipv6Length(p));
  emitIpv6(p, out);
  return out;
});

test("parseIpv6: any bytes give a packet or a typed error; a parsed packet is consistent; views never throw", () => {
  fc.assert(
    fc.property(damaged(validIpv6), (bytes) => {
      const r = parseIpv6(bytes);
      assertValueOrTypedError(r, "ipv6");
      if (r.ok) assert.ok(40 + r.value.payload.length <= bytes.length);
      const v = new Ipv6View(bytes, 3);
      v.version(), v.trafficClass(), v.flowLabel(), v.payloadLength(), v.nextHeader(), v.hopLimit(), v.src(), v.dst(), v.payload();
    }),
    RUNS,
  );
});

test("walkIpv6ExtensionHeaders: any bytes and first header give a walk or a typed error, within the bytes", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        chainArb,
        damaged(chainArb.map((c) => c.bytes)).chain((bytes) => fc.constantFrom(0, 43, 44, 60, 17).map((first) => ({ first, bytes }))),
      ),
      fc.boolean(),
      ({ first, bytes }, afterFragment) => {
        const r = walkIpv6ExtensionHeaders(bytes, first, { afterFragment });
        assertValueOrTypedError(r, "ipv6");
        if (r.ok) {
          assert.ok(r.value.offset <= bytes.length);
          let end = 0;
          for (const h of r.value.headers) {
            assert.equal(h.offset, end, "headers follow each other");
            end = h.offset + h.length;
          }
          assert.equal(r.value.offset, end);
          assert.ok(![0, 43, 60].includes(r.value.nextHeader) || r.value.fragment !== undefined);
        } else if (r.error.parameterProblem !== undefined) {
          assert.ok(r.error.parameterProblem.pointer >= 6 && r.error.parameterProblem.pointer < 40 + bytes.length);
          assert.ok([0, 1, 2].includes(r.error.parameterProblem.code));
        }
      },
    ),
    RUNS,
  );
});

test("parseIpv6FragmentHeader: any bytes give a header or a typed error", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
      const r = parseIpv6FragmentHeader(bytes);
      assertValueOrTypedError(r, "ipv6");
      assert.equal(r.ok, bytes.length >= 8);
    }),
    RUNS,
  );
});

test("IPv6: emit then parse gives the packet back, at any offset, with nothing written past it", () => {
  fc.assert(
    fc.property(ipv6PacketArb, fc.nat(9), (packet, at) => {
      const buffer = new Uint8Array(at + ipv6Length(packet) + 5).fill(0xee);
      assert.equal(emitIpv6(packet, buffer, at), ipv6Length(packet));
      assert.ok(buffer.subarray(at + ipv6Length(packet)).every((b) => b === 0xee));
      const r = parseIpv6(buffer.subarray(at, at + ipv6Length(packet)));
      assert.ok(r.ok);
      const { src, dst, payload, ...rest } = r.value;
      assert.deepEqual(rest, { nextHeader: packet.nextHeader, hopLimit: packet.hopLimit, trafficClass: packet.trafficClass, flowLabel: packet.flowLabel });
      assert.ok(src.equals(packet.src) && dst.equals(packet.dst));
      assert.deepEqual(payload, packet.payload);
    }),
    RUNS,
  );
});

test("Fragment header: emit then parse gives it back", () => {
  fc.assert(
    fc.property(fragmentHeaderArb, (h) => {
      const out = new Uint8Array(8);
      emitIpv6FragmentHeader(h, out);
      const r = parseIpv6FragmentHeader(out);
      assert.ok(r.ok);
      assert.deepEqual(r.value, { ...h });
    }),
    RUNS,
  );
});

/** Everything the IPv6 side decodes from one Ethernet payload, as the engine will chain it. */
function decodeAll(bytes: Uint8Array): void {
  const ip = parseIpv6(bytes);
  if (!ip.ok) return;
  const { src, dst } = ip.value;
  const walk = walkIpv6ExtensionHeaders(ip.value.payload, ip.value.nextHeader);
  if (!walk.ok) return;
  const upper = ip.value.payload.subarray(walk.value.offset);
  if (walk.value.nextHeader !== 58) return;
  const icmp = parseIcmpV6(upper, src, dst);
  assertValueOrTypedError(icmp, "icmpv6");
  if (icmp.ok && "original" in icmp.value) assertValueOrTypedError(parseQuotedIpv6(icmp.value.original), "icmpv6");
  assertValueOrTypedError(parseNdp(upper, src, dst), "ndp");
  assertValueOrTypedError(parseMldV2Report(upper, src, dst), "mld");
  assertValueOrTypedError(parseMldQuery(upper, src, dst), "mld");
}

test("100,000 random and mutated IPv6 frames (real Linux packets among the seeds) go through every decoder without an exception", () => {
  const pcap = parsePcap(new Uint8Array(readFileSync(new URL("./fixtures/ipv6-linux.pcap", import.meta.url))));
  assert.ok(pcap.ok);
  const linux = fc.constantFrom(...pcap.value.records.map((r) => r.data.subarray(14)));
  const runs = process.env.IPV6_FUZZ_RUNS === undefined ? 100_000 : Number(process.env.IPV6_FUZZ_RUNS);
  fc.assert(
    fc.property(damaged(fc.oneof(linux, validIpv6)), chainArb, (bytes, chain) => {
      decodeAll(bytes);
      walkIpv6ExtensionHeaders(chain.bytes, chain.first);
    }),
    { numRuns: runs },
  );
});
