/**
 * Converters: how each key type is parsed from command-line text, formatted back to canonical
 * text, and serialised into generated TypeScript.
 *
 * Every parse error is a whole sentence naming the value and the expected form, e.g.
 * `"x" is not an integer (expected INT)`; parseArgs prefixes it with the key (`--port: ...`).
 *
 * Decisions that are part of the contract (tests pin them):
 * - int: decimal only, optional leading '-', within Number's safe-integer range. "-0" is 0.
 * - bool: exactly "true" or "false".
 * - optional: the empty text means "absent" (so `--ipv4-gateway=` clears a configured value);
 *   formatting an absent value gives "". An optional string therefore cannot be "".
 * - list: elements are joined by the separator (one character, default ","). Inside an element, a backslash
 *   escapes the separator ("\\,") and itself ("\\\\"); any other backslash is kept as it is.
 *   The empty text is the empty list, so a list holding one element that formats as "" cannot be
 *   written on the command line (it reads back as the empty list).
 */
import { type Result, ok, err } from "./result.ts";
import { IpAddress, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "./ip.ts";
import type { Converter, KeyType } from "./keys.ts";

/** A string literal in generated code: JSON's escaping is valid in JS and TS (quotes, \\, controls, lone surrogates). */
export const literal = (text: string): string => JSON.stringify(text);

const INT_RE = /^-?(0|[1-9][0-9]*)$/;

const stringConv: Converter<string> = {
  type: { kind: "string" },
  docv: "STRING",
  parse: (text) => ok(text),
  format: (value) => value,
  serialize: (value) => literal(value),
  tsType: "string",
};

const intConv: Converter<number> = {
  type: { kind: "int" },
  docv: "INT",
  parse(text) {
    if (!INT_RE.test(text)) {
      if (/^[+-]?[0-9]+$/.test(text.trim()) && text.trim() !== text) {
        return err(`${literal(text)} is not an integer: it has surrounding spaces (expected INT)`);
      }
      return err(`${literal(text)} is not an integer (expected INT)`);
    }
    const n = Number(text);
    if (!Number.isSafeInteger(n)) {
      return err(`${literal(text)} is not an integer in the range -${Number.MAX_SAFE_INTEGER}..${Number.MAX_SAFE_INTEGER} (expected INT)`);
    }
    return ok(n === 0 ? 0 : n);
  },
  format: (value) => String(value === 0 ? 0 : value),
  serialize: (value) => String(value === 0 ? 0 : value),
  tsType: "number",
};

const boolConv: Converter<boolean> = {
  type: { kind: "bool" },
  docv: "BOOL",
  parse(text) {
    if (text === "true") return ok(true);
    if (text === "false") return ok(false);
    return err(`${literal(text)} is not a boolean (expected true or false)`);
  },
  format: (value) => (value ? "true" : "false"),
  serialize: (value) => (value ? "true" : "false"),
  tsType: "boolean",
};

function enumConv<const V extends readonly string[]>(values: V): Converter<V[number]> {
  if (values.length === 0) throw new Error("Conv.enum needs at least one value");
  const set = new Set<string>(values);
  if (set.size !== values.length) throw new Error(`Conv.enum: duplicate values in ${values.join(", ")}`);
  const docv = values.join("|");
  const type: KeyType = { kind: "enum", values: [...values] };
  return {
    type,
    docv,
    parse(text) {
      if (set.has(text)) return ok(text as V[number]);
      return err(`${literal(text)} is not one of ${values.join(", ")} (expected ${docv})`);
    },
    format: (value) => value,
    serialize: (value) => literal(value),
    tsType: values.map((v) => literal(v)).join(" | "),
  };
}

/** Splits on unescaped `separator`, undoing "\\sep" and "\\\\" escapes. */
function splitEscaped(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] === "\\") {
      if (text.startsWith(separator, i + 1)) {
        current += separator;
        i += 1 + separator.length;
        continue;
      }
      if (text[i + 1] === "\\") {
        current += "\\";
        i += 2;
        continue;
      }
      current += "\\";
      i += 1;
      continue;
    }
    if (text.startsWith(separator, i)) {
      out.push(current);
      current = "";
      i += separator.length;
      continue;
    }
    current += text[i];
    i += 1;
  }
  out.push(current);
  return out;
}

function escapeElement(text: string, separator: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] === "\\") {
      out += "\\\\";
      i += 1;
    } else if (text.startsWith(separator, i)) {
      out += "\\" + separator;
      i += separator.length;
    } else {
      out += text[i];
      i += 1;
    }
  }
  return out;
}

/** Wraps a union or function type in parentheses where `T[]` would otherwise bind wrongly. */
const arrayOf = (ts: string): string => (/[|&]/.test(ts) ? `(${ts})[]` : `${ts}[]`);

