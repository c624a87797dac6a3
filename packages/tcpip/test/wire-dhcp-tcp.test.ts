/** Property tests for the DHCP and TCP codecs, as wire-properties.test.ts does for the others. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Ipv4Address, MacAddress } from "@mirage-ts/runtime";
import {
  BOOTP_MIN_LEN,
  DHCP_MESSAGE_TYPES,
  DHCP_OPTIONS_OFFSET,
  type DhcpMessage,
  DhcpOptionCode,
  type DhcpOptions,
  DhcpView,
  dhcpLength,
  emitDhcp,
  encodeDhcp,
  netmaskLength,
  parseDhcp,
} from "../src/dhcp/wire.ts";
import { type TcpSegment, TcpView, emitTcp, parseTcp, tcpLength } from "../src/tcp/wire.ts";
import { assertValueOrTypedError, damaged, ipv4Arb, macArb, u16, u8 } from "./support/arbitraries.ts";

const RUNS = { numRuns: 500 };
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const KNOWN = new Set<number>(Object.values(DhcpOptionCode));
const latin1Arb = fc.uint8Array({ maxLength: 300 }).map((b) => String.fromCharCode(...b));

const optionsArb: fc.Arbitrary<DhcpOptions> = fc
  .record(
    {
      messageType: fc.constantFrom(...DHCP_MESSAGE_TYPES),
      subnetMask: ipv4Arb,
      // More than 63 addresses do not fit one option: exercises RFC 3396 splitting.
      routers: fc.array(ipv4Arb, { minLength: 1, maxLength: 70 }),
      dnsServers: fc.array(ipv4Arb, { minLength: 1, maxLength: 5 }),
      requestedIp: ipv4Arb,
      leaseTime: u32,
      renewalTime: u32,
      rebindingTime: u32,
      serverId: ipv4Arb,
      parameterRequestList: fc.array(u8, { maxLength: 300 }),
      message: latin1Arb,
      maxMessageSize: u16,
      clientId: fc.uint8Array({ maxLength: 300 }),
      other: fc.uniqueArray(
        fc.record({ code: fc.integer({ min: 1, max: 254 }).filter((c) => !KNOWN.has(c)), data: fc.uint8Array({ maxLength: 300 }) }),
        { selector: (o) => o.code, minLength: 1, maxLength: 4 },
      ),
    },
    { requiredKeys: ["messageType"] },
  )
  // fast-check builds records without a prototype; the codec returns plain objects.
  .map((o) => ({ ...o, ...(o.other !== undefined ? { other: o.other.map((x) => ({ ...x })) } : {}) }));

const messageArb: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom("request" as const, "reply" as const),
  xid: u32,
  secs: u16,
  broadcast: fc.boolean(),
  ciaddr: ipv4Arb,
  yiaddr: ipv4Arb,
  siaddr: ipv4Arb,
  giaddr: ipv4Arb,
  chaddr: macArb,
  options: optionsArb,
}).map((m) => ({ ...m }));

const validDhcp = messageArb.map(encodeDhcp);

test("DHCP: emit then parse gives back the message, options split above 255 bytes included", () => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const bytes = encodeDhcp(m);
      assert.equal(bytes.length, dhcpLength(m));
      assert.ok(bytes.length >= BOOTP_MIN_LEN);
      const parsed = parseDhcp(bytes);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
      assert.deepEqual(parsed.value, m);
    }),
    RUNS,
  );
});

test("DHCP: any bytes (random, or a valid message flipped, cut or extended) give a message or a typed error", () => {
  fc.assert(
    fc.property(damaged(validDhcp), (bytes) => {
      assertValueOrTypedError(parseDhcp(bytes), "dhcp");
      const v = new DhcpView(bytes, 5);
      v.op(), v.xid(), v.flags(), v.chaddr(), v.cookie(), v.yiaddrValue();
    }),
    { numRuns: 3000 },
  );
});

test("DHCP: corrupting option lengths and the cookie gives typed errors, never a throw", () => {
  fc.assert(
    fc.property(validDhcp, fc.nat(), u8, (bytes, at, value) => {
      const copy = bytes.slice();
      const i = DHCP_OPTIONS_OFFSET + 1 + (at % (copy.length - DHCP_OPTIONS_OFFSET - 1));
      copy[i] = value;
      assertValueOrTypedError(parseDhcp(copy), "dhcp");
      copy[DHCP_OPTIONS_OFFSET - 1] ^= 1;
      const r = parseDhcp(copy);
      assert.ok(!r.ok && r.error.code === "unsupported");
    }),
    RUNS,
  );
});

function baseMessage(): DhcpMessage {
  return {
    op: "reply",
    xid: 1,
    secs: 0,
    broadcast: false,
    ciaddr: Ipv4Address.any,
    yiaddr: Ipv4Address.of("10.0.0.5"),
    siaddr: Ipv4Address.any,
    giaddr: Ipv4Address.any,
    chaddr: MacAddress.of("02:00:00:00:00:01"),
    options: { messageType: "ack" },
  };
}

test("DHCP: options continued in the file and sname fields (overload, option 52) are read", () => {
  const bytes = encodeDhcp(baseMessage());
  // Hand-place option 52 = 3 after the message type, and options in `file` (108) and `sname` (44).
  const at = DHCP_OPTIONS_OFFSET + 3;
  bytes.set([DhcpOptionCode.overload, 1, 3, DhcpOptionCode.end], at);
  bytes.set([DhcpOptionCode.leaseTime, 4, 0, 0, 0, 120, DhcpOptionCode.end], 108);
  bytes.set([DhcpOptionCode.router, 4, 10, 0, 0, 1, DhcpOptionCode.end], 44);
  const parsed = parseDhcp(bytes);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
  assert.equal(parsed.value.options.leaseTime, 120);
  assert.deepEqual(parsed.value.options.routers?.map(String), ["10.0.0.1"]);
  assert.equal(parsed.value.options.other, undefined);
});

test("DHCP: a repeated option is concatenated (RFC 3396); malformed known options are typed errors", () => {
  const bytes = encodeDhcp(baseMessage());
  const at = DHCP_OPTIONS_OFFSET + 3;
  bytes.set([DhcpOptionCode.dnsServers, 4, 1, 1, 1, 1, DhcpOptionCode.dnsServers, 4, 8, 8, 8, 8, DhcpOptionCode.end], at);
  const parsed = parseDhcp(bytes);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.options.dnsServers?.map(String), ["1.1.1.1", "8.8.8.8"]);
  bytes.set([DhcpOptionCode.router, 3, 1, 1, 1, DhcpOptionCode.end], at);
  const bad = parseDhcp(bytes);
  assert.ok(!bad.ok && bad.error.code === "bad-length" && bad.error.protocol === "dhcp");
  const noType = encodeDhcp(baseMessage());
  noType[DHCP_OPTIONS_OFFSET] = DhcpOptionCode.end;
  const bootp = parseDhcp(noType);
  assert.ok(!bootp.ok && bootp.error.code === "unsupported");
});

test("netmaskLength: contiguous masks give their length, others undefined", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 32 }), (length) => {
      const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
      assert.equal(netmaskLength(Ipv4Address.ofInt(mask)), length);
    }),
  );
  assert.equal(netmaskLength(Ipv4Address.of("255.0.255.0")), undefined);
  assert.equal(netmaskLength(Ipv4Address.of("0.0.0.255")), undefined);
});

test("emitDhcp refuses a buffer too small (a programming error, not an input error)", () => {
  const m = baseMessage();
  assert.throws(() => emitDhcp(m, new Uint8Array(100)), RangeError);
  assert.throws(() => encodeDhcp({ ...m, options: { messageType: "ack", other: [{ code: DhcpOptionCode.router, data: new Uint8Array(4) }] } }), RangeError);
});

// ---- TCP

const tcpArb: fc.Arbitrary<TcpSegment> = fc.record({
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  flags: u8,
  window: u16,
  urgentPointer: u16,
  options: fc.integer({ min: 0, max: 10 }).chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 })),
  payload: fc.uint8Array({ maxLength: 1500 }),
}).map((s) => ({ ...s }));

test("TCP: emit then parse gives back the segment; one flipped bit is caught by the checksum", () => {
  fc.assert(
    fc.property(tcpArb, ipv4Arb, ipv4Arb, fc.nat(), (s, src, dst, bit) => {
      const bytes = new Uint8Array(tcpLength(s));
      emitTcp(s, bytes, 0, src, dst);
      const parsed = parseTcp(bytes, src, dst);
      assert.ok(parsed.ok);
      assert.deepEqual(parsed.value, s);
      const flipped = bytes.slice();
      const b = bit % (flipped.length * 8);
      flipped[b >> 3] ^= 1 << (b & 7);
      const r = parseTcp(flipped, src, dst);
      assertValueOrTypedError(r, "tcp");
      // A flip in the data offset may make the header unreadable first; otherwise the checksum catches it.
      assert.ok(!r.ok);
    }),
    RUNS,
  );
});

test("TCP: any bytes give a segment or a typed error; views never throw", () => {
  const valid = fc.tuple(tcpArb, ipv4Arb, ipv4Arb).map(([s, src, dst]) => {
    const bytes = new Uint8Array(tcpLength(s));
    emitTcp(s, bytes, 0, src, dst);
    return bytes;
  });
  fc.assert(
    fc.property(damaged(valid), ipv4Arb, ipv4Arb, (bytes, src, dst) => {
      assertValueOrTypedError(parseTcp(bytes, src, dst), "tcp");
      const v = new TcpView(bytes, 7);
      v.srcPort(), v.seq(), v.ack(), v.dataOffset(), v.flags(), v.window(), v.checksum(), v.urgentPointer();
    }),
    { numRuns: 2000 },
  );
  assert.throws(() => emitTcp({ srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0, window: 0, urgentPointer: 0, options: new Uint8Array(3), payload: new Uint8Array(0) }, new Uint8Array(100), 0, Ipv4Address.any, Ipv4Address.any), RangeError);
});
