/**
 * The socket stack: MirageOS 3.9's StackV4V6 over the host's own TCP/IP (node:net, node:dgram).
 *
 * `--ipv4` and `--ipv6` give the addresses to listen on; as in MirageOS 3.9 the prefix length is
 * ignored (the host's routing decides), and the default 0.0.0.0/0 means every IPv4 address. A
 * listened port is bound on the IPv4 address (unless ipv6Only) and on the IPv6 address, or ::
 * when none is given (unless ipv4Only); the IPv6 socket is IPv6-only so the two never clash,
 * and one `listen` call serves both families. `--ipv4-only`/`--ipv6-only` turn the other family
 * off entirely, as the direct stack does: no address in `ip`, no listening socket, and connect
 * and send to that family (an IPv4-mapped ::ffff:a.b.c.d counting as IPv4) fail naming the key.
 * A host without one of the families gets a warning and the other family only. A bind that
 * fails for any other reason (port in use, permission) makes `listen()` reject: a server whose
 * `start` awaits `stack.listen()` stops with that error instead of running deaf.
 */
import {
  type IpAddress,
  type IpConfig,
  Ipv4Address,
  type Ipv4Prefix,
  Ipv6Address,
  Ipv6Prefix,
  type StackV4V6,
  createLogSource,
} from "@mirage-ts/runtime";
import type { FamilyBinding, SocketStackContext } from "./socket-family.ts";
import { SocketTcp } from "./socket-tcp.ts";
import { SocketUdp } from "./socket-udp.ts";

const log = createLogSource("socket-stack", "the socket stack (node:net and node:dgram)");

export interface SocketStackOptions {
  /** The IPv4 address to listen on (--ipv4); 0.0.0.0/0 is every address. */
  ipv4: Ipv4Prefix;
  /** The IPv6 address to listen on (--ipv6); every address (::) when absent. */
  ipv6?: Ipv6Prefix;
  ipv4Only: boolean;
  ipv6Only: boolean;
  ipv4Gateway?: Ipv4Address;
  ipv6Gateway?: Ipv6Address;
  /** Where warnings go; default: the "socket-stack" log source. */
  warn?: (message: string) => void;
}

/** The socket stack, with what it offers beyond StackV4V6 (the bound endpoints of a port). */
export interface SocketStackV4V6 extends StackV4V6 {
  readonly tcp: SocketTcp;
  readonly udp: SocketUdp;
}

export async function connectSocketStack(opts: SocketStackOptions): Promise<SocketStackV4V6> {
  if (opts.ipv4Only && opts.ipv6Only) {
    throw new Error("socket stack: --ipv4-only and --ipv6-only cannot both be true (that would leave no address family)");
  }
  const warn = opts.warn ?? ((message: string) => log.warn(message));
  const ipv4 = opts.ipv4.address;
  const ipv6 = opts.ipv6?.address ?? Ipv6Address.unspecified;
  const families: FamilyBinding[] = [];
  if (!opts.ipv6Only) families.push({ family: 4, host: ipv4.toString(), address: ipv4, wildcard: ipv4.isUnspecified() });
  if (!opts.ipv4Only) families.push({ family: 6, host: ipv6.toString(), address: ipv6, wildcard: ipv6.isUnspecified() });

  let disconnected = false;
  let resolveDone!: () => void;
  let rejectDone!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A failure before anyone awaits listen() must not be an unhandled rejection; listen() still sees it.
  done.catch(() => undefined);

  const context: SocketStackContext = {
    families,
    warn,
    fail: (error) => {
      warn(error.message);
      rejectDone(error);
    },
  };
  const tcp = new SocketTcp(context);
  const udp = new SocketUdp(context);

  const config: IpConfig = {
    ipv4: opts.ipv6Only ? undefined : { address: ipv4, prefix: opts.ipv4, gateway: opts.ipv4Gateway },
    ipv6: opts.ipv4Only ? undefined : { addresses: [opts.ipv6 ?? Ipv6Prefix.make(Ipv6Address.unspecified, 0)], gateway: opts.ipv6Gateway },
  };

  return {
    tcp,
    udp,
    ip: {
      config: () => config,
      addresses: (): IpAddress[] => [
        ...(config.ipv4 ? [config.ipv4.address] : []),
        ...(config.ipv6 ? config.ipv6.addresses.map((p) => p.address) : []),
      ],
    },
    listen: () => done,
    async disconnect() {
      if (disconnected) return;
      disconnected = true;
      await Promise.allSettled([tcp.disconnect(), udp.disconnect()]);
      resolveDone();
    },
  };
}