function listConv<T>(of: Converter<T>, separator = ","): Converter<T[]> {
  // One character, as cmdliner's list separator: with a longer one, an element ending in the
  // separator's first character could not be told apart from the separator (":" then "::").
  if ([...separator].length !== 1) throw new Error(`Conv.list: the separator must be one character, not ${literal(separator)}`);
  if (separator === "\\") throw new Error("Conv.list: the separator must not be a backslash (it is the escape character)");
  const docv = `${of.docv}[${separator}${of.docv}...]`;
  return {
    type: { kind: "list", of: of.type, separator },
    docv,
    parse(text) {
      if (text === "") return ok([]);
      const parts = splitEscaped(text, separator);
      const values: T[] = [];
      for (const [i, part] of parts.entries()) {
        const r = of.parse(part);
        if (!r.ok) {
          const where = parts.length > 1 ? `element ${i + 1} of ${literal(text)}: ` : "";
          return err(`${where}${r.error}`);
        }
        values.push(r.value);
      }
      return ok(values);
    },
    format: (value) => value.map((v) => escapeElement(of.format(v), separator)).join(separator),
    serialize: (value) => `[${value.map((v) => of.serialize(v)).join(", ")}]`,
    tsType: arrayOf(of.tsType),
  };
}

function optionalConv<T>(of: Converter<T>): Converter<T | undefined> {
  if (of.type.kind === "optional") throw new Error("Conv.optional: an optional of an optional cannot be told apart from it");
  return {
    type: { kind: "optional", of: of.type },
    docv: of.docv,
    parse(text) {
      if (text === "") return ok(undefined);
      return of.parse(text);
    },
    format: (value) => (value === undefined ? "" : of.format(value)),
    serialize: (value) => (value === undefined ? "undefined" : of.serialize(value)),
    tsType: `${of.tsType} | undefined`,
  };
}

/**
 * ip.ts errors read `"<text>" is not an IPv4 address: <reason> (e.g. ...)`; keep only the reason
 * so that our message names the whole value once and the expected form once.
 */
function reason(error: string, text: string): string {
  const head = `"${text}" is not `;
  if (!error.startsWith(head)) return error;
  const colon = error.indexOf(": ", head.length);
  if (colon < 0) return "";
  return error.slice(colon + 2).replace(/ \((?:expected|e\.g\.)[^)]*\)$/, "");
}

function ipConv<T extends { toString(): string }>(spec: {
  kind: "ipv4-address" | "ipv6-address" | "ipv4-prefix" | "ipv6-prefix" | "ip-address";
  what: string;
  docv: string;
  example: string;
  cls: string;
  parse: (text: string) => Result<T, string>;
}): Converter<T> {
  return {
    type: { kind: spec.kind },
    docv: spec.docv,
    parse(text) {
      const r = spec.parse(text);
      if (r.ok) return r;
      const why = reason(r.error, text);
      return err(`${literal(text)} is not ${spec.what}${why ? `: ${why}` : ""} (expected ${spec.docv}, e.g. ${spec.example})`);
    },
    format: (value) => value.toString(),
    serialize: (value) => `${spec.cls}.of(${literal(value.toString())})`,
    tsType: spec.cls,
  };
}

/** Prefixes need their own reasons: ip.ts nests the address error inside the prefix error. */
function prefixParse<P>(
  parseAddress: (text: string) => Result<unknown, string>,
  parsePrefix: (text: string) => Result<P, string>,
  max: number,
): (text: string) => Result<P, string> {
  return (text) => {
    const slash = text.indexOf("/");
    if (slash < 0) return err(`"${text}" is not a prefix: the "/LEN" part is missing`);
    const a = parseAddress(text.slice(0, slash));
    if (!a.ok) {
      const address = text.slice(0, slash);
      return err(`"${text}" is not a prefix: ${reason(a.error, address) || `"${address}" is not an address`}`);
    }
    const len = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]*)$/.test(len)) return err(`"${text}" is not a prefix: the length "${len}" is not a number`);
    if (Number(len) > max) return err(`"${text}" is not a prefix: the length ${len} is above ${max}`);
    return parsePrefix(text);
  };
}

export interface Converters {
  string: Converter<string>;
  int: Converter<number>;
  bool: Converter<boolean>;
  enum<const V extends readonly string[]>(values: V): Converter<V[number]>;
  /** `separator` is one character, default ",". */
  list<T>(of: Converter<T>, separator?: string): Converter<T[]>;
  optional<T>(of: Converter<T>): Converter<T | undefined>;
  ipv4Address: Converter<Ipv4Address>;
  ipv6Address: Converter<Ipv6Address>;
  ipv4Prefix: Converter<Ipv4Prefix>;
  ipv6Prefix: Converter<Ipv6Prefix>;
  ipAddress: Converter<IpAddress>;
}

