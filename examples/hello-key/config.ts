import { register, main, key, Arg, defaultTime, defaultConsole } from "@mirage-ts/mirage";

const hello = key("hello", Arg.string({ default: "Hello World!", doc: "How to say hello." }));

register("hello-key", [main("./unikernel.ts", { time: defaultTime, console: defaultConsole }, { keys: [hello] })]);
