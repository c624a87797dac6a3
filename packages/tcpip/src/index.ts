/**
 * @mirage-ts/tcpip: the direct TCP/IP stack, platform-neutral (no `node:` imports; clock, time and
 * randomness are injected). Each protocol folder holds its wire codec (`wire.ts`) and, where the
 * protocol has state, a pure state machine; `link/` holds netifs for tests and debugging.
 */
export * from "./decode-error.ts";
export * from "./checksum.ts";
export * from "./prng.ts";
export * from "./ethernet/wire.ts";
export * from "./arp/wire.ts";
export * from "./ipv4/wire.ts";
export * from "./icmpv4/wire.ts";
export * from "./udp/wire.ts";
export * from "./link/switch.ts";
export * from "./link/faults.ts";
export * from "./link/pcap.ts";
export * from "./testing/virtual-time.ts";
export * from "./arp/state-machine.ts";
export * from "./ipv4/fragmentation.ts";
export * from "./ipv4/reassembly.ts";
export * from "./deadline-timer.ts";
export * from "./token-bucket.ts";
export * from "./logs.ts";
export * from "./ethernet/engine.ts";
export * from "./arp/engine.ts";
export * from "./ipv4/routing.ts";
export * from "./ipv4/engine.ts";
export * from "./icmpv4/engine.ts";
export * from "./udp/engine.ts";
export * from "./tcp/wire.ts";
export * from "./tcp/reset.ts";
export * from "./tcp/seq.ts";
export * from "./tcp/isn.ts";
export * from "./tcp/congestion.ts";
export * from "./tcp/connection.ts";
export * from "./tcp/flow.ts";
export * from "./tcp/engine.ts";
export * from "./dhcp/wire.ts";
export * from "./dhcp/state-machine.ts";
export * from "./dhcp/client.ts";
export * from "./stack/direct-stack.ts";
export * from "./stack/connect.ts";
export * from "./ipv6/wire.ts";
export * from "./ipv6/extension-headers.ts";
export * from "./ipv6/fragment.ts";
export * from "./ipv6/reassembly.ts";
export * from "./icmpv6/wire.ts";
export * from "./ndp/options.ts";
export * from "./ndp/wire.ts";
export * from "./ndp/mld.ts";
export * from "./ndp/addresses.ts";
export * from "./ndp/neighbor-cache.ts";
export * from "./ndp/autoconfig.ts";
