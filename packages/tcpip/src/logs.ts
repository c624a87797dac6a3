/**
 * The log sources of the direct stack, named as MirageOS's tcpip names them, so that
 * `-l arp:debug,dhcp:info` selects them. Created on first use (not at import), so importing a
 * codec registers nothing.
 */
import { type Log, createLogSource } from "@mirage-ts/runtime";

export interface StackLogs {
  ethernet: Log;
  arp: Log;
  ipv4: Log;
  icmp: Log;
  udp: Log;
  tcp: Log;
  dhcp: Log;
  stack: Log;
}

let defaults: StackLogs | undefined;

/** The stack's sources: one per protocol, or `log` for every protocol when given. */
export function stackLogs(log?: Log): StackLogs {
  if (log !== undefined) return { ethernet: log, arp: log, ipv4: log, icmp: log, udp: log, tcp: log, dhcp: log, stack: log };
  defaults ??= {
    ethernet: createLogSource("ethernet", "Ethernet layer of the direct stack"),
    arp: createLogSource("arp", "ARP of the direct stack"),
    ipv4: createLogSource("ipv4", "IPv4 of the direct stack"),
    icmp: createLogSource("icmpv4", "ICMPv4 of the direct stack"),
    udp: createLogSource("udp", "UDP of the direct stack"),
    tcp: createLogSource("tcp", "TCP of the direct stack"),
    dhcp: createLogSource("dhcp", "DHCPv4 client of the direct stack"),
    stack: createLogSource("tcpip", "the direct TCP/IP stack"),
  };
  return defaults;
}

const nothing = (): void => {};

/** A Log that reports nothing (engines created alone, in benchmarks). */
export const silentLog: Log = {
  name: "silent",
  doc: "",
  err: nothing,
  warn: nothing,
  info: nothing,
  debug: nothing,
  enabled: () => false,
  level: () => "quiet",
};

/** Logs an exception the stack caught on a path that must not die (a bug, reported with its stack). */
export function logBug(log: Log, where: string): (error: unknown) => void {
  return (error) => log.err(`${where} made the stack throw (a bug): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
}
