import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { connect as netConnect, type AddressInfo } from "node:net";
import { once } from "node:events";
import { mkdtemp, mkdir, writeFile, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { connectDirectKv } from "@mirage-ts/unix";
import { contentTypeOf, formatRequestPath, parseRequestPath, serveKv } from "@mirage-ts/http";

const MTIME = new Date("2023-11-14T22:13:20Z");
const SECRET = "the secret outside the store";

let base: string;
let server: Server;
let port: number;

before(async () => {
  base = await mkdtemp(join(tmpdir(), "mirage-serve-"));
  const root = join(base, "htdocs");
  const files: Record<string, string> = {
    "index.html": "<h1>home</h1>",
    "site.css": "body{}",
    "app.js": "1",
    "data.json": "{}",
    "logo.svg": "<svg/>",
    "img.png": "png",
    "photo.jpg": "jpg",
    "anim.gif": "gif",
    "favicon.ico": "ico",
    "notes.txt": "notes",
    "mod.wasm": "wasm",
    "font.woff2": "woff2",
    "blob.bin": "bin",
    "README": "no extension",
    "hello world.txt": "spaced",
    "café.txt": "accent",
    "docs/index.html": "<h1>docs</h1>",
    "docs/page.html": "page",
    "empty/.keep": "",
    "evil.example/index.html": "not a redirect target",
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), content);
    await utimes(join(root, path), MTIME, MTIME);
  }
  await writeFile(join(base, "secret.txt"), SECRET);
  server = createServer(serveKv(connectDirectKv({ root })));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.close();
  await rm(base, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, async (res) => {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sends a request line as is (no client-side normalisation) and returns the status line and body. */
async function raw(target: string): Promise<{ status: number; text: string }> {
  const socket = netConnect({ host: "127.0.0.1", port });
  socket.end(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  await once(socket, "close");
  const text = Buffer.concat(chunks).toString("latin1");
  return { status: Number(text.split(" ")[1]), text };
}

test("serveKv: content types by extension", async () => {
  const expected: Record<string, string> = {
    "/index.html": "text/html; charset=utf-8",
    "/site.css": "text/css; charset=utf-8",
    "/app.js": "text/javascript; charset=utf-8",
    "/data.json": "application/json",
    "/logo.svg": "image/svg+xml",
    "/img.png": "image/png",
    "/photo.jpg": "image/jpeg",
    "/anim.gif": "image/gif",
    "/favicon.ico": "image/x-icon",
    "/notes.txt": "text/plain; charset=utf-8",
    "/mod.wasm": "application/wasm",
    "/font.woff2": "font/woff2",
    "/blob.bin": "application/octet-stream",
    "/README": "application/octet-stream",
  };
  for (const [path, type] of Object.entries(expected)) {
    const reply = await get(path);
    assert.equal(reply.status, 200, path);
    assert.equal(reply.headers["content-type"], type, path);
    assert.equal(reply.headers["x-content-type-options"], "nosniff");
  }
  assert.equal(contentTypeOf("/a/B.PNG"), "image/png");
  assert.equal(contentTypeOf("/.hidden"), "application/octet-stream");
});

test("serveKv: index files for / and directories; a directory without '/' is redirected", async () => {
  const home = await get("/");
  assert.equal(home.status, 200);
  assert.equal(home.body, "<h1>home</h1>");
  assert.equal(home.headers["content-length"], String("<h1>home</h1>".length));
  assert.equal((await get("/?x=1")).body, "<h1>home</h1>");
  assert.equal((await get("/docs/")).body, "<h1>docs</h1>");
  const redirect = await get("/docs?q=1");
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, "/docs/?q=1");
  // A protocol-relative Location ("//evil.example/") would send the browser elsewhere.
  const sneaky = await get("//evil.example");
  assert.equal(sneaky.status, 301);
  assert.equal(sneaky.headers.location, "/evil.example/");
  assert.equal((await get("/empty/")).status, 404);
});

test("serveKv: 404 for missing paths and for a file asked as a directory", async () => {
  for (const path of ["/missing.html", "/docs/missing", "/index.html/", "/nope/"]) {
    const reply = await get(path);
    assert.equal(reply.status, 404, path);
    assert.equal(reply.body, "Not found\n");
  }
});

test("serveKv: 405 with Allow for other methods; HEAD has the headers and no body", async () => {
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    const reply = await get("/index.html", {}, method);
    assert.equal(reply.status, 405, method);
    assert.equal(reply.headers.allow, "GET, HEAD");
  }
  const head = await get("/site.css", {}, "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.body, "");
  assert.equal(head.headers["content-length"], "6");
  assert.equal(head.headers["content-type"], "text/css; charset=utf-8");
});

test("serveKv: percent-decoded paths", async () => {
  assert.equal((await get("/hello%20world.txt")).body, "spaced");
  assert.equal((await get("/caf%C3%A9.txt")).body, "accent");
  assert.equal((await get("/%69ndex.html")).body, "<h1>home</h1>");
  assert.equal((await get("/docs/./page.html")).body, "page");
});

test("serveKv: ETag, Last-Modified, If-None-Match and If-Modified-Since", async () => {
  const first = await get("/docs/page.html");
  const etag = first.headers.etag as string;
  assert.equal(etag, `"${createHash("sha256").update("page").digest("hex")}"`);
  assert.equal(first.headers["last-modified"], MTIME.toUTCString());
  for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
    const again = await get("/docs/page.html", { "if-none-match": inm });
    assert.equal(again.status, 304, inm);
    assert.equal(again.body, "");
    assert.equal(again.headers.etag, etag);
  }
  assert.equal((await get("/docs/page.html", { "if-none-match": '"other"' })).status, 200);
  assert.equal((await get("/docs/page.html", { "if-modified-since": MTIME.toUTCString() })).status, 304);
  assert.equal((await get("/docs/page.html", { "if-modified-since": new Date(MTIME.getTime() - 60_000).toUTCString() })).status, 200);
  // If-None-Match wins over If-Modified-Since.
  assert.equal((await get("/docs/page.html", { "if-none-match": '"other"', "if-modified-since": MTIME.toUTCString() })).status, 200);
});

test("serveKv: no way out of the store (each traversal attempt is 400 or 404)", async () => {
  const attempts = [
    "/../secret.txt",
    "/docs/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/docs/..%2fsecret.txt",
    "/docs/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/..\\secret.txt",
    "/docs\\..\\..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/index.html%00.txt",
    "/%00",
    "/%zz",
    "/%",
    "*",
    "http://x/../secret.txt",
  ];
  for (const target of attempts) {
    const reply = await raw(target);
    assert.ok(reply.status === 400 || reply.status === 404, `${target}: ${reply.status}`);
    assert.ok(!reply.text.includes(SECRET), target);
  }
  assert.equal((await raw("/%2e%2e/secret.txt")).status, 400);
  assert.equal((await raw("/..\\secret.txt")).status, 400);
  assert.equal((await raw("/index.html%00.txt")).status, 400);
  assert.equal((await raw("/%zz")).status, 400);
});

test("request paths: decoding and canonical form", () => {
  const parsed = parseRequestPath("/a%20b//./c/?q=1#f");
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, { segments: ["a b", "c"], trailingSlash: true, query: "?q=1" });
  assert.equal(formatRequestPath(["a b", "c"], true), "/a%20b/c/");
  assert.equal(formatRequestPath([], true), "/");
  for (const bad of ["/..", "/%2e%2E", "/a%2fb", "/a%5cb", "/a%00", "/%E0%A4%A", "relative", undefined]) {
    assert.equal(parseRequestPath(bad).ok, false, String(bad));
  }
});
