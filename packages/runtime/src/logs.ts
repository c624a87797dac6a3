/**
 * Logs, after OCaml's Logs as MirageOS uses it: named sources, a level per source set by a spec
 * (`-l/--logs`, `MIRAGE_LOGS`: `*:info,http:debug`), and one pluggable reporter.
 *
 * Levels, from quietest: quiet < error < warning < info < debug. A source logs a message when
 * the message's level is at most the source's level. Messages may be given as thunks, which are
 * only evaluated when the level is enabled, so `log.debug(() => expensive())` costs nothing when
 * debugging is off.
 */
import { type Result, ok, err } from "./result.ts";

export type LogLevel = "quiet" | "error" | "warning" | "info" | "debug";
/** The level of one message (nothing is logged at "quiet"). */
export type MessageLevel = Exclude<LogLevel, "quiet">;

export const logLevels: readonly LogLevel[] = ["quiet", "error", "warning", "info", "debug"];
const rank: Record<LogLevel, number> = { quiet: 0, error: 1, warning: 2, info: 3, debug: 4 };

export type LogMessage = string | (() => string);

export interface LogEntry {
  /** Milliseconds since the epoch. */
  time: number;
  level: MessageLevel;
  source: string;
  message: string;
  fields: Readonly<Record<string, unknown>> | undefined;
}

export type LogReporter = (entry: LogEntry) => void;

export interface Log {
  readonly name: string;
  readonly doc: string;
  err(message: LogMessage, fields?: Record<string, unknown>): void;
  warn(message: LogMessage, fields?: Record<string, unknown>): void;
  info(message: LogMessage, fields?: Record<string, unknown>): void;
  debug(message: LogMessage, fields?: Record<string, unknown>): void;
  /** Whether a message at `level` would be reported now. */
  enabled(level: MessageLevel): boolean;
  /** The source's current level. */
  level(): LogLevel;
}

/** A parsed `--logs` spec: a default level and per-source overrides. */
export interface LogSpec {
  readonly default: LogLevel;
  readonly sources: ReadonlyMap<string, LogLevel>;
}

const SPEC_FORM = "expected SRC:LEVEL or LEVEL separated by commas, LEVEL one of quiet, error, warning, info, debug, e.g. *:info,http:debug";
const SOURCE_RE = /^[A-Za-z0-9_.\-/]+$/;

function parseLevel(text: string): LogLevel | undefined {
  if (text === "warn") return "warning";
  return (logLevels as readonly string[]).includes(text) ? (text as LogLevel) : undefined;
}

/**
 * Parses `*:info,http:debug`; a bare level (`debug`) means `*:debug`. A `*` entry sets the level of
 * every source not named; named sources override it whatever their order; a later entry for the
 * same source wins. Spaces around entries are ignored.
 */
export function parseLogSpec(spec: string): Result<LogSpec, string> {
  const bad = (why: string) => err(`${JSON.stringify(spec)} is not a log spec: ${why} (${SPEC_FORM})`);
  if (spec.trim() === "") return bad("it is empty");
  let level: LogLevel = "info";
  const sources = new Map<string, LogLevel>();
  for (const raw of spec.split(",")) {
    const entry = raw.trim();
    if (entry === "") return bad("an entry is empty");
    const colon = entry.lastIndexOf(":");
    const source = colon < 0 ? "*" : entry.slice(0, colon).trim();
    const levelText = colon < 0 ? entry : entry.slice(colon + 1).trim();
    const l = parseLevel(levelText);
    if (l === undefined) return bad(`unknown level ${JSON.stringify(levelText)}`);
    if (source === "*") level = l;
    else if (!SOURCE_RE.test(source)) return bad(`${JSON.stringify(source)} is not a source name`);
    else sources.set(source, l);
  }
  return ok({ default: level, sources });
}

/** Canonical text of a spec: `*:LEVEL` then the sources in name order. */
export function formatLogSpec(spec: LogSpec): string {
  const named = [...spec.sources].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([s, l]) => `${s}:${l}`);
  return [`*:${spec.default}`, ...named].join(",");
}

let currentSpec: LogSpec = { default: "info", sources: new Map() };
const registry = new Map<string, string>();

/** Sets every source's level from a spec; on a malformed spec nothing changes. */
export function setLogLevels(spec: string): Result<LogSpec, string> {
  const r = parseLogSpec(spec);
  if (r.ok) currentSpec = r.value;
  return r;
}

/** The levels in force. */
export function getLogLevels(): LogSpec {
  return currentSpec;
}

/** The level of source `name` under the current spec. */
export function sourceLevel(name: string): LogLevel {
  return currentSpec.sources.get(name) ?? currentSpec.default;
}

/** The sources created so far with their docs, sorted by name. */
export function logSources(): Array<{ name: string; doc: string }> {
  return [...registry].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, doc]) => ({ name, doc }));
}

const pad2 = (n: number): string => String(n).padStart(2, "0");

/** MirageOS's timestamp: `YYYY-MM-DDTHH:MM:SS-00:00` (UTC; -00:00 as RFC 3339 writes "offset not known"). */
export function formatLogTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${String(d.getUTCFullYear()).padStart(4, "0")}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}-00:00`
  );
}

function formatField(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "bigint") return `${value}n`;
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** One line as MirageOS prints it: `2024-05-01T12:00:00-00:00: [INFO] [http] message key=value`. */
export function formatLogEntry(entry: LogEntry): string {
  const fields = entry.fields ? Object.entries(entry.fields).map(([k, v]) => ` ${k}=${formatField(v)}`).join("") : "";
  return `${formatLogTime(entry.time)}: [${entry.level.toUpperCase()}] [${entry.source}] ${entry.message}${fields}`;
}

/** Writes each entry as one line to stderr. */
export const stderrLogReporter: LogReporter = (entry) => {
  process.stderr.write(formatLogEntry(entry) + "\n");
};

let reporter: LogReporter = stderrLogReporter;

/** Replaces the reporter; returns the previous one (to restore it). */
export function setLogReporter(next: LogReporter): LogReporter {
  const previous = reporter;
  reporter = next;
  return previous;
}

function emit(source: string, level: MessageLevel, message: LogMessage, fields: Record<string, unknown> | undefined): void {
  if (rank[level] > rank[sourceLevel(source)]) return;
  let text: string;
  try {
    text = typeof message === "function" ? message() : message;
  } catch (e) {
    text = `(the log message failed: ${e instanceof Error ? e.message : String(e)})`;
  }
  try {
    reporter({ time: Date.now(), level, source, message: text, fields });
  } catch {
    // A broken reporter must not take the unikernel down with it.
  }
}

/** A named log source (e.g. "http", "tcp.pcb"); its level follows the current spec. */
export function createLogSource(name: string, doc = ""): Log {
  if (name === "" || name === "*") throw new Error(`invalid log source name ${JSON.stringify(name)}`);
  registry.set(name, doc);
  return {
    name,
    doc,
    err: (message, fields) => emit(name, "error", message, fields),
    warn: (message, fields) => emit(name, "warning", message, fields),
    info: (message, fields) => emit(name, "info", message, fields),
    debug: (message, fields) => emit(name, "debug", message, fields),
    enabled: (level) => rank[level] <= rank[sourceLevel(name)],
    level: () => sourceLevel(name),
  };
}
