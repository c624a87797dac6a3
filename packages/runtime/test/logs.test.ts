import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
  createLogSource,
  formatLogEntry,
  formatLogSpec,
  formatLogTime,
  getLogLevels,
  logSources,
  parseLogSpec,
  setLogLevels,
  setLogReporter,
  type LogEntry,
} from "../src/index.ts";

afterEach(() => {
  setLogLevels("*:info");
});

function capture(): { entries: LogEntry[]; restore: () => void } {
  const entries: LogEntry[] = [];
  const previous = setLogReporter((e) => entries.push(e));
  return { entries, restore: () => setLogReporter(previous) };
}

test("parseLogSpec: per-source levels, * for the rest, a bare level for *", () => {
  const spec = (text: string) => {
    const r = parseLogSpec(text);
    assert.ok(r.ok, r.ok ? "" : r.error);
    return formatLogSpec(r.value);
  };
  assert.equal(spec("*:info,http:debug"), "*:info,http:debug");
  assert.equal(spec("debug"), "*:debug");
  assert.equal(spec("http:debug,*:warning"), "*:warning,http:debug", "named sources beat * whatever the order");
  assert.equal(spec("tcp:info,tcp:debug"), "*:info,tcp:debug", "a later entry for a source wins");
  assert.equal(spec(" *:error , tcp.pcb:debug "), "*:error,tcp.pcb:debug");
  assert.equal(spec("quiet"), "*:quiet");
  assert.equal(spec("dns:warn"), "*:info,dns:warning");
});

test("parseLogSpec: malformed specs are one-line errors", () => {
  const bad = (text: string, why: string) => {
    const r = parseLogSpec(text);
    assert.ok(!r.ok, `${text} should be rejected`);
    assert.ok(r.error.startsWith(`${JSON.stringify(text)} is not a log spec: ${why} (expected SRC:LEVEL`), r.error);
    assert.ok(r.error.includes("e.g. *:info,http:debug"));
    assert.ok(!r.error.includes("\n"));
  };
  bad("", "it is empty");
  bad("verbose", 'unknown level "verbose"');
  bad("http:loud", 'unknown level "loud"');
  bad("*:info,,http:debug", "an entry is empty");
  bad("http:", 'unknown level ""');
  bad("a b:debug", '"a b" is not a source name');
  bad(":debug", '"" is not a source name');
});

test("setLogLevels applies a spec, and leaves the levels alone on a bad one", () => {
  assert.ok(setLogLevels("*:warning,http:debug").ok);
  assert.equal(formatLogSpec(getLogLevels()), "*:warning,http:debug");
  const r = setLogLevels("*:nonsense");
  assert.ok(!r.ok);
  assert.equal(formatLogSpec(getLogLevels()), "*:warning,http:debug");
});

test("levels filter: quiet < error < warning < info < debug, per source", () => {
  const { entries, restore } = capture();
  try {
    const http = createLogSource("http-test", "HTTP");
    const tcp = createLogSource("tcp-test");
    setLogLevels("*:warning,http-test:debug");
    for (const log of [http, tcp]) {
      log.err("e");
      log.warn("w");
      log.info("i");
      log.debug("d");
    }
    assert.deepEqual(
      entries.map((e) => `${e.source}:${e.level}:${e.message}`),
      ["http-test:error:e", "http-test:warning:w", "http-test:info:i", "http-test:debug:d", "tcp-test:error:e", "tcp-test:warning:w"],
    );
    assert.equal(tcp.level(), "warning");
    assert.equal(http.enabled("debug"), true);
    assert.equal(tcp.enabled("info"), false);

    entries.length = 0;
    setLogLevels("quiet");
    http.err("nothing");
    assert.equal(entries.length, 0);
    setLogLevels("error");
    http.err("only errors");
    http.warn("not this");
    assert.deepEqual(entries.map((e) => e.message), ["only errors"]);
  } finally {
    restore();
  }
});

test("a thunk is evaluated only when its level is enabled", () => {
  const { entries, restore } = capture();
  try {
    const log = createLogSource("thunk-test");
    let calls = 0;
    const thunk = () => {
      calls++;
      return "expensive";
    };
    setLogLevels("*:info");
    log.debug(thunk);
    assert.equal(calls, 0);
    setLogLevels("thunk-test:debug");
    log.debug(thunk);
    assert.equal(calls, 1);
    assert.equal(entries[0]?.message, "expensive");
    log.info(() => {
      throw new Error("boom");
    });
    assert.equal(entries[1]?.message, "(the log message failed: boom)");
  } finally {
    restore();
  }
});

test("a throwing reporter does not throw into the caller", () => {
  const previous = setLogReporter(() => {
    throw new Error("reporter broke");
  });
  try {
    assert.doesNotThrow(() => createLogSource("broken-test").err("still fine"));
  } finally {
    setLogReporter(previous);
  }
});

test("MirageOS's line format, fields appended", () => {
  const time = Date.UTC(2024, 4, 1, 12, 3, 4, 567);
  assert.equal(formatLogTime(time), "2024-05-01T12:03:04-00:00");
  assert.equal(
    formatLogEntry({ time, level: "info", source: "http", message: "GET /index.html", fields: undefined }),
    "2024-05-01T12:03:04-00:00: [INFO] [http] GET /index.html",
  );
  assert.equal(
    formatLogEntry({ time, level: "warning", source: "tcp", message: "m", fields: { port: 80, peer: "10.0.0.1", why: "two words", err: new Error("x") } }),
    '2024-05-01T12:03:04-00:00: [WARNING] [tcp] m port=80 peer=10.0.0.1 why="two words" err="x"',
  );
  assert.equal(formatLogEntry({ time, level: "error", source: "s", message: "m", fields: {} }), "2024-05-01T12:03:04-00:00: [ERROR] [s] m");
});

test("the default reporter writes one line per entry to stderr", () => {
  const writes: string[] = [];
  const original = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    writes.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    createLogSource("stderr-test").info("to stderr");
  } finally {
    process.stderr.write = original;
  }
  assert.equal(writes.length, 1);
  assert.match(writes[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00: \[INFO\] \[stderr-test\] to stderr\n$/);
});

test("sources are listed with their docs", () => {
  createLogSource("listed-test", "a documented source");
  assert.ok(logSources().some((s) => s.name === "listed-test" && s.doc === "a documented source"));
  assert.throws(() => createLogSource("*"), /invalid log source name/);
});
