/**
 * The typed error every wire decoder returns instead of throwing: which protocol refused the
 * bytes, a stable code for counters and tests, and a message for logs.
 */
export type WireProtocol = "ethernet" | "arp" | "ipv4" | "icmpv4" | "udp" | "tcp" | "dhcp" | "ipv6" | "icmpv6" | "ndp" | "mld";

export type DecodeErrorCode =
  /** Fewer bytes than the header, or than a length field announces. */
  | "truncated"
  /** The IP version field is not the expected one. */
  | "bad-version"
  /** The IPv4 IHL is below 5 or beyond the bytes. */
  | "bad-header-length"
  /** A length field contradicts itself or the header (IPv4 total length below IHL, UDP length below 8...). */
  | "bad-length"
  | "bad-checksum"
  /** A field holds a value the protocol forbids (ARP hardware length, an IPv4 fragment past 65535...). */
  | "bad-field"
  /** Well formed but not something this stack handles (802.3 length frames, RARP, an unknown ICMP type). */
  | "unsupported"
  /** An 802.1Q / 802.1ad tagged Ethernet frame: the stack does not do VLANs. */
  | "vlan-tagged";

export interface DecodeError {
  readonly protocol: WireProtocol;
  readonly code: DecodeErrorCode;
  readonly message: string;
}

export function decodeError(protocol: WireProtocol, code: DecodeErrorCode, message: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { protocol, code, message } };
}
