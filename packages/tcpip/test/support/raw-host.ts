/**
 * A hand-driven host on the switch, built from the codecs only: it answers ARP for its addresses,
 * records every IPv4 packet it receives, and sends whatever IPv4 packets a test builds. Tests use
 * it as a router, a DHCP server or an attacker, and to look at exactly what a stack put on the wire.
 */
import { type Ipv4Address, MacAddress, type Netif } from "@mirage-ts/runtime";
import { ARP_PACKET_LEN, emitArp, parseArp } from "../../src/arp/wire.ts";
import { EtherType, emitEthernet, parseEthernet } from "../../src/ethernet/wire.ts";
import { type Ipv4Packet, type ParsedIpv4Packet, emitIpv4, ipv4Length, parseIpv4 } from "../../src/ipv4/wire.ts";
import { emitUdp, parseUdp, udpLength } from "../../src/udp/wire.ts";

export interface RawHost {
  readonly netif: Netif;
  readonly mac: MacAddress;
  /** IPv4 packets received (any destination), in order. */
  readonly packets: Array<{ packet: ParsedIpv4Packet; dstMac: MacAddress; srcMac: MacAddress }>;
  /** Every frame received (copies). */
  readonly frames: Uint8Array[];
  /** Addresses it answers ARP for. */
  readonly addresses: Ipv4Address[];
  /** Called for each IPv4 packet received (after recording). */
  onPacket?: (packet: ParsedIpv4Packet, srcMac: MacAddress) => void;
  sendIpv4(dstMac: MacAddress, packet: Omit<Ipv4Packet, "ttl" | "tos" | "identification" | "dontFragment" | "moreFragments" | "fragmentOffset"> & Partial<Ipv4Packet>): void;
  sendUdp(dstMac: MacAddress, src: Ipv4Address, srcPort: number, dst: Ipv4Address, dstPort: number, data: Uint8Array): void;
  /** Sends raw bytes as one frame. */
  sendFrame(frame: Uint8Array): void;
}

export function rawHost(netif: Netif, addresses: Ipv4Address[] = []): RawHost {
  const host: RawHost = {
    netif,
    mac: netif.mac,
    packets: [],
    frames: [],
    addresses,
    sendIpv4(dstMac, p) {
      const packet: Ipv4Packet = { ttl: 64, tos: 0, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ...p };
      const ipBytes = new Uint8Array(ipv4Length(packet));
      emitIpv4(packet, ipBytes);
      const frame = new Uint8Array(14 + ipBytes.length);
      emitEthernet({ dst: dstMac, src: netif.mac, etherType: EtherType.ipv4, payload: ipBytes }, frame);
      netif.write(frame);
    },
    sendUdp(dstMac, src, srcPort, dst, dstPort, data) {
      const udp = new Uint8Array(udpLength({ srcPort, dstPort, payload: data }));
      emitUdp({ srcPort, dstPort, payload: data }, udp, 0, src, dst);
      host.sendIpv4(dstMac, { src, dst, protocol: 17, payload: udp });
    },
    sendFrame(frame) {
      netif.write(frame);
    },
  };
  netif.listen((frames) => {
    for (const f of frames) {
      const frame = f.slice();
      host.frames.push(frame);
      const eth = parseEthernet(frame);
      if (!eth.ok) continue;
      if (eth.value.etherType === EtherType.arp) {
        const arp = parseArp(eth.value.payload);
        if (!arp.ok || arp.value.operation !== "request") continue;
        const target = arp.value.targetIp;
        if (!host.addresses.some((a) => a.equals(target))) continue;
        const reply = new Uint8Array(14 + ARP_PACKET_LEN);
        emitArp({ operation: "reply", senderMac: netif.mac, senderIp: target, targetMac: arp.value.senderMac, targetIp: arp.value.senderIp }, reply, 14);
        emitEthernet({ dst: arp.value.senderMac, src: netif.mac, etherType: EtherType.arp, payload: reply.subarray(14) }, reply);
        netif.write(reply);
      } else if (eth.value.etherType === EtherType.ipv4) {
        const ip = parseIpv4(eth.value.payload);
        if (!ip.ok) continue;
        host.packets.push({ packet: ip.value, dstMac: eth.value.dst, srcMac: eth.value.src });
        host.onPacket?.(ip.value, eth.value.src);
      }
    }
  });
  return host;
}

/** The UDP datagram inside `packet`, parsed (checksum verified), or undefined. */
export function udpOf(packet: ParsedIpv4Packet) {
  if (packet.protocol !== 17) return undefined;
  const udp = parseUdp(packet.payload, packet.src, packet.dst);
  return udp.ok ? udp.value : undefined;
}

