import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  Arg,
  Conv,
  bootValue,
  clearBootValues,
  getKeys,
  getLogLevels,
  formatLogSpec,
  key,
  runUnikernel,
  setLogLevels,
  setLogReporter,
  type Device,
  type LogEntry,
  type LogReporter,
  type RunOptions,
  type BootBody,
} from "../src/index.ts";

const port = key("port", Arg.int({ default: 8080, doc: "TCP port" }));
const gateway = key("ipv4-gateway", Arg.optional(Conv.ipv4Address, { doc: "gateway", section: "network" }));
const net = key("net", Arg.enum(["socket", "direct"], { default: "socket", doc: "stack", stage: "configure", section: "network" }));
const keys = [port, gateway, net];

let logs: LogEntry[] = [];
let previousReporter: LogReporter;
beforeEach(() => {
  logs = [];
  previousReporter = setLogReporter((e) => logs.push(e));
  clearBootValues();
});
afterEach(() => {
  setLogReporter(previousReporter);
  setLogLevels("*:info");
});

interface Harness {
  options: RunOptions;
  stdout: string[];
  stderr: string[];
  signals: EventEmitter;
  faults: EventEmitter;
  forced: number[];
}

function harness(argv: string[], extra: Partial<RunOptions> = {}): Harness {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const signals = new EventEmitter();
  const faults = new EventEmitter();
  const forced: number[] = [];
  return {
    stdout,
    stderr,
    signals,
    faults,
    forced,
    options: {
      name: "demo",
      keys,
      argv,
      env: {},
      stdout: (t) => void stdout.push(t),
      stderr: (t) => void stderr.push(t),
      signals: signals as unknown as RunOptions["signals"],
      faults: faults as unknown as RunOptions["faults"],
      forceExit: (code) => void forced.push(code),
      ...extra,
    },
  };
}

/** A device that records its disconnection in `events`. */
function fakeDevice(label: string, events: string[], disconnect?: () => Promise<void>): Device {
  return {
    disconnect: async () => {
      events.push(`disconnect ${label}`);
      await disconnect?.();
    },
  };
}

const messages = () => logs.map((e) => `[${e.level}] ${e.message}`);


test("body returns: devices are disconnected in reverse connection order, exit 0", async () => {
  const h = harness(["--port=9000"]);
  const events: string[] = [];
  const code = await runUnikernel<{ port: number; ipv4Gateway: unknown }>(h.options, async ({ keys, connect }) => {
    assert.equal(keys.port, 9000);
    assert.equal(keys.ipv4Gateway, undefined);
    await connect("clock", () => fakeDevice("clock", events));
    await connect("net", async () => fakeDevice("net", events));
    await connect("stack", () => fakeDevice("stack", events));
    events.push("start");
  });
  assert.equal(code, 0);
  assert.deepEqual(events, ["start", "disconnect stack", "disconnect net", "disconnect clock"]);
  assert.equal(h.signals.listenerCount("SIGTERM"), 0, "signal handlers are removed");
  assert.equal(h.signals.listenerCount("SIGINT"), 0);
});

test("boot values are stored for bootValue and getKeys, camelCased for code", async () => {
  const h = harness(["--ipv4-gateway=10.0.0.1"]);
  await runUnikernel(h.options, async () => {
    assert.equal(bootValue("port"), 8080);
    assert.equal(String(bootValue("ipv4-gateway")), "10.0.0.1");
    assert.equal(String(getKeys().ipv4Gateway), "10.0.0.1");
    assert.equal(getKeys().logs, "*:info", "the logs key is added when missing");
    assert.equal(getKeys().maxOldSpaceSize, undefined, "so are the runtime parameters");
  });
  assert.throws(() => bootValue("nope"), /has no key named "nope"/);
  clearBootValues();
  assert.throws(() => bootValue("port"), /before boot\(\) parsed the arguments/);
  assert.throws(() => getKeys(), /before boot\(\)/);
});

test("--help prints the help to stdout and exits 0 without running the body", async () => {
  const h = harness(["--help"], { description: "A demo unikernel." });
  let ran = false;
  const code = await runUnikernel(h.options, async () => {
    ran = true;
  });
  assert.equal(code, 0);
  assert.equal(ran, false);
  const text = h.stdout.join("");
  assert.match(text, /^Usage: demo \[OPTION\]\.\.\./);
  assert.match(text, /A demo unikernel\./);
  assert.match(text, /--port=INT/);
  assert.match(text, /-l SPEC, --logs=SPEC/);
  assert.match(text, /NODE RUNTIME PARAMETERS/);
  assert.ok(!text.includes("--net"));
  assert.deepEqual(h.stderr, []);
});

