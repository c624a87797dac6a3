import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, request, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { TLSSocket, connect as tlsConnect, createSecureContext } from "node:tls";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlowError, Ipv6Address, Ipv4Address, asSocket, createFlowPair, type Flow } from "@mirage-ts/runtime";
import { makeCertificate } from "../../../test/helpers/certificate.ts";

const settle = async (ticks = 50) => {
  for (let i = 0; i < ticks; i++) await new Promise((r) => setImmediate(r));
};

async function readFlow(flow: Flow): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for (let c = await flow.read(); c !== null; c = await flow.read()) chunks.push(c);
  return Buffer.concat(chunks);
}

async function body(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// ---------------------------------------------------------------------------------------------
// The flow pair

test("flow pair: bytes cross in order; endpoints mirror each other", async () => {
  const [a, b] = createFlowPair();
  assert.equal(a.local, b.remote);
  assert.equal(a.remote, b.local);
  const data = Buffer.from("hello");
  await a.write(data);
  data.fill(0); // the pair copied it
  await a.writev([Buffer.from(" "), Buffer.from("world")]);
  await a.shutdown("write");
  assert.equal((await readFlow(b)).toString(), "hello world");
  assert.equal(await b.read(), null);
  await assert.rejects(a.write(Buffer.from("x")), (e: unknown) => e instanceof FlowError && e.code === "closed");
  // The other direction is still open after a's half-close.
  await b.write(Buffer.from("reply"));
  assert.equal(Buffer.from((await a.read())!).toString(), "reply");
});

test("flow pair: a write larger than the buffer waits for the reader", async () => {
  const [a, b] = createFlowPair({ capacity: 1024 });
  let done = false;
  const writing = a.write(Buffer.alloc(10_000, 1)).then(() => (done = true));
  await settle();
  assert.equal(done, false);
  let received = 0;
  while (received < 10_000) {
    const chunk = await b.read();
    assert.ok(chunk && chunk.length <= 1024);
    received += chunk.length;
  }
  await writing;
  assert.equal(done, true);
});

test("flow pair: close gives the peer end-of-stream and resets its later writes", async () => {
  const [a, b] = createFlowPair();
  await a.write(Buffer.from("last words"));
  await a.close();
  assert.equal((await readFlow(b)).toString(), "last words");
  await assert.rejects(b.write(Buffer.from("x")), (e: unknown) => e instanceof FlowError && e.code === "reset");
  assert.equal(await a.read(), null);
  await assert.rejects(a.write(Buffer.from("x")), (e: unknown) => e instanceof FlowError && e.code === "closed");
});

test("flow pair: shutdown('read') drops what arrives", async () => {
  const [a, b] = createFlowPair();
  await b.shutdown("read");
  await a.write(Buffer.alloc(200_000)); // more than the buffer: it would block if kept
  assert.equal(await b.read(), null);
});

// ---------------------------------------------------------------------------------------------
// asSocket basics

test("asSocket: addresses, families and net.Socket's surface", () => {
  const [a] = createFlowPair({
    a: { address: Ipv6Address.of("2001:db8::1"), port: 1234 },
    b: { address: Ipv4Address.of("10.0.0.2"), port: 80 },
  });
  const socket = asSocket(a);
  assert.equal(socket.localAddress, "2001:db8::1");
  assert.equal(socket.localPort, 1234);
  assert.equal(socket.localFamily, "IPv6");
  assert.equal(socket.remoteAddress, "10.0.0.2");
  assert.equal(socket.remotePort, 80);
  assert.equal(socket.remoteFamily, "IPv4");
  assert.deepEqual(socket.address(), { address: "2001:db8::1", family: "IPv6", port: 1234 });
  assert.equal(socket.connecting, false);
  assert.equal(socket.readyState, "open");
  assert.equal(socket.setNoDelay(true), socket);
  assert.equal((a as unknown as { noDelay: boolean }).noDelay, true);
  socket.setKeepAlive(true, 5000);
  assert.deepEqual((a as unknown as { keepAlive: unknown }).keepAlive, { enable: true, idleMs: 5000 });
  assert.equal(socket.ref(), socket);
  assert.equal(socket.unref(), socket);
  socket.destroy();
});

test("asSocket: bytes both ways with counters; end() half-closes the flow", async () => {
  const [a, b] = createFlowPair();
  const socket = asSocket(a, { allowHalfOpen: true });
  const closed = once(socket, "close");
  const received: Buffer[] = [];
  socket.on("data", (c: Buffer) => received.push(c));
  socket.write("ping");
  socket.end();
  assert.equal((await readFlow(b)).toString(), "ping");
  // Half-closed: the socket still reads.
  await b.write(Buffer.from("pong"));
  await b.shutdown("write");
  await once(socket, "end");
  assert.equal(Buffer.concat(received).toString(), "pong");
  assert.equal(socket.bytesRead, 4);
  assert.equal(socket.bytesWritten, 4);
  // Both directions are done: the socket frees itself.
  await closed;
});

test("asSocket: without allowHalfOpen the peer's end ends this side too (net.Socket's default)", async () => {
  const [a, b] = createFlowPair();
  const socket = asSocket(a);
  socket.resume();
  await b.shutdown("write");
  await once(socket, "close");
  assert.equal(await b.read(), null);
});

test("asSocket: a socket that is not read stops reading the flow (back-pressure)", async () => {
  const [a, b] = createFlowPair({ capacity: 16 * 1024 });
  const socket = asSocket(a);
  socket.pause();
  let accepted = 0;
  let stop = false;
  const writing = (async () => {
    const chunk = Buffer.alloc(4096);
    while (!stop) {
      await b.write(chunk);
      accepted += chunk.length;
    }
  })().catch(() => undefined);
  await settle(200);
  const stalledAt = accepted;
  // Bounded by the pair's buffer plus the socket's readable buffer, not by what the writer offers.
  assert.ok(stalledAt < 256 * 1024, `${stalledAt} bytes accepted by a paused socket`);
  await settle(200);
  assert.equal(accepted, stalledAt);
  stop = true;
  socket.resume();
  await settle(50);
  assert.ok(accepted > stalledAt);
  socket.destroy();
  await writing;
});

test("asSocket: setTimeout emits 'timeout' after idleness; activity postpones it; 0 disables", async () => {
  const [a, b] = createFlowPair();
  const socket = asSocket(a);
  socket.resume();
  // The socket's timer is unref'd (as net.Socket's) and an in-memory flow holds no handle: keep the loop alive.
  const alive = setInterval(() => undefined, 1000);
  let timeouts = 0;
  socket.setTimeout(30, () => timeouts++);
  await once(socket, "timeout");
  assert.equal(timeouts, 1);
  socket.setTimeout(0);
  await b.write(Buffer.from("x"));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(timeouts, 1);
  socket.destroy();
  clearInterval(alive);
});

test("asSocket: destroy closes the flow; the peer sees the end and its writes are reset", async () => {
  const [a, b] = createFlowPair();
  const socket = asSocket(a);
  socket.destroy();
  await once(socket, "close");
  assert.equal(socket.readyState, "closed");
  assert.equal(await b.read(), null);
  await assert.rejects(b.write(Buffer.from("x")), (e: unknown) => e instanceof FlowError && e.code === "reset");
});

test("asSocket: a write the flow refuses is an 'error' on the socket", async () => {
  const [a, b] = createFlowPair();
  await b.close();
  const socket = asSocket(a);
  socket.write("into the void");
  const [error] = (await once(socket, "error")) as [FlowError];
  assert.ok(error instanceof FlowError);
  assert.equal(error.code, "reset");
});

// ---------------------------------------------------------------------------------------------
// Node's HTTP and TLS over flows

test("asSocket: http.Server and http.request over a flow pair, keep-alive requests", async () => {
  const server = createServer((req, res) => {
    res.setHeader("x-remote", `${req.socket.remoteAddress}:${req.socket.remotePort}`);
    res.end(`${req.method} ${req.url}`);
  });
  const [client, served] = createFlowPair();
  server.emit("connection", asSocket(served));
  const socket = asSocket(client);
  const get = (path: string) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ path, createConnection: () => socket, headers: { connection: "keep-alive" } }, resolve);
      req.on("error", reject);
      req.end();
    });
  const first = await get("/one");
  assert.equal((await body(first)).toString(), "GET /one");
  assert.equal(first.headers["x-remote"], "192.0.2.1:49152");
  const second = await get("/two");
  assert.equal((await body(second)).toString(), "GET /two");
  socket.destroy();
  server.close();
});

