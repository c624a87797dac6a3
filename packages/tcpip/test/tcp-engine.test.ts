/** TCP between two direct stacks over the in-memory switch, in virtual time. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { FlowError, type TcpFlow } from "@mirage-ts/runtime";
import { newReno } from "../src/tcp/congestion.ts";
import { DEFAULT_TCP_CONFIG, TcpConnection, TcpState, tcpAccept, tcpWrite } from "../src/tcp/connection.ts";
import { type DirectTcpFlow, tcpFlowInfo } from "../src/tcp/flow.ts";
import { TcpFlag, emptyTcpOptions } from "../src/tcp/wire.ts";
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

test("per-connection statistics are readable from the flow (tcpFlowInfo) and logged at debug level when the connection closes", async () => {
  const { a, b, vt, settle } = pair();
  const data = pattern(300_000, 3);
  let server: TcpFlow | undefined;
  b.tcp.listen(80, async (flow) => {
    server = flow;
    await readAll(flow);
    await flow.close();
  });
  const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
  await settle(flow.write(data));
  await flow.shutdown("write");
  assert.equal((await settle(readAll(flow))).length, 0);
  const info = tcpFlowInfo(flow)!;
  assert.deepEqual(info, (flow as DirectTcpFlow).info());
  assert.equal(info.bytesSent, data.length);
  assert.ok(info.segmentsSent >= Math.ceil(data.length / info.sndMss), `${info.segmentsSent} segments`);
  assert.ok(info.segmentsReceived > 0);
  assert.equal(info.retransmits, 0);
  assert.ok(info.srttMs >= 0 && info.rttMs >= 0 && info.minRttMs >= 0 && info.minRttMs <= info.rttMs + 1e-9 && info.rttvarMs >= 0);
  assert.ok(info.rtoMs >= 200, `rto ${info.rtoMs}`);
  assert.ok(info.cwnd >= info.sndMss && info.ssthresh > 0);
  assert.equal(info.ourMss, 1460);
  assert.equal(info.bytesInFlight, 0, "everything was acknowledged");
  assert.equal(info.sendBuffered, 0);
  assert.ok(info.windowScaling && info.timestamps && info.sack);
  const serverInfo = tcpFlowInfo(server!)!;
  assert.equal(serverInfo.bytesReceived, data.length);
  assert.equal(serverInfo.bytesSent, 0);
  await flow.close();
  await vt.advance(61_000); // the client's TIME-WAIT (2 * MSL)
  const closed = (lines: string[]) => lines.filter((l) => l.startsWith("debug ") && l.includes(" closed: "));
  const serverLine = closed(b.log.lines).find((l) => l.includes("10.0.0.2:80 - 10.0.0.1:"));
  assert.ok(serverLine, b.log.lines.slice(-5).join("\n"));
  assert.match(serverLine, new RegExp(`closed: clean; 0 bytes in \\d+ segments out, ${data.length} bytes in \\d+ segments in; 0 retransmits`));
  assert.match(serverLine, /srtt [\d.]+ ms, rttvar [\d.]+ ms/);
  assert.equal(closed(a.log.lines).length, 1, "the client logs once, when TIME-WAIT ends");
  assert.equal(tcpFlowInfo({} as TcpFlow), undefined);
});

test("a connection allocates its send buffer at its first write: half-open and receive-only connections hold none", async () => {
  const conn = new TcpConnection(DEFAULT_TCP_CONFIG, newReno, 1, 80, 2, 40000);
  tcpAccept(conn, 0, { seq: 1000, ack: 0, flags: TcpFlag.syn, window: 65535, buffer: new Uint8Array(0), offset: 0, length: 0, options: emptyTcpOptions() }, 5000, 1460);
  assert.equal(conn.state, TcpState.synReceived);
  assert.equal(conn.sndBuf.length, 0);
  assert.equal(conn.sendSpace, DEFAULT_TCP_CONFIG.sendBufferSize);
  assert.equal(tcpWrite(conn, new Uint8Array(10), 0), 10);
  assert.ok(conn.sndBuf.length > 0 && conn.sndBuf.length < DEFAULT_TCP_CONFIG.sendBufferSize, "a small write takes a small ring (it grows on demand)");

  const { a, b, vt, settle } = pair();
  let server: DirectTcpFlow | undefined;
  b.tcp.listen(80, async (flow) => {
    server = flow as DirectTcpFlow;
    await readAll(flow);
  });
  const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
  await flow.write(pattern(50_000, 4));
  await flow.shutdown("write");
  await vt.advance(200);
  assert.equal(server!.conn.sndBuf.length, 0, "the server only received");
  assert.equal((flow as DirectTcpFlow).conn.sndBuf.length, 0, "the client's ring went back once its data and FIN were acknowledged");
});

test("data arriving after the application closed is answered with RST (RFC 9293 §3.6.1, RFC 2525), not ACKed and dropped", async () => {
  const { a, b, vt, settle } = pair();
  let server: TcpFlow | undefined;
  b.tcp.listen(80, async (flow) => {
    server = flow;
    await flow.close();
  });
  const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
  assert.equal(await settle(flow.read()), null, "the server's FIN");
  const resetsBefore = b.stats().tcp.txResets;
  await flow.write(new TextEncoder().encode("anyone there?"));
  await vt.advance(50);
  await assert.rejects(flow.write(Uint8Array.of(1)), (e: unknown) => e instanceof FlowError && e.code === "reset");
  assert.equal(b.stats().tcp.txResets, resetsBefore + 1);
  const info = tcpFlowInfo(server!)!;
  assert.equal(info.abortsOnData, 1);
  assert.equal(info.state, "CLOSED");
  assert.equal(b.stats().tcp.activeConnections, 0);
});

test("closing with received data unread resets the connection, as Linux does", async () => {
  const { a, b, vt, settle } = pair();
  let server: TcpFlow | undefined;
  b.tcp.listen(80, (flow) => {
    server = flow;
  });
  const flow = await settle(a.tcp.connect(ip("10.0.0.2"), 80));
  await flow.write(new TextEncoder().encode("never read"));
  await vt.advance(50);
  assert.equal(tcpFlowInfo(server!)!.receiveQueued, 10);
  await server!.close();
  const r = await settle(flow.read().then(() => "read", (e: unknown) => e));
  assert.ok(r instanceof FlowError && r.code === "reset", String(r));
  assert.equal(tcpFlowInfo(server!)!.state, "CLOSED");
  assert.equal(b.stats().tcp.activeConnections, 0);
});
