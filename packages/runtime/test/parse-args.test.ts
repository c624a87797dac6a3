import { test } from "node:test";
import assert from "node:assert/strict";
import { Arg, Conv, Ipv4Prefix, key, parseArgs, type ParsedArgs, type ParseArgsOptions } from "../src/index.ts";

const port = key("port", Arg.int({ default: 8080, doc: "TCP port", short: "p", env: "PORT" }));
const hello = key("hello", Arg.string({ default: "Hello World!", doc: "greeting" }));
const ipv4 = key("ipv4", Arg.ipv4Prefix({ default: Ipv4Prefix.of("10.0.0.2/24"), doc: "address", section: "network" }));
const gateway = key("ipv4-gateway", Arg.optional(Conv.ipv4Address, { doc: "gateway", section: "network" }));
const dhcp = key("dhcp", Arg.bool({ default: false, doc: "use DHCP", stage: "configure", section: "network" }));
const ipv4Only = key("ipv4-only", Arg.bool({ default: false, doc: "v4 only", section: "network", short: "f" }));
const net = key("net", Arg.enum(["socket", "direct"], { default: "socket", doc: "stack", stage: "configure", section: "network" }));
const secret = key("secret", Arg.string({ default: "", doc: "boot only", stage: "boot" }));
const offset = key("offset", Arg.int({ default: 0, doc: "may be negative" }));
const hosts = key("hosts", Arg.list(Conv.string, { default: [], doc: "hosts" }));
const logs = key("logs", Arg.string({ default: "*:info", doc: "logs", short: "l", env: "MIRAGE_LOGS" }));
const keys = [port, hello, ipv4, gateway, dhcp, ipv4Only, net, secret, offset, hosts, logs];

function ok(argv: string[], options?: ParseArgsOptions): ParsedArgs {
  const r = parseArgs(keys, argv, options);
  assert.ok(r.ok, `${argv.join(" ")} should parse: ${r.ok ? "" : r.error}`);
  return r.value;
}

function error(argv: string[], options?: ParseArgsOptions): string {
  const r = parseArgs(keys, argv, options);
  assert.ok(!r.ok, `${argv.join(" ")} should be rejected`);
  assert.ok(!r.error.includes("\n"), "errors are one line");
  return r.error;
}

test("no arguments: every default, nothing given", () => {
  const p = ok([]);
  assert.equal(p.values.port, 8080);
  assert.equal(p.values.hello, "Hello World!");
  assert.equal((p.values.ipv4 as Ipv4Prefix).toString(), "10.0.0.2/24");
  assert.equal(p.values["ipv4-gateway"], undefined);
  assert.equal(p.values.net, "socket");
  assert.equal(p.given.size, 0);
  assert.equal(p.help, false);
  assert.deepEqual(p.rest, []);
});

test("--name=value, --name value, -s value, -svalue, -s=value", () => {
  assert.equal(ok(["--port=1"]).values.port, 1);
  assert.equal(ok(["--port", "2"]).values.port, 2);
  assert.equal(ok(["-p", "3"]).values.port, 3);
  assert.equal(ok(["-p4"]).values.port, 4);
  assert.equal(ok(["-p=5"]).values.port, 5);
  assert.equal(ok(["--hello=a=b"]).values.hello, "a=b");
  assert.equal(ok(["--hello="]).values.hello, "");
  assert.equal(ok(["--hello", ""]).values.hello, "");
  assert.deepEqual([...ok(["--port=1"]).given], ["port"]);
});

test("a detached value may be a negative number but not an option", () => {
  assert.equal(ok(["--offset", "-5"]).values.offset, -5);
  assert.equal(ok(["--offset=-5"]).values.offset, -5);
  assert.equal(ok(["--hello=-x"]).values.hello, "-x");
  assert.equal(error(["--hello", "--port=1"]), "--hello: a value is required (expected --hello=STRING)");
  assert.equal(error(["--port"]), "--port: a value is required (expected --port=INT)");
});

test("bool: bare flag is true, =true/=false, never takes the next argument", () => {
  assert.equal(ok(["--ipv4-only"]).values["ipv4-only"], true);
  assert.equal(ok(["--ipv4-only=false"]).values["ipv4-only"], false);
  assert.equal(ok(["--ipv4-only=true"]).values["ipv4-only"], true);
  assert.equal(ok(["-f"]).values["ipv4-only"], true);
  assert.equal(ok(["-f=false"]).values["ipv4-only"], false);
  assert.equal(error(["--ipv4-only=yes"]), '--ipv4-only: "yes" is not a boolean (expected true or false)');
  assert.equal(
    error(["--ipv4-only", "false"]),
    'unexpected argument "false" (a boolean takes its value after \'=\': write --ipv4-only=false)',
  );
  const p = ok(["--ipv4-only", "pos"], { allowUnknown: true });
  assert.equal(p.values["ipv4-only"], true);
  assert.deepEqual(p.rest, ["pos"]);
});

