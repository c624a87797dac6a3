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
import { get16, get32 } from "../bytes.ts";
import type { IcmpErrorReport, Icmpv4Engine } from "../icmpv4/engine.ts";
import { DestinationUnreachableCode, IcmpV4Type } from "../icmpv4/wire.ts";
import type { IpErrorHandler, IpErrorKind, IpLayer, IpRx, IpRxHandler, IpSendStatus } from "../ip-layer.ts";
import { IPV4_MAX_PAYLOAD_LEN, IPV4_TX_PAYLOAD_OFFSET, type Ipv4Engine, type Ipv4Rx } from "./engine.ts";
import { IPV4_HEADER_LEN } from "./wire.ts";

/**
 * `icmp` receives the port-unreachable reports; without it none are sent. The ICMP errors it
 * receives about our datagrams reach the transports registered with `setErrorHandler`.
 *
 * `source(dst)` is our address, or, while we have none (DHCP), 0.0.0.0 for the limited broadcast
 * (what a DHCP client sends from) and undefined for anything else.
 */
export function ipv4Layer(ipv4: Ipv4Engine, icmp?: Icmpv4Engine): IpLayer<number> {
  const errorHandlers = new Map<number, IpErrorHandler<number>>();
  const icmpError = (report: IcmpErrorReport): void => {
    const original = report.original;
    if (original.length < IPV4_HEADER_LEN || original[0]! >> 4 !== 4) return;
    const headerLength = (original[0]! & 0x0f) * 4;
    // RFC 792: the IP header and at least 8 bytes of what followed it (ports, TCP's sequence number).
    if (headerLength < IPV4_HEADER_LEN || original.length < headerLength + 8) return;
    const handler = errorHandlers.get(original[9]!);
    const local = get32(original, 12);
    // Only about a datagram we sent: anyone else's error must not touch our connections.
    if (handler === undefined || local !== ipv4.source() || local === 0) return;
    const meaning = errorMeaningV4(report.type, report.code);
    if (meaning === undefined) return;
    const header = original.slice(headerLength, Math.min(original.length, headerLength + 60));
    handler({
      kind: meaning.kind,
      hard: meaning.hard,
      mtu: meaning.kind === "too-big" ? nextHopMtu(report, get16(original, 2)) : 0,
      local,
      remote: get32(original, 16),
      localPort: get16(header, 0),
      remotePort: get16(header, 2),
      header,
      description: `ICMP ${meaning.text} from ${report.src}`,
    });
  };
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
    afterBatch(callback: () => void): void {
      ipv4.afterBatch(callback);
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
    setErrorHandler(protocol: number, handler: IpErrorHandler<number> | undefined): void {
      if (handler === undefined) errorHandlers.delete(protocol);
      else errorHandlers.set(protocol, handler);
      icmp?.onError(errorHandlers.size > 0 ? icmpError : undefined);
    },
  };
}

/**
 * What an ICMPv4 error means to a transport (RFC 1122 §4.2.3.9, RFC 1812 §5.2.7.1). Hard, as
 * Linux's icmp_err_convert has them fatal: protocol and port unreachable, unknown or isolated
 * destination, administratively prohibited; net and host unreachable (and their TOS variants),
 * source route failed, time exceeded and parameter problem are soft.
 */
export function errorMeaningV4(type: number, code: number): { kind: IpErrorKind; hard: boolean; text: string } | undefined {
  if (type === IcmpV4Type.destinationUnreachable) {
    switch (code) {
      case DestinationUnreachableCode.protocol:
        return { kind: "refused", hard: true, text: "protocol unreachable" };
      case DestinationUnreachableCode.port:
        return { kind: "refused", hard: true, text: "port unreachable" };
      case DestinationUnreachableCode.fragmentationNeeded:
        return { kind: "too-big", hard: false, text: "fragmentation needed" };
      case 6:
      case 7:
      case 8:
        return { kind: "unreachable", hard: true, text: `destination unreachable (code ${code}: unknown or isolated destination)` };
      case 9:
      case 10:
      case 13:
        return { kind: "prohibited", hard: true, text: `destination unreachable (code ${code}: administratively prohibited)` };
      default:
        return { kind: "unreachable", hard: false, text: `destination unreachable (code ${code})` };
    }
  }
  if (type === IcmpV4Type.timeExceeded) return { kind: "time-exceeded", hard: false, text: "time exceeded" };
  if (type === 12) return { kind: "parameter-problem", hard: false, text: "parameter problem" };
  return undefined;
}

/** RFC 1191 §7's plateaus: what to try when a router does not say the next-hop MTU. */
const MTU_PLATEAUS = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/**
 * The path MTU a fragmentation-needed message gives: its next-hop MTU field (RFC 1191 §4) when the
 * ICMP engine reports one (a `value`, as ICMPv6's reports have), else the plateau below the
 * quoted datagram's length (RFC 1191 §5, for routers that leave the field zero).
 */
function nextHopMtu(report: IcmpErrorReport & { value?: number }, quotedLength: number): number {
  const said = report.value ?? 0;
  if (said >= 68 && (said < quotedLength || quotedLength === 0)) return said;
  for (const plateau of MTU_PLATEAUS) if (plateau < quotedLength) return plateau;
  return 68;
}
