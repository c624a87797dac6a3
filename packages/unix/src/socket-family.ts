/**
 * Which address families a socket stack uses and where it binds them, shared by its TCP and UDP.
 */
import type { Endpoint, Ipv4Address, Ipv6Address } from "@mirage-ts/runtime";

export interface FamilyBinding {
  family: 4 | 6;
  /** The address to bind, in Node's text form. */
  host: string;
  address: Ipv4Address | Ipv6Address;
  /** True for 0.0.0.0 and ::, which a host without that family cannot bind. */
  wildcard: boolean;
}

/** What TCP and UDP need from the stack that owns them. */
export interface SocketStackContext {
  /** The enabled families, IPv4 first. */
  readonly families: readonly FamilyBinding[];
  /** Reports a problem the stack survives. */
  warn(message: string): void;
  /** Reports a problem the unikernel should not survive: the stack's `listen()` rejects with it. */
  fail(error: Error): void;
}

/** Errors meaning "this host has no such address family" (e.g. IPv6 disabled), not a misconfiguration. */
export function isMissingFamily(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL" || code === "EPROTONOSUPPORT";
}

export function checkPort(port: number, what: string, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new RangeError(`${what}: ${port} is not a port number (${allowZero ? 0 : 1}..65535)`);
  }
}

export function describeHost(binding: FamilyBinding): string {
  return binding.family === 6 ? `[${binding.host}]` : binding.host;
}

/**
 * Settles one listen call's binds (one per address family): the endpoints bound, or a failure
 * when no family could be bound. A failure of a listener not cancelled meanwhile withdraws it
 * (`withdraw`) and fails the stack, so that `stack.listen()` rejects with the reason.
 */
export function settleBinds(
  what: string,
  binds: Promise<Endpoint | undefined>[],
  listener: { cancelled: boolean },
  withdraw: () => void,
  context: SocketStackContext,
): Promise<Endpoint[]> {
  const ready = Promise.all(binds).then((bound) => {
    const endpoints = bound.filter((e): e is Endpoint => e !== undefined);
    if (endpoints.length === 0 && !listener.cancelled) throw new Error(`${what}: no address family could be bound`);
    return endpoints;
  });
  ready.catch((e: Error) => {
    if (listener.cancelled) return;
    withdraw();
    context.fail(e);
  });
  return ready;
}
