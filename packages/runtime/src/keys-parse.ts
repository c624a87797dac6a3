/**
 * Command-line parsing of keys, GNU style:
 *   --name=value   --name value   -s value   -svalue   -s=value
 *   --flag (a bool key: true)      --flag=false
 *   --help, -h     --  (ends options; what follows is positional)
 * A bool key never takes the next argument as its value (`--dhcp true` is an error that says to
 * write `--dhcp=true`), so a flag can precede a positional argument unambiguously. A value that
 * starts with '-' must be attached (`--offset=-5` or `--offset -5`: a negative number is accepted
 * detached, anything else starting with '-' is taken as the next option).
 * The last occurrence of a key wins. A key missing from the command line falls back to its
 * environment variable (an empty variable counts as unset), then to its default.
 *
 * Every error is one line naming the key, the value and the expected form.
 */
import { type Result, ok, err } from "./result.ts";
import type { Key, Stage } from "./keys.ts";
import { closest } from "./keys-name.ts";

export interface ParsedArgs {
  /** Values by key name (kebab-case), defaults filled in. */
  values: Record<string, unknown>;
  /** Names of the keys given explicitly (command line or environment). */
  given: Set<string>;
  /** `--help` was asked for. */
  help: boolean;
  /** Arguments left over when `allowUnknown` is set, in order. */
  rest: string[];
}

export interface ParseArgsOptions {
  /** The stage being parsed; keys of the other stage are refused. Default "boot". */
  stage?: "configure" | "boot";
  /** Environment variables for keys with `env`. Default: none (parseArgs does not read process.env). */
  env?: Record<string, string | undefined>;
  /** Unknown options and positional arguments go to `rest` instead of being errors. */
  allowUnknown?: boolean;
}

const stageIncludes = (keyStage: Stage, stage: "configure" | "boot"): boolean => keyStage === "both" || keyStage === stage;

/** Whether `arg` can be the detached value of the option before it. */
const looksLikeValue = (arg: string): boolean => !arg.startsWith("-") || arg === "-" || /^-[0-9]/.test(arg);

export function parseArgs(keys: readonly Key[], argv: readonly string[], options: ParseArgsOptions = {}): Result<ParsedArgs, string> {
  const stage = options.stage ?? "boot";
  const env = options.env ?? {};
  const allowUnknown = options.allowUnknown ?? false;

  const byName = new Map<string, Key>();
  const byShort = new Map<string, Key>();
  for (const k of keys) {
    if (!byName.has(k.name)) byName.set(k.name, k);
    if (k.short !== undefined && !byShort.has(k.short)) byShort.set(k.short, k);
  }

  const values: Record<string, unknown> = {};
  for (const k of byName.values()) values[k.name] = k.default;
  const given = new Set<string>();
  const rest: string[] = [];
  const errors: string[] = [];
  let help = false;
  /** The bool key given just before, without a value: to explain a following "true"/"false". */
  let lastBareFlag: Key | undefined;

  const setValue = (k: Key, text: string, source: string): void => {
    const r = k.converter.parse(text);
    if (!r.ok) {
      errors.push(`--${k.name}${source}: ${r.error}`);
      return;
    }
    values[k.name] = r.value;
    given.add(k.name);
  };

  const stageError = (k: Key, text: string): string => {
    const example = `--${k.name}=${text}`;
    return k.stage === "configure"
      ? `--${k.name} can only be set at configure time; run mirage configure ${example}`
      : `--${k.name} can only be set at boot time; pass ${example} when starting the unikernel`;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const bareFlag = lastBareFlag;
    lastBareFlag = undefined;

    if (arg === "--") {
      const positional = argv.slice(i + 1);
      if (positional.length > 0) {
        if (allowUnknown) rest.push(...positional);
        else errors.push(`unexpected argument ${JSON.stringify(positional[0])}`);
      }
      break;
    }
    if (arg === "--help" || arg === "-h" || arg.startsWith("--help=")) {
      help = true;
      continue;
    }

    let k: Key | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const body = arg.slice(2);
      const eq = body.indexOf("=");
      const name = eq < 0 ? body : body.slice(0, eq);
      inline = eq < 0 ? undefined : body.slice(eq + 1);
      k = byName.get(name);
      if (k === undefined) {
        if (allowUnknown) {
          rest.push(arg);
          continue;
        }
        const guess = closest(name, [...byName.keys(), "help"]);
        errors.push(`unknown argument ${JSON.stringify(`--${name}`)}${guess !== undefined ? ` (did you mean --${guess}?)` : ""}`);
        continue;
      }
    } else if (arg.startsWith("-") && arg.length > 1 && !/^-[0-9]/.test(arg)) {
      const letter = arg[1]!;
      const after = arg.slice(2);
      inline = after === "" ? undefined : after.startsWith("=") ? after.slice(1) : after;
      k = byShort.get(letter);
      if (k === undefined) {
        if (allowUnknown) {
          rest.push(arg);
          continue;
        }
        errors.push(`unknown argument ${JSON.stringify(`-${letter}`)}`);
        continue;
      }
    } else {
      if (allowUnknown) {
        rest.push(arg);
        continue;
      }
      if (bareFlag !== undefined && (arg === "true" || arg === "false")) {
        errors.push(`unexpected argument ${JSON.stringify(arg)} (a boolean takes its value after '=': write --${bareFlag.name}=${arg})`);
      } else {
        errors.push(`unexpected argument ${JSON.stringify(arg)}`);
      }
      continue;
    }

    let text: string;
    if (inline !== undefined) {
      text = inline;
    } else if (k.converter.type.kind === "bool") {
      text = "true";
      lastBareFlag = k;
    } else if (i + 1 < argv.length && looksLikeValue(argv[i + 1]!)) {
      text = argv[++i]!;
    } else {
      errors.push(`--${k.name}: a value is required (expected --${k.name}=${k.converter.docv})`);
      continue;
    }

    if (!stageIncludes(k.stage, stage)) {
      errors.push(stageError(k, text));
      continue;
    }
    setValue(k, text, "");
  }

  for (const k of byName.values()) {
    if (given.has(k.name) || k.env === undefined || !stageIncludes(k.stage, stage)) continue;
    const text = env[k.env];
    if (text === undefined || text === "") continue;
    setValue(k, text, ` (from the environment variable ${k.env})`);
  }

  if (help) return ok({ values, given, help, rest });
  if (errors.length > 0) return err(errors[0]!);
  return ok({ values, given, help, rest });
}
