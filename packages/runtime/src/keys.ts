/**
 * Typed keys: one definition drives configure-time parsing, the generated keys module, boot-time
 * parsing and `--help` (DESIGN.md §4).
 *
 * - `Conv.*` are the converters of each key type (parse, canonical format, serialise; see
 *   keys-conv.ts for the decisions on ints, optionals and list escaping).
 * - `Arg.*` build a key's argument description; `key(name, arg)` names it. Names are kebab-case
 *   on the command line (`--ipv4-gateway`) and camelCase in code (`keys.ipv4Gateway`, `keyField`).
 * - `serializeKey(key, value)` returns TypeScript source (also valid JavaScript) that, evaluated in
 *   a module that imports `{ Arg, Conv, key, Ipv4Address, Ipv6Address, Ipv4Prefix, Ipv6Prefix,
 *   IpAddress }` from "@mirage-ts/runtime", recreates the key with `value` as its default. Round
 *   trip for every type: parse(text) → serialise → evaluate → format gives back the canonical text.
 * - `keyTsType(key)` is the TypeScript type of the key's value, as source text.
 * - `parseArgs` (keys-parse.ts) and `formatHelp` (help.ts) are re-exported from here.
 */
import type { IpAddress, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "./ip.ts";
import type { Result } from "./result.ts";
import { Conv, literal, serializeConverter } from "./keys-conv.ts";
import { checkKeyName, keyField } from "./keys-name.ts";

export { Conv, converterOf, describeType } from "./keys-conv.ts";
export { keyField } from "./keys-name.ts";
export { parseArgs } from "./keys-parse.ts";
export type { ParsedArgs, ParseArgsOptions } from "./keys-parse.ts";
export { formatHelp } from "./help.ts";
export type { FormatHelpOptions } from "./help.ts";

/** When a key can be set. A key given at configure time becomes the boot default ("both"). */
export type Stage = "configure" | "boot" | "both";

/** The `--help` section a key is listed under. */
export type KeySection = "unikernel" | "network" | "runtime";

export type KeyType =
  | { kind: "string" }
  | { kind: "int" }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "list"; of: KeyType; separator: string }
  | { kind: "optional"; of: KeyType }
  | { kind: "ipv4-address" }
  | { kind: "ipv6-address" }
  | { kind: "ipv4-prefix" }
  | { kind: "ipv6-prefix" }
  | { kind: "ip-address" };

/** Parses, formats and serialises values of one key type. */
export interface Converter<T> {
  readonly type: KeyType;
  /** Placeholder in --help, e.g. INT, IPV4/LEN. */
  readonly docv: string;
  parse(text: string): Result<T, string>;
  /** Canonical text: parse(format(v)) gives back v. */
  format(value: T): string;
  /** A TypeScript expression recreating `value` (see the module comment for what is in scope). */
  serialize(value: T): string;
  /** The TypeScript type of values, as source text. */
  readonly tsType: string;
}

export interface ArgOptions<T> {
  default: T;
  doc: string;
  docv?: string;
  /** Default "both". */
  stage?: Stage;
  /** An environment variable read when the key is not on the command line (e.g. MIRAGE_LOGS). */
  env?: string;
  /** A one-letter alias (e.g. "l" for --logs). */
  short?: string;
  /** Default "unikernel". */
  section?: KeySection;
}

export interface KeyArg<T> extends Required<Pick<ArgOptions<T>, "doc" | "stage" | "section">> {
  readonly converter: Converter<T>;
  readonly default: T;
  readonly docv: string;
  readonly env: string | undefined;
  readonly short: string | undefined;
}

export interface Key<T = unknown> extends KeyArg<T> {
  /** The key's name: `--name` on the command line, `keys.name` in code (camelCased). */
  readonly name: string;
}

/** The value type of a key. */
export type KeyValue<K> = K extends Key<infer T> ? T : never;


function makeArg<T>(converter: Converter<T>, options: ArgOptions<T>): KeyArg<T> {
  const stage = options.stage ?? "both";
  const section = options.section ?? "unikernel";
  if (!["configure", "boot", "both"].includes(stage)) throw new Error(`invalid key stage ${literal(stage)} (expected configure, boot or both)`);
  if (!["unikernel", "network", "runtime"].includes(section)) {
    throw new Error(`invalid key section ${literal(section)} (expected unikernel, network or runtime)`);
  }
  if (options.short !== undefined && !/^[a-zA-Z]$/.test(options.short)) {
    throw new Error(`invalid short alias ${literal(options.short)}: it must be one ASCII letter`);
  }
  if (options.short === "h") throw new Error(`the short alias "h" is reserved for --help`);
  if (options.env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.env)) {
    throw new Error(`invalid environment variable name ${literal(options.env)}`);
  }
  if (typeof options.doc !== "string") throw new Error("a key needs a doc string");
  return Object.freeze({
    converter,
    default: options.default,
    doc: options.doc,
    docv: options.docv ?? converter.docv,
    stage,
    section,
    env: options.env,
    short: options.short,
  });
}

