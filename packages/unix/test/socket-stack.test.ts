import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect, createServer, type Socket, type AddressInfo } from "node:net";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { FlowError, IpAddress, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix, type Endpoint, type TcpFlow } from "@mirage-ts/runtime";
import { connectSocketStack, type SocketStackOptions } from "@mirage-ts/unix";

const loopbacks = { ipv4: Ipv4Prefix.of("127.0.0.1/8"), ipv6: Ipv6Prefix.of("::1/128") };
const quiet = { warn: () => undefined };

async function stackWith(opts: Partial<SocketStackOptions> = {}) {
  return connectSocketStack({ ...loopbacks, ipv4Only: false, ipv6Only: false, ...quiet, ...opts });
}

/** Reads a Node socket to its end (without destroying it, as `for await` would). */
async function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(socket, "end");
  return Buffer.concat(chunks);
}

/** Reads a flow to its end. */
async function readFlow(flow: TcpFlow): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** An echo handler: copies what it reads back, then half-closes. */
async function echo(flow: TcpFlow): Promise<void> {
  for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) await flow.write(chunk);
  await flow.shutdown("write");
}

function endpointOf(endpoints: Endpoint[], family: 4 | 6): Endpoint {
  const found = endpoints.find((e) => e.address.family === family);
  assert.ok(found, `bound over IPv${family}`);
  return found;
}

async function connectNode(endpoint: Endpoint): Promise<Socket> {
  const socket = netConnect({ host: endpoint.address.toString(), port: endpoint.port });
  await once(socket, "connect");
  return socket;
}

test("socket stack: --ipv4-only and --ipv6-only together are refused", async () => {
  await assert.rejects(stackWith({ ipv4Only: true, ipv6Only: true }), /cannot both be true/);
});

test("socket stack: ip reports the configured addresses", async () => {
  const stack = await connectSocketStack({
    ipv4: Ipv4Prefix.of("10.0.0.2/24"),
    ipv6: Ipv6Prefix.of("2001:db8::2/64"),
    ipv4Only: false,
    ipv6Only: false,
    ipv4Gateway: Ipv4Address.of("10.0.0.1"),
  });
  const config = stack.ip.config();
  assert.equal(config.ipv4?.address.toString(), "10.0.0.2");
  assert.equal(config.ipv4?.prefix.toString(), "10.0.0.2/24");
  assert.equal(config.ipv4?.gateway?.toString(), "10.0.0.1");
  assert.deepEqual(config.ipv6?.addresses.map(String), ["2001:db8::2/64"]);
  assert.deepEqual(stack.ip.addresses().map(String), ["10.0.0.2", "2001:db8::2"]);
  await stack.disconnect();
  const v4only = await stackWith({ ipv4Only: true });
  assert.equal(v4only.ip.config().ipv6, undefined);
  assert.deepEqual(v4only.ip.addresses().map(String), ["127.0.0.1"]);
  await v4only.disconnect();
});

test("socket stack: a TCP echo over flows, hit by Node clients on 127.0.0.1 and ::1", async () => {
  const stack = await stackWith();
  const seen: Array<{ local: string; remote: string }> = [];
  stack.tcp.listen(0, (flow) => {
    seen.push({ local: flow.local.address.toString(), remote: flow.remote.address.toString() });
    return echo(flow);
  });
  const endpoints = await stack.tcp.whenListening(0);
  for (const family of [4, 6] as const) {
    const client = await connectNode(endpointOf(endpoints, family));
    client.end("hello over IPv" + family);
    assert.equal((await readAll(client)).toString(), "hello over IPv" + family);
  }
  assert.deepEqual(seen, [
    { local: "127.0.0.1", remote: "127.0.0.1" },
    { local: "::1", remote: "::1" },
  ]);
  await stack.disconnect();
});

