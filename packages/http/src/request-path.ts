/**
 * The path of an HTTP request target, decoded and checked before it may name anything in a
 * store. Never throws: it returns a Result whose error says why the target is refused (400).
 *
 * Refused: a target that is not origin-form ("/..."), malformed percent-encoding, and any segment
 * that after decoding is "..", contains a NUL, a backslash (a separator on some systems) or a '/'
 * (an encoded "%2F" would otherwise move the segment boundaries the checks were made on).
 * Empty and "." segments are dropped, as a KV key drops them.
 */
import { type Result, ok, err } from "@mirage-ts/runtime";

export interface RequestPath {
  /** The decoded segments, none empty, ".", or "..". */
  segments: string[];
  /** Whether the target's path ended with '/' (asks for a directory). */
  trailingSlash: boolean;
  /** The query string with its '?', or "". */
  query: string;
}

export function parseRequestPath(target: string | undefined): Result<RequestPath, string> {
  if (target === undefined || !target.startsWith("/")) return err(`the request target ${JSON.stringify(target)} is not a path`);
  const hash = target.indexOf("#");
  const withoutFragment = hash >= 0 ? target.slice(0, hash) : target;
  const q = withoutFragment.indexOf("?");
  const path = q >= 0 ? withoutFragment.slice(0, q) : withoutFragment;
  const query = q >= 0 ? withoutFragment.slice(q) : "";
  const segments: string[] = [];
  for (const raw of path.split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return err(`the path segment ${JSON.stringify(raw)} is not valid percent-encoding`);
    }
    if (segment === "" || segment === ".") continue;
    if (segment === "..") return err("the path contains a '..' segment");
    if (segment.includes("\0")) return err("the path contains a NUL byte");
    if (segment.includes("\\")) return err("the path contains a backslash");
    if (segment.includes("/")) return err("the path contains an encoded '/'");
    segments.push(segment);
  }
  return ok({ segments, trailingSlash: path.endsWith("/"), query });
}

/** The canonical, percent-encoded text of a decoded path (for a Location header: never "//host"). */
export function formatRequestPath(segments: readonly string[], trailingSlash: boolean): string {
  const body = segments.map(encodeURIComponent).join("/");
  return `/${body}${trailingSlash && body !== "" ? "/" : ""}`;
}
