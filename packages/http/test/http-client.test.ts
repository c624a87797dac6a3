import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { Ipv4Address, Ipv4Prefix, Ipv6Prefix } from "@mirage-ts/runtime";
import { connectSocketStack, type SocketStackV4V6 } from "@mirage-ts/unix";
import { connectResolver, type Resolver } from "@mirage-ts/dns";
import { connectHttpClient, type HttpClient } from "@mirage-ts/http";
import { FakeDnsServer } from "../../dns/test/fake-dns-server.ts";
import { makeCertificate } from "../../../test/helpers/certificate.ts";

let dir: string;
let cert: Buffer;
let key: Buffer;
let dns: FakeDnsServer;
let stack: SocketStackV4V6;
let resolver: Resolver;
let client: HttpClient;
let plain: Server;
let secure: Server;
const requests: Array<{ method: string | undefined; url: string | undefined; host: string | undefined; body: string }> = [];

const handler: RequestListener = async (req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  requests.push({ method: req.method, url: req.url, host: req.headers.host, body: Buffer.concat(chunks).toString() });
  if (req.url === "/missing") {
    res.statusCode = 404;
    res.end("not here\n");
    return;
  }
  res.setHeader("X-Served-By", "test");
  // A body bigger than one read, with a recognisable pattern.
  res.end(Buffer.alloc(200_000, 0).map((_, i) => i % 251));
};

async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

let plainPort: number;
let securePort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "mirage-http-client-"));
  ({ cert, key } = makeCertificate(dir, ["DNS:web.test", "IP:127.0.0.1"]));
  dns = await FakeDnsServer.start({ "web.test": { A: ["127.0.0.1"] }, "www.web.test": { CNAME: "web.test" }, "other.test": { A: ["127.0.0.1"] } });
  stack = await connectSocketStack({ ipv4: Ipv4Prefix.of("127.0.0.1/8"), ipv6: Ipv6Prefix.of("::1/128"), ipv4Only: false, ipv6Only: false });
  resolver = connectResolver({ stack, resolver: Ipv4Address.localhost, port: dns.port, timeoutMs: 500 });
  client = connectHttpClient({ stack, resolver });
  plain = createHttpServer(handler);
  secure = createHttpsServer({ cert, key }, handler);
  plainPort = await listen(plain);
  securePort = await listen(secure);
});

after(async () => {
  await client.disconnect();
  await resolver.disconnect();
  await stack.disconnect();
  plain.close();
  secure.close();
  dns.close();
  rmSync(dir, { recursive: true, force: true });
});

const expectedBody = Buffer.alloc(200_000, 0).map((_, i) => i % 251);

test("GET over http: the name is resolved, status, headers and the whole body come back", async () => {
  const res = await client.request(`http://web.test:${plainPort}/index.html?x=1`);
  assert.equal(res.status, 200);
  assert.equal(res.headers["x-served-by"], "test");
  assert.deepEqual(Buffer.from(res.body), expectedBody);
  const seen = requests.at(-1)!;
  assert.equal(seen.url, "/index.html?x=1");
  assert.equal(seen.host, `web.test:${plainPort}`);
  assert.ok(dns.queries.some((q) => q.name === "web.test" && q.type === "A"));
});

test("POST with a body and headers, through a CNAME; a 404 is a response, not an error", async () => {
  const res = await client.request(new URL(`http://www.web.test:${plainPort}/missing`), {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "hello server",
  });
  assert.equal(res.status, 404);
  assert.equal(Buffer.from(res.body).toString(), "not here\n");
  assert.deepEqual(requests.at(-1), { method: "POST", url: "/missing", host: `www.web.test:${plainPort}`, body: "hello server" });
});

test("GET over https with the test CA: the certificate is checked against the name", async () => {
  const res = await client.request(`https://web.test:${securePort}/`, { ca: cert });
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(res.body), expectedBody);
});

test("https to an IP literal is checked against the certificate's IP SAN", async () => {
  const res = await client.request(`https://127.0.0.1:${securePort}/`, { ca: new Uint8Array(cert) });
  assert.equal(res.status, 200);
});

test("https fails when the certificate is not trusted or names another host", async () => {
  await assert.rejects(client.request(`https://web.test:${securePort}/`), /self-signed|self signed|unable to verify/i);
  await assert.rejects(client.request(`https://other.test:${securePort}/`, { ca: cert }), /other\.test|altnames/i);
});

test("an unknown name rejects with the resolver's error; a closed port with the stack's", async () => {
  await assert.rejects(client.request(`http://nowhere.test:${plainPort}/`), (e: Error & { code?: string }) => e.code === "nxdomain");
  const closed = await new Promise<number>((resolve) => {
    const s = createHttpServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  await assert.rejects(client.request(`http://web.test:${closed}/`), (e: Error & { code?: string }) => e.code === "refused");
});

test("a server that never answers is cut off by timeoutMs", async () => {
  const silent = createHttpServer(() => undefined);
  const port = await listen(silent);
  try {
    await assert.rejects(client.request(`http://web.test:${port}/`, { timeoutMs: 300 }), /within 300 ms/);
  } finally {
    silent.closeAllConnections();
    silent.close();
  }
});
