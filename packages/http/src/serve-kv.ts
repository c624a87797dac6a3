/**
 * A static file handler over a read-only KV store (the static-website example's handler).
 *
 * GET and HEAD only (405 with Allow otherwise). "/" and any directory serve their index file;
 * a directory asked for without its trailing '/' is redirected (301) to it, so that relative
 * links in its index resolve. Missing paths are 404; a path that could leave the store
 * (request-path.ts) is 400. Responses carry Content-Type by extension, Content-Length, a strong
 * ETag from the store's digest and Last-Modified; If-None-Match (or, without it,
 * If-Modified-Since) answers 304.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { KvError, createLogSource, type KvRo } from "@mirage-ts/runtime";
import { contentTypeOf } from "./content-type.ts";
import { formatRequestPath, parseRequestPath } from "./request-path.ts";

const log = createLogSource("http.static", "the static file handler (serveKv)");

export interface ServeKvOptions {
  /** The file served for "/" and for directories; default "index.html". */
  index?: string;
}

const ALLOW = "GET, HEAD";

export function serveKv(kv: KvRo, opts: ServeKvOptions = {}): RequestListener {
  const index = opts.index ?? "index.html";
  return (req, res) => {
    serve(kv, index, req, res).catch((e: unknown) => {
      log.err(`${req.method} ${req.url}: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) plain(res, 500, "Internal server error");
      else res.destroy();
    });
  };
}

async function serve(kv: KvRo, index: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("Allow", ALLOW);
    return plain(res, 405, "Method not allowed");
  }
  const parsed = parseRequestPath(req.url);
  if (!parsed.ok) {
    log.debug(`${req.url}: ${parsed.error}`);
    return plain(res, 400, "Bad request");
  }
  const { segments, trailingSlash, query } = parsed.value;
  const key = `/${segments.join("/")}`;
  try {
    const kind = await kv.exists(key);
    if (kind === null) return plain(res, 404, "Not found");
    if (kind === "value") {
      if (trailingSlash) return plain(res, 404, "Not found");
      return await sendValue(kv, key, req, res);
    }
    if (!trailingSlash && segments.length > 0) {
      res.setHeader("Location", formatRequestPath(segments, true) + query);
      return plain(res, 301, "Moved permanently");
    }
    const indexKey = `${key === "/" ? "" : key}/${index}`;
    if ((await kv.exists(indexKey)) !== "value") return plain(res, 404, "Not found");
    return await sendValue(kv, indexKey, req, res);
  } catch (e) {
    if (e instanceof KvError) {
      if (e.code === "invalid-key") return plain(res, 400, "Bad request");
      // Gone between exists and get (a direct store changing under us).
      if (e.code === "not-found" || e.code === "value-expected" || e.code === "dictionary-expected") return plain(res, 404, "Not found");
    }
    throw e;
  }
}

async function sendValue(kv: KvRo, key: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const [digest, lastModified] = await Promise.all([kv.digest(key), kv.lastModified(key)]);
  const etag = `"${digest}"`;
  res.setHeader("ETag", etag);
  res.setHeader("Last-Modified", new Date(lastModified).toUTCString());
  res.setHeader("X-Content-Type-Options", "nosniff");
  if (notModified(req, etag, lastModified)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader("Content-Type", contentTypeOf(key));
  if (req.method === "HEAD") {
    res.setHeader("Content-Length", await kv.size(key));
    res.end();
    return;
  }
  const data = await kv.get(key);
  res.setHeader("Content-Length", data.length);
  res.end(data);
}

/** RFC 9110 §13.1: If-None-Match (weak comparison) wins over If-Modified-Since. */
function notModified(req: IncomingMessage, etag: string, lastModified: number): boolean {
  const ifNoneMatch = req.headers["if-none-match"];
  if (ifNoneMatch !== undefined) {
    const tags = ifNoneMatch.split(",").map((t) => t.trim());
    return tags.some((t) => t === "*" || t.replace(/^W\//, "") === etag);
  }
  const ifModifiedSince = req.headers["if-modified-since"];
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    // HTTP dates have whole seconds.
    return Number.isFinite(since) && Math.floor(lastModified / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

function plain(res: ServerResponse, status: number, text: string): void {
  const body = `${text}\n`;
  res.statusCode = status;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(res.req?.method === "HEAD" ? undefined : body);
}
