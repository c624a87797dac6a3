import {
  register,
  main,
  key,
  Arg,
  Conv,
  matchImpl,
  unavailable,
  netKey,
  directStackv4v6,
  defaultNetwork,
  defaultMonotonicClock,
  defaultTime,
} from "@mirage-ts/mirage";

const target = key(
  "target",
  Arg.optional(Conv.ipv6Address, { doc: "The IPv6 address to ping (link-local such as fe80::1, or global).", docv: "IPV6" }),
);
const count = key("count", Arg.int({ default: 4, doc: "How many echo requests to send." }));
const interval = key("interval", Arg.int({ default: 1000, doc: "Milliseconds between two echo requests." }));
const size = key("size", Arg.int({ default: 56, doc: "Data bytes in each echo request (56 makes 64-byte ICMPv6 messages, as ping's default)." }));
const timeout = key("timeout", Arg.int({ default: 1000, doc: "Milliseconds to wait for each reply." }));

// Sending ICMPv6 echo requests takes an IPv6 layer of our own: the host's sockets cannot do it
// without raw sockets, so the socket stack is refused at configure time with the reason.
const stack = matchImpl(netKey, {
  direct: directStackv4v6(defaultNetwork),
  socket: unavailable({
    type: "StackV4V6",
    impl: "socket",
    reason:
      "ping6 sends ICMPv6 echo requests itself, which needs the direct stack (the socket stack has no raw ICMPv6): configure with --net=direct",
  }),
});

register("ping6", [
  main(
    "./unikernel.ts",
    { stack, mclock: defaultMonotonicClock, time: defaultTime },
    { keys: [target, count, interval, size, timeout] },
  ),
]);
