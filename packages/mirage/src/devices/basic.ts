/** Console, clocks, time and randomness of the unix target. */
import { Arg, Conv, key } from "@mirage-ts/runtime";
import { impl, type ImplDevice } from "../device.ts";
import { UNIX_PACKAGE } from "./packages.ts";

export const defaultConsole: ImplDevice = impl({
  type: "Console",
  name: "console",
  impl: "unix",
  module: UNIX_PACKAGE,
  connect: "connectConsole",
});

export const defaultMonotonicClock: ImplDevice = impl({
  type: "MonotonicClock",
  name: "mclock",
  impl: "unix",
  module: UNIX_PACKAGE,
  connect: "connectMonotonicClock",
});

export const defaultPosixClock: ImplDevice = impl({
  type: "PosixClock",
  name: "pclock",
  impl: "unix",
  module: UNIX_PACKAGE,
  connect: "connectPosixClock",
});

export const defaultTime: ImplDevice = impl({
  type: "Time",
  name: "time",
  impl: "unix",
  module: UNIX_PACKAGE,
  connect: "connectTime",
});

export const randomSeedKey = key(
  "random-seed",
  Arg.optional(Conv.string, {
    doc: "For tests only: a seed that makes the random number generator deterministic (and predictable).",
    stage: "boot",
  }),
);

export const defaultRandom: ImplDevice = impl({
  type: "Random",
  name: "random",
  impl: "unix",
  module: UNIX_PACKAGE,
  connect: "connectRandom",
  keys: { seed: randomSeedKey },
});
