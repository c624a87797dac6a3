/**
 * The direct stack: our own Ethernet, ARP, IPv4, ICMPv4, IPv6 (NDP, SLAAC, MLD), ICMPv6, UDP and
 * TCP over any Netif, behind the runtime's StackV4V6 interface, the same one the socket stack
 * implements. IPv4 is configured statically (`--ipv4`, `--ipv4-gateway`) or by DHCP; IPv6 by
 * SLAAC, with an optional static address (`--ipv6`) and gateway (`--ipv6-gateway`). Either family
 * may be turned off (`--ipv4-only`, `--ipv6-only`): its engines are then never started, so the
 * stack neither has an address of that family nor answers anything of it.
 *
 * Everything runs on the injected clock, time and random: no timers of its own, no Date, no
 * Math.random, so the same stack runs over a TAP device and, in tests, over the in-memory switch
 * in virtual time.
 */
import {
  FlowError,
  type Ip,
  type IpAddress,
  type IpConfig,
  type Ipv4Address,
  type Ipv4Prefix,
  type Ipv6Address,
  Ipv6Prefix,
  type Log,
  type MacAddress,
  type MonotonicClock,
  type Netif,
  type Random,
  type StackV4V6,
  type Tcp,
  type Time,
  type Udp,
} from "@mirage-ts/runtime";
import { type ArpEngine, type ArpEntry, type ArpStats, createArp } from "../arp/engine.ts";
import type { ArpConfig } from "../arp/state-machine.ts";
import { type DhcpClientStats, type DhcpLeaseAccess, createDhcpClient } from "../dhcp/client.ts";
import type { DhcpClientConfig } from "../dhcp/state-machine.ts";
import { type EthernetStats, createEthernet } from "../ethernet/engine.ts";
import { type EchoReply, type IcmpConfig, type IcmpStats, type PingOptions, createIcmpv4 } from "../icmpv4/engine.ts";
import { type Echo6Reply, type Icmpv6Config, type Icmpv6Stats, type Ping6Options, createIcmpv6 } from "../icmpv6/engine.ts";
import { type Ipv4Stats, createIpv4 } from "../ipv4/engine.ts";
import { type Ipv6Stats, createIpv6 } from "../ipv6/engine.ts";
import { ipv6Logs } from "../ipv6/logs.ts";
import type { Ipv6AddressInfo, NdpStats, NdpTuning, NeighborInfo } from "../ndp/engine.ts";
import { ipv4Layer } from "../ipv4/ip-layer.ts";
import type { ReassemblyConfig } from "../ipv4/reassembly.ts";
import { stackLogs } from "../logs.ts";
import { type TcpEngineConfig, type TcpStats, createTcp } from "../tcp/engine.ts";
import { type UdpStats, createUdp } from "../udp/engine.ts";
import { createDualTcp, createDualUdp } from "./dual-transport.ts";

export type DirectIpv4Options = { address: Ipv4Prefix; gateway?: Ipv4Address } | { dhcp: true };

export interface DirectIpv6Options {
  /** `--ipv6=2001:db8::42/64`: a static address (DAD runs on it; its prefix is on-link). SLAAC runs besides. */
  address?: Ipv6Prefix;
  /** `--ipv6-gateway`: a default router besides those advertised. */
  gateway?: Ipv6Address;
  /** `--accept-router-advertisements` (default true); false: no router solicitation, advertisements ignored (no SLAAC, no default router). */
  acceptRouterAdvertisements?: boolean;
}

export interface DirectStackOptions {
  netif: Netif;
  clock: MonotonicClock;
  time: Time;
  random: Random;
  /** A static address (`--ipv4=10.0.0.2/24`, `--ipv4-gateway`), DHCP (`--dhcp=true`), or false: no IPv4 at all (`--ipv6-only=true`). */
  ipv4: DirectIpv4Options | false;
  /** IPv6 (default: on, addresses by SLAAC), or false: no IPv6 at all (`--ipv4-only=true`). */
  ipv6?: DirectIpv6Options | false;
  /** One log for every protocol; by default each has its source (ethernet, arp, ipv4, icmpv4, udp, tcp, dhcp). */
  log?: Log;
  /** Tuning, mostly for tests. */
  arp?: Partial<Omit<ArpConfig, "mac" | "addresses">>;
  reassembly?: Partial<ReassemblyConfig>;
  icmp?: Partial<IcmpConfig>;
  dhcp?: Partial<Omit<DhcpClientConfig, "mac">>;
  /** TCP tuning: buffers, timers, MSL, SYN backlog... */
  tcp?: Partial<TcpEngineConfig>;
  icmp6?: Partial<Icmpv6Config>;
  /** Neighbour discovery and autoconfiguration timers (DAD transmits, router solicitation delays...). */
  ndp?: Partial<NdpTuning>;
  ipv6Reassembly?: Partial<ReassemblyConfig>;
}

