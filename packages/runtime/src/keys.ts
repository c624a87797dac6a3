/**
 * Typed keys: one definition drives configure-time parsing, the generated keys module, boot-time
 * parsing and `--help` (DESIGN.md §4).
 *
 * CONTRACT (filled in by the runtime-keys work; signatures are what packages/mirage codes against):
 * - `Arg.*` build a key's argument description; `key(name, arg)` names it.
 * - `serializeKey(key, value)` returns TypeScript source text that, evaluated in a module that
 *   imports `{ Arg, key, Ipv4Address, Ipv6Address, Ipv4Prefix, Ipv6Prefix, IpAddress }` from
 *   "@mirage-ts/runtime", recreates the key with `value` as its default. Round trip for every
 *   type: parse(text) → serialise → evaluate → format gives back the canonical text.
 * - `keyTsType(key)` is the TypeScript type of the key's value, as source text.
 * - `parseArgs(keys, argv, { stage, env })` parses `--name=value`, `--name value`, `-s value`,
 *   and `--flag` (bool true); unknown arguments and malformed values are errors whose message is
 *   one line naming the key, the value and the expected form.
 * - `formatHelp(...)` lists every key with type, default and doc, in sections.
 */
import type { Result } from "./result.ts";
import type { IpAddress, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "./ip.ts";

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

export declare const Conv: {
  string: Converter<string>;
  int: Converter<number>;
  bool: Converter<boolean>;
  enum<const V extends readonly string[]>(values: V): Converter<V[number]>;
  list<T>(of: Converter<T>, separator?: string): Converter<T[]>;
  optional<T>(of: Converter<T>): Converter<T | undefined>;
  ipv4Address: Converter<Ipv4Address>;
  ipv6Address: Converter<Ipv6Address>;
  ipv4Prefix: Converter<Ipv4Prefix>;
  ipv6Prefix: Converter<Ipv6Prefix>;
  ipAddress: Converter<IpAddress>;
};

export declare const Arg: {
  string(options: ArgOptions<string>): KeyArg<string>;
  int(options: ArgOptions<number>): KeyArg<number>;
  bool(options: ArgOptions<boolean>): KeyArg<boolean>;
  enum<const V extends readonly string[]>(values: V, options: ArgOptions<V[number]>): KeyArg<V[number]>;
  list<T>(of: Converter<T>, options: ArgOptions<T[]> & { separator?: string }): KeyArg<T[]>;
  optional<T>(of: Converter<T>, options: Omit<ArgOptions<T | undefined>, "default"> & { default?: T }): KeyArg<T | undefined>;
  ipv4Address(options: ArgOptions<Ipv4Address>): KeyArg<Ipv4Address>;
  ipv6Address(options: ArgOptions<Ipv6Address>): KeyArg<Ipv6Address>;
  ipv4Prefix(options: ArgOptions<Ipv4Prefix>): KeyArg<Ipv4Prefix>;
  ipv6Prefix(options: ArgOptions<Ipv6Prefix>): KeyArg<Ipv6Prefix>;
  ipAddress(options: ArgOptions<IpAddress>): KeyArg<IpAddress>;
};

export declare function key<T>(name: string, arg: KeyArg<T>): Key<T>;

export declare function serializeKey<T>(key: Key<T>, value?: T): string;
export declare function keyTsType(key: Key): string;

export interface ParsedArgs {
  /** Values by key name, defaults filled in. */
  values: Record<string, unknown>;
  /** Names of the keys given explicitly (command line or environment). */
  given: Set<string>;
  /** `--help` was asked for. */
  help: boolean;
  /** Arguments left over when `allowUnknown` is set. */
  rest: string[];
}

export declare function parseArgs(
  keys: readonly Key[],
  argv: readonly string[],
  options?: { stage?: "configure" | "boot"; env?: Record<string, string | undefined>; allowUnknown?: boolean },
): Result<ParsedArgs, string>;

export declare function formatHelp(program: string, keys: readonly Key[], options?: { description?: string }): string;
