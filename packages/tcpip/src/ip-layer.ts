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

/**
 * What an ICMP error (or our own failed neighbour resolution) says about a datagram a transport
 * sent (RFC 1122 §4.2.3.9, RFC 4443 §3, RFC 1191, RFC 8201):
 * - "too-big": a link on the path carries at most `mtu` bytes (ICMPv6 Packet Too Big, ICMPv4
 *   fragmentation needed); the layer already lowered its path MTU for `remote`;
 * - "refused": port or protocol unreachable, nobody listens there;
 * - "prohibited": administratively prohibited (a firewall);
 * - "unreachable": no route, network, host or address unreachable (our next hop included: its
 *   neighbour discovery failed);
 * - "time-exceeded", "parameter-problem": the hop limit ran out on the way, or a header was refused.
 */
export type IpErrorKind = "too-big" | "refused" | "prohibited" | "unreachable" | "time-exceeded" | "parameter-problem";

export interface IpErrorReport<A> {
  kind: IpErrorKind;
  /**
   * RFC 1122 §4.2.3.9's hard errors (port/protocol unreachable, administratively prohibited, and
   * a next hop that never answered neighbour discovery, as Linux reports it): a connection being
   * opened gives up on them. Soft errors may be transient and are only recorded.
   */
  hard: boolean;
  /** For "too-big": the path MTU to use from now on; 0 otherwise. */
  mtu: number;
  /** The quoted datagram's source (ours) and destination. */
  local: A;
  remote: A;
  /** The quoted transport header's ports (its first four bytes). */
  localPort: number;
  remotePort: number;
  /** The quoted transport header, at least 8 bytes (TCP's ports and sequence number, a whole UDP header); a copy. */
  header: Uint8Array;
  /** What happened, for logs and errors: "ICMPv6 port unreachable from 2001:db8::2". */
  description: string;
}

export type IpErrorHandler<A> = (report: IpErrorReport<A>) => void;

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
  /**
   * Registers `callback` to run once after each batch of received datagrams (a netif batch, a
   * batch of looped-back datagrams), after the last one's handler returned: TCP sends its
   * coalesced ACKs there. Optional: without it a transport acts per datagram.
   */
  afterBatch?(callback: () => void): void;
  /**
   * Errors about datagrams of `protocol` we sent (ICMP errors whose quoted packet came from one of
   * our addresses and carries at least 8 bytes of its transport header), for the transport to find
   * the connection and react: TCP lowers its MSS on "too-big" and fails a connect on a hard error.
   * Optional: a layer without it reports nothing.
   */
  setErrorHandler?(protocol: number, handler: IpErrorHandler<A> | undefined): void;
}
