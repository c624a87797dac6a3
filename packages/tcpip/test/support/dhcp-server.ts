/**
 * A small DHCP server for tests, on a raw host on the switch: offers addresses from a pool, and
 * answers REQUESTs in each phase (selecting, renewing, rebinding) as the test decides: ACK, NAK
 * or silence. It records every message it receives with the virtual time and how it arrived.
 */
import { Ipv4Address, MacAddress, type Netif } from "@mirage-ts/runtime";
import type { VirtualTime } from "../../src/testing/virtual-time.ts";
import { type DhcpMessage, type DhcpMessageType, encodeDhcp, parseDhcp } from "../../src/dhcp/wire.ts";
import { type RawHost, rawHost, udpOf } from "./raw-host.ts";

export type Answer = "ack" | "nak" | "ignore";

export interface ServerOptions {
  address?: string;
  pool?: string[];
  leaseTime?: number;
  renewalTime?: number;
  rebindingTime?: number;
  mask?: string;
  routers?: string[];
  dns?: string[];
  /** Send OFFER/ACK to the offered address instead of broadcasting, whatever the client's broadcast flag. */
  unicastReplies?: boolean;
}

export interface Received {
  at: number;
  type: DhcpMessageType;
  message: DhcpMessage;
  /** The IP destination: "broadcast" or the address it was unicast to. */
  to: string;
  from: string;
  srcPort: number;
  dstPort: number;
  /** Selecting (REQUEST with server id), renewing (unicast, ciaddr), rebinding (broadcast, ciaddr). */
  phase: "discover" | "selecting" | "renewing" | "rebinding" | "other";
}

export interface TestDhcpServer {
  readonly host: RawHost;
  readonly address: Ipv4Address;
  readonly received: Received[];
  /** Whether DISCOVERs get an OFFER. */
  offer: boolean;
  selecting: Answer;
  renewing: Answer;
  rebinding: Answer;
  /** The address each client (by MAC) was given. */
  readonly bindings: Map<string, Ipv4Address>;
  /** Forgets `mac`'s address so the next offer takes the next one from the pool. */
  forget(mac: MacAddress): void;
}

export function dhcpServer(vt: VirtualTime, netif: Netif, options: ServerOptions = {}): TestDhcpServer {
  const address = Ipv4Address.of(options.address ?? "10.0.0.1");
  const pool = (options.pool ?? ["10.0.0.57", "10.0.0.58", "10.0.0.59"]).map((a) => Ipv4Address.of(a));
  const host = rawHost(netif, [address]);
  let nextInPool = 0;
  const server: TestDhcpServer = {
    host,
    address,
    received: [],
    offer: true,
    selecting: "ack",
    renewing: "ack",
    rebinding: "ack",
    bindings: new Map(),
    forget(mac) {
      server.bindings.delete(mac.toString());
    },
  };
  const addressFor = (mac: MacAddress): Ipv4Address => {
    let a = server.bindings.get(mac.toString());
    if (a === undefined) server.bindings.set(mac.toString(), (a = pool[nextInPool++ % pool.length]!));
    return a;
  };
  const reply = (request: DhcpMessage, type: DhcpMessageType, yiaddr: Ipv4Address, srcMac: MacAddress): void => {
    const message: DhcpMessage = {
      op: "reply",
      xid: request.xid,
      secs: 0,
      broadcast: request.broadcast,
      ciaddr: request.ciaddr,
      yiaddr: type === "nak" ? Ipv4Address.any : yiaddr,
      siaddr: Ipv4Address.any,
      giaddr: Ipv4Address.any,
      chaddr: request.chaddr,
      options:
        type === "nak"
          ? { messageType: "nak", serverId: address, message: "address not available" }
          : {
              messageType: type,
              serverId: address,
              leaseTime: options.leaseTime ?? 120,
              ...(options.renewalTime !== undefined ? { renewalTime: options.renewalTime } : {}),
              ...(options.rebindingTime !== undefined ? { rebindingTime: options.rebindingTime } : {}),
              subnetMask: Ipv4Address.of(options.mask ?? "255.255.255.0"),
              routers: (options.routers ?? ["10.0.0.1"]).map((a) => Ipv4Address.of(a)),
              dnsServers: (options.dns ?? ["10.0.0.1", "10.0.0.53"]).map((a) => Ipv4Address.of(a)),
            },
    };
    const unicast = !request.ciaddr.isUnspecified() ? request.ciaddr : options.unicastReplies && type !== "nak" ? yiaddr : undefined;
    host.sendUdp(unicast !== undefined ? srcMac : MacAddress.broadcast, address, 67, unicast ?? Ipv4Address.broadcast, 68, encodeDhcp(message));
  };
  host.onPacket = (packet, srcMac) => {
    const udp = udpOf(packet);
    if (udp === undefined || udp.dstPort !== 67) return;
    const parsed = parseDhcp(udp.payload);
    if (!parsed.ok || parsed.value.op !== "request") return;
    const m = parsed.value;
    const type = m.options.messageType;
    const broadcast = packet.dst.equals(Ipv4Address.broadcast);
    const phase: Received["phase"] =
      type === "discover"
        ? "discover"
        : type !== "request"
          ? "other"
          : m.options.serverId !== undefined
            ? "selecting"
            : broadcast
              ? "rebinding"
              : "renewing";
    server.received.push({ at: vt.now(), type, message: m, to: broadcast ? "broadcast" : packet.dst.toString(), from: packet.src.toString(), srcPort: udp.srcPort, dstPort: udp.dstPort, phase });
    if (type === "discover") {
      if (server.offer) reply(m, "offer", addressFor(m.chaddr), srcMac);
      return;
    }
    if (type !== "request") return;
    if (phase === "selecting" && !m.options.serverId!.equals(address)) return;
    const answer = phase === "selecting" ? server.selecting : phase === "renewing" ? server.renewing : server.rebinding;
    if (answer === "ignore") return;
    const wanted = m.options.requestedIp ?? m.ciaddr;
    const bound = addressFor(m.chaddr);
    reply(m, answer === "ack" && wanted.equals(bound) ? "ack" : "nak", bound, srcMac);
  };
  return server;
}