test("socket stack: flow endpoints, half-close both ways, and keepalive/nodelay", async () => {
  const stack = await stackWith();
  const peer = createServer({ allowHalfOpen: true }, async (socket) => {
    const got = await readAll(socket);
    socket.end(`got ${got.length} bytes`);
  });
  peer.listen(0, "127.0.0.1");
  await once(peer, "listening");
  const port = (peer.address() as AddressInfo).port;
  const flow = await stack.tcp.connect(IpAddress.of("127.0.0.1"), port);
  flow.setNoDelay(true);
  flow.setKeepAlive(true, 1000);
  assert.equal(flow.remote.address.toString(), "127.0.0.1");
  assert.equal(flow.remote.port, port);
  assert.equal(flow.local.address.toString(), "127.0.0.1");
  assert.ok(flow.local.port > 0);
  await flow.writev([Buffer.from("abc"), Buffer.from("defg")]);
  await flow.shutdown("write");
  // Our side is shut for writing; reading still works until the peer's FIN.
  await assert.rejects(flow.write(Buffer.from("late")), (e: unknown) => e instanceof FlowError && e.code === "closed");
  assert.equal((await readFlow(flow)).toString(), "got 7 bytes");
  assert.equal(await flow.read(), null);
  await flow.close();
  peer.close();
  await stack.disconnect();
});

test("socket stack: several megabytes through an echo with back-pressure both ways", async () => {
  const stack = await stackWith({ ipv6Only: false });
  stack.tcp.listen(0, echo);
  const [endpoint] = await stack.tcp.whenListening(0);
  const size = 8 * 1024 * 1024;
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 7919) >>> 3;
  const client = await stackWith();
  const flow = await client.tcp.connect(endpoint!.address, endpoint!.port);
  const reading = readFlow(flow);
  for (let offset = 0; offset < size; offset += 256 * 1024) await flow.write(payload.subarray(offset, offset + 256 * 1024));
  await flow.shutdown("write");
  const back = await reading;
  assert.equal(back.length, size);
  assert.ok(back.equals(payload));
  await client.disconnect();
  await stack.disconnect();
});

/** Listens on an ephemeral port, connects a Node client and returns both ends of that connection. */
async function acceptOne(stack: Awaited<ReturnType<typeof stackWith>>): Promise<{ endpoint: Endpoint; client: Socket; serverFlow: TcpFlow }> {
  let serverFlow: TcpFlow | undefined;
  const accepted = new Promise<void>((resolve) =>
    stack.tcp.listen(0, (flow) => {
      serverFlow = flow;
      resolve();
    }),
  );
  const [endpoint] = await stack.tcp.whenListening(0);
  const client = await connectNode(endpoint!);
  await accepted;
  return { endpoint: endpoint!, client, serverFlow: serverFlow! };
}

test("socket stack: a reader that stops reading stalls the writer instead of buffering", async () => {
  const stack = await stackWith();
  const { endpoint, client, serverFlow } = await acceptOne(stack);
  // Nobody reads serverFlow: the client must stall once the kernel buffers and the flow's bounded
  // queue are full. A write whose 'drain' does not come within a while counts as stalled.
  const chunk = Buffer.alloc(256 * 1024, 1);
  const limit = 64 * 1024 * 1024;
  let written = 0;
  for (;;) {
    written += chunk.length;
    if (client.write(chunk)) continue;
    const drained = await Promise.race([
      once(client, "drain").then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
    ]);
    if (!drained) break;
    assert.ok(written < limit, `${written} bytes were accepted although nobody reads`);
  }
  // Reading releases the stall and every byte arrives.
  let received = 0;
  while (received < written) {
    const got = await serverFlow!.read();
    assert.ok(got);
    assert.ok(got.every((b) => b === 1));
    received += got.length;
  }
  assert.equal(received, written);
  client.destroy();
  await stack.disconnect();
});

test("socket stack: connect errors become FlowErrors", async () => {
  const stack = await stackWith();
  const closed = createServer();
  closed.listen(0, "127.0.0.1");
  await once(closed, "listening");
  const port = (closed.address() as AddressInfo).port;
  closed.close();
  await once(closed, "close");
  await assert.rejects(stack.tcp.connect(IpAddress.of("127.0.0.1"), port), (e: unknown) => e instanceof FlowError && e.code === "refused");
  await assert.rejects(stack.tcp.connect(IpAddress.of("::1"), port), (e: unknown) => e instanceof FlowError && e.code === "refused");
  await stack.disconnect();
  const v4 = await stackWith({ ipv4Only: true });
  await assert.rejects(v4.tcp.connect(IpAddress.of("::1"), port), (e: unknown) => e instanceof FlowError && e.code === "unreachable");
  await v4.disconnect();
});

