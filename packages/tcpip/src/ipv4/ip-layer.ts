/**
 * The IPv4 engine as an `IpLayer<number>` (ip-layer.ts), the contract TCP and UDP are written
 * against. Addresses stay 32-bit integers, so the per-segment calls (send, pseudoHeaderSum, key,
 * equal, hash32) allocate nothing and are one small, inlinable function each; only the
 * conversions to the runtime's `Ipv4Address` (endpoints, datagrams, errors, logs) allocate.
 *
 * The receive object a transport's handler gets is the IPv4 engine's own `Ipv4Rx` (which has
 * every field of `IpRx<number>`), so `portUnreachable` can hand it to ICMPv4 with its header.
 */
import { Ipv4Address, type IpAddress } from "@mirage-ts/runtime";
import { pseudoHeaderSumV4 } from "../checksum.ts";
import type { Icmpv4Engine } from "../icmpv4/engine.ts";
import { DestinationUnreachableCode } from "../icmpv4/wire.ts";
import type { IpLayer, IpRx, IpRxHandler, IpSendStatus } from "../ip-layer.ts";
import { IPV4_MAX_PAYLOAD_LEN, IPV4_TX_PAYLOAD_OFFSET, type Ipv4Engine, type Ipv4Rx } from "./engine.ts";
import { IPV4_HEADER_LEN } from "./wire.ts";

/**
 * `icmp` receives the port-unreachable reports; without it none are sent.
 *
 * `source(dst)` is our address, or, while we have none (DHCP), 0.0.0.0 for the limited broadcast
 * (what a DHCP client sends from) and undefined for anything else.
 */
export function ipv4Layer(ipv4: Ipv4Engine, icmp?: Icmpv4Engine): IpLayer<number> {
  return {
    family: 4,
    txBuffer: ipv4.txBuffer,
    txPayloadOffset: IPV4_TX_PAYLOAD_OFFSET,
    maxUnfragmentedPayload: () => ipv4.mtu - IPV4_HEADER_LEN,
    maxDatagramPayload: IPV4_MAX_PAYLOAD_LEN,
    source(dst: number): number | undefined {
      const ours = ipv4.source();
      if (ours !== 0) return ours;
      return dst >>> 0 === 0xffffffff ? 0 : undefined;
    },
    send: (dst: number, src: number, protocol: number, payloadLength: number, hopLimit?: number): IpSendStatus =>
      ipv4.send(dst, src, protocol, payloadLength, hopLimit),
    sendError: (status: IpSendStatus, dst: number): Error => ipv4.sendError(status, dst),
    pseudoHeaderSum: pseudoHeaderSumV4,
    setHandler(protocol: number, handler: IpRxHandler<number> | undefined): void {
      ipv4.setHandler(protocol, handler);
    },
    portUnreachable(rx: IpRx<number>): void {
      // Every rx this layer's handlers see is the IPv4 engine's Ipv4Rx (see setHandler).
      icmp?.destinationUnreachable(rx as Ipv4Rx, DestinationUnreachableCode.port);
    },
    toAddress: (a: number): IpAddress => Ipv4Address.ofInt(a),
    fromAddress: (a: IpAddress): number | undefined => (a.family === 4 ? a.value >>> 0 : undefined),
    key: (a: number): number => a,
    equal: (a: number, b: number): boolean => a === b,
    hash32: (a: number): number => a >>> 0,
    format: (a: number): string => Ipv4Address.ofInt(a).toString(),
  };
}
