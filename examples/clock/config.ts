import { register, main, defaultMonotonicClock, defaultPosixClock, defaultTime, defaultConsole } from "@mirage-ts/mirage";

register("clock", [
  main("./unikernel.ts", {
    mclock: defaultMonotonicClock,
    pclock: defaultPosixClock,
    time: defaultTime,
    console: defaultConsole,
  }),
]);
