import { register, main, key, Arg, genericStackv4v6, defaultNetwork } from "@mirage-ts/mirage";

const port = key("port", Arg.int({ default: 7777, doc: "The UDP port on which to echo datagrams." }));

register("udp-echo", [main("./unikernel.ts", { stack: genericStackv4v6(defaultNetwork) }, { keys: [port] })]);
