/**
 * Property tests for every wire codec: any byte sequence gives a value or a typed error (never an
 * exception, never a hang), emit → parse gives back what was emitted, and damage to a checksummed
 * packet is detected.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type IpAddress, Ipv4Address, MacAddress } from "@mirage-ts/runtime";
import { EtherType, type EthernetFrame, emitEthernet, ethernetLength, parseEthernet, EthernetView } from "../src/ethernet/wire.ts";
import { ARP_PACKET_LEN, type ArpPacket, ArpView, emitArp, parseArp } from "../src/arp/wire.ts";
import { type Ipv4Packet, Ipv4View, emitIpv4, ipv4Length, parseIpv4 } from "../src/ipv4/wire.ts";
import { type IcmpV4Message, IcmpV4View, emitIcmpV4, icmpV4Length, parseIcmpV4, parseQuotedIpv4, quoteDatagram } from "../src/icmpv4/wire.ts";
import { type UdpPacket, UdpView, emitUdp, parseUdp, udpLength } from "../src/udp/wire.ts";
import { parsePcap } from "../src/link/pcap.ts";
import { assertValueOrTypedError, damaged, ipv4Arb, ipv6Arb, macArb, payloadArb, u16, u8 } from "./support/arbitraries.ts";

const RUNS = { numRuns: 1000 };

// ---- arbitraries for representations

const etherTypeArb = fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== EtherType.vlan && t !== EtherType.qinq && t !== EtherType.qinqLegacy);
const ethernetArb: fc.Arbitrary<EthernetFrame> = fc.record({ dst: macArb, src: macArb, etherType: etherTypeArb, payload: payloadArb() });
const arpArb: fc.Arbitrary<ArpPacket> = fc.record({
  operation: fc.constantFrom("request" as const, "reply" as const),
  senderMac: macArb,
  senderIp: ipv4Arb,
  targetMac: macArb,
  targetIp: ipv4Arb,
});
const ipv4Arb2: fc.Arbitrary<Ipv4Packet> = fc
  .record({
    src: ipv4Arb,
    dst: ipv4Arb,
    protocol: u8,
    ttl: u8,
    tos: u8,
    identification: u16,
    dontFragment: fc.boolean(),
    moreFragments: fc.boolean(),
    fragmentUnits: fc.integer({ min: 0, max: 0x1fff }),
    payload: payloadArb(),
  })
  .map(({ fragmentUnits, ...p }) => ({ ...p, fragmentOffset: Math.min(fragmentUnits * 8, (65535 - 20 - p.payload.length) & ~7) }));
const icmpArb: fc.Arbitrary<IcmpV4Message> = fc.oneof(
  fc.record({ type: fc.constantFrom("echo-request" as const, "echo-reply" as const), identifier: u16, sequence: u16, data: payloadArb() }),
  fc.record({ type: fc.constant("destination-unreachable" as const), code: u8, nextHopMtu: u16, original: payloadArb(100) }).map((m) => ({
    ...m,
    nextHopMtu: m.code === 4 ? m.nextHopMtu : 0,
  })),
  fc.record({ type: fc.constant("time-exceeded" as const), code: u8, original: payloadArb(100) }),
);
const udpArb: fc.Arbitrary<UdpPacket> = fc.record({ srcPort: u16, dstPort: u16, payload: payloadArb() });
const addressPairArb: fc.Arbitrary<[IpAddress, IpAddress]> = fc.oneof(fc.tuple(ipv4Arb, ipv4Arb), fc.tuple(ipv6Arb, ipv6Arb));

const emitted = <T>(arb: fc.Arbitrary<T>, length: (r: T) => number, emit: (r: T, into: Uint8Array) => number) =>
  arb.map((r) => {
    const out = new Uint8Array(length(r));
    emit(r, out);
    return out;
  });

const validEthernet = emitted(ethernetArb, ethernetLength, (r, o) => emitEthernet(r, o));
const validArp = emitted(arpArb, () => ARP_PACKET_LEN, (r, o) => emitArp(r, o));
const validIpv4 = emitted(ipv4Arb2, ipv4Length, (r, o) => emitIpv4(r, o));
const validIcmp = emitted(icmpArb, icmpV4Length, (r, o) => emitIcmpV4(r, o));
const validUdpV4 = fc.tuple(udpArb, ipv4Arb, ipv4Arb).map(([u, s, d]) => {
  const out = new Uint8Array(udpLength(u));
  emitUdp(u, out, 0, s, d);
  return { bytes: out, src: s, dst: d };
});

// ---- any bytes: value or typed error, and views never throw

test("parseEthernet: any bytes give a frame or a typed error; views read without throwing", () => {
  fc.assert(
    fc.property(damaged(validEthernet), (bytes) => {
      assertValueOrTypedError(parseEthernet(bytes), "ethernet");
      const v = new EthernetView(bytes, 3);
      v.dst(), v.src(), v.etherType(), v.payload();
    }),
    RUNS,
  );
});

test("parseArp: any bytes give a packet or a typed error", () => {
  fc.assert(
    fc.property(damaged(validArp), (bytes) => {
      assertValueOrTypedError(parseArp(bytes), "arp");
      const v = new ArpView(bytes, 5);
      v.operation(), v.senderMac(), v.senderIpValue(), v.targetMac(), v.targetIpValue();
    }),
    RUNS,
  );
});

test("parseIpv4: any bytes give a packet or a typed error; a parsed packet is consistent", () => {
  fc.assert(
    fc.property(damaged(validIpv4), (bytes) => {
      const r = parseIpv4(bytes);
      assertValueOrTypedError(r, "ipv4");
      if (r.ok) {
        assert.ok(r.value.headerLength >= 20 && r.value.headerLength + r.value.payload.length <= bytes.length);
        assert.ok(r.value.fragmentOffset + r.value.payload.length <= 65535);
      }
      const v = new Ipv4View(bytes, 1);
      v.payload(), v.checksumValid(), v.src(), v.fragmentOffset();
    }),
    RUNS,
  );
});

test("parseIcmpV4 and parseQuotedIpv4: any bytes give a message or a typed error", () => {
  fc.assert(
    fc.property(damaged(validIcmp), (bytes) => {
      const r = parseIcmpV4(bytes);
      assertValueOrTypedError(r, "icmpv4");
      if (r.ok && "original" in r.value) assertValueOrTypedError(parseQuotedIpv4(r.value.original), "icmpv4");
      assertValueOrTypedError(parseQuotedIpv4(bytes), "icmpv4");
      quoteDatagram(bytes);
      new IcmpV4View(bytes, 2).body();
    }),
    RUNS,
  );
});

test("parseUdp: any bytes give a datagram or a typed error, for either family", () => {
  fc.assert(
    fc.property(damaged(validUdpV4.map((u) => u.bytes)), addressPairArb, (bytes, [src, dst]) => {
      const r = parseUdp(bytes, src, dst);
      assertValueOrTypedError(r, "udp");
      if (r.ok) assert.ok(r.value.payload.length + 8 <= bytes.length);
      new UdpView(bytes, 4).payload();
    }),
    RUNS,
  );
});

test("parsePcap: any bytes give a file or an error string", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withMagic) => {
      if (withMagic && bytes.length >= 4) bytes.set([0xd4, 0xc3, 0xb2, 0xa1]);
      const r = parsePcap(bytes);
      if (!r.ok) assert.equal(typeof r.error, "string");
    }),
    RUNS,
  );
});

// ---- emit → parse round trips, at an offset inside a larger buffer, with copied or in-place payloads

function emitAt<T>(length: number, at: number, emit: (into: Uint8Array, offset: number) => number): Uint8Array {
  const buffer = new Uint8Array(at + length + 7).fill(0xee);
  assert.equal(emit(buffer, at), length);
  assert.ok(buffer.subarray(at + length).every((b) => b === 0xee), "nothing written past the packet");
  return buffer.subarray(at, at + length);
}

test("Ethernet: emit then parse gives the frame back", () => {
  fc.assert(
    fc.property(ethernetArb, fc.nat(9), (frame, at) => {
      const bytes = emitAt(ethernetLength(frame), at, (into, o) => emitEthernet(frame, into, o));
      const r = parseEthernet(bytes);
      assert.ok(r.ok);
      assert.ok(r.value.dst.equals(frame.dst) && r.value.src.equals(frame.src));
      assert.equal(r.value.etherType, frame.etherType);
      assert.deepEqual(r.value.payload, frame.payload);
      assert.equal(r.value.payload.buffer, bytes.buffer, "the payload is a view, not a copy");
    }),
    RUNS,
  );
});

test("ARP: emit then parse gives the packet back", () => {
  fc.assert(
    fc.property(arpArb, fc.nat(9), (packet, at) => {
      const bytes = emitAt(ARP_PACKET_LEN, at, (into, o) => emitArp(packet, into, o));
      const r = parseArp(bytes);
      assert.ok(r.ok);
      assert.equal(r.value.operation, packet.operation);
      assert.ok(r.value.senderMac.equals(packet.senderMac) && r.value.targetMac.equals(packet.targetMac));
      assert.ok(r.value.senderIp.equals(packet.senderIp) && r.value.targetIp.equals(packet.targetIp));
    }),
    RUNS,
  );
});

test("IPv4: emit then parse gives the packet back, and any one-bit flip in the header is detected", () => {
  fc.assert(
    fc.property(ipv4Arb2, fc.nat(9), fc.integer({ min: 0, max: 159 }), (packet, at, bit) => {
      const bytes = emitAt(ipv4Length(packet), at, (into, o) => emitIpv4(packet, into, o));
      const r = parseIpv4(bytes);
      assert.ok(r.ok, r.ok ? "" : r.error.message);
      const { headerLength, options, ...rest } = r.value;
      assert.equal(headerLength, 20);
      assert.equal(options.length, 0);
      assert.deepEqual({ ...rest, src: rest.src.value, dst: rest.dst.value }, { ...packet, src: packet.src.value, dst: packet.dst.value });
      const flipped = bytes.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      assert.ok(!parseIpv4(flipped).ok);
    }),
    RUNS,
  );
});

test("ICMPv4: emit then parse gives the message back, and any one-bit flip is detected", () => {
  fc.assert(
    fc.property(icmpArb, fc.nat(9), fc.nat(), (message, at, bitSeed) => {
      const bytes = emitAt(icmpV4Length(message), at, (into, o) => emitIcmpV4(message, into, o));
      const r = parseIcmpV4(bytes);
      assert.ok(r.ok, r.ok ? "" : r.error.message);
      assert.deepEqual(r.value, { ...message });
      const bit = bitSeed % (bytes.length * 8);
      const flipped = bytes.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      assert.ok(!parseIcmpV4(flipped).ok);
    }),
    RUNS,
  );
});

test("UDP: emit then parse gives the datagram back over IPv4 and IPv6; damage is detected", () => {
  fc.assert(
    fc.property(udpArb, addressPairArb, fc.nat(9), fc.nat(), (datagram, [src, dst], at, bitSeed) => {
      const bytes = emitAt(udpLength(datagram), at, (into, o) => emitUdp(datagram, into, o, src, dst));
      assert.notEqual(new UdpView(bytes).checksum(), 0, "a computed checksum of 0 is sent as 0xffff");
      const r = parseUdp(bytes, src, dst);
      assert.ok(r.ok, r.ok ? "" : r.error.message);
      assert.deepEqual(r.value, { ...datagram });
      const bit = bitSeed % (bytes.length * 8);
      const flipped = bytes.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const damagedResult = parseUdp(flipped, src, dst);
      // The only undetectable flip turns the checksum field into 0, "no checksum", over IPv4.
      if (damagedResult.ok) assert.ok(src.family === 4 && new UdpView(flipped).checksum() === 0);
    }),
    RUNS,
  );
});

test("UDP over IPv4 without a checksum is accepted unverified; over IPv6 it is refused", () => {
  fc.assert(
    fc.property(udpArb, ipv4Arb, ipv4Arb, ipv6Arb, (datagram, src, dst, v6) => {
      const bytes = new Uint8Array(udpLength(datagram));
      emitUdp(datagram, bytes, 0, src, dst, false);
      assert.equal(new UdpView(bytes).checksum(), 0);
      const r = parseUdp(bytes, Ipv4Address.ofInt(src.value ^ 1), dst);
      assert.ok(r.ok);
      assert.deepEqual(r.value, { ...datagram });
      const v6r = parseUdp(bytes, v6, v6);
      assert.ok(!v6r.ok && v6r.error.code === "bad-checksum");
    }),
    RUNS,
  );
});

test("a payload built in place is not copied over itself, and a payload elsewhere is copied", () => {
  const frame = new Uint8Array(14 + 20 + 8 + 5);
  const data = frame.subarray(42);
  data.set([1, 2, 3, 4, 5]);
  const src = Ipv4Address.of("10.0.0.1");
  const dst = Ipv4Address.of("10.0.0.2");
  const udp = emitUdp({ srcPort: 1, dstPort: 2, payload: data }, frame, 34, src, dst);
  const ip = emitIpv4(
    { src, dst, protocol: 17, ttl: 64, tos: 0, identification: 7, dontFragment: true, moreFragments: false, fragmentOffset: 0, payload: frame.subarray(34, 34 + udp) },
    frame,
    14,
  );
  const payload = frame.subarray(14, 14 + ip);
  emitEthernet({ dst: MacAddress.of("02:00:00:00:00:01"), src: MacAddress.of("02:00:00:00:00:02"), etherType: EtherType.ipv4, payload }, frame, 0);
  const eth = parseEthernet(frame);
  assert.ok(eth.ok);
  const parsedIp = parseIpv4(eth.value.payload);
  assert.ok(parsedIp.ok);
  const parsedUdp = parseUdp(parsedIp.value.payload, parsedIp.value.src, parsedIp.value.dst);
  assert.ok(parsedUdp.ok);
  assert.deepEqual([...parsedUdp.value.payload], [1, 2, 3, 4, 5]);
  // The same datagram emitted from a payload held elsewhere is byte-identical.
  const elsewhere = new Uint8Array(frame.length);
  emitUdp({ srcPort: 1, dstPort: 2, payload: Uint8Array.of(1, 2, 3, 4, 5) }, elsewhere, 34, src, dst);
  assert.deepEqual(elsewhere.subarray(34), frame.subarray(34));
});

test("VLAN-tagged and 802.3 frames are refused with their own codes", () => {
  for (const [tpid, code] of [
    [0x8100, "vlan-tagged"],
    [0x88a8, "vlan-tagged"],
    [0x9100, "vlan-tagged"],
    [0x05dc, "unsupported"],
  ] as const) {
    const frame = new Uint8Array(60);
    frame[12] = tpid >> 8;
    frame[13] = tpid & 0xff;
    const r = parseEthernet(frame);
    assert.ok(!r.ok && r.error.code === code, `0x${tpid.toString(16)}`);
  }
});

test("IPv4: each malformed header is refused with its code", () => {
  const good = new Uint8Array(28);
  emitIpv4({ src: Ipv4Address.of("1.2.3.4"), dst: Ipv4Address.of("5.6.7.8"), protocol: 17, ttl: 64, tos: 0, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, payload: new Uint8Array(8) }, good);
  const withHeader = (edit: (b: Uint8Array) => void): Uint8Array => {
    const b = good.slice();
    edit(b);
    new Ipv4View(b).fillChecksum();
    return b;
  };
  const cases: Array<[Uint8Array, string]> = [
    [good.subarray(0, 19), "truncated"],
    [withHeader((b) => (b[0] = 0x65)), "bad-version"],
    [withHeader((b) => (b[0] = 0x44)), "bad-header-length"],
    [withHeader((b) => (b[0] = 0x48)), "truncated"],
    [withHeader((b) => (b[3] = 19)), "bad-length"],
    [withHeader((b) => (b[3] = 29)), "truncated"],
    [withHeader((b) => ((b[6] = 0x1f), (b[7] = 0xff))), "bad-field"],
    [(() => { const b = good.slice(); b[10]! ^= 1; return b; })(), "bad-checksum"],
  ];
  for (const [bytes, code] of cases) {
    const r = parseIpv4(bytes);
    assert.ok(!r.ok, code);
    assert.equal(r.error.code, code);
  }
  // Ethernet padding past the total length is not payload.
  const padded = new Uint8Array(46);
  padded.set(good);
  const r = parseIpv4(padded);
  assert.ok(r.ok);
  assert.equal(r.value.payload.length, 8);
});
