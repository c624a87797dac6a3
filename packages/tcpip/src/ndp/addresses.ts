/**
 * The addresses neighbour discovery and SLAAC derive: solicited-node multicast (RFC 4291 §2.7.1),
 * the Ethernet address of an IPv6 multicast group (RFC 2464 §7), the modified EUI-64 interface
 * identifier of a MAC (RFC 4291 appendix A), link-local addresses (RFC 4862 §5.3) and addresses
 * formed from an advertised prefix (RFC 4862 §5.5.3).
 */
import { Ipv6Address, Ipv6Prefix, MacAddress } from "@mirage-ts/runtime";

export const IPV6_ALL_NODES = Ipv6Address.of("ff02::1");
export const IPV6_ALL_ROUTERS = Ipv6Address.of("ff02::2");
/** Where MLDv2 reports go (RFC 3810 §5.2.14). */
export const IPV6_ALL_MLDV2_ROUTERS = Ipv6Address.of("ff02::16");
export const IPV6_LINK_LOCAL_PREFIX = Ipv6Prefix.of("fe80::/64");

/** ff02::1:ff00:0/104 with the low 24 bits of `address`: where solicitations for it are sent. */
export function solicitedNodeMulticast(address: Ipv6Address): Ipv6Address {
  const b = new Uint8Array(16);
  b[0] = 0xff;
  b[1] = 0x02;
  b[11] = 0x01;
  b[12] = 0xff;
  b.set(address.bytes.subarray(13, 16), 13);
  return Ipv6Address.ofBytes(b);
}

/** True for ff02::1:ffXX:XXXX. */
export function isSolicitedNodeMulticast(address: Ipv6Address): boolean {
  const b = address.bytes;
  if (b[0] !== 0xff || b[1] !== 0x02 || b[11] !== 0x01 || b[12] !== 0xff) return false;
  for (let i = 2; i < 11; i++) if (b[i] !== 0) return false;
  return true;
}

/** 33:33 and the low 32 bits of the group. */
export function ipv6MulticastMac(group: Ipv6Address): MacAddress {
  const b = group.bytes;
  return MacAddress.ofBytes(Uint8Array.of(0x33, 0x33, b[12]!, b[13]!, b[14]!, b[15]!));
}

/** The modified EUI-64 interface identifier of a MAC: ff:fe in the middle, the universal/local bit inverted. */
export function modifiedEui64(mac: MacAddress): Uint8Array {
  const m = mac.toBytes();
  return Uint8Array.of(m[0]! ^ 0x02, m[1]!, m[2]!, 0xff, 0xfe, m[3]!, m[4]!, m[5]!);
}

/** `prefix`'s first 64 bits and the 64-bit `interfaceId`. */
export function addressWithInterfaceId(prefix: Ipv6Address, interfaceId: Uint8Array): Ipv6Address {
  if (interfaceId.length !== 8) throw new RangeError(`an interface identifier is 8 bytes, not ${interfaceId.length}`);
  const b = new Uint8Array(16);
  b.set(prefix.bytes.subarray(0, 8));
  b.set(interfaceId, 8);
  return Ipv6Address.ofBytes(b);
}

/** fe80::/64 with the modified EUI-64 of `mac`. */
export function linkLocalAddress(mac: MacAddress): Ipv6Address {
  return addressWithInterfaceId(IPV6_LINK_LOCAL_PREFIX.address, modifiedEui64(mac));
}

/**
 * The SLAAC address for an advertised prefix, or undefined when SLAAC cannot use it: RFC 4862
 * §5.5.3 (d) needs the prefix length plus the interface identifier's 64 bits to make 128.
 */
export function slaacAddress(prefix: Ipv6Prefix, interfaceId: Uint8Array): Ipv6Address | undefined {
  if (prefix.length !== 64 || interfaceId.length !== 8) return undefined;
  return addressWithInterfaceId(prefix.address, interfaceId);
}
