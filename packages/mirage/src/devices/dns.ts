/**
 * The DNS resolver device: a stub resolver over the stack's UDP (@mirage-ts/dns), with the boot
 * keys `--resolver` and `--resolver-port`.
 *
 * The default server is 127.0.0.1, not a public resolver as in MirageOS (which defaults to
 * Unikernel's/Cloudflare's): a unikernel must not send traffic anywhere it was not pointed at,
 * and on the socket stack the host's own resolver (systemd-resolved, dnsmasq, unbound) usually
 * listens on loopback. The host's /etc/resolv.conf is not read: the unikernel gets its
 * configuration from its keys only. Give `--resolver` explicitly on the direct stack.
 */
import { Arg, IpAddress, key, type Key } from "@mirage-ts/runtime";
import { impl, type Device, type ImplDevice } from "../device.ts";

export const DNS_PACKAGE = "@mirage-ts/dns";

const network = { section: "network" } as const;

export const resolverKey: Key<IpAddress> = key(
  "resolver",
  Arg.ipAddress({
    default: IpAddress.of("127.0.0.1"),
    doc: "The DNS resolver (recursive server) to ask. The default, 127.0.0.1, is a resolver on the host itself: mirage-ts never picks a public one.",
    docv: "IP",
    ...network,
  }),
);

export const resolverPortKey: Key<number> = key(
  "resolver-port",
  Arg.int({ default: 53, doc: "The UDP port of the DNS resolver.", docv: "PORT", ...network }),
);

export function resolver(stack: Device): ImplDevice {
  return impl({
    type: "Resolver",
    name: "resolver",
    impl: "udp",
    module: DNS_PACKAGE,
    connect: "connectResolver",
    deps: { stack },
    keys: { resolver: resolverKey, port: resolverPortKey },
  });
}
