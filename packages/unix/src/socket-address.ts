/**
 * Conversions between our IP types and the address strings node:net and node:dgram use.
 */
import { IpAddress, Ipv4Address, Ipv6Address, type Endpoint } from "@mirage-ts/runtime";

/**
 * The address Node reports, as ours. An IPv4-mapped IPv6 address ("::ffff:10.0.0.1", what a
 * dual-stack socket reports for an IPv4 peer) is the IPv4 address it maps; a zone ("%eth0") is
 * dropped. Undefined when Node reports nothing (a socket that is already closed).
 */
export function ipOfNode(text: string | undefined): IpAddress | undefined {
  if (text === undefined || text === "") return undefined;
  const lower = text.toLowerCase();
  if (lower.startsWith("::ffff:") && lower.includes(".")) {
    const v4 = Ipv4Address.parse(lower.slice("::ffff:".length));
    if (v4.ok) return v4.value;
  }
  const zone = text.indexOf("%");
  const parsed = IpAddress.parse(zone >= 0 ? text.slice(0, zone) : text);
  return parsed.ok ? parsed.value : undefined;
}

/** An endpoint from Node's address and port, with the unspecified address of `family` when Node has none. */
export function endpointOfNode(address: string | undefined, port: number | undefined, family: 4 | 6): Endpoint {
  return {
    address: ipOfNode(address) ?? (family === 4 ? Ipv4Address.any : Ipv6Address.unspecified),
    port: port ?? 0,
  };
}

/** Node's family string ("IPv4"/"IPv6") or number as 4 or 6. */
export function familyOfNode(family: string | number | undefined): 4 | 6 {
  return family === "IPv6" || family === 6 ? 6 : 4;
}
