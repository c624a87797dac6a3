import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Arg,
  Conv,
  Ipv4Address,
  Ipv4Prefix,
  Ipv6Prefix,
  describeType,
  key,
  keyField,
  keyTsType,
  type Converter,
} from "../src/index.ts";
import { closest, editDistance } from "../src/keys-name.ts";

function parseError<T>(conv: Converter<T>, text: string): string {
  const r = conv.parse(text);
  assert.ok(!r.ok, `${JSON.stringify(text)} should be rejected, got ${r.ok ? conv.format(r.value) : ""}`);
  return r.error;
}

function parsed<T>(conv: Converter<T>, text: string): T {
  const r = conv.parse(text);
  assert.ok(r.ok, `${JSON.stringify(text)} should parse: ${r.ok ? "" : r.error}`);
  return r.value;
}

test("int accepts decimal integers, optionally negative, in the safe range", () => {
  assert.equal(parsed(Conv.int, "0"), 0);
  assert.equal(parsed(Conv.int, "8080"), 8080);
  assert.equal(parsed(Conv.int, "-12"), -12);
  assert.ok(Object.is(parsed(Conv.int, "-0"), 0), "-0 is 0");
  assert.equal(parsed(Conv.int, String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  assert.equal(parsed(Conv.int, String(Number.MIN_SAFE_INTEGER)), Number.MIN_SAFE_INTEGER);
});

test("int rejects everything else with one line naming the value and INT", () => {
  for (const bad of ["1e3", "0x10", "", " 1", "1 ", "+1", "01", "1.0", "1.5", "--1", "-", "Infinity", "NaN", "１", "0b1", "1_000"]) {
    const e = parseError(Conv.int, bad);
    assert.ok(e.startsWith(`${JSON.stringify(bad)} is not an integer`), e);
    assert.ok(e.endsWith("(expected INT)"), e);
    assert.ok(!e.includes("\n"));
  }
  assert.equal(parseError(Conv.int, "x"), '"x" is not an integer (expected INT)');
  assert.match(parseError(Conv.int, " 1"), /surrounding spaces/);
  const big = parseError(Conv.int, "9007199254740993");
  assert.match(big, /is not an integer in the range -9007199254740991\.\.9007199254740991/);
});

test("bool is exactly true or false", () => {
  assert.equal(parsed(Conv.bool, "true"), true);
  assert.equal(parsed(Conv.bool, "false"), false);
  for (const bad of ["True", "1", "yes", ""]) assert.equal(parseError(Conv.bool, bad), `${JSON.stringify(bad)} is not a boolean (expected true or false)`);
});

test("enum accepts its values and lists them when given something else", () => {
  const net = Conv.enum(["socket", "direct"]);
  assert.equal(parsed(net, "direct"), "direct");
  assert.equal(parseError(net, "tap"), '"tap" is not one of socket, direct (expected socket|direct)');
  assert.throws(() => Conv.enum([]), /at least one value/);
  assert.throws(() => Conv.enum(["a", "a"]), /duplicate/);
});

test("IPv4 addresses and prefixes: errors name the value, the reason and the expected form", () => {
  assert.equal(parsed(Conv.ipv4Address, "10.0.0.1").toString(), "10.0.0.1");
  assert.equal(parseError(Conv.ipv4Address, "10.0.0.300"), '"10.0.0.300" is not an IPv4 address: 300 is above 255 (expected IPV4, e.g. 10.0.0.2)');
  assert.match(parseError(Conv.ipv4Address, "10.0.0.01"), /^"10\.0\.0\.01" is not an IPv4 address: "01" is not a number from 0 to 255 \(expected IPV4/);
  assert.equal(parseError(Conv.ipv4Address, "10.0.0"), '"10.0.0" is not an IPv4 address (expected IPV4, e.g. 10.0.0.2)');
  assert.equal(
    parseError(Conv.ipv4Prefix, "10.0.0.300/24"),
    '"10.0.0.300/24" is not an IPv4 prefix: 300 is above 255 (expected IPV4/LEN, e.g. 10.0.0.2/24)',
  );
  assert.equal(parseError(Conv.ipv4Prefix, "10.0.0.2"), '"10.0.0.2" is not an IPv4 prefix: the "/LEN" part is missing (expected IPV4/LEN, e.g. 10.0.0.2/24)');
  assert.equal(parseError(Conv.ipv4Prefix, "10.0.0.2/33"), '"10.0.0.2/33" is not an IPv4 prefix: the length 33 is above 32 (expected IPV4/LEN, e.g. 10.0.0.2/24)');
  assert.equal(parseError(Conv.ipv4Prefix, "10.0.0.2/024"), '"10.0.0.2/024" is not an IPv4 prefix: the length "024" is not a number (expected IPV4/LEN, e.g. 10.0.0.2/24)');
  assert.equal(parseError(Conv.ipv4Prefix, "10.0.0.2/"), '"10.0.0.2/" is not an IPv4 prefix: the length "" is not a number (expected IPV4/LEN, e.g. 10.0.0.2/24)');
  // The host part is kept: --ipv4 is the interface's address and its network.
  assert.equal(parsed(Conv.ipv4Prefix, "10.0.0.2/24").toString(), "10.0.0.2/24");
});

test("IPv6 addresses and prefixes", () => {
  assert.equal(parsed(Conv.ipv6Address, "2001:DB8::1").toString(), "2001:db8::1");
  assert.equal(parseError(Conv.ipv6Address, "1::2::3"), '"1::2::3" is not an IPv6 address: "::" appears more than once (expected IPV6, e.g. 2001:db8::42)');
  assert.equal(parseError(Conv.ipv6Address, "fe80::1%eth0"), '"fe80::1%eth0" is not an IPv6 address: zone identifiers are not accepted (expected IPV6, e.g. 2001:db8::42)');
  assert.equal(parseError(Conv.ipv6Prefix, "2001:db8::/129"), '"2001:db8::/129" is not an IPv6 prefix: the length 129 is above 128 (expected IPV6/LEN, e.g. 2001:db8::42/64)');
  assert.equal(parseError(Conv.ipv6Prefix, "2001:db8::g/64"), '"2001:db8::g/64" is not an IPv6 prefix: "g" is not a group of 1 to 4 hex digits (expected IPV6/LEN, e.g. 2001:db8::42/64)');
  assert.ok(parsed(Conv.ipv6Prefix, "2001:db8::42/64").equals(Ipv6Prefix.of("2001:db8::42/64")));
});

test("IP address of either family", () => {
  assert.equal(parsed(Conv.ipAddress, "10.0.0.2").family, 4);
  assert.equal(parsed(Conv.ipAddress, "::1").family, 6);
  assert.equal(parseError(Conv.ipAddress, "10.0.0.256"), '"10.0.0.256" is not an IP address: 256 is above 255 (expected IP, e.g. 10.0.0.2 or 2001:db8::42)');
  assert.equal(parseError(Conv.ipAddress, "host"), '"host" is not an IP address (expected IP, e.g. 10.0.0.2 or 2001:db8::42)');
});

test("optional: empty text is absent, anything else goes to the inner converter", () => {
  const gw = Conv.optional(Conv.ipv4Address);
  assert.equal(parsed(gw, ""), undefined);
  assert.equal(parsed(gw, "10.0.0.1")?.toString(), "10.0.0.1");
  assert.equal(gw.format(undefined), "");
  assert.match(parseError(gw, "10.0.0.300"), /^"10\.0\.0\.300" is not an IPv4 address: 300 is above 255/);
  assert.throws(() => Conv.optional(Conv.optional(Conv.int)), /optional of an optional/);
});

test("list: separator splits, backslash escapes the separator and itself", () => {
  const strings = Conv.list(Conv.string);
  assert.deepEqual(parsed(strings, "a,b,c"), ["a", "b", "c"]);
  assert.deepEqual(parsed(strings, "a\\,b,c"), ["a,b", "c"]);
  assert.deepEqual(parsed(strings, "a\\\\,b"), ["a\\", "b"]);
  // A backslash before anything else stays a backslash.
  assert.deepEqual(parsed(strings, "a\\b"), ["a\\b"]);
  assert.deepEqual(parsed(strings, "a\\"), ["a\\"]);
  assert.deepEqual(parsed(strings, "a,,b,"), ["a", "", "b", ""]);
  assert.deepEqual(parsed(strings, ""), []);
  assert.equal(strings.format(["a,b", "c\\"]), "a\\,b,c\\\\");
  // The documented ambiguity: [""] and [] are both "".
  assert.equal(strings.format([""]), "");
  assert.deepEqual(parsed(strings, strings.format([""])), []);

  const ints = Conv.list(Conv.int, ";");
  assert.deepEqual(parsed(ints, "1;-2;3"), [1, -2, 3]);
  assert.equal(parseError(ints, "1;x;3"), 'element 2 of "1;x;3": "x" is not an integer (expected INT)');
  assert.equal(parseError(ints, "x"), '"x" is not an integer (expected INT)');
  assert.equal(ints.docv, "INT[;INT...]");

  assert.throws(() => Conv.list(Conv.int, ""), /one character/);
  assert.throws(() => Conv.list(Conv.int, "::"), /one character/);
  assert.throws(() => Conv.list(Conv.int, "\\"), /backslash/);
});

test("keyTsType gives the TypeScript type of each key", () => {
  const d = { doc: "" };
  assert.equal(keyTsType(key("a", Arg.int({ ...d, default: 1 }))), "number");
  assert.equal(keyTsType(key("a", Arg.string({ ...d, default: "" }))), "string");
  assert.equal(keyTsType(key("a", Arg.bool({ ...d, default: false }))), "boolean");
  assert.equal(keyTsType(key("a", Arg.enum(["socket", "direct"], { ...d, default: "socket" }))), '"socket" | "direct"');
  assert.equal(keyTsType(key("a", Arg.list(Conv.int, { ...d, default: [] }))), "number[]");
  assert.equal(keyTsType(key("a", Arg.list(Conv.enum(["x", "y"]), { ...d, default: [] }))), '("x" | "y")[]');
  assert.equal(keyTsType(key("a", Arg.list(Conv.optional(Conv.int), { ...d, default: [] }))), "(number | undefined)[]");
  assert.equal(keyTsType(key("a", Arg.optional(Conv.ipv6Address, d))), "Ipv6Address | undefined");
  assert.equal(keyTsType(key("a", Arg.optional(Conv.list(Conv.string), d))), "string[] | undefined");
  assert.equal(keyTsType(key("a", Arg.ipv4Prefix({ ...d, default: Ipv4Prefix.of("1.2.3.4/8") }))), "Ipv4Prefix");
  assert.equal(keyTsType(key("a", Arg.ipAddress({ ...d, default: Ipv4Address.any }))), "IpAddress");
});

test("describeType words every type for --help", () => {
  assert.equal(describeType({ kind: "list", of: { kind: "optional", of: { kind: "ipv4-prefix" } }, separator: ";" }), 'list of optional IPv4 prefix separated by ";"');
  assert.equal(describeType({ kind: "enum", values: ["a", "b"] }), "one of a, b");
  assert.equal(describeType({ kind: "ip-address" }), "IPv4 or IPv6 address");
});

test("key names are kebab-case; a bad one is a clear Error", () => {
  for (const good of ["port", "ipv4-gateway", "max-old-space-size", "a1", "x-2"]) assert.equal(key(good, Arg.int({ default: 0, doc: "" })).name, good);
  for (const bad of ["Port", "ipv4_gateway", "-port", "1port", "", "port ", "po--rt", "port-", "ipv4Gateway", "é"]) {
    assert.throws(() => key(bad, Arg.int({ default: 0, doc: "" })), (e: Error) => e.message.startsWith(`invalid key name ${JSON.stringify(bad)}`), bad);
  }
  assert.throws(() => key("help", Arg.bool({ default: false, doc: "" })), /reserved/);
});

test("keyField maps kebab-case to camelCase", () => {
  assert.equal(keyField("ipv4-gateway"), "ipv4Gateway");
  assert.equal(keyField("max-old-space-size"), "maxOldSpaceSize");
  assert.equal(keyField("port"), "port");
  assert.equal(keyField("accept-router-advertisements"), "acceptRouterAdvertisements");
  assert.equal(keyField("ipv6-only"), "ipv6Only");
  assert.equal(keyField("x-2"), "x2");
});

test("Arg checks what config.ts gives it", () => {
  assert.throws(() => Arg.int({ default: 0, doc: "", short: "h" }), /reserved for --help/);
  assert.throws(() => Arg.int({ default: 0, doc: "", short: "ab" }), /one ASCII letter/);
  assert.throws(() => Arg.int({ default: 0, doc: "", env: "BAD-NAME" }), /environment variable/);
  assert.throws(() => Arg.enum(["a", "b"], { default: "c" as "a", doc: "" }), /not one of a, b/);
  const k = key("k", Arg.int({ default: 3, doc: "d" }));
  assert.equal(k.stage, "both");
  assert.equal(k.section, "unikernel");
  assert.equal(k.docv, "INT");
  assert.equal(k.env, undefined);
  assert.equal(k.short, undefined);
  assert.ok(Object.isFrozen(k));
  const gw = key("gw", Arg.optional(Conv.ipv4Address, { doc: "" }));
  assert.equal(gw.default, undefined);
});

test("did-you-mean uses an edit distance that counts a swap as one edit", () => {
  assert.equal(editDistance("prot", "port"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(closest("prot", ["port", "ipv4"]), "port");
  assert.equal(closest("ipv4gateway", ["ipv4-gateway", "ipv6-gateway"]), "ipv4-gateway");
  assert.equal(closest("zzzz", ["port", "ipv4"]), undefined);
});