export interface DirectStackStats {
  ethernet: EthernetStats;
  arp: ArpStats;
  ipv4: Ipv4Stats;
  icmp: IcmpStats;
  udp: UdpStats;
  tcp: TcpStats;
  dhcp: DhcpClientStats | undefined;
  /** Undefined with IPv6 off. */
  ipv6: Ipv6Stats | undefined;
  icmp6: Icmpv6Stats | undefined;
  ndp: NdpStats | undefined;
  udp6: UdpStats | undefined;
  tcp6: TcpStats | undefined;
}

export interface DirectStack extends StackV4V6 {
  /** TCP (tcp/engine.ts); closed ports answer with RST. */
  readonly tcp: Tcp & { listening(): number[] };
  readonly udp: Udp;
  readonly ip: Ip;
  readonly netif: Netif;
  /** Echo requests (ping) from this stack. */
  readonly icmp: { ping(dst: Ipv4Address, options?: PingOptions): Promise<EchoReply> };
  /** The neighbour cache. */
  readonly arp: { entries(): ArpEntry[]; query(ip: Ipv4Address): Promise<MacAddress> };
  /** The DHCP client's lease, when the stack is configured by DHCP; undefined for a static address. */
  readonly dhcp: DhcpLeaseAccess | undefined;
  /** ICMPv6 echo requests (ping6) from this stack. */
  readonly icmp6: { ping(dst: Ipv6Address, options?: Ping6Options): Promise<Echo6Reply> };
  /** The IPv6 neighbour cache. */
  readonly ndp: { entries(): NeighborInfo[] };
  readonly ipv6: {
    /** Every IPv6 address with its DAD state (tentative, preferred, deprecated, duplicate) and origin (link-local, static, slaac). */
    addresses(): Ipv6AddressInfo[];
    /** The default routers: `--ipv6-gateway` first, then those advertised. */
    routers(): Ipv6Address[];
    /** Resolves when `address` passed DAD; rejects when it is a duplicate (or the stack stops first). */
    waitForAddress(address: Ipv6Address, signal?: AbortSignal): Promise<void>;
  };
  stats(): DirectStackStats;
}

/**
 * The DHCP lease of `stack` when it is a direct stack configured by DHCP: what a unikernel typed
 * against StackV4V6 calls to read its router and DNS servers.
 */
export function dhcpOf(stack: StackV4V6): DhcpLeaseAccess | undefined {
  const dhcp = (stack as Partial<DirectStack>).dhcp;
  return dhcp !== undefined && typeof dhcp.lease === "function" ? dhcp : undefined;
}

/**
 * Builds and starts the stack. With DHCP it returns at once, without an address: use
 * `connectDirectStack` to wait for the first lease (what a unikernel wants at boot).
 */
