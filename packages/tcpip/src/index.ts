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