test("bad arguments: '<name>: <error>' and a --help hint on stderr, exit 2", async () => {
  const cases: Array<[string[], string]> = [
    [["--port=x"], '--port: "x" is not an integer (expected INT)'],
    [["--prot=1"], 'unknown argument "--prot" (did you mean --port?)'],
    [["--net=direct"], "--net can only be set at configure time; run mirage configure --net=direct"],
    [["-l", "http:loud"], '--logs: "http:loud" is not a log spec: unknown level "loud"'],
    [["--max-old-space-size=0"], '--max-old-space-size: "0" is not a positive integer (expected MIB)'],
    [["--stack-size=-1"], '--stack-size: "-1" is not a positive integer (expected KIB)'],
  ];
  for (const [argv, error] of cases) {
    const h = harness(argv);
    let ran = false;
    const code = await runUnikernel(h.options, async () => {
      ran = true;
    });
    assert.equal(code, 2, argv.join(" "));
    assert.equal(ran, false);
    const [first, second, ...rest] = h.stderr.join("").split("\n");
    assert.ok(first!.startsWith(`demo: ${error}`), first);
    assert.equal(second, "Try 'demo --help' for more information.");
    assert.deepEqual(rest, [""]);
    assert.deepEqual(h.stdout, []);
  }
});

test("the logs spec is applied, from -l or MIRAGE_LOGS", async () => {
  await runUnikernel(harness(["-l", "*:warning,http:debug"]).options, async () => {
    assert.equal(formatLogSpec(getLogLevels()), "*:warning,http:debug");
  });
  await runUnikernel(harness([], { env: { MIRAGE_LOGS: "debug" } }).options, async () => {
    assert.equal(formatLogSpec(getLogLevels()), "*:debug");
  });
});

test("runtime parameters are accepted and validated", async () => {
  const code = await runUnikernel(harness(["--max-old-space-size=512", "--stack-size", "2000"]).options, async () => {
    assert.equal(bootValue("max-old-space-size"), 512);
    assert.equal(getKeys().stackSize, 2000);
  });
  assert.equal(code, 0);
});

test("a failing connect: logged, earlier devices disconnected in reverse, exit 1", async () => {
  const h = harness([]);
  const events: string[] = [];
  let afterFailure = false;
  const code = await runUnikernel(h.options, async ({ connect }) => {
    await connect("a", () => fakeDevice("a", events));
    await connect("b", () => fakeDevice("b", events));
    await connect("tap0", async () => {
      throw new Error("no such device tap0");
    });
    afterFailure = true;
  });
  assert.equal(code, 1);
  assert.equal(afterFailure, false);
  assert.deepEqual(events, ["disconnect b", "disconnect a"]);
  assert.ok(messages().includes("[error] failed to connect tap0: no such device tap0"), messages().join("\n"));
  assert.ok(!messages().some((m) => m.includes("the unikernel failed")), "the connect failure is reported once");
});

test("a connect failure that the body catches still stops the unikernel", async () => {
  const events: string[] = [];
  const code = await runUnikernel(harness([]).options, async ({ connect }) => {
    await connect("a", () => fakeDevice("a", events));
    await connect("bad", () => {
      throw new Error("nope");
    }).catch(() => undefined);
    await new Promise(() => {});
  });
  assert.equal(code, 1);
  assert.deepEqual(events, ["disconnect a"]);
});

test("the body throws: its stack is logged, devices disconnected, exit 1", async () => {
  const events: string[] = [];
  const code = await runUnikernel(harness([]).options, async ({ connect }) => {
    await connect("a", () => fakeDevice("a", events));
    throw new Error("start blew up");
  });
  assert.equal(code, 1);
  assert.deepEqual(events, ["disconnect a"]);
  const failure = logs.find((e) => e.message.startsWith("the unikernel failed: "));
  assert.ok(failure, messages().join("\n"));
  assert.equal(failure.level, "error");
  assert.match(failure.message, /Error: start blew up\n\s+at /, "the stack is logged");
});

for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  test(`${event}: logged with its stack, devices disconnected in reverse, exit 1`, async () => {
    const h = harness([]);
    const events: string[] = [];
    const ready = signalled();
    const running = runUnikernel(h.options, async ({ connect }) => {
      await connect("a", () => fakeDevice("a", events));
      await connect("b", () => fakeDevice("b", events));
      ready.resolve();
      await new Promise(() => {});
    });
    await ready.promise;
    h.faults.emit(event, new Error("a handler blew up"));
    assert.equal(await running, 1);
    assert.deepEqual(events, ["disconnect b", "disconnect a"]);
    assert.ok(
      messages().some((m) => /^\[error\] uncaught error, stopping: Error: a handler blew up\n\s+at /.test(m)),
      messages().join("\n"),
    );
    assert.equal(h.faults.listenerCount(event), 0, "the handlers are removed");
  });
}

