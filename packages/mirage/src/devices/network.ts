/**
 * The network: the keys of MirageOS 3.10 (`--ipv4`, `--ipv4-gateway`, `--ipv6`, `--ipv6-gateway`,
 * `--accept-router-advertisements`, `--ipv4-only`, `--ipv6-only`, configure-time `--dhcp` and
 * `--net`), the network interface, and the stacks.
 *
 * The socket stack uses the host's sockets (node:net, node:dgram). The direct stack is
 * @mirage-ts/tcpip over a TAP device (`--interface`), with the monotonic clock, time and random
 * shared with the rest of the graph, and in between a seeded link-fault wrapper that
 * `--link-faults=SPEC` turns on at boot (tests over a bad link) and a packet capture that
 * `--pcap=FILE` turns on at boot:
 *
 *   net (TAP, --interface) ── link_faults (--link-faults) ─┐
 *   pcap_file (--pcap) ────────────────────────────────────┼─ pcap (Netif) ─┐
 *   pclock ────────────────────────────────────────────────┘                ├─ stackv4v6 (direct: --ipv4/--ipv4-gateway, or DHCP)
 *   mclock, time, random ───────────────────────────────────────────────────┘
 *
 * `--dhcp=true` (configure) chooses the DHCP variant, which has no `--ipv4`/`--ipv4-gateway`
 * keys, as in MirageOS 3.10. The direct stack is IPv4-only for now: see
 * @mirage-ts/tcpip's stack/connect.ts for what the IPv6 keys do meanwhile.
 */
import { Arg, Conv, Ipv4Prefix, key, type Key } from "@mirage-ts/runtime";
import { ifImpl, impl, matchImpl, type ChoiceDevice, type Device, type ImplDevice } from "../device.ts";
import { defaultMonotonicClock, defaultPosixClock, defaultRandom, defaultTime } from "./basic.ts";
import { TCPIP_PACKAGE, UNIX_PACKAGE } from "./packages.ts";

const network = { section: "network" } as const;

export const netKey: Key<"socket" | "direct"> = key(
  "net",
  Arg.enum(["socket", "direct"], {
    default: "socket",
    doc: "The network stack: socket uses the host's TCP/IP sockets, direct runs mirage-ts's own TCP/IP over a TAP interface.",
    stage: "configure",
    ...network,
  }),
);

export const dhcpKey: Key<boolean> = key(
  "dhcp",
  Arg.bool({ default: false, doc: "Configure the direct stack's IPv4 address with DHCP.", stage: "configure", ...network }),
);

export const interfaceKey: Key<string> = key(
  "interface",
  Arg.string({ default: "tap0", doc: "The TAP interface the direct stack uses.", docv: "NAME", ...network }),
);

/** `--ipv4` of the socket stack: the address to listen on (the subnet is ignored, as in MirageOS 3.9). */
export const socketIpv4Key: Key<Ipv4Prefix> = key(
  "ipv4",
  Arg.ipv4Prefix({
    default: Ipv4Prefix.of("0.0.0.0/0"),
    doc: "The IPv4 address to listen on, with its network (the socket stack ignores the network; 0.0.0.0 is every address).",
    ...network,
  }),
);

/** `--ipv4` of the direct stack: its address and network. */
export const directIpv4Key: Key<Ipv4Prefix> = key(
  "ipv4",
  Arg.ipv4Prefix({ default: Ipv4Prefix.of("10.0.0.2/24"), doc: "The IPv4 address of the unikernel and its network.", ...network }),
);

export const ipv4GatewayKey = key(
  "ipv4-gateway",
  Arg.optional(Conv.ipv4Address, { doc: "The IPv4 gateway (default route).", ...network }),
);

export const ipv6Key = key(
  "ipv6",
  Arg.optional(Conv.ipv6Prefix, {
    doc: "The IPv6 address and network (the direct stack uses SLAAC when it is absent; the socket stack listens on it).",
    ...network,
  }),
);

export const ipv6GatewayKey = key(
  "ipv6-gateway",
  Arg.optional(Conv.ipv6Address, { doc: "The IPv6 gateway (default route).", ...network }),
);

export const acceptRouterAdvertisementsKey: Key<boolean> = key(
  "accept-router-advertisements",
  Arg.bool({ default: true, doc: "Accept IPv6 router advertisements.", ...network }),
);

export const ipv4OnlyKey: Key<boolean> = key("ipv4-only", Arg.bool({ default: false, doc: "Use IPv4 only.", ...network }));
export const ipv6OnlyKey: Key<boolean> = key("ipv6-only", Arg.bool({ default: false, doc: "Use IPv6 only.", ...network }));

export const pcapKey = key(
  "pcap",
  Arg.optional(Conv.string, {
    doc: "Write every frame the direct stack sends and receives to FILE, in pcap format (for tshark, tcpdump, Wireshark).",
    docv: "FILE",
    stage: "boot",
    ...network,
  }),
);

