/**
 * Every key type's round trip: canonical text → parse → serializeKey → evaluate the generated
 * source → format the evaluated key's default → the same canonical text. MirageOS 3.10.1 shipped a
 * serialiser that wrote a stray '.'; this is the test that would have caught it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Arg,
  Conv,
  Ipv4Address,
  Ipv4Prefix,
  Ipv6Address,
  Ipv6Prefix,
  key,
  keyTsType,
  serializeKey,
  type Converter,
  type Key,
  type KeySection,
  type Stage,
} from "../src/index.ts";
import { evaluateKey } from "./keys-helpers.ts";

const RUNS = 300;

/** Strings with every kind of trouble: full Unicode, lone surrogates, quotes, backslashes, separators, line breaks. */
const nastyUnit = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.constantFrom(",", ";", "\\", '"', "'", "`", "${", "\n", "\r", "\t", "\u2028", "\u2029", "\0", ".", " ") },
);
const nastyString = fc.string({ unit: nastyUnit, maxLength: 20 });

const ipv4Address = fc.integer({ min: 0, max: 0xffffffff }).map((n) => Ipv4Address.ofInt(n));
const ipv6Address = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Ipv6Address.ofBytes(b)),
  // Mostly-zero addresses exercise "::" compression.
  fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xdb8), { minLength: 8, maxLength: 8 }).map((words) => {
    const b = new Uint8Array(16);
    words.forEach((w, i) => {
      b[2 * i] = w >> 8;
      b[2 * i + 1] = w & 0xff;
    });
    return Ipv6Address.ofBytes(b);
  }),
);
const ipv4Prefix = fc.tuple(ipv4Address, fc.integer({ min: 0, max: 32 })).map(([a, l]) => Ipv4Prefix.make(a, l));
const ipv6Prefix = fc.tuple(ipv6Address, fc.integer({ min: 0, max: 128 })).map(([a, l]) => Ipv6Prefix.make(a, l));

const keyMeta = fc.record({
  doc: nastyString,
  docv: fc.option(fc.stringMatching(/^[A-Z][A-Z0-9_/]{0,8}$/), { nil: undefined }),
  stage: fc.constantFrom<Stage>("configure", "boot", "both"),
  section: fc.constantFrom<KeySection>("unikernel", "network", "runtime"),
  env: fc.option(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), { nil: undefined }),
  short: fc.option(fc.constantFrom("a", "l", "p", "Z", "x"), { nil: undefined }),
});
const keyName = fc.stringMatching(/^[a-z]([a-z0-9]{0,5}(-[a-z0-9]{1,5}){0,3})$/).filter((n) => n !== "help");

type Meta = { doc: string; docv: string | undefined; stage: Stage; section: KeySection; env: string | undefined; short: string | undefined };

/** Checks one value of one key through the whole round trip. */
function roundTrip<T>(name: string, converter: Converter<T>, make: (meta: Meta, value: T) => Key<T>, value: T, meta: Meta): void {
  const canonical = converter.format(value);
  const parsed = converter.parse(canonical);
  assert.ok(parsed.ok, `canonical text ${JSON.stringify(canonical)} must parse: ${parsed.ok ? "" : parsed.error}`);
  assert.equal(converter.format(parsed.value), canonical, "format(parse(canonical)) is canonical");

  const original = make(meta, parsed.value);
  const source = serializeKey(original, parsed.value);
  const evaluated = evaluateKey(source);
  assert.equal(evaluated.converter.format(evaluated.default), canonical, `default survives serialisation: ${source}`);
  assert.equal(evaluated.name, name);
  assert.equal(evaluated.doc, meta.doc);
  assert.equal(evaluated.docv, meta.docv ?? converter.docv);
  assert.equal(evaluated.stage, meta.stage);
  assert.equal(evaluated.section, meta.section);
  assert.equal(evaluated.env, meta.env);
  assert.equal(evaluated.short, meta.short);
  assert.deepEqual(evaluated.converter.type, converter.type);
  assert.equal(keyTsType(evaluated), keyTsType(original));
  // Serialising the evaluated key again gives the same source: nothing drifts across generations.
  assert.equal(serializeKey(evaluated), source);
}