/** A promise and its resolver, for the body to say when it has connected its devices. */
function signalled(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal}: logged, devices disconnected in reverse, exit 0`, async () => {
    const h = harness([]);
    const events: string[] = [];
    const ready = signalled();
    const running = runUnikernel(h.options, async ({ connect }) => {
      await connect("a", () => fakeDevice("a", events));
      await connect("b", () => fakeDevice("b", events));
      ready.resolve();
      await new Promise(() => {}); // a server: runs until stopped
    });
    await ready.promise;
    h.signals.emit(signal);
    assert.equal(await running, 0);
    assert.deepEqual(events, ["disconnect b", "disconnect a"]);
    assert.ok(messages().includes(`[info] received ${signal}, stopping`), messages().join("\n"));
    assert.deepEqual(h.forced, []);
  });
}

test("a second signal while stopping exits at once with 128+signo", async () => {
  const h = harness([]);
  const stuck = signalled();
  const disconnecting = signalled();
  const ready = signalled();
  const events: string[] = [];
  const running = runUnikernel(h.options, async ({ connect }) => {
    await connect("slow", () =>
      fakeDevice("slow", events, () => {
        disconnecting.resolve();
        return stuck.promise;
      }),
    );
    ready.resolve();
    await new Promise(() => {});
  });
  await ready.promise;
  h.signals.emit("SIGTERM");
  await disconnecting.promise;
  assert.deepEqual(h.forced, []);
  h.signals.emit("SIGINT");
  assert.deepEqual(h.forced, [130]);
  h.signals.emit("SIGTERM");
  assert.deepEqual(h.forced, [130, 143]);
  stuck.resolve();
  assert.equal(await running, 0);
});

test("a device that never disconnects is given up on after the timeout", async () => {
  const h = harness([], { disconnectTimeoutMs: 20 });
  const events: string[] = [];
  const code = await runUnikernel(h.options, async ({ connect }) => {
    await connect("first", () => fakeDevice("first", events));
    await connect("stuck", () => fakeDevice("stuck", events, () => new Promise(() => {})));
  });
  assert.equal(code, 0);
  assert.deepEqual(events, ["disconnect stuck", "disconnect first"]);
  assert.ok(messages().some((m) => m.startsWith("[warning] stuck did not disconnect within 20 ms")), messages().join("\n"));
});

test("a device whose disconnect throws is logged and shutdown goes on", async () => {
  const events: string[] = [];
  const code = await runUnikernel(harness([]).options, async ({ connect }) => {
    await connect("first", () => fakeDevice("first", events));
    await connect("broken", () =>
      fakeDevice("broken", events, async () => {
        throw new Error("already gone");
      }),
    );
  });
  assert.equal(code, 0);
  assert.deepEqual(events, ["disconnect broken", "disconnect first"]);
  assert.ok(messages().includes("[warning] failed to disconnect broken: already gone"));
});

test("a device that finishes connecting after a signal is disconnected too", async () => {
  const h = harness([]);
  const events: string[] = [];
  let finish!: () => void;
  const slow = new Promise<void>((r) => (finish = r));
  let late: Promise<Device> | undefined;
  const connecting = signalled();
  const running = runUnikernel(h.options, async ({ connect }) => {
    late = connect("late", async () => {
      connecting.resolve();
      await slow;
      return fakeDevice("late", events);
    });
    await late;
    await new Promise(() => {});
  });
  await connecting.promise;
  h.signals.emit("SIGTERM");
  assert.equal(await running, 0);
  finish();
  await late;
  assert.deepEqual(events, ["disconnect late"]);
});

test("child process: SIGTERM to a unikernel using boot() disconnects its devices and exits 0", async () => {
  const script = fileURLToPath(new URL("./fixtures/sigterm-unikernel.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, "--greeting=hi"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, MIRAGE_LOGS: "*:debug" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = once(child, "exit");
  // The fixture prints "ready" once its devices are connected.
  await new Promise<void>((resolve) => {
    const check = () => {
      if (stdout.includes("ready hi\n")) resolve();
    };
    child.stdout.on("data", check);
    void exited.then(() => resolve());
  });
  assert.ok(stdout.includes("ready hi\n"), `the fixture should start: ${stderr}`);
  child.kill("SIGTERM");
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /\[INFO\] \[mirage\] received SIGTERM, stopping/);
  const order = stdout.split("\n").filter((l) => l.startsWith("disconnected"));
  assert.deepEqual(order, ["disconnected console", "disconnected clock"]);
});

test("child process: bad arguments exit 2 with the one-line error and the hint", async () => {
  const script = fileURLToPath(new URL("./fixtures/sigterm-unikernel.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, "--greting=hi"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 2);
  assert.equal(stderr, `fixture: unknown argument "--greting" (did you mean --greeting?)\nTry 'fixture --help' for more information.\n`);
});

test("child process: --help prints every boot key and exits 0", async () => {
  const script = fileURLToPath(new URL("./fixtures/sigterm-unikernel.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: fixture \[OPTION\]\.\.\./);
  assert.match(stdout, /--greeting=STRING/);
  assert.match(stdout, /--max-old-space-size=MIB/);
});

// Unused-type guard: BootBody is part of the public API.
const _body: BootBody<{ port: number }> = async () => {};
void _body;
