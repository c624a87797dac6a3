import { register, main, key, Arg, genericStackv4v6, defaultNetwork } from "@mirage-ts/mirage";

const port = key("port", Arg.int({ default: 8080, doc: "The TCP port on which to listen for incoming connections." }));

register("network", [main("./unikernel.ts", { stack: genericStackv4v6(defaultNetwork) }, { keys: [port] })]);
