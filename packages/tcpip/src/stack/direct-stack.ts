/**
 * The direct stack: our own Ethernet, ARP, IPv4, ICMPv4, UDP and TCP over any Netif, behind the runtime's StackV4V6 interface, the same
 * one the socket stack implements. Configured statically (`--ipv4`, `--ipv4-gateway`) or by DHCP.
 *
 * Everything runs on the injected clock, time and random: no timers of its own, no Date, no
 * Math.random, so the same stack runs over a TAP device and, in tests, over the in-memory switch
 * in virtual time.
 */
import {
  type Ip,
  type IpAddress,
  type IpConfig,
  type Ipv4Address,
  type Ipv4Prefix,
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
import { type Ipv4Stats, createIpv4 } from "../ipv4/engine.ts";
import type { ReassemblyConfig } from "../ipv4/reassembly.ts";
import { stackLogs } from "../logs.ts";
import { type TcpEngineConfig, type TcpStats, createTcp } from "../tcp/engine.ts";
import { type UdpStats, createUdp } from "../udp/engine.ts";

export type DirectIpv4Options = { address: Ipv4Prefix; gateway?: Ipv4Address } | { dhcp: true };

export interface DirectStackOptions {
  netif: Netif;
  clock: MonotonicClock;
  time: Time;
  random: Random;
  /** A static address (`--ipv4=10.0.0.2/24`, `--ipv4-gateway`), or DHCP (`--dhcp=true`). */
  ipv4: DirectIpv4Options;
  /** One log for every protocol; by default each has its source (ethernet, arp, ipv4, icmpv4, udp, tcp, dhcp). */
  log?: Log;
  /** Tuning, mostly for tests. */
  arp?: Partial<Omit<ArpConfig, "mac" | "addresses">>;
  reassembly?: Partial<ReassemblyConfig>;
  icmp?: Partial<IcmpConfig>;
  dhcp?: Partial<Omit<DhcpClientConfig, "mac">>;
  /** TCP tuning: buffers, timers, MSL, SYN backlog... */
  tcp?: Partial<TcpEngineConfig>;
}

export interface DirectStackStats {
  ethernet: EthernetStats;
  arp: ArpStats;
  ipv4: Ipv4Stats;
  icmp: IcmpStats;
  udp: UdpStats;
  tcp: TcpStats;
  dhcp: DhcpClientStats | undefined;
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
  const staticConfig = "address" in options.ipv4 ? options.ipv4 : undefined;

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
  const udp = createUdp({ ipv4, icmp, random, log: logs.udp });
  const tcp = createTcp({ ipv4, clock, time, random, ...(options.tcp !== undefined ? { config: options.tcp } : {}), log: logs.tcp });
  const dhcp =
    staticConfig === undefined
      ? createDhcpClient({ udp, ipv4, clock, time, random, config: { ...options.dhcp, mac: netif.mac }, log: logs.dhcp })
      : undefined;

  let disconnected = false;
  let resolveListen: () => void = () => {};
  const listening = new Promise<void>((resolve) => (resolveListen = resolve));

  const ip: Ip = {
    config(): IpConfig {
      const { address, gateway } = ipv4.config();
      return { ipv4: address === undefined ? undefined : { address: address.address, prefix: address, gateway }, ipv6: undefined };
    },
    addresses(): IpAddress[] {
      const { address } = ipv4.config();
      return address === undefined ? [] : [address.address];
    },
  };

  icmp.start();
  udp.start();
  tcp.start();
  ipv4.start();
  ethernet.start();
  arp.start();
  dhcp?.start();
  logs.stack.info(
    `direct stack on ${netif.mac} (MTU ${netif.mtu}): ${
      staticConfig !== undefined ? `IPv4 ${staticConfig.address}${staticConfig.gateway ? ` via ${staticConfig.gateway}` : ""}` : "IPv4 by DHCP"
    }`,
  );

  return {
    // Facades: the engines' start/stop belong to the stack, not to the unikernel.
    tcp: {
      listen: (port, handler, listenOptions) => tcp.listen(port, handler, listenOptions),
      unlisten: (port) => tcp.unlisten(port),
      connect: (address, port) => tcp.connect(address, port),
      listening: () => tcp.listening(),
    },
    udp: {
      listen: (port, handler) => udp.listen(port, handler),
      unlisten: (port) => udp.unlisten(port),
      send: (sendOptions) => udp.send(sendOptions),
    },
    ip,
    netif,
    icmp: { ping: (dst, pingOptions) => icmp.ping(dst, pingOptions) },
    arp: { entries: () => arp.entries(), query: (address) => arp.query(address) },
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
    }),
    async disconnect(): Promise<void> {
      if (disconnected) return;
      disconnected = true;
      dhcp?.stop();
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
 * Builds and starts the stack, as a unikernel's boot connects it: with DHCP, resolves once the
 * first lease is bound (MirageOS's DHCP stack does the same); rejects when `signal` aborts first.
 */
export async function connectDirectStack(options: DirectStackOptions, signal?: AbortSignal): Promise<DirectStack> {
  const stack = createDirectStack(options);
  if (stack.dhcp !== undefined) {
    try {
      await stack.dhcp.waitForLease(signal);
    } catch (e) {
      await stack.disconnect();
      throw e;
    }
  }
  return stack;
}
