import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "@mirage-ts/runtime";
import { connectSocketStack, type SocketStackV4V6 } from "@mirage-ts/unix";
import { connectResolver, decodeReply, DnsError, followCnames, type Resolver } from "@mirage-ts/dns";
import { FakeDnsServer } from "./fake-dns-server.ts";

let server: FakeDnsServer;
let stack: SocketStackV4V6;

before(async () => {
  server = await FakeDnsServer.start({
    "web.test": { A: ["10.1.2.3", "10.1.2.4"], AAAA: ["fd00::80"] },
    "www.web.test": { CNAME: "alias.web.test" },
    "alias.web.test": { CNAME: "web.test" },
    "v6only.test": { AAAA: ["fd00::6"] },
    "broken.test": { rcode: "SERVFAIL" },
    "closed.test": { rcode: "REFUSED" },
  });
  stack = await connectSocketStack({ ipv4: Ipv4Prefix.of("127.0.0.1/8"), ipv6: Ipv6Prefix.of("::1/128"), ipv4Only: false, ipv6Only: false });
});

after(async () => {
  server.close();
  await stack.disconnect();
});

function resolver(options: { timeoutMs?: number; retries?: number } = {}): Resolver {
  return connectResolver({ stack, resolver: Ipv4Address.localhost, port: server.port, timeoutMs: 300, ...options });
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<DnsError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof DnsError, `expected a DnsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected a DnsError ${code}, it resolved`);
}

test("A records resolve to IPv4 addresses", async () => {
  const r = resolver();
  const addresses = await r.getHostByName("web.test");
  assert.deepEqual(addresses.map(String), ["10.1.2.3", "10.1.2.4"]);
  assert.ok(addresses.every((a) => a.family === 4));
  await r.disconnect();
});

test("AAAA records resolve to IPv6 addresses with family 6", async () => {
  const r = resolver();
  const addresses = await r.getHostByName("web.test", 6);
  assert.deepEqual(addresses.map(String), ["fd00::80"]);
  assert.equal(addresses[0]!.family, 6);
  await r.disconnect();
});

test("a CNAME chain in the answer is followed, case-insensitively", async () => {
  const r = resolver();
  assert.deepEqual((await r.getHostByName("WWW.Web.Test")).map(String), ["10.1.2.3", "10.1.2.4"]);
  const answers = await r.query("www.web.test", "A");
  assert.deepEqual(answers.map((a) => a.type), ["CNAME", "CNAME", "A", "A"]);
  await r.disconnect();
});

test("NXDOMAIN, SERVFAIL, REFUSED and an empty answer are typed errors", async () => {
  const r = resolver();
  await rejectsWith(r.getHostByName("nowhere.test"), "nxdomain");
  await rejectsWith(r.getHostByName("broken.test"), "servfail");
  await rejectsWith(r.getHostByName("closed.test"), "refused");
  await rejectsWith(r.getHostByName("v6only.test", 4), "no-data");
  await rejectsWith(r.getHostByName("bad..name"), "invalid-name");
  await rejectsWith(r.getHostByName("x".repeat(64) + ".test"), "invalid-name");
  await r.disconnect();
});

test("IP literals resolve to themselves without a query", async () => {
  const r = resolver();
  const before = server.queries.length;
  assert.deepEqual((await r.getHostByName("192.0.2.7")).map(String), ["192.0.2.7"]);
  assert.deepEqual((await r.getHostByName("[2001:db8::1]", 6)).map(String), ["2001:db8::1"]);
  assert.ok((await r.getHostByName("::1", 6))[0]!.equals(Ipv6Address.of("::1")));
  assert.equal(server.queries.length, before);
  await r.disconnect();
});

test("a lost query is retried with a new id and source port", async () => {
  const r = resolver({ retries: 2 });
  const before = server.queries.length;
  server.dropNext = 2;
  assert.deepEqual((await r.getHostByName("web.test")).map(String), ["10.1.2.3", "10.1.2.4"]);
  const sent = server.queries.slice(before);
  assert.equal(sent.length, 3);
  assert.equal(new Set(sent.map((q) => q.id)).size, 3, "every attempt has a fresh id");
  assert.equal(new Set(sent.map((q) => q.port)).size, 3, "every attempt has a fresh source port");
  for (const q of sent) assert.ok(q.port >= 49152 && q.port <= 65535, `source port ${q.port} is in the ephemeral range`);
  await r.disconnect();
});

test("with every attempt lost, it fails with a timeout after 1 + retries queries", async () => {
  const r = resolver({ retries: 1, timeoutMs: 150 });
  const before = server.queries.length;
  server.dropNext = 2;
  await rejectsWith(r.getHostByName("web.test"), "timeout");
  assert.equal(server.queries.length - before, 2);
  await r.disconnect();
});

test("a reply with the wrong id, and garbage, are ignored; the right reply is taken", async () => {
  const r = resolver();
  server.sendWrongIdFirst = true;
  server.sendGarbageFirst = true;
  try {
    const addresses = await r.getHostByName("web.test");
    assert.deepEqual(addresses.map(String), ["10.1.2.3", "10.1.2.4"], "the spoofed 192.0.2.66 was not accepted");
  } finally {
    server.sendWrongIdFirst = false;
    server.sendGarbageFirst = false;
  }
  await r.disconnect();
});

test("a right reply from another port than the server's is ignored", async () => {
  // The resolver asks `front`; `back` forwards the query to the real server and sends the reply
  // (right id, right question) back to the resolver from back's own port.
  const { createSocket } = await import("node:dgram");
  const front = createSocket("udp4");
  const back = createSocket("udp4");
  await new Promise<void>((resolve) => front.bind(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => back.bind(0, "127.0.0.1", resolve));
  let client: { port: number; address: string } | undefined;
  let forwarded = 0;
  front.on("message", (msg, rinfo) => {
    client = rinfo;
    back.send(msg, server.port, "127.0.0.1");
  });
  back.on("message", (msg) => {
    forwarded++;
    if (client) back.send(msg, client.port, client.address);
  });
  const r = connectResolver({ stack, resolver: Ipv4Address.localhost, port: front.address().port, timeoutMs: 300, retries: 0 });
  await rejectsWith(r.getHostByName("web.test"), "timeout");
  assert.equal(forwarded, 1, "the server's reply reached the resolver's port, from the wrong source port");
  front.close();
  back.close();
  await r.disconnect();
});

test("disconnect fails queries in flight", async () => {
  const r = resolver({ timeoutMs: 5000 });
  server.dropNext = 1;
  const pending = r.getHostByName("web.test");
  await new Promise((resolve) => setTimeout(resolve, 50));
  await r.disconnect();
  await rejectsWith(pending, "disconnected");
  server.dropNext = 0;
  await rejectsWith(r.getHostByName("web.test"), "disconnected");
});

test("property: decoding never throws on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const result = decodeReply(bytes);
      assert.equal(typeof result.ok, "boolean");
      if (result.ok) for (const a of result.value.answers) followCnames([a], "x", "A");
    }),
    { numRuns: 3000 },
  );
});
