/**
 * Which address families a socket stack uses and where it binds them, shared by its TCP and UDP.
 */
import { Ipv4Address, type Endpoint, type IpAddress, type Ipv6Address } from "@mirage-ts/runtime";

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

/**
 * The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) stands for,
 * or undefined for any other address. Such an address is IPv4 on the wire: an IPv6 socket
 * without IPV6_V6ONLY (what node:net's connect opens) sends IPv4 packets to it.
 */
export function ipv4OfMapped(address: IpAddress): Ipv4Address | undefined {
  if (address.family !== 6) return undefined;
  for (let i = 0; i < 5; i++) if (address.word(i) !== 0) return undefined;
  if (address.word(5) !== 0xffff) return undefined;
  return Ipv4Address.ofInt(((address.word(6) << 16) | address.word(7)) >>> 0);
}

/** Where traffic to a destination goes: the enabled family that carries it and the address in that family's form. */
export interface Route {
  binding: FamilyBinding;
  address: IpAddress;
}

/**
 * The route to `destination`, or why there is none: its family is turned off by --ipv4-only or
 * --ipv6-only ("no address, no replies": the stack neither sends nor receives that family). An
 * IPv4-mapped IPv6 destination counts as IPv4, so --ipv6-only cannot be bypassed through one.
 */
export function routeTo(context: SocketStackContext, destination: IpAddress): Route | { disabled: string } {
  const mapped = ipv4OfMapped(destination);
  const address = mapped ?? destination;
  const binding = context.families.find((b) => b.family === address.family);
  if (binding !== undefined) return { binding, address };
  const off = `IPv${address.family} is disabled (--ipv${address.family === 4 ? 6 : 4}-only=true)`;
  return { disabled: mapped === undefined ? off : `${off}, and ${destination} is an IPv4-mapped address` };
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