export const Conv: Converters = {
  string: stringConv,
  int: intConv,
  bool: boolConv,
  enum: enumConv,
  list: listConv,
  optional: optionalConv,
  ipv4Address: ipConv<Ipv4Address>({
    kind: "ipv4-address",
    what: "an IPv4 address",
    docv: "IPV4",
    example: "10.0.0.2",
    cls: "Ipv4Address",
    parse: (t) => Ipv4Address.parse(t),
  }),
  ipv6Address: ipConv<Ipv6Address>({
    kind: "ipv6-address",
    what: "an IPv6 address",
    docv: "IPV6",
    example: "2001:db8::42",
    cls: "Ipv6Address",
    parse: (t) => Ipv6Address.parse(t),
  }),
  ipv4Prefix: ipConv<Ipv4Prefix>({
    kind: "ipv4-prefix",
    what: "an IPv4 prefix",
    docv: "IPV4/LEN",
    example: "10.0.0.2/24",
    cls: "Ipv4Prefix",
    parse: prefixParse((t) => Ipv4Address.parse(t), (t) => Ipv4Prefix.parse(t), 32),
  }),
  ipv6Prefix: ipConv<Ipv6Prefix>({
    kind: "ipv6-prefix",
    what: "an IPv6 prefix",
    docv: "IPV6/LEN",
    example: "2001:db8::42/64",
    cls: "Ipv6Prefix",
    parse: prefixParse((t) => Ipv6Address.parse(t), (t) => Ipv6Prefix.parse(t), 128),
  }),
  ipAddress: ipConv<IpAddress>({
    kind: "ip-address",
    what: "an IP address",
    docv: "IP",
    example: "10.0.0.2 or 2001:db8::42",
    cls: "IpAddress",
    parse: (t) => {
      const r = IpAddress.parse(t);
      // IpAddress.parse's own IPv4 failure message carries no reason; give the IPv4 one.
      if (!r.ok && !t.includes(":")) {
        const v4 = Ipv4Address.parse(t);
        if (!v4.ok) return v4;
      }
      return r;
    },
  }),
};

/** The converter for a key type (the inverse of `converter.type`). */
export function converterOf(type: KeyType): Converter<unknown> {
  switch (type.kind) {
    case "string":
      return Conv.string as Converter<unknown>;
    case "int":
      return Conv.int as Converter<unknown>;
    case "bool":
      return Conv.bool as Converter<unknown>;
    case "enum":
      return Conv.enum(type.values) as Converter<unknown>;
    case "list":
      return Conv.list(converterOf(type.of), type.separator) as Converter<unknown>;
    case "optional":
      return Conv.optional(converterOf(type.of)) as Converter<unknown>;
    case "ipv4-address":
      return Conv.ipv4Address as Converter<unknown>;
    case "ipv6-address":
      return Conv.ipv6Address as Converter<unknown>;
    case "ipv4-prefix":
      return Conv.ipv4Prefix as Converter<unknown>;
    case "ipv6-prefix":
      return Conv.ipv6Prefix as Converter<unknown>;
    case "ip-address":
      return Conv.ipAddress as Converter<unknown>;
  }
}

/** A TypeScript expression recreating the converter of `type` (with `Conv` in scope). */
export function serializeConverter(type: KeyType): string {
  switch (type.kind) {
    case "enum":
      return `Conv.enum([${type.values.map(literal).join(", ")}])`;
    case "list":
      return type.separator === ","
        ? `Conv.list(${serializeConverter(type.of)})`
        : `Conv.list(${serializeConverter(type.of)}, ${literal(type.separator)})`;
    case "optional":
      return `Conv.optional(${serializeConverter(type.of)})`;
    case "string":
    case "int":
    case "bool":
      return `Conv.${type.kind}`;
    case "ipv4-address":
      return "Conv.ipv4Address";
    case "ipv6-address":
      return "Conv.ipv6Address";
    case "ipv4-prefix":
      return "Conv.ipv4Prefix";
    case "ipv6-prefix":
      return "Conv.ipv6Prefix";
    case "ip-address":
      return "Conv.ipAddress";
  }
}

/** Human words for a key type, as --help shows it: "int", "list of IPv4 address", "one of socket, direct". */
export function describeType(type: KeyType): string {
  switch (type.kind) {
    case "string":
    case "int":
    case "bool":
      return type.kind;
    case "enum":
      return `one of ${type.values.join(", ")}`;
    case "list":
      return `list of ${describeType(type.of)} separated by ${literal(type.separator)}`;
    case "optional":
      return `optional ${describeType(type.of)}`;
    case "ipv4-address":
      return "IPv4 address";
    case "ipv6-address":
      return "IPv6 address";
    case "ipv4-prefix":
      return "IPv4 prefix";
    case "ipv6-prefix":
      return "IPv6 prefix";
    case "ip-address":
      return "IPv4 or IPv6 address";
  }
}
