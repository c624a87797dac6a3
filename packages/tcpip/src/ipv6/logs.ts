/**
 * The log sources of the IPv6 half of the direct stack ("ipv6", "icmpv6", "ndp"), created on
 * first use like ../logs.ts's, so that `-l ndp:debug` selects neighbour discovery alone.
 */
import { type Log, createLogSource } from "@mirage-ts/runtime";

export interface Ipv6Logs {
  ipv6: Log;
  icmpv6: Log;
  ndp: Log;
}

let defaults: Ipv6Logs | undefined;

/** One source per protocol, or `log` for all of them when given. */
export function ipv6Logs(log?: Log): Ipv6Logs {
  if (log !== undefined) return { ipv6: log, icmpv6: log, ndp: log };
  defaults ??= {
    ipv6: createLogSource("ipv6", "IPv6 of the direct stack"),
    icmpv6: createLogSource("icmpv6", "ICMPv6 of the direct stack"),
    ndp: createLogSource("ndp", "neighbour discovery, DAD, SLAAC and MLD of the direct stack"),
  };
  return defaults;
}