test("asSocket: several megabytes each way through HTTP with back-pressure", async () => {
  const size = 6 * 1024 * 1024;
  const upload = pattern(size, 1);
  const download = pattern(size, 2);
  const server = createServer(async (req, res) => {
    const got = await body(req);
    res.setHeader("x-upload-sha", sha(got));
    res.setHeader("content-length", download.length);
    res.end(download);
  });
  const [client, served] = createFlowPair({ capacity: 32 * 1024 });
  server.emit("connection", asSocket(served));
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ method: "POST", path: "/", createConnection: () => asSocket(client) }, resolve);
    req.on("error", reject);
    req.end(upload);
  });
  assert.equal(res.headers["x-upload-sha"], sha(upload));
  const got = await body(res);
  assert.equal(got.length, size);
  assert.ok(got.equals(download));
  server.close();
});

test("asSocket: a client that half-closes after its request still gets the response", async () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => setImmediate(() => res.end("answered after the client's FIN")));
  });
  // Node's HTTP server answers a half-closed client only when told to (as over net.Socket).
  (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  const [client, served] = createFlowPair();
  server.emit("connection", asSocket(served, { allowHalfOpen: true }));
  await client.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  await client.shutdown("write");
  const response = (await readFlow(client)).toString();
  assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(response.endsWith("answered after the client's FIN"));
  server.close();
});

