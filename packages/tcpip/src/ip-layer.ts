/**
 * What a transport (TCP, UDP) needs of a network layer, so that one transport engine runs over
 * IPv4 or IPv6. The IPv4 engine provides an `IpLayer<number>` (addresses as 32-bit integers, no
 * allocation per packet); the IPv6 engine an `IpLayer<Ipv6Address>`. The direct stack makes one
 * transport engine per family and puts a dual-stack facade in front (one `listen` serves both).
 *
 * The hot path stays monomorphic per engine instance: a transport calls these methods once per
 * segment or datagram, never per byte.
 */
import type { IpAddress } from "@mirage-ts/runtime";

/** What became of a datagram given to `send` (both families). */
export type IpSendStatus =
  | "sent"
  /** Waiting for the next hop's link address (ARP or neighbour discovery); it goes out when resolved. */
  | "queued"
  | "no-route"
  /** We have no usable source address yet (DHCP or SLAAC/DAD still running). */
  | "no-address"
  /** Too large for one datagram, or a source address that is not ours. */
  | "invalid"
  /** The netif refused a frame. */
  | "dropped"
  | "stopped";

/**
 * A received datagram, as handed to a transport's handler. The object is reused for the next
 * datagram and the bytes belong to the netif unless `owned`: a handler copies what it keeps.
 * `src` and `dst` may be kept (an IPv6 layer hands out immutable address objects).
 */
export interface IpRx<A> {
  buffer: Uint8Array;
  payloadOffset: number;
  payloadLength: number;
  src: A;
  dst: A;
  /** The upper-layer protocol (after IPv6 extension headers). */
  protocol: number;
  /** TTL or hop limit as received. */
  hopLimit: number;
  /**
   * Sent to one of our unicast addresses. False for broadcast/multicast and for anything accepted
   * while we have no address: such datagrams never draw an ICMP error or a TCP reset (RFC 1122, RFC 4443 §2.4).
   */
  unicast: boolean;
  /** `buffer` is not the netif's (reassembled or looped back) and may be kept as it is. */
  owned: boolean;
}

export type IpRxHandler<A> = (rx: IpRx<A>) => void;

export interface IpLayer<A> {
  readonly family: 4 | 6;
  /** Transports build an outgoing datagram's payload here, starting at `txPayloadOffset`. */
  readonly txBuffer: Uint8Array;
  readonly txPayloadOffset: number;
  /**
   * The largest transport payload that leaves in one unfragmented packet towards `dst`: the link
   * MTU (or, for IPv6, the path MTU learnt from Packet Too Big) minus the IP header. TCP derives
   * its MSS from it.
   */
  maxUnfragmentedPayload(dst?: A): number;
  /** The largest transport payload of one (possibly fragmented) datagram. */
  readonly maxDatagramPayload: number;
  /** The source address for a datagram to `dst` (RFC 6724 for IPv6), or undefined when we have none usable. */
  source(dst: A): A | undefined;
  /** Sends `txBuffer[txPayloadOffset ..+payloadLength]` from `src` (ours) to `dst`, fragmenting when needed. */
  send(dst: A, src: A, protocol: number, payloadLength: number, hopLimit?: number): IpSendStatus;
  /** The error a failed send deserves, for the transport to wrap (FlowError "unreachable"). */
  sendError(status: IpSendStatus, dst: A): Error;
  /** The transport checksum's pseudo-header sum (RFC 793 / RFC 8200 §8.1), unfolded as checksum.ts expects. */
  pseudoHeaderSum(src: A, dst: A, protocol: number, length: number): number;
  setHandler(protocol: number, handler: IpRxHandler<A> | undefined): void;
  /** Tells the sender of `rx` that nobody listens on its port (ICMP port unreachable / ICMPv6 code 4), rate-limited. */
  portUnreachable(rx: IpRx<A>): void;
  /** Conversions between the runtime's addresses and this layer's. `fromAddress` gives undefined for the other family. */
  toAddress(a: A): IpAddress;
  fromAddress(a: IpAddress): A | undefined;
  /** A key for Maps (equal addresses give equal keys). */
  key(a: A): number | string;
  equal(a: A, b: A): boolean;
  /** A 32-bit digest of the address, for keyed hashes (ISNs, ports). */
  hash32(a: A): number;
  /** Formats an address for logs and errors ("10.0.0.2", "2001:db8::1"). */
  format(a: A): string;
  /**
   * Forward progress with `dst` (a TCP ACK of new data): IPv6 marks the next hop REACHABLE without
   * probing it (RFC 4861 §7.3.1). Optional: IPv4 (ARP) has no use for it.
   */
  confirmReachable?(dst: A): void;
}