export function createDirectStack(options: DirectStackOptions): DirectStack {
  const { netif, clock, time, random } = options;
  const logs = stackLogs(options.log);
  const logs6 = ipv6Logs(options.log);
  const ipv4Enabled = options.ipv4 !== false;
  const ipv4Options: DirectIpv4Options | undefined = options.ipv4 === false ? undefined : options.ipv4;
  const staticConfig = ipv4Options !== undefined && "address" in ipv4Options ? ipv4Options : undefined;
  const ipv6Options: DirectIpv6Options | undefined = options.ipv6 === false ? undefined : (options.ipv6 ?? {});

  const ethernet = createEthernet({ netif, log: logs.ethernet });
  const arp: ArpEngine<Uint8Array> = createArp<Uint8Array>({
    ethernet,
    clock,
    time,
    addresses: staticConfig !== undefined ? [staticConfig.address.address] : [],
    ...(options.arp !== undefined ? { config: options.arp } : {}),
    log: logs.arp,
  });
  const ipv4 = createIpv4({
    ethernet,
    arp,
    clock,
    time,
    random,
    config: { address: staticConfig?.address, gateway: staticConfig?.gateway },
    ...(options.reassembly !== undefined ? { reassembly: options.reassembly } : {}),
    log: logs.ipv4,
  });
  const icmp = createIcmpv4({ ipv4, clock, time, random, ...(options.icmp !== undefined ? { config: options.icmp } : {}), log: logs.icmp });
  // TCP and UDP run over the IpLayer contract (ip-layer.ts); the dual facades put one listen in front of every family.
  const ipv4Transport = ipv4Layer(ipv4, icmp);
  const udp = createUdp({ ip: ipv4Transport, random, log: logs.udp });
  const tcp = createTcp({ ip: ipv4Transport, clock, time, random, ...(options.tcp !== undefined ? { config: options.tcp } : {}), log: logs.tcp });
  const ipv6 =
    ipv6Options === undefined
      ? undefined
      : createIpv6({
          ethernet,
          clock,
          time,
          random,
          config: {
            addresses: ipv6Options.address !== undefined ? [ipv6Options.address] : [],
            gateway: ipv6Options.gateway,
            acceptRouterAdvertisements: ipv6Options.acceptRouterAdvertisements ?? true,
          },
          ...(options.ipv6Reassembly !== undefined ? { reassembly: options.ipv6Reassembly } : {}),
          ...(options.ndp !== undefined ? { ndp: options.ndp } : {}),
          log: logs6.ipv6,
          ndpLog: logs6.ndp,
        });
  const icmp6 =
    ipv6 === undefined ? undefined : createIcmpv6({ ipv6, clock, time, random, ...(options.icmp6 !== undefined ? { config: options.icmp6 } : {}), log: logs6.icmpv6 });
  const udp6 = ipv6 === undefined ? undefined : createUdp({ ip: ipv6, random, log: logs.udp });
  const tcp6 =
    ipv6 === undefined ? undefined : createTcp({ ip: ipv6, clock, time, random, ...(options.tcp !== undefined ? { config: options.tcp } : {}), log: logs.tcp });
  const dualTcp = createDualTcp(ipv4Enabled ? tcp : undefined, tcp6);
  const dualUdp = createDualUdp(ipv4Enabled ? udp : undefined, udp6);
  const ipv4Off = (): Error => new FlowError("unreachable", "IPv4 is turned off (--ipv6-only=true)");
  const ipv6Off = (): Error => new FlowError("unreachable", "IPv6 is turned off (--ipv4-only=true)");
  const dhcp =
    ipv4Enabled && staticConfig === undefined
      ? createDhcpClient({ udp, ipv4, clock, time, random, config: { ...options.dhcp, mac: netif.mac }, log: logs.dhcp })
      : undefined;

  let disconnected = false;
  let resolveListen: () => void = () => {};
  const listening = new Promise<void>((resolve) => (resolveListen = resolve));

  const usable6 = (): Ipv6AddressInfo[] => (ipv6 === undefined ? [] : ipv6.ndp.usable());
  const ip: Ip = {
    config(): IpConfig {
      const { address, gateway } = ipv4.config();
      return {
        ipv4: !ipv4Enabled || address === undefined ? undefined : { address: address.address, prefix: address, gateway },
        ipv6:
          ipv6 === undefined
            ? undefined
            : { addresses: usable6().map((a) => Ipv6Prefix.make(a.address, a.prefixLength)), gateway: ipv6.routers()[0] },
      };
    },
    addresses(): IpAddress[] {
      const { address } = ipv4.config();
      const v4: IpAddress[] = !ipv4Enabled || address === undefined ? [] : [address.address];
      return [...v4, ...usable6().map((a) => a.address)];
    },
  };

  if (ipv4Enabled) {
    icmp.start();
    udp.start();
    tcp.start();
    ipv4.start();
  }
  icmp6?.start();
  udp6?.start();
  tcp6?.start();
  ethernet.start();
  if (ipv4Enabled) arp.start();
  ipv6?.start();
  dhcp?.start();
  const v4Summary = !ipv4Enabled
    ? "IPv4 off"
    : staticConfig !== undefined
      ? `IPv4 ${staticConfig.address}${staticConfig.gateway ? ` via ${staticConfig.gateway}` : ""}`
      : "IPv4 by DHCP";
  const v6Summary = ipv6Options === undefined ? "IPv6 off" : describeIpv6(ipv6Options);
  logs.stack.info(`direct stack on ${netif.mac} (MTU ${netif.mtu}): ${v4Summary}, ${v6Summary}`);

  return {
    // Facades: the engines' start/stop belong to the stack, not to the unikernel.
    tcp: dualTcp,
    udp: dualUdp,
    ip,
    netif,
    icmp: { ping: (dst, pingOptions) => (ipv4Enabled ? icmp.ping(dst, pingOptions) : Promise.reject(ipv4Off())) },
    arp: { entries: () => arp.entries(), query: (address) => (ipv4Enabled ? arp.query(address) : Promise.reject(ipv4Off())) },
    icmp6: { ping: (dst, pingOptions) => (icmp6 !== undefined ? icmp6.ping(dst, pingOptions) : Promise.reject(ipv6Off())) },
    ndp: { entries: () => (ipv6 === undefined ? [] : ipv6.ndp.entries()) },
    ipv6: {
      addresses: () => (ipv6 === undefined ? [] : ipv6.addresses()),
      routers: () => (ipv6 === undefined ? [] : ipv6.routers()),
      waitForAddress: (address, signal) => (ipv6 === undefined ? Promise.reject(ipv6Off()) : ipv6.ndp.waitForAddress(address, signal)),
    },
    dhcp:
      dhcp === undefined
        ? undefined
        : {
            lease: () => dhcp.lease(),
            state: () => dhcp.state(),
            onLease: (listener) => dhcp.onLease(listener),
            waitForLease: (signal) => dhcp.waitForLease(signal),
          },
    listen: () => listening,
    stats: () => ({
      ethernet: ethernet.stats(),
      arp: arp.stats(),
      ipv4: ipv4.stats(),
      icmp: icmp.stats(),
      udp: udp.stats(),
      tcp: tcp.stats(),
      dhcp: dhcp?.stats(),
      ipv6: ipv6?.stats(),
      icmp6: icmp6?.stats(),
      ndp: ipv6?.ndp.stats(),
      udp6: udp6?.stats(),
      tcp6: tcp6?.stats(),
    }),
    async disconnect(): Promise<void> {
      if (disconnected) return;
      disconnected = true;
      dhcp?.stop();
      tcp6?.stop();
      udp6?.stop();
      icmp6?.stop();
      ipv6?.stop();
      tcp.stop();
      udp.stop();
      icmp.stop();
      ipv4.stop();
      arp.stop();
      ethernet.stop();
      resolveListen();
    },
  };
}

