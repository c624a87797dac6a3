/**
 * A hand-driven IPv6 host on the switch, built from the codecs only: it answers neighbour
 * solicitations for its addresses (as a router when asked), records every IPv6 packet it
 * receives, and sends what a test builds: router advertisements, echo requests, Packet Too Big,
 * raw packets. Tests use it as a router, as the holder of a contested address, and to see exactly
 * what a stack put on the wire.
 */
import { type Ipv6Address, Ipv6Prefix, MacAddress, type Netif } from "@mirage-ts/runtime";
import { EtherType, emitEthernet, parseEthernet } from "../../src/ethernet/wire.ts";
import { IPV6_HEADER_LEN, type Ipv6Packet, Ipv6NextHeader, emitIpv6, parseIpv6 } from "../../src/ipv6/wire.ts";
import { type IcmpV6Message, emitIcmpV6, icmpV6Length, parseIcmpV6 } from "../../src/icmpv6/wire.ts";
import { type NdpMessage, emitNdp, findNdpOption, ndpLength, parseNdp } from "../../src/ndp/wire.ts";
import { ipv6MulticastMac, linkLocalAddress, IPV6_ALL_NODES } from "../../src/ndp/addresses.ts";
import type { NdpPrefixInformation } from "../../src/ndp/options.ts";

export interface RawIpv6Host {
  readonly netif: Netif;
  readonly mac: MacAddress;
  readonly linkLocal: Ipv6Address;
  /** IPv6 packets received (any destination), in order. */
  readonly packets: Array<{ packet: Ipv6Packet; dstMac: MacAddress; srcMac: MacAddress }>;
  /** Addresses it answers neighbour solicitations for (the link-local one included). */
  readonly addresses: Ipv6Address[];
  /** Answer solicitations (default true). */
  answers: boolean;
  /** Its advertisements carry the router flag. */
  router: boolean;
  sendIpv6(dstMac: MacAddress, packet: Omit<Ipv6Packet, "hopLimit" | "trafficClass" | "flowLabel"> & Partial<Ipv6Packet>): void;
  sendIcmp(dstMac: MacAddress, src: Ipv6Address, dst: Ipv6Address, message: IcmpV6Message, hopLimit?: number): void;
  sendNdp(dstMac: MacAddress, src: Ipv6Address, dst: Ipv6Address, message: NdpMessage, hopLimit?: number): void;
  /** A router advertisement to all nodes, from its link-local address, with its MAC. */
  advertise(options: { routerLifetime?: number; prefixes?: NdpPrefixInformation[]; mtu?: number; curHopLimit?: number }): void;
  /** ICMPv6 messages received (parsed), with their IPv6 packet. */
  icmp(): Array<{ packet: Ipv6Packet; message: IcmpV6Message }>;
}

export function prefixInformation(prefix: string, over: Partial<NdpPrefixInformation> = {}): NdpPrefixInformation {
  return { type: "prefix-information", prefix: Ipv6Prefix.of(prefix), onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400, ...over };
}

export function rawIpv6Host(netif: Netif, addresses: Ipv6Address[] = []): RawIpv6Host {
  const linkLocal = linkLocalAddress(netif.mac);
  const host: RawIpv6Host = {
    netif,
    mac: netif.mac,
    linkLocal,
    packets: [],
    addresses: [linkLocal, ...addresses],
    answers: true,
    router: false,
    sendIpv6(dstMac, p) {
      const packet: Ipv6Packet = { hopLimit: 64, trafficClass: 0, flowLabel: 0, ...p };
      const frame = new Uint8Array(14 + IPV6_HEADER_LEN + packet.payload.length);
      emitIpv6(packet, frame, 14);
      emitEthernet({ dst: dstMac, src: netif.mac, etherType: EtherType.ipv6, payload: frame.subarray(14) }, frame);
      netif.write(frame);
    },
    sendIcmp(dstMac, src, dst, message, hopLimit = 64) {
      const payload = new Uint8Array(icmpV6Length(message));
      emitIcmpV6(message, payload, 0, src, dst);
      host.sendIpv6(dstMac, { src, dst, nextHeader: Ipv6NextHeader.icmpv6, hopLimit, payload });
    },
    sendNdp(dstMac, src, dst, message, hopLimit = 255) {
      const payload = new Uint8Array(ndpLength(message));
      emitNdp(message, payload, 0, src, dst);
      host.sendIpv6(dstMac, { src, dst, nextHeader: Ipv6NextHeader.icmpv6, hopLimit, payload });
    },
    advertise({ routerLifetime = 1800, prefixes = [], mtu, curHopLimit = 64 }) {
      host.sendNdp(ipv6MulticastMac(IPV6_ALL_NODES), linkLocal, IPV6_ALL_NODES, {
        type: "router-advertisement",
        curHopLimit,
        managed: false,
        other: false,
        preference: 0,
        routerLifetime,
        reachableTime: 0,
        retransTimer: 0,
        options: [{ type: "source-link-layer-address", mac: netif.mac }, ...(mtu !== undefined ? [{ type: "mtu" as const, mtu }] : []), ...prefixes],
      });
    },
    icmp() {
      const out: Array<{ packet: Ipv6Packet; message: IcmpV6Message }> = [];
      for (const { packet } of host.packets) {
        if (packet.nextHeader !== Ipv6NextHeader.icmpv6) continue;
        const m = parseIcmpV6(packet.payload, packet.src, packet.dst);
        if (m.ok) out.push({ packet, message: m.value });
      }
      return out;
    },
  };
  netif.listen((frames) => {
    for (const f of frames) {
      const eth = parseEthernet(f.slice());
      if (!eth.ok || eth.value.etherType !== EtherType.ipv6) continue;
      const ip = parseIpv6(eth.value.payload);
      if (!ip.ok) continue;
      host.packets.push({ packet: ip.value, dstMac: eth.value.dst, srcMac: eth.value.src });
      if (ip.value.nextHeader !== Ipv6NextHeader.icmpv6 || !host.answers) continue;
      const ndp = parseNdp(ip.value.payload, ip.value.src, ip.value.dst);
      if (!ndp.ok || ndp.value.type !== "neighbor-solicitation") continue;
      const target = ndp.value.target;
      if (!host.addresses.some((a) => a.equals(target))) continue;
      const fromDad = ip.value.src.isUnspecified();
      const sll = findNdpOption(ndp.value.options, "source-link-layer-address");
      const dst = fromDad ? IPV6_ALL_NODES : ip.value.src;
      const dstMac = fromDad ? ipv6MulticastMac(IPV6_ALL_NODES) : (sll?.mac ?? eth.value.src);
      host.sendNdp(dstMac, target, dst, {
        type: "neighbor-advertisement",
        router: host.router,
        solicited: !fromDad,
        override: true,
        target,
        options: [{ type: "target-link-layer-address", mac: netif.mac }],
      });
    }
  });
  return host;
}

export { MacAddress };
