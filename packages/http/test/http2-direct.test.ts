/**
 * node:http2 over asSocket(flow) on the direct stack: two of our stacks joined by the in-memory
 * switch, in real time (Node's timers), an http2 server on one and a client on the other, several
 * concurrent streams with bodies both ways, checked by SHA-256.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http2 from "node:http2";
import { performance } from "node:perf_hooks";
import { after, before, test } from "node:test";
import { Ipv4Address, Ipv4Prefix, asSocket, type MonotonicClock, type Random, type Time } from "@mirage-ts/runtime";
import { createDirectStack, createSwitch, silentLog, type DirectStack } from "@mirage-ts/tcpip";

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

const time: Time = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  schedule(ms, fn) {
    const timer = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(timer) };
  },
  disconnect: async () => {},
};
const clock: MonotonicClock = { now: () => performance.now(), elapsedNs: () => Math.round(performance.now() * 1e6), disconnect: async () => {} };
const random: Random = {
  fill: (into) => {
    into.set(randomBytes(into.length));
    return into;
  },
  bytes: (length) => new Uint8Array(randomBytes(length)),
  uint32: () => randomBytes(4).readUInt32LE(0),
  disconnect: async () => {},
};

let client: DirectStack;
let server: DirectStack;

before(() => {
  const sw = createSwitch({ time });
  const stack = (address: string) => createDirectStack({ netif: sw.connect(), clock, time, random, ipv4: { address: Ipv4Prefix.of(address) }, log: silentLog });
  client = stack("10.0.0.1/24");
  server = stack("10.0.0.2/24");
});
after(async () => {
  await client?.disconnect();
  await server?.disconnect();
});

test("http2: concurrent streams with bodies both ways over asSocket on two direct stacks, SHA-256 checked", async () => {
  const h2 = http2.createServer();
  h2.on("stream", (stream, headers) => {
    const hash = createHash("sha256");
    let length = 0;
    stream.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    stream.on("end", () => {
      // The reply: a body of its own, as long as the request asked, with both hashes in headers.
      const reply = randomBytes(Number(headers["x-reply-length"]));
      stream.respond({ ":status": 200, "x-request-sha256": hash.digest("hex"), "x-request-length": String(length), "x-reply-sha256": sha256(reply) });
      stream.end(reply);
    });
  });
  server.tcp.listen(80, (flow) => {
    h2.emit("connection", asSocket(flow));
  });

  const flow = await client.tcp.connect(Ipv4Address.of("10.0.0.2"), 80);
  const session = http2.connect("http://10.0.0.2", { createConnection: () => asSocket(flow) });
  session.on("error", (e) => assert.fail(e));

  const sizes: Array<[number, number]> = [
    [0, 10],
    [1_000, 1_000_000],
    [3_000_000, 5],
    [200_000, 200_000],
    [65_535, 65_537],
    [1 << 20, 1 << 20],
  ];
  const results = await Promise.all(
    sizes.map(
      ([up, down]) =>
        new Promise<{ up: number; down: number; sentHash: string; headers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
          const body = randomBytes(up);
          const req = session.request({ ":method": "POST", ":path": `/echo/${up}`, "x-reply-length": String(down) });
          const chunks: Buffer[] = [];
          let headers: http2.IncomingHttpHeaders = {};
          req.on("response", (h) => (headers = h));
          req.on("data", (c: Buffer) => chunks.push(c));
          req.on("end", () => resolve({ up, down, sentHash: sha256(body), headers, body: Buffer.concat(chunks) }));
          req.on("error", reject);
          req.end(body);
        }),
    ),
  );
  for (const r of results) {
    assert.equal(r.headers[":status"], 200);
    assert.equal(r.headers["x-request-length"], String(r.up), `the server got the ${r.up}-byte request body`);
    assert.equal(r.headers["x-request-sha256"], r.sentHash, `the ${r.up}-byte request body arrived intact`);
    assert.equal(r.body.length, r.down);
    assert.equal(sha256(r.body), r.headers["x-reply-sha256"], `the ${r.down}-byte reply arrived intact`);
  }
  await new Promise<void>((resolve) => session.close(resolve));
  await new Promise<void>((resolve) => h2.close(() => resolve()));
});
