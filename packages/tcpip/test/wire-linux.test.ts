/**
 * The codecs against real packets sent by the Linux kernel (fixtures/capture.sh): every field we
 * parse must equal what Wireshark decodes, checksums must be judged as Wireshark judges them,
 * and emitting what we parsed must give back the kernel's bytes exactly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ipv4Address } from "@mirage-ts/runtime";
import { EtherType, emitEthernet, parseEthernet } from "../src/ethernet/wire.ts";
import { emitArp, parseArp } from "../src/arp/wire.ts";
import { IpProtocol, emitIpv4, parseIpv4 } from "../src/ipv4/wire.ts";
import { emitIcmpV4, parseIcmpV4, parseQuotedIpv4, quoteDatagram } from "../src/icmpv4/wire.ts";
import { UdpView, emitUdp, parseUdp } from "../src/udp/wire.ts";
import { loadLinuxCapture, num } from "./support/linux-capture.ts";

const frames = loadLinuxCapture();

test("the capture holds the expected kinds of packets", () => {
  const kinds = frames.map(({ tshark }) => (tshark.arpOpcode ? "arp" : tshark.icmpType ? `icmp${tshark.icmpType}` : tshark.ipProto));
  for (const kind of ["arp", "icmp8", "icmp0", "icmp11", "icmp3", "17"]) assert.ok(kinds.includes(kind), `a ${kind} frame`);
  assert.ok(frames.some(({ tshark }) => tshark.ipMf === "1"), "a fragment");
  assert.ok(frames.some(({ tshark }) => tshark.ipHdrLen === "28"), "an IPv4 header with options");
  assert.ok(frames.some(({ tshark }) => tshark.udpChecksum === "0x0000"), "a UDP datagram without checksum");
});

for (const { bytes, tshark } of frames) {
  test(`frame ${tshark.frame}: fields equal tshark's and re-emitting gives the same bytes`, () => {
    const eth = parseEthernet(bytes);
    assert.ok(eth.ok);
    assert.equal(eth.value.dst.toString(), tshark.ethDst);
    assert.equal(eth.value.src.toString(), tshark.ethSrc);
    assert.equal(eth.value.etherType, num(tshark.ethType));
    const again = new Uint8Array(bytes.length);
    assert.equal(emitEthernet(eth.value, again), bytes.length);
    assert.deepEqual(again, bytes);

    if (eth.value.etherType === EtherType.arp) {
      const arp = parseArp(eth.value.payload);
      assert.ok(arp.ok);
      assert.equal(arp.value.operation, tshark.arpOpcode === "1" ? "request" : "reply");
      assert.equal(arp.value.senderMac.toString(), tshark.arpSrcMac);
      assert.equal(arp.value.senderIp.toString(), tshark.arpSrcIp);
      assert.equal(arp.value.targetMac.toString(), tshark.arpDstMac);
      assert.equal(arp.value.targetIp.toString(), tshark.arpDstIp);
      const out = new Uint8Array(28);
      emitArp(arp.value, out);
      assert.deepEqual(out, eth.value.payload.subarray(0, 28));
      return;
    }

    const ip = parseIpv4(eth.value.payload);
    assert.ok(ip.ok, `IPv4 parses: ${ip.ok ? "" : ip.error.message}`);
    assert.equal(tshark.ipChecksumStatus, "1", "tshark also finds the header checksum good");
    const p = ip.value;
    assert.equal(p.headerLength, num(tshark.ipHdrLen));
    assert.equal(p.headerLength + p.payload.length, num(tshark.ipLen));
    assert.equal(p.identification, num(tshark.ipId));
    assert.equal(p.dontFragment, tshark.ipDf === "1");
    assert.equal(p.moreFragments, tshark.ipMf === "1");
    assert.equal(p.fragmentOffset, num(tshark.ipFragOffset) * 8);
    assert.equal(p.ttl, num(tshark.ipTtl));
    assert.equal(p.protocol, num(tshark.ipProto));
    assert.equal(p.src.toString(), tshark.ipSrc);
    assert.equal(p.dst.toString(), tshark.ipDst);
    if (p.headerLength === 20) {
      const out = new Uint8Array(num(tshark.ipLen));
      emitIpv4(p, out);
      assert.deepEqual(out, eth.value.payload.subarray(0, out.length));
    } else {
      assert.equal(p.options.length, p.headerLength - 20);
      assert.equal(p.options[0], 7, "the record-route option is skipped, not lost");
    }

    const firstFragment = p.fragmentOffset === 0;
    if (p.protocol === IpProtocol.icmp && firstFragment) {
      const icmp = parseIcmpV4(p.payload);
      if (p.moreFragments) {
        // Only the first fragment is here: the checksum covers bytes we do not have.
        assert.equal(tshark.icmpChecksumStatus, "2", "tshark cannot verify it either");
        assert.ok(!icmp.ok && icmp.error.code === "bad-checksum");
        return;
      }
      assert.ok(icmp.ok, `ICMP parses: ${icmp.ok ? "" : icmp.error.message}`);
      assert.equal(tshark.icmpChecksumStatus, "1");
      const m = icmp.value;
      const out = new Uint8Array(p.payload.length);
      emitIcmpV4(m, out);
      assert.deepEqual(out, p.payload);
      if (m.type === "echo-request" || m.type === "echo-reply") {
        assert.equal(m.type === "echo-request" ? 8 : 0, num(tshark.icmpType));
        assert.equal(m.identifier, num(tshark.icmpIdent));
        assert.equal(m.sequence, num(tshark.icmpSeq));
      } else {
        assert.equal(m.type === "destination-unreachable" ? 3 : 11, num(tshark.icmpType));
        assert.equal(m.code, num(tshark.icmpCode));
        const quoted = parseQuotedIpv4(m.original);
        assert.ok(quoted.ok);
        assert.equal(quoted.value.src.toString(), "10.99.0.1", "the quote is of our own datagram");
        if (quoted.value.protocol === IpProtocol.udp) {
          const udp = new UdpView(quoted.value.transport);
          assert.equal(udp.srcPort(), num(tshark.udpSrcPort));
          assert.equal(udp.dstPort(), num(tshark.udpDstPort));
        }
        // Linux quotes the whole (short) original datagram; we quote header + 8 bytes.
        const ours = quoteDatagram(m.original);
        assert.equal(ours.length, Math.min(m.original.length, 20 + 8));
      }
    }

    if (p.protocol === IpProtocol.udp) {
      const udp = parseUdp(p.payload, p.src, p.dst);
      assert.ok(udp.ok, `UDP parses: ${udp.ok ? "" : udp.error.message}`);
      assert.ok(tshark.udpChecksumStatus === "1" || tshark.udpChecksumStatus === "3", "tshark finds it good or absent");
      assert.equal(udp.value.srcPort, num(tshark.udpSrcPort));
      assert.equal(udp.value.dstPort, num(tshark.udpDstPort));
      assert.equal(udp.value.payload.length + 8, num(tshark.udpLength));
      const out = new Uint8Array(p.payload.length);
      emitUdp(udp.value, out, 0, p.src, p.dst, tshark.udpChecksum !== "0x0000");
      assert.deepEqual(out, p.payload);
      // The wrong addresses break the pseudo-header checksum (unless there is none).
      const wrong = parseUdp(p.payload, Ipv4Address.of("10.99.0.3"), p.dst);
      assert.equal(wrong.ok, tshark.udpChecksum === "0x0000");
    }
  });
}

test("a corrupted byte in each real IPv4 header is caught by the checksum", () => {
  for (const { bytes, tshark } of frames) {
    if (tshark.arpOpcode) continue;
    const copy = bytes.slice();
    copy[14 + 8] ^= 0x01; // TTL
    const ip = parseIpv4(copy.subarray(14));
    assert.ok(!ip.ok && ip.error.code === "bad-checksum", `frame ${tshark.frame}`);
  }
});
