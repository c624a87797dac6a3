/**
 * Keys every unikernel has: the logs spec and the Node runtime parameters (the TypeScript form of
 * MirageOS's OCaml runtime parameters). The launcher written by `mirage build` turns the runtime
 * parameters into Node flags before the bundle starts; the runtime only validates and documents
 * them, so `--help` lists them and a malformed one is a boot error.
 */
import { Arg, Conv, key, type Key } from "./keys.ts";

/** `-l/--logs`, listed among the unikernel's keys (it is the unikernel's own verbosity, not Node's). */
export const logsKey: Key<string> = key(
  "logs",
  Arg.string({
    default: "*:info",
    short: "l",
    env: "MIRAGE_LOGS",
    doc:
      "Be more or less verbose. SPEC is a comma separated list of SRC:LEVEL where SRC is a log source " +
      "(or * for every source) and LEVEL one of quiet, error, warning, info, debug; a bare LEVEL means *:LEVEL. " +
      "Example: *:info,http:debug.",
    docv: "SPEC",
    stage: "both",
    section: "unikernel",
  }),
);

export const maxOldSpaceSizeKey: Key<number | undefined> = key(
  "max-old-space-size",
  Arg.optional(Conv.int, {
    doc: "The size of the JavaScript heap's old generation, in MiB: Node's --max-old-space-size. Unset: Node's default.",
    docv: "MIB",
    stage: "both",
    section: "runtime",
  }),
);

export const maxSemiSpaceSizeKey: Key<number | undefined> = key(
  "max-semi-space-size",
  Arg.optional(Conv.int, {
    doc: "The size of a semi-space of the JavaScript heap's young generation, in MiB: Node's --max-semi-space-size. Unset: Node's default.",
    docv: "MIB",
    stage: "both",
    section: "runtime",
  }),
);

export const stackSizeKey: Key<number | undefined> = key(
  "stack-size",
  Arg.optional(Conv.int, {
    doc: "The size of V8's stack, in KiB: Node's --stack-size. Unset: Node's default (984 KiB on 64-bit). Keep it below the thread's real stack (ulimit -s) or deep recursion crashes instead of throwing RangeError.",
    docv: "KIB",
    stage: "both",
    section: "runtime",
  }),
);

/** The Node runtime parameters, in the order the launcher passes them. */
export const runtimeParameterKeys: readonly Key<number | undefined>[] = [maxOldSpaceSizeKey, maxSemiSpaceSizeKey, stackSizeKey];

/** The Node flag a runtime parameter maps to, e.g. `--max-old-space-size=512`; undefined when unset. */
export function runtimeParameterFlag(name: string, value: number | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!runtimeParameterKeys.some((k) => k.name === name)) return undefined;
  return `--${name}=${value}`;
}

/** Checks a runtime parameter's value (they must be positive); a one-line error like parseArgs's. */
export function checkRuntimeParameter(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    return `--${name}: ${JSON.stringify(String(value))} is not a positive integer (expected ${name === "stack-size" ? "KIB" : "MIB"})`;
  }
  return undefined;
}