function property<T>(label: string, converter: Converter<T>, values: fc.Arbitrary<T>, make: (name: string, meta: Meta, value: T) => Key<T>): void {
  test(`round trip: ${label}`, () => {
    fc.assert(
      fc.property(keyName, keyMeta, values, (name, meta, value) => {
        roundTrip(name, converter, (m, v) => make(name, m, v), value, meta);
      }),
      { numRuns: RUNS },
    );
  });
}

const opts = <T>(meta: Meta, value: T) => ({ ...meta, default: value });

property("string", Conv.string, nastyString, (n, m, v) => key(n, Arg.string(opts(m, v))));
property("int (incl. negatives and the safe-integer limits)", Conv.int, fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER)), (n, m, v) =>
  key(n, Arg.int(opts(m, v))),
);
property("bool", Conv.bool, fc.boolean(), (n, m, v) => key(n, Arg.bool(opts(m, v))));

const modes = ["socket", "direct", "with space", 'quo"te', "back\\slash", "ünï"] as const;
property("enum", Conv.enum(modes), fc.constantFrom(...modes), (n, m, v) => key(n, Arg.enum(modes, opts(m, v))));

property("ipv4 address", Conv.ipv4Address, ipv4Address, (n, m, v) => key(n, Arg.ipv4Address(opts(m, v))));
property("ipv6 address", Conv.ipv6Address, ipv6Address, (n, m, v) => key(n, Arg.ipv6Address(opts(m, v))));
property("ipv4 prefix", Conv.ipv4Prefix, ipv4Prefix, (n, m, v) => key(n, Arg.ipv4Prefix(opts(m, v))));
property("ipv6 prefix", Conv.ipv6Prefix, ipv6Prefix, (n, m, v) => key(n, Arg.ipv6Prefix(opts(m, v))));
property("ip address (either family)", Conv.ipAddress, fc.oneof(ipv4Address, ipv6Address), (n, m, v) => key(n, Arg.ipAddress(opts(m, v))));

// A one-element list whose element formats as "" reads back as the empty list (documented in keys-conv.ts).
const notAmbiguous = <T>(of: Converter<T>) => (list: T[]) => !(list.length === 1 && of.format(list[0]!) === "");

property("list of string (elements hold the separator and backslashes)", Conv.list(Conv.string), fc.array(nastyString, { maxLength: 6 }).filter(notAmbiguous(Conv.string)), (n, m, v) =>
  key(n, Arg.list(Conv.string, opts(m, v))),
);
property("list of string with an astral-plane separator", Conv.list(Conv.string, "\u{1F600}"), fc.array(fc.string({ unit: fc.constantFrom("\u{1F600}", "\ud83d", "\ude00", "\\", "a", ","), maxLength: 6 }), { maxLength: 5 }).filter(notAmbiguous(Conv.string)), (n, m, v) =>
  key(n, Arg.list(Conv.string, { ...opts(m, v), separator: "\u{1F600}" })),
);
property("list of int", Conv.list(Conv.int), fc.array(fc.integer(), { maxLength: 8 }), (n, m, v) => key(n, Arg.list(Conv.int, opts(m, v))));
property("list of ipv6 prefix separated by ';'", Conv.list(Conv.ipv6Prefix, ";"), fc.array(ipv6Prefix, { maxLength: 4 }), (n, m, v) =>
  key(n, Arg.list(Conv.ipv6Prefix, { ...opts(m, v), separator: ";" })),
);
property("list of enum", Conv.list(Conv.enum(modes)), fc.array(fc.constantFrom(...modes), { maxLength: 4 }), (n, m, v) =>
  key(n, Arg.list(Conv.enum(modes), opts(m, v))),
);
const listOfList = Conv.list(Conv.list(Conv.string));
property("list of list of string (escapes nest)", listOfList, fc.array(fc.array(nastyString, { maxLength: 3 }).filter(notAmbiguous(Conv.string)), { maxLength: 3 }).filter(notAmbiguous(Conv.list(Conv.string))), (n, m, v) =>
  key(n, Arg.list(Conv.list(Conv.string), opts(m, v))),
);

