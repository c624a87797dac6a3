/**
 * What a generated main.ts calls for `--net=direct`: the direct stack (and the optional packet
 * capture in front of it) with flat options, one field per key (`ipv4: keys.ipv4`,
 * `ipv4Gateway: keys.ipv4Gateway`, ...), as `mirage configure` writes them.
 *
 * The stack is IPv4-only until IPv6 lands. The IPv6 keys exist already, so that a unikernel's
 * keys are the same on both stacks, and they are handled honestly:
 * - `--ipv4-only=true` is what the stack does anyway;
 * - `--ipv6-only=true` would turn IPv4 off and leave no address family: the stack refuses to
 *   connect (the unikernel stops at boot with that message) rather than run deaf;
 * - `--ipv6` and `--ipv6-gateway` are ignored with a warning; `--accept-router-advertisements`
 *   is ignored (its default, true, asks for nothing).
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
import { type DirectIpv4Options, type DirectStack, connectDirectStack } from "./direct-stack.ts";

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
  ipv4Only?: boolean;
  ipv6Only?: boolean;
  /** Ignored with a warning until the direct stack has IPv6. */
  ipv6?: Ipv6Prefix;
  ipv6Gateway?: Ipv6Address;
  acceptRouterAdvertisements?: boolean;
  /** Where warnings go; default: the stack's "tcpip" log source. */
  log?: Log;
  /** Rejects the wait for a DHCP lease. */
  signal?: AbortSignal;
}

/** Why `options` cannot make a stack, or undefined. */
export function directStackOptionsProblem(options: Pick<DirectStackV4V6Options, "ipv4" | "dhcp" | "ipv4Only" | "ipv6Only">): string | undefined {
  if (options.ipv4Only === true && options.ipv6Only === true) {
    return "direct stack: --ipv4-only and --ipv6-only cannot both be true (that would leave no address family)";
  }
  if (options.ipv6Only === true) {
    return (
      "direct stack: --ipv6-only=true turns IPv4 off, and the direct stack has no IPv6 yet, so no address family would be left; " +
      "boot with --ipv6-only=false, or configure with --net=socket for IPv6"
    );
  }
  if (options.dhcp === true && options.ipv4 !== undefined) return "direct stack: give either a static --ipv4 or DHCP, not both";
  if (options.dhcp !== true && options.ipv4 === undefined) return "direct stack: needs a static --ipv4 address or DHCP";
  return undefined;
}

/** Connects the direct stack over `options.netif`; with DHCP, resolves once the first lease is bound. */
export async function connectDirectStackV4V6(options: DirectStackV4V6Options): Promise<DirectStack> {
  const problem = directStackOptionsProblem(options);
  if (problem !== undefined) throw new Error(problem);
  const warn = options.log ?? stackLogs().stack;
  for (const [name, value] of [
    ["--ipv6", options.ipv6],
    ["--ipv6-gateway", options.ipv6Gateway],
  ] as const) {
    if (value !== undefined) warn.warn(`${name}=${value} is ignored: the direct stack has no IPv6 yet (it runs IPv4 only)`);
  }
  const ipv4: DirectIpv4Options =
    options.dhcp === true
      ? { dhcp: true }
      : options.ipv4Gateway === undefined
        ? { address: options.ipv4! }
        : { address: options.ipv4!, gateway: options.ipv4Gateway };
  return connectDirectStack(
    { netif: options.netif, clock: options.clock, time: options.time, random: options.random, ipv4 },
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