test("socket stack: a reset by the peer rejects reads and writes with 'reset'", async () => {
  const stack = await stackWith();
  let flow: TcpFlow | undefined;
  const accepted = new Promise<void>((resolve) =>
    stack.tcp.listen(0, (f) => {
      flow = f;
      resolve();
    }),
  );
  const [endpoint] = await stack.tcp.whenListening(0);
  const client = await connectNode(endpoint!);
  client.write("before the reset");
  await accepted;
  assert.equal(Buffer.from((await flow!.read())!).toString(), "before the reset");
  client.resetAndDestroy();
  await assert.rejects(
    (async () => {
      for (;;) {
        await flow!.read();
      }
    })(),
    (e: unknown) => e instanceof FlowError && e.code === "reset",
  );
  await assert.rejects(flow!.write(Buffer.from("x")), (e: unknown) => e instanceof FlowError && e.code === "reset");
  await stack.disconnect();
});

test("socket stack: --ipv4-only does not listen on IPv6, --ipv6-only not on IPv4", async () => {
  const v4 = await connectSocketStack({ ipv4: Ipv4Prefix.of("0.0.0.0/0"), ipv4Only: true, ipv6Only: false, ...quiet });
  v4.tcp.listen(0, echo);
  const v4Endpoints = await v4.tcp.whenListening(0);
  assert.deepEqual(v4Endpoints.map((e) => e.address.family), [4]);
  const port4 = v4Endpoints[0]!.port;
  const client4 = await connectNode({ address: Ipv4Address.localhost, port: port4 });
  client4.destroy();
  const v6client = netConnect({ host: "::1", port: port4 });
  const [error] = (await once(v6client, "error")) as [NodeJS.ErrnoException];
  assert.equal(error.code, "ECONNREFUSED");
  await v4.disconnect();

  const v6 = await connectSocketStack({ ipv4: Ipv4Prefix.of("0.0.0.0/0"), ipv4Only: false, ipv6Only: true, ...quiet });
  v6.tcp.listen(0, echo);
  const v6Endpoints = await v6.tcp.whenListening(0);
  assert.deepEqual(v6Endpoints.map((e) => e.address.family), [6]);
  const port6 = v6Endpoints[0]!.port;
  (await connectNode({ address: Ipv6Address.localhost, port: port6 })).destroy();
  const v4client = netConnect({ host: "127.0.0.1", port: port6 });
  const [error4] = (await once(v4client, "error")) as [NodeJS.ErrnoException];
  assert.equal(error4.code, "ECONNREFUSED");
  await assert.rejects(v6.udp.send({ dst: Ipv4Address.localhost, dstPort: 9, data: new Uint8Array(1) }), /IPv4 is disabled/);
  await v6.disconnect();
});

test("socket stack: a family turned off sends nothing: connect and send name the key; an IPv4-mapped address is IPv4", async () => {
  const peer = createServer((socket) => socket.end("hi"));
  peer.listen(0, "127.0.0.1");
  await once(peer, "listening");
  const port = (peer.address() as AddressInfo).port;
  const mapped = IpAddress.of("::ffff:127.0.0.1");
  const unreachable = (pattern: RegExp) => (e: unknown) => e instanceof FlowError && e.code === "unreachable" && pattern.test(e.message);

  const v6 = await stackWith({ ipv6Only: true });
  assert.equal(v6.ip.config().ipv4, undefined, "no IPv4 address with --ipv6-only");
  assert.deepEqual(v6.ip.addresses().map((a) => a.family), [6]);
  await assert.rejects(v6.tcp.connect(IpAddress.of("127.0.0.1"), port), unreachable(/IPv4 is disabled \(--ipv6-only=true\)/));
  // An IPv6 socket would carry this one over IPv4: it is refused like any IPv4 address.
  await assert.rejects(v6.tcp.connect(mapped, port), unreachable(/IPv4 is disabled \(--ipv6-only=true\), and ::ffff:7f00:1 is an IPv4-mapped address/));
  await assert.rejects(v6.udp.send({ dst: mapped, dstPort: port, data: new Uint8Array(1) }), /IPv4 is disabled/);
  v6.udp.listen(0, () => undefined);
  assert.deepEqual((await v6.udp.whenListening(0)).map((e) => e.address.toString()), ["::1"]);
  await v6.disconnect();

  const v4 = await stackWith({ ipv4Only: true });
  assert.equal(v4.ip.config().ipv6, undefined, "no IPv6 address with --ipv4-only");
  await assert.rejects(v4.tcp.connect(IpAddress.of("::1"), port), unreachable(/IPv6 is disabled \(--ipv4-only=true\)/));
  await assert.rejects(v4.udp.send({ dst: Ipv6Address.localhost, dstPort: port, data: new Uint8Array(1) }), /UDP send to ::1: IPv6 is disabled \(--ipv4-only=true\)/);
  v4.udp.listen(0, () => undefined);
  assert.deepEqual((await v4.udp.whenListening(0)).map((e) => e.address.toString()), ["127.0.0.1"]);
  // IPv4 is IPv4 however it is written.
  const viaMapped = await v4.tcp.connect(mapped, port);
  assert.equal(viaMapped.remote.address.toString(), "127.0.0.1");
  assert.equal((await readFlow(viaMapped)).toString(), "hi");
  await v4.disconnect();

  const dual = await stackWith();
  const flow = await dual.tcp.connect(mapped, port);
  assert.equal(flow.remote.address.family, 4, "a dual stack reaches an IPv4-mapped address over IPv4");
  assert.equal((await readFlow(flow)).toString(), "hi");
  await dual.disconnect();
  peer.close();
});

