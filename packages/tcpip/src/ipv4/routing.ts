/**
 * Where an IPv4 datagram goes, as a pure function of the interface's configuration: the next hop
 * (the destination itself when on-link, else the gateway) or one of the special outcomes below.
 * Addresses are 32-bit integers and the outcome a number, so the per-packet path allocates nothing.
 */
import type { Ipv4Address, Ipv4Prefix } from "@mirage-ts/runtime";

/** 255.255.255.255 or the network's directed broadcast: the Ethernet broadcast address. */
export const ROUTE_BROADCAST = -1;
/** One of our own addresses: delivered locally, never put on the wire. */
export const ROUTE_LOCAL = -2;
/** Not on-link and no gateway, or an address that must never be sent to (0.0.0.0, 127/8). */
export const ROUTE_NONE = -3;
/** We have no address yet (DHCP in progress): only the limited broadcast can be sent. */
export const ROUTE_NO_ADDRESS = -4;
/** A multicast group: the Ethernet multicast address of RFC 1112. */
export const ROUTE_MULTICAST = -5;

/** A next-hop address (>= 0) or one of the ROUTE_* outcomes (< 0). */
export function ipv4NextHop(address: Ipv4Prefix | undefined, gateway: Ipv4Address | undefined, dst: number): number {
  return ipv4Route(routeTable(address, gateway), dst);
}

/** The configuration as the integers `ipv4Route` needs per packet (-1: absent). */
export interface RouteTable {
  address: number;
  mask: number;
  /** The directed broadcast, -1 for /31 and /32 (RFC 3021). */
  broadcast: number;
  gateway: number;
}

export function routeTable(address: Ipv4Prefix | undefined, gateway: Ipv4Address | undefined): RouteTable {
  return {
    address: address === undefined ? -1 : address.address.value,
    mask: address === undefined ? 0 : address.mask,
    broadcast: address === undefined || address.length > 30 ? -1 : address.broadcast.value,
    gateway: gateway === undefined ? -1 : gateway.value,
  };
}

/** `ipv4NextHop` over a precomputed table: the per-packet form (no allocation). */
export function ipv4Route(table: RouteTable, dst: number): number {
  dst = dst >>> 0;
  if (dst === 0xffffffff) return ROUTE_BROADCAST;
  if (dst === 0 || dst >>> 24 === 127) return ROUTE_NONE;
  if (table.address === -1) return ROUTE_NO_ADDRESS;
  if (dst === table.address) return ROUTE_LOCAL;
  if (dst >>> 28 === 0xe) return ROUTE_MULTICAST;
  if (dst === table.broadcast) return ROUTE_BROADCAST;
  if (((dst ^ table.address) & table.mask) === 0) return dst;
  if (table.gateway !== -1) return table.gateway;
  return ROUTE_NONE;
}

/** Why a datagram could not be routed, for error messages. */
export function describeNoRoute(address: Ipv4Prefix | undefined, gateway: Ipv4Address | undefined, dst: Ipv4Address): string {
  if (dst.value === 0 || dst.value >>> 24 === 127) return `${dst} is not a destination the direct stack sends to`;
  if (address === undefined) return `no route to ${dst}: the stack has no IPv4 address yet (DHCP has not bound a lease)`;
  return `no route to ${dst}: it is not on ${address.network}/${address.length} and no gateway is configured (--ipv4-gateway)`;
}