property("optional int, present or absent", Conv.optional(Conv.int), fc.option(fc.integer(), { nil: undefined }), (n, m, v) =>
  key(n, Arg.optional(Conv.int, { ...m, default: v })),
);
property("optional ipv4 address", Conv.optional(Conv.ipv4Address), fc.option(ipv4Address, { nil: undefined }), (n, m, v) =>
  key(n, Arg.optional(Conv.ipv4Address, { ...m, default: v })),
);
property("optional ipv6 prefix", Conv.optional(Conv.ipv6Prefix), fc.option(ipv6Prefix, { nil: undefined }), (n, m, v) =>
  key(n, Arg.optional(Conv.ipv6Prefix, { ...m, default: v })),
);
property("optional ip address", Conv.optional(Conv.ipAddress), fc.option(fc.oneof(ipv4Address, ipv6Address), { nil: undefined }), (n, m, v) =>
  key(n, Arg.optional(Conv.ipAddress, { ...m, default: v })),
);
property("optional enum", Conv.optional(Conv.enum(modes)), fc.option(fc.constantFrom(...modes), { nil: undefined }), (n, m, v) =>
  key(n, Arg.optional(Conv.enum(modes), { ...m, default: v })),
);
property("optional non-empty string", Conv.optional(Conv.string), fc.option(nastyString.filter((s) => s !== ""), { nil: undefined }), (n, m, v) =>
  key(n, Arg.optional(Conv.string, { ...m, default: v })),
);
property("optional list of int", Conv.optional(Conv.list(Conv.int)), fc.option(fc.array(fc.integer(), { minLength: 1, maxLength: 4 }), { nil: undefined }), (n, m, v) =>
  key(n, Arg.optional(Conv.list(Conv.int), { ...m, default: v })),
);

test("round trip from hand-written texts to their canonical form", () => {
  const cases: Array<[Converter<any>, string, string]> = [
    [Conv.int, "-0", "0"],
    [Conv.int, "-42", "-42"],
    [Conv.ipv6Address, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    [Conv.ipv6Address, "::ffff:10.0.0.1", "::ffff:a00:1"],
    [Conv.ipv6Prefix, "FE80::1/64", "fe80::1/64"],
    [Conv.ipv4Prefix, "10.0.0.2/24", "10.0.0.2/24"],
    [Conv.ipAddress, "0:0::1", "::1"],
    [Conv.list(Conv.string), "a\\b", "a\\\\b"],
    [Conv.list(Conv.ipv4Address), "10.0.0.1,10.0.0.2", "10.0.0.1,10.0.0.2"],
  ];
  for (const [conv, text, canonical] of cases) {
    const r = conv.parse(text);
    assert.ok(r.ok, `${text}: ${r.ok ? "" : r.error}`);
    assert.equal(conv.format(r.value), canonical);
    const k = key("k", { converter: conv, default: r.value, doc: "", docv: conv.docv, stage: "both", section: "unikernel", env: undefined, short: undefined });
    const back = evaluateKey(serializeKey(k));
    assert.equal(back.converter.format(back.default), canonical);
  }
});

test("serialised source has no stray characters and is a single expression", () => {
  const k = key("ipv4", Arg.ipv4Prefix({ default: Ipv4Prefix.of("10.0.0.2/24"), doc: "The IPv4 address.", section: "network" }));
  assert.equal(
    serializeKey(k),
    'key("ipv4", Arg.ipv4Prefix({ default: Ipv4Prefix.of("10.0.0.2/24"), doc: "The IPv4 address.", docv: "IPV4/LEN", stage: "both", section: "network" }))',
  );
  const port = key("port", Arg.int({ default: 8080, doc: "d" }));
  assert.equal(serializeKey(port, -1), 'key("port", Arg.int({ default: -1, doc: "d", docv: "INT", stage: "both", section: "unikernel" }))');
});

test("serializeKey: no value means the key's default, an explicit undefined means absent", () => {
  const gw = key("gw", Arg.optional(Conv.ipv4Address, { default: Ipv4Address.of("10.0.0.1"), doc: "" }));
  assert.equal(evaluateKey(serializeKey(gw)).default?.toString(), "10.0.0.1");
  assert.equal(evaluateKey(serializeKey(gw, undefined)).default, undefined);
  assert.equal(evaluateKey(serializeKey(gw, Ipv4Address.of("10.0.0.9"))).default?.toString(), "10.0.0.9");
});