test("socket stack: UDP to a turned-off family's address on a listened port gets nothing back", async () => {
  for (const [off, client, host] of [
    [{ ipv4Only: true }, "udp6", "::1"],
    [{ ipv6Only: true }, "udp4", "127.0.0.1"],
  ] as const) {
    const stack = await stackWith(off);
    const received: string[] = [];
    stack.udp.listen(0, async (d) => {
      received.push(String(d.src));
      await stack.udp.send({ dst: d.src, dstPort: d.srcPort, srcPort: d.dstPort, data: d.data });
    });
    const [endpoint] = await stack.udp.whenListening(0);
    const socket = createSocket(client);
    socket.bind(0, host);
    await once(socket, "listening");
    const reply = Promise.race([once(socket, "message").then(() => "reply"), new Promise<string>((r) => setTimeout(() => r("silence"), 300))]);
    socket.send("anyone?", endpoint!.port, host);
    assert.equal(await reply, "silence", `nothing answers ${host} with ${JSON.stringify(off)}`);
    assert.deepEqual(received, []);
    socket.close();
    await stack.disconnect();
  }
});

test("socket stack: the default 0.0.0.0 and :: listen on every address, both families on one port", async () => {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, "close");
  const stack = await connectSocketStack({ ipv4: Ipv4Prefix.of("0.0.0.0/0"), ipv4Only: false, ipv6Only: false, ...quiet });
  stack.tcp.listen(port, echo);
  const endpoints = await stack.tcp.whenListening(port);
  assert.deepEqual(endpoints.map((e) => `${e.address}:${e.port}`).sort(), [`0.0.0.0:${port}`, `:::${port}`].sort());
  for (const host of ["127.0.0.1", "::1"]) {
    const client = netConnect({ host, port });
    client.end(host);
    assert.equal((await readAll(client)).toString(), host);
  }
  await stack.disconnect();
});

test("socket stack: a port in use makes listen() reject; unlisten frees the port", async () => {
  const first = await stackWith();
  first.tcp.listen(0, echo);
  const [endpoint] = await first.tcp.whenListening(0);
  const second = await stackWith({ ipv4Only: true });
  second.tcp.listen(endpoint!.port, echo);
  await assert.rejects(second.listen(), /EADDRINUSE|address already in use/);
  await second.disconnect();
  first.tcp.unlisten(0);
  const refused = netConnect({ host: "127.0.0.1", port: endpoint!.port });
  const [error] = (await once(refused, "error")) as [NodeJS.ErrnoException];
  assert.equal(error.code, "ECONNREFUSED");
  assert.throws(() => first.tcp.listen(70000, echo), RangeError);
  await first.disconnect();
});

test("socket stack: a throwing handler closes its flow and the stack keeps serving", async () => {
  const warnings: string[] = [];
  const stack = await stackWith({ warn: (m) => warnings.push(m) });
  let calls = 0;
  stack.tcp.listen(0, async (flow) => {
    if (calls++ === 0) throw new Error("boom");
    await echo(flow);
  });
  const [endpoint] = await stack.tcp.whenListening(0);
  const failed = await connectNode(endpoint!);
  assert.equal((await readAll(failed)).length, 0);
  const ok = await connectNode(endpoint!);
  ok.end("still here");
  assert.equal((await readAll(ok)).toString(), "still here");
  assert.ok(warnings.some((w) => w.includes("boom")));
  await stack.disconnect();
});