export const Arg = {
  string: (options: ArgOptions<string>): KeyArg<string> => makeArg(Conv.string, options),
  int: (options: ArgOptions<number>): KeyArg<number> => makeArg(Conv.int, options),
  bool: (options: ArgOptions<boolean>): KeyArg<boolean> => makeArg(Conv.bool, options),
  enum<const V extends readonly string[]>(values: V, options: ArgOptions<V[number]>): KeyArg<V[number]> {
    const converter = Conv.enum(values);
    if (!values.includes(options.default)) {
      throw new Error(`enum default ${literal(String(options.default))} is not one of ${values.join(", ")}`);
    }
    return makeArg(converter, options);
  },
  list<T>(of: Converter<T>, options: ArgOptions<T[]> & { separator?: string }): KeyArg<T[]> {
    const { separator, ...rest } = options;
    return makeArg(Conv.list(of, separator), rest);
  },
  optional<T>(
    of: Converter<T>,
    options: Omit<ArgOptions<T | undefined>, "default"> & { default?: T },
  ): KeyArg<T | undefined> {
    return makeArg<T | undefined>(Conv.optional(of), { ...options, default: options.default });
  },
  ipv4Address: (options: ArgOptions<Ipv4Address>): KeyArg<Ipv4Address> => makeArg(Conv.ipv4Address, options),
  ipv6Address: (options: ArgOptions<Ipv6Address>): KeyArg<Ipv6Address> => makeArg(Conv.ipv6Address, options),
  ipv4Prefix: (options: ArgOptions<Ipv4Prefix>): KeyArg<Ipv4Prefix> => makeArg(Conv.ipv4Prefix, options),
  ipv6Prefix: (options: ArgOptions<Ipv6Prefix>): KeyArg<Ipv6Prefix> => makeArg(Conv.ipv6Prefix, options),
  ipAddress: (options: ArgOptions<IpAddress>): KeyArg<IpAddress> => makeArg(Conv.ipAddress, options),
};

/** Names a key. Throws on a name that is not kebab-case: that is a mistake in config.ts, not input. */
export function key<T>(name: string, arg: KeyArg<T>): Key<T> {
  checkKeyName(name);
  return Object.freeze({ ...arg, name });
}

/**
 * TypeScript source (an expression, also valid JavaScript) recreating `key` with `value` as its
 * default. Without a second argument the key's own default is used; an explicit `undefined` is
 * the absent value of an optional key.
 */
export function serializeKey<T>(key: Key<T>, value?: T): string {
  // eslint-disable-next-line prefer-rest-params -- an explicit undefined differs from no argument
  const v = (arguments.length < 2 ? key.default : value) as T;
  const type = key.converter.type;
  const fields: string[] = [];
  if (!(type.kind === "optional" && v === undefined)) fields.push(`default: ${key.converter.serialize(v)}`);
  if (type.kind === "list" && type.separator !== ",") fields.push(`separator: ${literal(type.separator)}`);
  fields.push(`doc: ${literal(key.doc)}`);
  fields.push(`docv: ${literal(key.docv)}`);
  fields.push(`stage: ${literal(key.stage)}`);
  fields.push(`section: ${literal(key.section)}`);
  if (key.env !== undefined) fields.push(`env: ${literal(key.env)}`);
  if (key.short !== undefined) fields.push(`short: ${literal(key.short)}`);
  const options = `{ ${fields.join(", ")} }`;
  let arg: string;
  switch (type.kind) {
    case "enum":
      arg = `Arg.enum([${type.values.map(literal).join(", ")}], ${options})`;
      break;
    case "list":
      arg = `Arg.list(${serializeConverter(type.of)}, ${options})`;
      break;
    case "optional":
      arg = `Arg.optional(${serializeConverter(type.of)}, ${options})`;
      break;
    case "string":
    case "int":
    case "bool":
      arg = `Arg.${type.kind}(${options})`;
      break;
    case "ipv4-address":
      arg = `Arg.ipv4Address(${options})`;
      break;
    case "ipv6-address":
      arg = `Arg.ipv6Address(${options})`;
      break;
    case "ipv4-prefix":
      arg = `Arg.ipv4Prefix(${options})`;
      break;
    case "ipv6-prefix":
      arg = `Arg.ipv6Prefix(${options})`;
      break;
    case "ip-address":
      arg = `Arg.ipAddress(${options})`;
      break;
  }
  return `key(${literal(key.name)}, ${arg})`;
}

/** The TypeScript type of the key's value, e.g. `number`, `"socket" | "direct"`, `Ipv6Address | undefined`. */
export function keyTsType(key: Key): string {
  return key.converter.tsType;
}

/** The key's default as canonical text (what `--name=` would have to be given to get it). */
export function formatDefault<T>(key: Key<T>): string {
  return key.converter.format(key.default);
}

/** The record field name of a key in generated code: `ipv4-gateway` → `ipv4Gateway`. */
export function keyFieldOf(key: Key): string {
  return keyField(key.name);
}