/**
 * The IPv6 part of the start-up line, saying where addresses come from: "IPv6 2001:db8::2/64
 * (static) + SLAAC", "IPv6 by SLAAC", "IPv6 2001:db8::2/64 (static) via fe80::1, router
 * advertisements ignored", "IPv6 link-local only (router advertisements ignored)".
 */
export function describeIpv6(options: DirectIpv6Options): string {
  const slaac = options.acceptRouterAdvertisements !== false;
  const via = options.gateway !== undefined ? ` via ${options.gateway}` : "";
  if (options.address !== undefined) return `IPv6 ${options.address} (static)${via}${slaac ? " + SLAAC" : ", router advertisements ignored"}`;
  return slaac ? `IPv6 by SLAAC${via}` : `IPv6 link-local only${via} (router advertisements ignored)`;
}

/**
 * Builds and starts the stack, as a unikernel's boot connects it: with DHCP, resolves once the
 * first lease is bound (MirageOS's DHCP stack does the same); with a static IPv6 address, once it
 * passed duplicate address detection, and rejects with a clear error when another node has it
 * ("IPv6 address 2001:db8::42 is already used on the link (duplicate address detection): choose
 * another --ipv6"); rejects when `signal` aborts first.
 */
export async function connectDirectStack(options: DirectStackOptions, signal?: AbortSignal): Promise<DirectStack> {
  const stack = createDirectStack(options);
  const waits: Promise<unknown>[] = [];
  if (stack.dhcp !== undefined) waits.push(stack.dhcp.waitForLease(signal));
  const staticIpv6 = options.ipv6 !== false ? options.ipv6?.address : undefined;
  if (staticIpv6 !== undefined) waits.push(stack.ipv6.waitForAddress(staticIpv6.address, signal));
  if (waits.length > 0) {
    try {
      await Promise.all(waits);
    } catch (e) {
      await stack.disconnect();
      throw e;
    }
  }
  return stack;
}