test("socket stack: disconnect resolves listen() and closes servers and flows", async () => {
  const stack = await stackWith();
  const { endpoint, client, serverFlow } = await acceptOne(stack);
  const listening = stack.listen();
  const reading = serverFlow!.read();
  const clientClosed = once(client, "close");
  await stack.disconnect();
  await listening;
  assert.equal(await reading, null);
  await clientClosed;
  await assert.rejects(serverFlow!.write(Buffer.from("x")), FlowError);
  const refused = netConnect({ host: "127.0.0.1", port: endpoint!.port });
  const [error] = (await once(refused, "error")) as [NodeJS.ErrnoException];
  assert.equal(error.code, "ECONNREFUSED");
  assert.throws(() => stack.tcp.listen(0, echo), /disconnected/);
});

test("socket stack: UDP echo on 127.0.0.1 and ::1, replies leave from the listened port", async () => {
  const stack = await stackWith();
  const received: string[] = [];
  stack.udp.listen(0, async (d) => {
    received.push(`${d.src}->${d.dst}:${d.dstPort} ${Buffer.from(d.data)}`);
    await stack.udp.send({ dst: d.src, dstPort: d.srcPort, srcPort: d.dstPort, data: d.data });
  });
  const endpoints = await stack.udp.whenListening(0);
  for (const family of [4, 6] as const) {
    const endpoint = endpointOf(endpoints, family);
    const client = createSocket(family === 4 ? "udp4" : "udp6");
    client.bind(0, family === 4 ? "127.0.0.1" : "::1");
    await once(client, "listening");
    client.send(`ping${family}`, endpoint.port, endpoint.address.toString());
    const [msg, rinfo] = (await once(client, "message")) as [Buffer, { port: number }];
    assert.equal(msg.toString(), `ping${family}`);
    assert.equal(rinfo.port, endpoint.port);
    client.close();
  }
  assert.equal(received.length, 2);
  assert.match(received[0]!, /^127\.0\.0\.1->127\.0\.0\.1:\d+ ping4$/);
  assert.match(received[1]!, /^::1->::1:\d+ ping6$/);
  await stack.disconnect();
});

test("socket stack: UDP send from an ephemeral port, from a chosen port, with a ttl", async () => {
  const stack = await stackWith();
  const peer = createSocket("udp4");
  peer.bind(0, "127.0.0.1");
  await once(peer, "listening");
  const port = peer.address().port;
  const dst = Ipv4Address.localhost;
  const next = () => once(peer, "message") as Promise<[Buffer, { port: number }]>;

  let got = next();
  await stack.udp.send({ dst, dstPort: port, data: Buffer.from("a") });
  const [first, from1] = await got;
  got = next();
  await stack.udp.send({ dst, dstPort: port, data: Buffer.from("b"), ttl: 3 });
  const [second, from2] = await got;
  assert.equal(first.toString() + second.toString(), "ab");
  assert.equal(from1.port, from2.port, "the ephemeral socket is shared");

  const probe = createSocket("udp4");
  probe.bind(0, "127.0.0.1");
  await once(probe, "listening");
  const chosen = probe.address().port;
  probe.close();
  got = next();
  await stack.udp.send({ dst, dstPort: port, srcPort: chosen, data: Buffer.from("c") });
  const [, from3] = await got;
  assert.equal(from3.port, chosen);
  peer.close();
  await stack.disconnect();
  await assert.rejects(stack.udp.send({ dst, dstPort: port, data: Buffer.from("d") }), /disconnected/);
});

test("socket stack: UDP unlisten stops delivery", async () => {
  const stack = await stackWith({ ipv4Only: true });
  let delivered = 0;
  stack.udp.listen(0, () => {
    delivered++;
  });
  const [endpoint] = await stack.udp.whenListening(0);
  const client = createSocket("udp4");
  client.send("one", endpoint!.port, "127.0.0.1");
  while (delivered === 0) await new Promise((r) => setTimeout(r, 5));
  stack.udp.unlisten(0);
  await assert.rejects(stack.udp.whenListening(0), /not listened on/);
  client.close();
  await stack.disconnect();
  assert.equal(delivered, 1);
});

test("socket stack: an explicit address the host lacks makes listen() reject", async () => {
  const stack = await stackWith({ ipv6: Ipv6Prefix.of("2001:db8::99/64") });
  stack.tcp.listen(0, echo);
  await assert.rejects(stack.listen(), /cannot listen on \[2001:db8::99\]/);
  await stack.disconnect();
});