/**
 * The host network interface of the direct stack: a TAP device named by `--interface`, through
 * the mirage_tap addon that `mirage build` copies beside the bundle. It reads the interface's MTU
 * from /sys/class/net (allowed by the launcher) to size its buffers.
 */
export const defaultNetwork: ImplDevice = impl({
  type: "Netif",
  name: "net",
  impl: "tap",
  module: UNIX_PACKAGE,
  connect: "connectTapNetif",
  keys: { name: interfaceKey },
  readPaths: ["/sys/class/net"],
  addons: [{ file: "mirage_tap.node", module: UNIX_PACKAGE, locate: "tapAddonBuildPath" }],
});

/** The file `--pcap=FILE` names (disabled when the key is absent). */
export const pcapFile: ImplDevice = impl({
  type: "PcapFile",
  name: "pcap_file",
  impl: "file",
  module: UNIX_PACKAGE,
  connect: "connectPcapFile",
  keys: { path: pcapKey },
  writePathKeys: [pcapKey],
});

export const linkFaultsKey = key(
  "link-faults",
  Arg.optional(Conv.string, {
    doc:
      "Inject seeded faults between the TAP device and the direct stack (for tests: this kernel has no netem). SPEC is NAME=VALUE[,...] with " +
      "NAME one of loss, duplicate, reorder, corrupt (probability: 0.01 or 1%), delay, jitter, reorder-delay (milliseconds), mtu (bytes), " +
      "direction (both|tx|rx), seed (integer), e.g. loss=0.01,reorder=0.01,duplicate=0.01,corrupt=0.01,seed=7. Absent: no faults.",
    docv: "SPEC",
    stage: "boot",
    ...network,
  }),
);

/**
 * `network` behind the link-fault wrapper when `--link-faults` is given at boot (passed through
 * untouched otherwise). It sits below the capture, so that `--pcap` records what the stack saw.
 */
export function linkFaultsNetwork(network: Device): ImplDevice {
  return impl({
    type: "Netif",
    name: "link_faults",
    impl: "link-faults",
    module: TCPIP_PACKAGE,
    connect: "connectLinkFaultsNetif",
    keys: { spec: linkFaultsKey },
    deps: { netif: network, time: defaultTime, random: defaultRandom },
  });
}

/** `network`, its frames recorded into the `--pcap` file when one is given at boot. */
export function pcapNetwork(network: Device): ImplDevice {
  return impl({
    type: "Netif",
    name: "pcap",
    impl: "pcap",
    module: TCPIP_PACKAGE,
    connect: "connectPcapNetif",
    deps: { netif: network, sink: pcapFile, clock: defaultPosixClock },
  });
}

/** A dual IPv4/IPv6 stack over the host's sockets. */
export function socketStackv4v6(): ImplDevice {
  return impl({
    type: "StackV4V6",
    name: "stackv4v6",
    impl: "socket",
    module: UNIX_PACKAGE,
    connect: "connectSocketStack",
    keys: {
      ipv4: socketIpv4Key,
      ipv4Gateway: ipv4GatewayKey,
      ipv6: ipv6Key,
      ipv6Gateway: ipv6GatewayKey,
      ipv4Only: ipv4OnlyKey,
      ipv6Only: ipv6OnlyKey,
    },
  });
}

/** mirage-ts's own TCP/IP over `network`: static (`--ipv4`, `--ipv4-gateway`), or DHCP when configured with `--dhcp=true`. */
export function directStackv4v6(network: Device, options: { dhcpKey?: Key<boolean> } = {}): ChoiceDevice {
  const deps = { netif: pcapNetwork(linkFaultsNetwork(network)), clock: defaultMonotonicClock, time: defaultTime, random: defaultRandom };
  const ipv6Keys = {
    ipv6: ipv6Key,
    ipv6Gateway: ipv6GatewayKey,
    acceptRouterAdvertisements: acceptRouterAdvertisementsKey,
    ipv4Only: ipv4OnlyKey,
    ipv6Only: ipv6OnlyKey,
  };
  const common = { type: "StackV4V6", name: "stackv4v6", module: TCPIP_PACKAGE, connect: "connectDirectStackV4V6", deps };
  const staticStack = impl({ ...common, impl: "direct", keys: { ipv4: directIpv4Key, ipv4Gateway: ipv4GatewayKey, ...ipv6Keys } });
  const dhcpStack = impl({ ...common, impl: "direct-dhcp", keys: ipv6Keys, args: { dhcp: true } });
  return ifImpl(options.dhcpKey ?? dhcpKey, dhcpStack, staticStack);
}

/** The socket or the direct stack, as the `--net` configure key says. */
export function genericStackv4v6(network: Device, options: { key?: Key<"socket" | "direct"> } = {}): ChoiceDevice {
  return matchImpl(options.key ?? netKey, { socket: socketStackv4v6(), direct: directStackv4v6(network) });
}
