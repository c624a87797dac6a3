/** TCP on the direct stack until the TCP engine lands: RFC 9293 resets for every port, and the honest Tcp API. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { TcpFlag, emitTcp, parseTcp, tcpLength, type TcpSegment } from "../src/tcp/wire.ts";
import { resetForClosed } from "../src/tcp/reset.ts";
import { ip, lan } from "./support/stacks.ts";
import { rawHost } from "./support/raw-host.ts";

const PEER = ip("10.0.0.9");
const US = ip("10.0.0.2");

function segment(fields: Partial<TcpSegment>): Uint8Array {
  const s: TcpSegment = { srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: TcpFlag.syn, window: 65535, urgentPointer: 0, options: new Uint8Array(0), payload: new Uint8Array(0), ...fields };
  const out = new Uint8Array(tcpLength(s));
  emitTcp(s, out, 0, PEER, US);
  return out;
}

async function exchange(bytes: Uint8Array) {
  const { vt, sw, stack } = lan();
  const b = stack("10.0.0.2/24");
  const host = rawHost(sw.connect(), [PEER]);
  host.sendIpv4(b.netif.mac, { src: PEER, dst: US, protocol: 6, payload: bytes });
  await vt.advance(10);
  const answers = host.packets.filter((p) => p.packet.protocol === 6).map((p) => parseTcp(p.packet.payload, p.packet.src, p.packet.dst));
  return { b, answers };
}

test("a SYN to any port is answered <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>", async () => {
  const { answers } = await exchange(segment({ seq: 0xfffffffe, flags: TcpFlag.syn }));
  assert.equal(answers.length, 1);
  const rst = answers[0]!;
  assert.ok(rst.ok, "the reset's checksum verifies");
  assert.equal(rst.value.flags, TcpFlag.rst | TcpFlag.ack);
  assert.equal(rst.value.seq, 0);
  assert.equal(rst.value.ack, 0xffffffff);
  assert.equal(rst.value.srcPort, 80);
  assert.equal(rst.value.dstPort, 40000);
});

test("a segment with ACK is answered <SEQ=SEG.ACK><CTL=RST>; data and FIN count in SEG.LEN otherwise", async () => {
  const withAck = await exchange(segment({ flags: TcpFlag.ack | TcpFlag.psh, ack: 123456, payload: new Uint8Array(10) }));
  assert.ok(withAck.answers[0]!.ok);
  assert.equal(withAck.answers[0]!.value.flags, TcpFlag.rst);
  assert.equal(withAck.answers[0]!.value.seq, 123456);
  const finData = await exchange(segment({ flags: TcpFlag.fin, seq: 50, payload: new Uint8Array(10) }));
  assert.ok(finData.answers[0]!.ok);
  assert.equal(finData.answers[0]!.value.ack, 61);
});

test("a RST, a bad checksum or a truncated header is never answered", async () => {
  assert.equal((await exchange(segment({ flags: TcpFlag.rst }))).answers.length, 0);
  const bad = segment({});
  bad[16]! ^= 0xff;
  const badChecksum = await exchange(bad);
  assert.equal(badChecksum.answers.length, 0);
  assert.equal(badChecksum.b.stats().tcp.rxBadChecksum, 1);
  assert.equal((await exchange(segment({}).subarray(0, 12))).answers.length, 0);
});

test("listen registers a port once; a connect to a closed port is refused with RST", async () => {
  const { vt, stack } = lan();
  const a = stack("10.0.0.1/24");
  const b = stack("10.0.0.2/24");
  b.tcp.listen(8080, () => {});
  assert.deepEqual(b.tcp.listening(), [8080]);
  assert.throws(() => b.tcp.listen(8080, () => {}), /already listened/);
  b.tcp.unlisten(8080);
  assert.deepEqual(b.tcp.listening(), []);
  const refused = a.tcp.connect(ip("10.0.0.2"), 8080).then(
    () => "connected",
    (e: unknown) => (e as { code?: string }).code,
  );
  await vt.advance(50);
  assert.equal(await refused, "refused");
});

test("resetForClosed follows RFC 9293 §3.10.7.1 for every flag combination", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 255 }), fc.nat(2000), (seq, ack, flags, payloadLength) => {
      const r = resetForClosed({ seq, ack, flags, payloadLength });
      if (flags & TcpFlag.rst) return assert.equal(r, undefined);
      assert.ok(r !== undefined);
      if (flags & TcpFlag.ack) assert.deepEqual(r, { seq: ack, ack: 0, flags: TcpFlag.rst });
      else {
        const len = payloadLength + (flags & TcpFlag.syn ? 1 : 0) + (flags & TcpFlag.fin ? 1 : 0);
        assert.deepEqual(r, { seq: 0, ack: (seq + len) % 2 ** 32, flags: TcpFlag.rst | TcpFlag.ack });
      }
    }),
  );
});
