/**
 * What a generated main.ts calls for `--net=direct`: the direct stack (and the optional packet
 * capture in front of it) with flat options, one field per key (`ipv4: keys.ipv4`,
 * `ipv4Gateway: keys.ipv4Gateway`, ...), as `mirage configure` writes them.
 *
 * The keys, as MirageOS 3.10 has them:
 * - IPv4: `--ipv4` and `--ipv4-gateway`, or `--dhcp=true` (connecting waits for the first lease);
 * - IPv6: SLAAC always runs (unless `--accept-router-advertisements=false`); `--ipv6` adds a
 *   static address, and connecting waits for its duplicate address detection, failing with a
 *   clear error when another node has it; `--ipv6-gateway` adds a default router;
 * - `--ipv4-only=true` turns IPv6 off entirely (no NDP, no IPv6 address, no answer to anything
 *   IPv6); `--ipv6-only=true` turns IPv4 off entirely (no ARP, no IPv4 address, no DHCP, no
 *   answer to anything IPv4, `--ipv4` ignored); both true is refused.
 */
import {
  type FramesHandler,
  type Ipv4Address,
  type Ipv4Prefix,
  type Ipv6Address,
  type Ipv6Prefix,
  type Log,
  type MacAddress,
  type MonotonicClock,
  type Netif,
  type NetifStats,
  type Random,
  type Time,
} from "@mirage-ts/runtime";
import { withPcap } from "../link/pcap.ts";
import { stackLogs } from "../logs.ts";
import { type DirectIpv4Options, type DirectIpv6Options, type DirectStack, connectDirectStack } from "./direct-stack.ts";

export interface DirectStackV4V6Options {
  netif: Netif;
  clock: MonotonicClock;
  time: Time;
  random: Random;
  /** `--ipv4`: the static address and network. Required unless `dhcp`. */
  ipv4?: Ipv4Prefix;
  /** `--ipv4-gateway`: the default route of a static configuration. */
  ipv4Gateway?: Ipv4Address;
  /** `--dhcp=true`: the address comes from DHCP; connecting waits for the first lease. */
  dhcp?: boolean;
  /** `--ipv4-only=true`: no IPv6 at all. */
  ipv4Only?: boolean;
  /** `--ipv6-only=true`: no IPv4 at all (`--ipv4` and `--dhcp` are then ignored). */
  ipv6Only?: boolean;
  /** `--ipv6`: a static address besides SLAAC's; connecting waits for its DAD. */
  ipv6?: Ipv6Prefix;
  ipv6Gateway?: Ipv6Address;
  acceptRouterAdvertisements?: boolean;
  /** Where warnings go; default: the stack's "tcpip" log source. */
  log?: Log;
  /** Rejects the wait for a DHCP lease or for DAD on `--ipv6`. */
  signal?: AbortSignal;
}

/** Why `options` cannot make a stack, or undefined. */
export function directStackOptionsProblem(options: Pick<DirectStackV4V6Options, "ipv4" | "dhcp" | "ipv4Only" | "ipv6Only">): string | undefined {
  if (options.ipv4Only === true && options.ipv6Only === true) {
    return "direct stack: --ipv4-only and --ipv6-only cannot both be true (that would leave no address family)";
  }
  // IPv4 is off: its keys (--ipv4 always has a value in direct mode) do not matter.
  if (options.ipv6Only === true) return undefined;
  if (options.dhcp === true && options.ipv4 !== undefined) return "direct stack: give either a static --ipv4 or DHCP, not both";
  if (options.dhcp !== true && options.ipv4 === undefined) return "direct stack: needs a static --ipv4 address or DHCP";
  return undefined;
}

/**
 * Connects the direct stack over `options.netif`; resolves once the first DHCP lease is bound
 * (with DHCP) and the static `--ipv6` passed DAD (when given).
 */
export async function connectDirectStackV4V6(options: DirectStackV4V6Options): Promise<DirectStack> {
  const problem = directStackOptionsProblem(options);
  if (problem !== undefined) throw new Error(problem);
  const warn = options.log ?? stackLogs().stack;
  if (options.ipv4Only === true) {
    for (const [name, value] of [
      ["--ipv6", options.ipv6],
      ["--ipv6-gateway", options.ipv6Gateway],
    ] as const) {
      if (value !== undefined) warn.warn(`${name}=${value} is ignored: --ipv4-only=true turns IPv6 off`);
    }
  }
  if (options.ipv6Only === true && options.dhcp === true) warn.warn("--dhcp=true is ignored: --ipv6-only=true turns IPv4 off");
  const ipv4: DirectIpv4Options | false =
    options.ipv6Only === true
      ? false
      : options.dhcp === true
        ? { dhcp: true }
        : options.ipv4Gateway === undefined
          ? { address: options.ipv4! }
          : { address: options.ipv4!, gateway: options.ipv4Gateway };
  const ipv6: DirectIpv6Options | false =
    options.ipv4Only === true
      ? false
      : {
          ...(options.ipv6 !== undefined ? { address: options.ipv6 } : {}),
          ...(options.ipv6Gateway !== undefined ? { gateway: options.ipv6Gateway } : {}),
          acceptRouterAdvertisements: options.acceptRouterAdvertisements ?? true,
        };
  return connectDirectStack(
    { netif: options.netif, clock: options.clock, time: options.time, random: options.random, ipv4, ipv6 },
    options.signal,
  );
}

/** Where capture bytes go (a file in packages/unix: `connectPcapFile`). */
export interface PcapSink {
  /** False when no capture was asked for (`--pcap` not given): the netif is passed through untouched. */
  readonly enabled: boolean;
  /** Takes one chunk of a pcap file (the header first, then one record per frame); may keep it. */
  write(chunk: Uint8Array): void;
}

export interface PcapNetifOptions {
  netif: Netif;
  sink: PcapSink;
  /** Stamps the records: the wall clock (PosixClock), so that the capture shows real dates. */
  clock: { now(): number };
}

/**
 * `netif`, recording every frame in both directions into `sink` when it is enabled. The result
 * is a device of its own whose disconnect leaves `netif` alone: the runtime disconnects `netif`
 * (connected before it) itself.
 */
export function connectPcapNetif(options: PcapNetifOptions): Netif {
  const { netif, sink } = options;
  const inner = sink.enabled ? withPcap(netif, (chunk) => sink.write(chunk), options.clock) : netif;
  return {
    get mac(): MacAddress {
      return inner.mac;
    },
    get mtu(): number {
      return inner.mtu;
    },
    listen: (onFrames: FramesHandler): void => inner.listen(onFrames),
    write: (frame: Uint8Array): boolean => inner.write(frame),
    writeBatch: (frames: readonly Uint8Array[]): number => inner.writeBatch(frames),
    stats: (): NetifStats => inner.stats(),
    disconnect: async (): Promise<void> => {},
  };
}
