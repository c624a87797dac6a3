/** TCP between two direct stacks over the in-memory switch, in virtual time. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { FlowError, type TcpFlow } from "@mirage-ts/runtime";
import type { DirectTcpFlow } from "../src/tcp/flow.ts";
import { ip } from "./support/stacks.ts";
import { pair, readAll } from "./support/tcp.ts";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

test("handshake, a few bytes each way, and a clean close", async () => {
  const { a, b, settle } = pair();
  const accepted: TcpFlow[] = [];
  b.tcp.listen(80, async (flow) => {
    accepted.push(flow);
    const data = await readAll(flow);
    await flow.write(new TextEncoder().encode(`got ${data.length}`));
    await flow.close();
  });
  const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
  assert.equal(flow.remote.port, 80);
  assert.equal(String(flow.remote.address), "10.0.0.2");
  assert.ok(flow.local.port >= 49152);
  await flow.write(new TextEncoder().encode("hello"));
  await flow.shutdown("write");
  const reply = await settle(readAll(flow));
  assert.equal(new TextDecoder().decode(reply), "got 5");
  await flow.close();
  assert.equal(accepted.length, 1);
});

test("a connect to a closed port is refused by RST", async () => {
  const { a, b, settle } = pair();
  const r = await settle(a.tcp.connect(ip("10.0.0.2"), 81).then(() => "connected", (e: unknown) => e));
  assert.ok(r instanceof FlowError);
  assert.equal(r.code, "refused");
  assert.ok(b.stats().tcp.txResets >= 1);
});

test("a connect to a host that never answers times out after the SYN retries", async () => {
  const { a, settle } = pair({ tcp: { synRetries: 2 } });
  const r = await settle(a.tcp.connect(ip("10.0.0.3"), 80).then(() => "connected", (e: unknown) => e));
  assert.ok(r instanceof FlowError, String(r));
  assert.equal(r.code, "timeout");
});

test("4 MB each way with matching SHA-256", async () => {
  const { a, b, settle } = pair();
  const up = pattern(4 << 20, 1);
  const down = pattern(4 << 20, 2);
  let serverDone: (hash: string) => void = () => {};
  const serverGot = new Promise<string>((resolve) => (serverDone = resolve));
  b.tcp.listen(80, async (flow) => {
    const [got] = await Promise.all([readAll(flow), flow.write(down).then(() => flow.shutdown("write"))]);
    serverDone(sha(got));
  });
  const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
  const [got] = await settle(Promise.all([readAll(flow), flow.write(up).then(() => flow.shutdown("write"))]));
  assert.equal(sha(got), sha(down));
  assert.equal(await settle(serverGot), sha(up));
  const info = (flow as DirectTcpFlow).info();
  assert.equal(info.retransmits, 0, "a clean link shows no retransmission");
  assert.ok(info.srttMs >= 0);
});
