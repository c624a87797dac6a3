import { test } from "node:test";
import assert from "node:assert/strict";
import { Arg, Conv, Ipv4Prefix, formatHelp, key, logsKey, runtimeParameterKeys, type Key } from "../src/index.ts";
import { wrap } from "../src/help.ts";

const port = key("port", Arg.int({ default: 8080, doc: "TCP port to serve on." }));
const hello = key("hello", Arg.string({ default: "Hello World!", doc: "How to say hello." }));
const ipv4 = key("ipv4", Arg.ipv4Prefix({ default: Ipv4Prefix.of("10.0.0.2/24"), doc: "The IPv4 address and network of the unikernel.", section: "network" }));
const gateway = key("ipv4-gateway", Arg.optional(Conv.ipv4Address, { doc: "The IPv4 gateway.", section: "network" }));
const ipv4Only = key("ipv4-only", Arg.bool({ default: false, doc: "Only use IPv4.", section: "network" }));
const net = key("net", Arg.enum(["socket", "direct"], { default: "socket", doc: "The network stack.", stage: "configure", section: "network" }));
const names = key("names", Arg.list(Conv.string, { default: ["a", "b,c"], doc: "Some names." }));
const long = key(
  "long-doc",
  Arg.string({
    default: "",
    doc: "A documentation string long enough that it has to be wrapped over several lines of the help text, because nobody reads beyond eighty columns, and one unbreakable https://example.invalid/a/very/long/url/that/does/not/fit/on/one/line/at/all/really word.",
  }),
);
const all: Key[] = [port, hello, ipv4, gateway, ipv4Only, net, names, long, logsKey, ...runtimeParameterKeys];

test("usage line, description, then the sections in order", () => {
  const text = formatHelp("static-website", all, { description: "Serves a static website over HTTP." });
  const lines = text.split("\n");
  assert.equal(lines[0], "Usage: static-website [OPTION]...");
  assert.ok(text.includes("Serves a static website over HTTP."));
  const sections = lines.filter((l) => /^[A-Z][A-Z ]+$/.test(l));
  assert.deepEqual(sections, ["UNIKERNEL KEYS", "NETWORK KEYS", "NODE RUNTIME PARAMETERS", "COMMON OPTIONS"]);
  assert.ok(text.endsWith("\n"));
});

test("each key: --name=DOCV with its alias, doc, type, default and env", () => {
  const text = formatHelp("u", all);
  assert.match(text, /^ {7}-l SPEC, --logs=SPEC$/m);
  assert.match(text, /^ {11}Be more or less verbose\./m);
  assert.match(text, /\(type: string, default: "\*:info", env: MIRAGE_LOGS\)/);
  assert.match(text, /^ {7}--port=INT\n {11}TCP port to serve on\.\n {11}\(type: int, default: 8080\)$/m);
  assert.match(text, /^ {7}--ipv4=IPV4\/LEN\n {11}The IPv4 address and network of the unikernel\.\n {11}\(type: IPv4 prefix, default: 10\.0\.0\.2\/24\)$/m);
  assert.match(text, /--ipv4-gateway=IPV4\n.*\n {11}\(type: optional IPv4 address, default: none\)/);
  assert.match(text, /--ipv4-only\[=BOOL\]\n.*\n {11}\(type: bool, default: false\)/);
  assert.match(text, /--hello=STRING\n.*\n {11}\(type: string, default: "Hello World!"\)/);
  assert.match(text, /--names=STRING\[,STRING\.\.\.\]\n.*\n {11}\(type: list of string separated by ",", default: "a,b\\,c"\)/);
  assert.match(text, /--long-doc=STRING[\s\S]*\(type: string, default: ""\)/);
  assert.match(text, /--max-old-space-size=MIB\n[\s\S]*?Node's\s+--max-old-space-size[\s\S]*?\(type: optional int, default: none\)/);
  assert.match(text, /--stack-size=KIB/);
  assert.match(text, /--max-semi-space-size=MIB/);
  assert.match(text, /^ {7}-h, --help$/m);
});

test("keys sit in their sections, sorted by name; configure-only keys are left out", () => {
  const text = formatHelp("u", all);
  const section = (title: string) => {
    const start = text.indexOf(`\n${title}\n`);
    const end = text.indexOf("\n\n", start + 1) < 0 ? text.length : text.slice(start + 1).search(/\n[A-Z][A-Z ]+\n/) + start + 1;
    return text.slice(start, end);
  };
  const optionsIn = (s: string) => [...s.matchAll(/^ {7}(?:-\w(?: \S+)?, )?--([a-z0-9-]+)/gm)].map((m) => m[1]);
  assert.deepEqual(optionsIn(section("UNIKERNEL KEYS")), ["hello", "logs", "long-doc", "names", "port"]);
  assert.deepEqual(optionsIn(section("NETWORK KEYS")), ["ipv4", "ipv4-gateway", "ipv4-only"]);
  assert.deepEqual(optionsIn(section("NODE RUNTIME PARAMETERS")), ["max-old-space-size", "max-semi-space-size", "stack-size"]);
  assert.ok(!text.includes("--net"), "a configure-only key cannot be set at boot");
});

test("empty sections are left out", () => {
  const text = formatHelp("hello", [hello]);
  assert.ok(text.includes("UNIKERNEL KEYS"));
  assert.ok(!text.includes("NETWORK KEYS"));
  assert.ok(!text.includes("NODE RUNTIME PARAMETERS"));
  const none = formatHelp("bare", [net]);
  assert.ok(!none.includes("KEYS"));
  assert.ok(none.includes("--help"));
});

test("every line fits in 80 columns except a word that cannot be broken", () => {
  const text = formatHelp("u", all, { description: "word ".repeat(60) });
  for (const line of text.split("\n")) {
    if (line.length > 80) assert.ok(!line.trim().includes(" "), `only an unbreakable word may overflow: ${JSON.stringify(line)}`);
  }
  assert.ok(text.split("\n").some((l) => l.includes("https://example.invalid")));
});

test("deterministic: the same keys in any order give the same text", () => {
  const a = formatHelp("u", all, { description: "d" });
  const b = formatHelp("u", [...all].reverse(), { description: "d" });
  assert.equal(a, b);
  assert.equal(formatHelp("u", all, { description: "d" }), a);
});

test("wrap: greedy, indented, paragraphs kept", () => {
  assert.deepEqual(wrap("aaa bbb ccc", 2, 9), ["  aaa bbb", "  ccc"]);
  assert.deepEqual(wrap("one\n\ntwo", 0), ["one", "", "two"]);
  assert.deepEqual(wrap("   ", 4), []);
});
