/**
 * What a KV key means, shared by every KV store of the unix platform (crunch and direct), so
 * that the same key names the same entry whichever store `--kv-ro` picks.
 *
 * A key is a '/'-separated path; the leading '/' is optional ("a/b.txt" and "/a/b.txt" are the
 * same key). Normalisation:
 * - empty segments are dropped: "a//b", "/a/b/" and "a/b" are the same key; "", "/" and "//"
 *   name the root dictionary;
 * - "." segments are dropped: "./a" is "a".
 * Rejected with KvError "invalid-key":
 * - any ".." segment, even one that would stay inside the store ("a/../b"): resolving it would
 *   hide mistakes and it is the classic way out of a store;
 * - a NUL byte anywhere (it truncates paths at the system-call boundary).
 * A backslash is an ordinary character (as in POSIX file names); HTTP front ends that must treat
 * it as a separator (serveKv) reject it themselves.
 */
import { createHash } from "node:crypto";
import { KvError, type KvEntryKind, type Result, ok, err } from "@mirage-ts/runtime";

/** A normalised key: its segments, none empty, none "." or "..". The root is []. */
export type KvPath = readonly string[];

export function parseKvKey(key: string): Result<KvPath, string> {
  if (key.includes("\0")) return err(`the key ${JSON.stringify(key)} contains a NUL byte`);
  const segments: string[] = [];
  for (const segment of key.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") return err(`the key ${JSON.stringify(key)} contains a ".." segment`);
    segments.push(segment);
  }
  return ok(segments);
}

/** The normalised key's segments, or a KvError "invalid-key" thrown (callers are async: it becomes a rejection). */
export function kvPathOf(key: string): KvPath {
  const parsed = parseKvKey(key);
  if (!parsed.ok) throw new KvError("invalid-key", key, parsed.error);
  return parsed.value;
}

/** The canonical text of a normalised key: "/" followed by the segments. */
export function formatKvPath(path: KvPath): string {
  return `/${path.join("/")}`;
}

/** The order of `list`: by name, comparing UTF-16 code units (the same on every host and locale). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The hex SHA-256 of a value. */
export function valueDigest(value: Uint8Array): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * The digest of a dictionary: the hex SHA-256 of its sorted listing, each entry as
 * kind NUL name NUL (names cannot contain NUL, so the encoding is unambiguous).
 */
export function dictionaryDigest(entries: ReadonlyArray<{ name: string; kind: KvEntryKind }>): string {
  const hash = createHash("sha256");
  for (const entry of [...entries].sort((a, b) => compareNames(a.name, b.name))) {
    hash.update(`${entry.kind}\0${entry.name}\0`, "utf8");
  }
  return hash.digest("hex");
}

/** Validates `getPartial`'s range (a programming error, not a KV error, when wrong). */
export function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`getPartial: offset ${offset} is not a non-negative integer`);
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`getPartial: length ${length} is not a non-negative integer`);
}
