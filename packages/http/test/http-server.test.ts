import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Agent, get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from "node:net";
import { once } from "node:events";
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ipv4Prefix, Ipv6Prefix, type Endpoint } from "@mirage-ts/runtime";
import { connectCrunchKv, connectSocketStack, type SocketStackV4V6 } from "@mirage-ts/unix";
import { connectHttpServer, serveKv, tlsFromKv } from "@mirage-ts/http";
import { makeCertificate } from "../../../test/helpers/certificate.ts";

let dir: string;
let cert: Buffer;
let key: Buffer;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "mirage-http-"));
  ({ cert, key } = makeCertificate(dir, ["DNS:localhost", "IP:127.0.0.1"]));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function loopbackStack(): Promise<SocketStackV4V6> {
  return connectSocketStack({ ipv4: Ipv4Prefix.of("127.0.0.1/8"), ipv6: Ipv6Prefix.of("::1/128"), ipv4Only: false, ipv6Only: false });
}

async function text(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

const url = (scheme: string, e: Endpoint, path = "/") =>
  `${scheme}://${e.address.family === 6 ? `[${e.address}]` : e.address}:${e.port}${path}`;

function run(file: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

test("http server: Node's http client over the socket stack on 127.0.0.1 and ::1", async () => {
  const stack = await loopbackStack();
  const http = connectHttpServer({ stack });
  http.listen(0, (req, res) => res.end(`${req.method} ${req.url} from ${req.socket.remoteAddress}`));
  const endpoints = await stack.tcp.whenListening(0);
  assert.equal(endpoints.length, 2);
  for (const endpoint of endpoints) {
    const res = await new Promise<IncomingMessage>((resolve, reject) => httpGet(url("http", endpoint, "/x?y"), resolve).on("error", reject));
    assert.equal(res.statusCode, 200);
    assert.equal(await text(res), `GET /x?y from ${endpoint.address}`);
  }
  await http.disconnect();
  await stack.disconnect();
});

test("http server: keep-alive, a failing handler answers 500 and the server goes on", async () => {
  const stack = await loopbackStack();
  const http = connectHttpServer({ stack });
  http.listen(0, async (req, res) => {
    if (req.url === "/throw") throw new Error("handler bug");
    res.end(`${req.socket.remotePort}`);
  });
  const [endpoint] = await stack.tcp.whenListening(0);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const fetchOne = (path: string) =>
    new Promise<IncomingMessage>((resolve, reject) => httpGet(url("http", endpoint!, path), { agent }, resolve).on("error", reject));
  const a = await text(await fetchOne("/a"));
  const b = await text(await fetchOne("/b"));
  assert.equal(a, b, "both requests used one connection");
  const failed = await fetchOne("/throw");
  assert.equal(failed.statusCode, 500);
  await text(failed);
  assert.equal((await fetchOne("/c")).statusCode, 200);
  agent.destroy();
  await http.disconnect();
  await stack.disconnect();
});

test("http server: disconnect closes open connections and the port", async () => {
  const stack = await loopbackStack();
  const http = connectHttpServer({ stack });
  const server = http.listen(0, (_req, res) => res.end("ok"));
  const [endpoint] = await stack.tcp.whenListening(0);
  const idle = netConnect({ host: "127.0.0.1", port: endpoint!.port });
  await once(idle, "connect");
  idle.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await once(idle, "data");
  const closed = once(idle, "close");
  const serverClosed = once(server, "close");
  await http.disconnect();
  await closed;
  await serverClosed;
  const refused = netConnect({ host: "127.0.0.1", port: endpoint!.port });
  const [error] = (await once(refused, "error")) as [NodeJS.ErrnoException];
  assert.equal(error.code, "ECONNREFUSED");
  await stack.disconnect();
});

test("http server: a slow client is cut off by Node's headersTimeout", async () => {
  const stack = await loopbackStack();
  const http = connectHttpServer({ stack });
  http.listen(0, (_req, res) => res.end("ok"), { headersTimeout: 200, requestTimeout: 300, connectionsCheckingInterval: 50 });
  const [endpoint] = await stack.tcp.whenListening(0);
  const slow = netConnect({ host: "127.0.0.1", port: endpoint!.port });
  slow.write("GET / HTTP/1.1\r\n");
  const chunks: Buffer[] = [];
  slow.on("data", (c: Buffer) => chunks.push(c));
  await once(slow, "close");
  assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 408/);
  await http.disconnect();
  await stack.disconnect();
});

test("http server: a static site from a crunch KV over the stack, with a large file", async () => {
  const stack = await loopbackStack();
  const http = connectHttpServer({ stack });
  const big = Buffer.alloc(5 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
  const kv = connectCrunchKv({
    files: {
      "/big.bin": { base64: big.toString("base64"), mtimeMs: 1700000000000 },
      "/index.html": { base64: Buffer.from("<p>hi</p>").toString("base64"), mtimeMs: 1700000000000 },
    },
  });
  http.listen(0, serveKv(kv));
  const [endpoint] = await stack.tcp.whenListening(0);
  const res = await new Promise<IncomingMessage>((resolve, reject) => httpGet(url("http", endpoint!), resolve).on("error", reject));
  assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
  assert.equal(await text(res), "<p>hi</p>");
  const download = await new Promise<IncomingMessage>((resolve, reject) => httpGet(url("http", endpoint!, "/big.bin"), resolve).on("error", reject));
  const chunks: Buffer[] = [];
  for await (const c of download) chunks.push(c as Buffer);
  assert.ok(Buffer.concat(chunks).equals(big));
  await http.disconnect();
  await stack.disconnect();
});

test("tlsFromKv: reads the pair, names a missing file, refuses a mismatched pair", async () => {
  const b64 = (b: Buffer) => ({ base64: b.toString("base64"), mtimeMs: 0 });
  const kv = connectCrunchKv({ files: { "/server.pem": b64(cert), "/server.key": b64(key), "/tls/cert.pem": b64(cert) } });
  const pair = await tlsFromKv(kv);
  assert.deepEqual(Buffer.from(pair.cert), cert);
  assert.deepEqual(Buffer.from(pair.key), key);
  await assert.rejects(tlsFromKv(kv, { certificate: "tls/cert.pem", key: "tls/cert.key" }), /private key "tls\/cert.key" is not in the KV store/);
  await assert.rejects(tlsFromKv(connectCrunchKv({ files: { "/server.key": b64(key) } })), /certificate "server.pem" is not in the KV store/);
  const otherKey = execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
  await assert.rejects(
    tlsFromKv(connectCrunchKv({ files: { "/server.pem": b64(cert), "/server.key": b64(otherKey) } })),
    /certificate "server.pem" and key "server.key" from the KV store are not usable/,
  );
});

async function tlsServer(): Promise<{ stack: SocketStackV4V6; http: ReturnType<typeof connectHttpServer>; endpoint: Endpoint }> {
  const stack = await loopbackStack();
  const http = connectHttpServer({ stack });
  const kv = connectCrunchKv({
    files: {
      "/server.pem": { base64: cert.toString("base64"), mtimeMs: 0 },
      "/server.key": { base64: key.toString("base64"), mtimeMs: 0 },
    },
  });
  http.listenTls(0, await tlsFromKv(kv), (req, res) => {
    res.setHeader("content-type", "text/plain");
    res.end(`secure ${req.url} from ${req.socket.remoteAddress}`);
  });
  const endpoints = await stack.tcp.whenListening(0);
  return { stack, http, endpoint: endpoints.find((e) => e.address.family === 4)! };
}

test("https: Node's https client, with and without the CA", async () => {
  const { stack, http, endpoint } = await tlsServer();
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    httpsGet({ host: "127.0.0.1", port: endpoint.port, path: "/n", servername: "localhost", ca: cert }, resolve).on("error", reject),
  );
  assert.equal(await text(res), "secure /n from 127.0.0.1");
  await assert.rejects(
    new Promise((resolve, reject) => httpsGet({ host: "127.0.0.1", port: endpoint.port, servername: "localhost" }, resolve).on("error", reject)),
    /self[- ]signed|unable to verify/i,
  );
  await http.disconnect();
  await stack.disconnect();
});

test("https: curl --cacert negotiates http/1.1 by ALPN", { skip: !existsSync("/usr/bin/curl") && "curl is not installed" }, async () => {
  const { stack, http, endpoint } = await tlsServer();
  const result = await run("/usr/bin/curl", [
    "-sS", "-v", "--cacert", join(dir, "server.pem"),
    "--resolve", `localhost:${endpoint.port}:127.0.0.1`,
    `https://localhost:${endpoint.port}/curl`,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "secure /curl from 127.0.0.1");
  assert.match(result.stderr, /ALPN: server accepted http\/1\.1|ALPN, server accepted to use http\/1\.1/);
  await http.disconnect();
  await stack.disconnect();
});

test("https: openssl s_client verifies the certificate and gets an answer", { skip: !existsSync("/usr/bin/openssl") && "openssl is not installed" }, async () => {
  const { stack, http, endpoint } = await tlsServer();
  const child = spawn("/usr/bin/openssl", [
    "s_client", "-connect", `127.0.0.1:${endpoint.port}`, "-servername", "localhost",
    "-CAfile", join(dir, "server.pem"), "-alpn", "http/1.1", "-verify_return_error", "-ign_eof",
  ]);
  const out: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => out.push(c));
  child.stdin.end("GET /s_client HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  const [code] = (await once(child, "exit")) as [number];
  const output = Buffer.concat(out).toString();
  assert.equal(code, 0, output);
  assert.match(output, /Verify return code: 0 \(ok\)/);
  assert.match(output, /ALPN protocol: http\/1\.1/);
  assert.match(output, /HTTP\/1\.1 200 OK/);
  assert.match(output, /secure \/s_client from 127\.0\.0\.1/);
  await http.disconnect();
  await stack.disconnect();
});

/** A port free on both families now (bound on the dual-stack wildcard, then released). */
async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, "::");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

test("http and https side by side on one stack", async () => {
  const stack = await loopbackStack();
  const http = connectHttpServer({ stack });
  http.listen(0, (_req, res) => res.end("plain"));
  const tlsPort = await freePort();
  http.listenTls(tlsPort, { cert, key }, (_req, res) => res.end("tls"));
  const [plain] = await stack.tcp.whenListening(0);
  await stack.tcp.whenListening(tlsPort);
  const a = await new Promise<IncomingMessage>((resolve, reject) => httpGet(url("http", plain!), resolve).on("error", reject));
  assert.equal(await text(a), "plain");
  const b = await new Promise<IncomingMessage>((resolve, reject) =>
    httpsGet({ host: "::1", port: tlsPort, servername: "localhost", ca: cert }, resolve).on("error", reject),
  );
  assert.equal(await text(b), "tls");
  assert.throws(() => http.listen(tlsPort, () => undefined), /already served/);
  await http.disconnect();
  await stack.disconnect();
});