test("the last occurrence wins", () => {
  assert.equal(ok(["--port=1", "-p", "2", "--port", "3"]).values.port, 3);
  assert.equal(ok(["--ipv4-only", "--ipv4-only=false"]).values["ipv4-only"], false);
});

test("optional: a value, or empty for absent", () => {
  assert.equal(String(ok(["--ipv4-gateway=10.0.0.1"]).values["ipv4-gateway"]), "10.0.0.1");
  const cleared = ok(["--ipv4-gateway=10.0.0.1", "--ipv4-gateway="]);
  assert.equal(cleared.values["ipv4-gateway"], undefined);
  assert.ok(cleared.given.has("ipv4-gateway"));
});

test("malformed values: one line naming the key, the value and the expected form", () => {
  assert.equal(error(["--port=x"]), '--port: "x" is not an integer (expected INT)');
  assert.equal(error(["-p", "1e3"]), '--port: "1e3" is not an integer (expected INT)');
  assert.equal(
    error(["--ipv4=10.0.0.300/24"]),
    '--ipv4: "10.0.0.300/24" is not an IPv4 prefix: 300 is above 255 (expected IPV4/LEN, e.g. 10.0.0.2/24)',
  );
  assert.equal(
    error(["--ipv4-gateway", "10.0.0.1/24"]),
    '--ipv4-gateway: "10.0.0.1/24" is not an IPv4 address: "1/24" is not a number from 0 to 255 (expected IPV4, e.g. 10.0.0.2)',
  );
  assert.equal(error(["--hosts=a,b", "--port=x"]), '--port: "x" is not an integer (expected INT)');
  // The first error is the one reported.
  assert.equal(error(["--port=x", "--ipv4=1"]), '--port: "x" is not an integer (expected INT)');
});

test("unknown arguments, with did-you-mean", () => {
  assert.equal(error(["--prot=8080"]), 'unknown argument "--prot" (did you mean --port?)');
  assert.equal(error(["--prot"]), 'unknown argument "--prot" (did you mean --port?)');
  assert.equal(error(["--ipv4gateway=1.2.3.4"]), 'unknown argument "--ipv4gateway" (did you mean --ipv4-gateway?)');
  assert.equal(error(["--hepl"]), 'unknown argument "--hepl" (did you mean --help?)');
  assert.equal(error(["--frobnicate"]), 'unknown argument "--frobnicate"');
  assert.equal(error(["-z"]), 'unknown argument "-z"');
  assert.equal(error(["stray"]), 'unexpected argument "stray"');
  assert.equal(error(["--", "stray"]), 'unexpected argument "stray"');
  assert.equal(error(["-"]), 'unexpected argument "-"');
});

test("allowUnknown keeps what it does not know, in order", () => {
  const p = ok(["-t", "unix", "--port=1", "--frob", "x", "--", "--port=2"], { allowUnknown: true, stage: "configure" });
  assert.equal(p.values.port, 1);
  assert.deepEqual(p.rest, ["-t", "unix", "--frob", "x", "--port=2"]);
});

test("a key of the other stage is an error that says where to set it", () => {
  assert.equal(error(["--net=direct"]), "--net can only be set at configure time; run mirage configure --net=direct");
  assert.equal(error(["--dhcp"]), "--dhcp can only be set at configure time; run mirage configure --dhcp=true");
  assert.equal(
    error(["--secret=s"], { stage: "configure" }),
    "--secret can only be set at boot time; pass --secret=s when starting the unikernel",
  );
  assert.equal(ok(["--net=direct", "--dhcp=true"], { stage: "configure" }).values.net, "direct");
  // "both" keys are fine at either stage.
  assert.equal(ok(["--port=9"], { stage: "configure" }).values.port, 9);
  assert.equal(ok(["--secret=s"]).values.secret, "s");
});

test("environment variables are a fallback, below the command line", () => {
  const env = { PORT: "9000", MIRAGE_LOGS: "*:debug" };
  const p = ok([], { env });
  assert.equal(p.values.port, 9000);
  assert.equal(p.values.logs, "*:debug");
  assert.ok(p.given.has("port"));
  assert.equal(ok(["--port=1"], { env }).values.port, 1);
  assert.equal(ok([], { env: { PORT: "" } }).values.port, 8080, "an empty variable counts as unset");
  assert.equal(ok([]).values.port, 8080, "parseArgs reads no environment unless given one");
  assert.equal(error([], { env: { PORT: "x" } }), '--port (from the environment variable PORT): "x" is not an integer (expected INT)');
});

test("--help and -h set help, even next to bad arguments", () => {
  assert.equal(ok(["--help"]).help, true);
  assert.equal(ok(["-h"]).help, true);
  assert.equal(ok(["--port=x", "--help"]).help, true);
  assert.equal(ok(["--help", "--prot"]).help, true);
  assert.equal(ok(["--", "--help"], { allowUnknown: true }).help, false);
});

test("keys listed twice count once", () => {
  const r = parseArgs([port, port], ["--port=3"]);
  assert.ok(r.ok);
  assert.equal(r.value.values.port, 3);
});
