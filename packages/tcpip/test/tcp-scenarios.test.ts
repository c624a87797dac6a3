/** TCP scenarios between two direct stacks in virtual time: half-close, TIME-WAIT, a zero window that reopens, keepalive. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TcpFlow } from "@mirage-ts/runtime";
import type { DirectTcpFlow } from "../src/tcp/flow.ts";
import { TcpState } from "../src/tcp/connection.ts";
import { ip } from "./support/stacks.ts";
import { pair, readAll } from "./support/tcp.ts";

test("half-close: the client shuts down writing and still reads the server's answer; TIME-WAIT lasts 2*MSL", async () => {
  const { a, b, settle, vt } = pair({ tcp: { mslMs: 1000 } });
  b.tcp.listen(80, async (flow) => {
    const got = await readAll(flow); // ends at the client's FIN
    await flow.write(new TextEncoder().encode(`after FIN: ${got.length}`));
    await flow.close();
  });
  const flow = (await settle(a.tcp.connect(ip("10.0.0.2"), 80))) as DirectTcpFlow;
  await flow.write(new Uint8Array(1000));
  await flow.shutdown("write");
  const reply = await settle(readAll(flow));
  assert.equal(new TextDecoder().decode(reply), "after FIN: 1000");
  await vt.advance(10);
  assert.equal(flow.conn.state, TcpState.timeWait, "the side that closed first waits in TIME-WAIT");
  assert.equal(a.stats().tcp.activeConnections, 1);
  await vt.advance(2100);
  assert.equal(flow.conn.state, TcpState.closed);
  assert.equal(a.stats().tcp.activeConnections, 0);
  assert.equal(b.stats().tcp.activeConnections, 0);
  await assert.rejects(flow.write(new Uint8Array(1)), /closed/);
});

test("a slow reader: the window closes, the writer is held back, and the window reopens when it reads", async () => {
  const { a, b, settle, vt } = pair({ tcp: { receiveBufferSize: 16384, sendBufferSize: 16384 } });
  let server: TcpFlow | undefined;
  b.tcp.listen(80, (flow) => {
    server = flow;
  });
  const flow = (await settle(a.tcp.connect(ip("10.0.0.2"), 80))) as DirectTcpFlow;
  let written = false;
  const writing = flow.write(new Uint8Array(200_000)).then(() => (written = true));
  await vt.advance(5000);
  assert.equal(written, false, "back-pressure: 200 kB do not fit two 16 kB buffers");
  assert.equal(flow.conn.sndWnd, 0, "the reader's window is closed");
  let total = 0;
  const reading = (async () => {
    while (total < 200_000) {
      const chunk = await server!.read();
      if (chunk === null) break;
      total += chunk.length;
    }
  })();
  await settle(Promise.all([writing, reading]));
  assert.equal(total, 200_000);
  assert.ok(flow.conn.sndWnd > 0, "the window reopened");
});

test("keepalive probes an idle peer that vanished and gives up with a timeout", async () => {
  const { a, b, settle, vt } = pair();
  b.tcp.listen(80, () => {});
  const flow = (await settle(a.tcp.connect(ip("10.0.0.2"), 80))) as DirectTcpFlow;
  flow.setKeepAlive(true, 1000);
  await vt.advance(5000);
  assert.equal(flow.conn.state, TcpState.established, "probes are answered while the peer is there");
  await b.netif.disconnect(); // unplugged: the peer vanishes without a word
  const ended = flow.read().then(
    () => "data",
    (e: { code?: string }) => e.code,
  );
  assert.equal(await settle(ended, 3_600_000), "timeout");
});