test("asSocket: the HTTP server destroys the flow of a client that sends garbage", async () => {
  const server = createServer(() => assert.fail("no request"));
  const [client, served] = createFlowPair();
  server.emit("connection", asSocket(served));
  await client.write(Buffer.from("NOT HTTP AT ALL\r\n\r\n"));
  const response = (await readFlow(client)).toString();
  assert.match(response, /^HTTP\/1\.1 400 Bad Request/);
  server.close();
});

let tlsDir: string;
let cert: Buffer;
let key: Buffer;
before(() => {
  tlsDir = mkdtempSync(join(tmpdir(), "mirage-tls-"));
  ({ cert, key } = makeCertificate(tlsDir, ["DNS:localhost"]));
});
after(() => rmSync(tlsDir, { recursive: true, force: true }));

test("asSocket: TLS server and client sockets over a flow pair", async () => {
  const [client, served] = createFlowPair();
  const server = new TLSSocket(asSocket(served), { isServer: true, secureContext: createSecureContext({ cert, key }) });
  server.on("data", (c: Buffer) => server.write(c.toString().toUpperCase()));
  const tls = tlsConnect({ socket: asSocket(client), ca: cert, servername: "localhost" });
  await once(tls, "secureConnect");
  assert.equal(tls.authorized, true);
  tls.write("secret hello");
  const [reply] = (await once(tls, "data")) as [Buffer];
  assert.equal(reply.toString(), "SECRET HELLO");
  tls.destroy();
  server.destroy();
});

test("asSocket: a client that does not trust the certificate fails the handshake", async () => {
  const [client, served] = createFlowPair();
  const server = new TLSSocket(asSocket(served), { isServer: true, secureContext: createSecureContext({ cert, key }) });
  server.on("error", () => undefined);
  const tls = tlsConnect({ socket: asSocket(client), servername: "localhost" });
  const [error] = (await once(tls, "error").catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
  assert.match(String(error.code ?? error), /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
  server.destroy();
});

test("asSocket: HTTPS (http.Server over TLSSocket) with large bodies over a flow pair", async () => {
  const size = 3 * 1024 * 1024;
  const payload = pattern(size, 3);
  const server = createServer(async (req, res) => {
    const got = await body(req);
    res.end(JSON.stringify({ sha: sha(got), encrypted: (req.socket as TLSSocket).encrypted === true, alpn: (req.socket as TLSSocket).alpnProtocol }));
  });
  const [client, served] = createFlowPair();
  const tlsServer = new TLSSocket(asSocket(served), {
    isServer: true,
    secureContext: createSecureContext({ cert, key }),
    ALPNProtocols: ["http/1.1"],
  });
  server.emit("connection", tlsServer);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpsRequest(
      {
        method: "POST",
        path: "/",
        createConnection: () => tlsConnect({ socket: asSocket(client), ca: cert, servername: "localhost", ALPNProtocols: ["http/1.1"] }),
      },
      resolve,
    );
    req.on("error", reject);
    req.end(payload);
  });
  const answer = JSON.parse((await body(res)).toString()) as { sha: string; encrypted: boolean; alpn: string };
  assert.deepEqual(answer, { sha: sha(payload), encrypted: true, alpn: "http/1.1" });
  server.close();
});
