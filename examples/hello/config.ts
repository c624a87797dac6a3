import { register, main, defaultTime, defaultConsole } from "@mirage-ts/mirage";

register("hello", [main("./unikernel.ts", { time: defaultTime, console: defaultConsole })]);
