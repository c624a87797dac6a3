/**
 * Bulk transfers both ways at once between Linux and our TCP: the built `network` example (a TCP
 * echo on port 8080) on --net=direct in a namespace, and a Node client inside the namespace that
 * streams pseudo-random data and hashes what it sends and what comes back. On a clean link, then
 * with faults injected by `--link-faults` (the seeded wrapper between the TAP and the stack; this
 * kernel has no netem), which apply to both directions.
 *
 * Each run reports its duration, throughput, our retransmissions (the TCP engine's line at
 * shutdown), Linux's (RetransSegs of the namespace's /proc/net/snmp) and what the faults did.
 */
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { buildExampleCopy, namespaceTestsUnavailable, withUnikernel, type BuiltExample } from "./helpers/netns.ts";
import type { RunningUnikernel } from "./helpers/unikernel.ts";

const skip = namespaceTestsUnavailable();
if (skip !== undefined) console.log(`# direct-tcp-transfer: skipped: ${skip}`);

const MiB = 1024 * 1024;

/**
 * Streams SIZE bytes to ADDRESS:PORT while reading the echo, and prints one JSON line. The data:
 * a 1 MiB random block, rotated by a counter-derived offset per MiB and stamped with its position
 * every 4 KiB, so that it is fast to make and no two 4 KiB pieces of the stream are alike.
 */
const streamingClient = `
const net = require("node:net");
const { createHash, randomBytes } = require("node:crypto");
const [address, port, total] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const block = randomBytes(1 << 20);
const sent = createHash("sha256");
const received = createHash("sha256");
let receivedBytes = 0, sentBytes = 0, counter = 0;
const start = process.hrtime.bigint();
const s = net.connect(port, address);
s.on("error", (e) => { console.error(e.message); process.exit(1); });
s.on("data", (d) => { received.update(d); receivedBytes += d.length; });
s.on("end", () => {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ sentBytes, receivedBytes, sent: sent.digest("hex"), received: received.digest("hex"), seconds }));
});
function nextChunk() {
  const chunk = Buffer.allocUnsafe(Math.min(block.length, total - sentBytes));
  const rotation = (counter * 40503 * 4099) % block.length;
  const head = block.length - rotation;
  block.copy(chunk, 0, rotation, rotation + Math.min(head, chunk.length));
  if (head < chunk.length) block.copy(chunk, head, 0, chunk.length - head);
  for (let at = 0; at + 4 <= chunk.length; at += 4096) chunk.writeUInt32LE(((counter << 8) + (at >>> 12)) >>> 0, at);
  counter++;
  return chunk;
}
function pump() {
  while (sentBytes < total) {
    const chunk = nextChunk();
    sent.update(chunk);
    sentBytes += chunk.length;
    if (!s.write(chunk)) return void s.once("drain", pump);
  }
  s.end();
}
s.on("connect", pump);
`;

interface ClientReport {
  sentBytes: number;
  receivedBytes: number;
  sent: string;
  received: string;
  seconds: number;
}

/** A number out of a log line, or -1 when the line is missing. */
function logged(output: string, pattern: RegExp): number {
  const m = output.match(pattern);
  return m === null ? -1 : Number(m[1]);
}

/**
 * The TCP engines' statistics from their lines at shutdown ("TCP stopped: ..."), summed: the
 * dual stack has one engine per address family.
 */
function tcpStopped(output: string): { accepted: number; retransmits: number; received: number; synDropped: number; badChecksums: number; lines: string } {
  const lines = [...output.matchAll(/TCP stopped: (\d+) accepted, \d+ opened, (\d+) retransmits, \d+ segments sent, (\d+) received, (\d+) bad checksums, (\d+) SYNs dropped/g)];
  const sum = (i: number) => (lines.length === 0 ? -1 : lines.reduce((n, m) => n + Number(m[i]), 0));
  return { accepted: sum(1), retransmits: sum(2), received: sum(3), badChecksums: sum(4), synDropped: sum(5), lines: lines.map((m) => m[0]).join("; ") };
}

/** How our connection's retransmissions came about, from its line at close (debug level): "(N fast, M timeouts)". */
function recovery(output: string): string {
  const m = output.match(/closed: .*?\d+ retransmits \((\d+) fast, (\d+) timeouts\)/);
  return m === null ? "" : ` (${m[1]} fast recoveries, ${m[2]} timeouts)`;
}

async function transfer(t: TestContext, network: BuiltExample, size: number, faults: string | undefined, family: 4 | 6 = 4): Promise<void> {
  let unikernel: RunningUnikernel | undefined;
  let report: ClientReport | undefined;
  let linuxRetransmits = -1;
  // TCP at debug level: the engine logs each connection's statistics when it closes.
  const args = ["--logs=*:info,tcp:debug", ...(faults === undefined ? [] : [`--link-faults=${faults}`])];
  // Over IPv6: a static address (connect waits for its DAD) and Linux's on the same /64.
  if (family === 6) args.push("--ipv6=fd00:7::2/64");
  const hostOptions = family === 6 ? { kernelAddress: "10.0.0.1/24", kernelAddress6: "fd00:7::1/64" } : { kernelAddress: "10.0.0.1/24" };
  await withUnikernel(network, hostOptions, args, /echoing on TCP port 8080/, async (host, u) => {
    unikernel = u;
    const server = family === 6 ? "fd00:7::2" : "10.0.0.2";
    const r = host.run(process.execPath, ["-e", streamingClient, server, "8080", String(size)], { timeoutMs: 240_000 });
    assert.equal(r.status, 0, `client: ${r.stderr}\n${u.output.slice(-2000)}`);
    report = JSON.parse(r.stdout.trim()) as ClientReport;
    const snmp = host.exec("cat", ["/proc/net/snmp"]).split("\n").filter((l) => l.startsWith("Tcp:"));
    const [names, values] = snmp.map((l) => l.split(/\s+/));
    linuxRetransmits = Number(values?.[names?.indexOf("RetransSegs") ?? -1] ?? -1);
  });
  assert.ok(report !== undefined && unikernel !== undefined);
  assert.equal(report.sentBytes, size);
  assert.equal(report.receivedBytes, size, "every byte came back");
  assert.equal(report.received, report.sent, "the SHA-256 of what came back is the SHA-256 of what was sent");
  const output = unikernel.output;
  const ours = tcpStopped(output).retransmits;
  assert.ok(ours >= 0, `the TCP engine logs its statistics at shutdown:\n${output.slice(-2000)}`);
  const summary = [
    `${size / MiB} MiB each way over IPv${family}${faults === undefined ? " on a clean link" : ` with --link-faults=${faults}`}`,
    `${report.seconds.toFixed(1)} s`,
    `${((2 * size * 8) / report.seconds / 1e6).toFixed(0)} Mbit/s both ways together`,
    `our retransmits ${ours}${recovery(output)}`,
    `Linux's retransmits ${linuxRetransmits}`,
  ];
  if (faults !== undefined) {
    const line = output.match(/link faults: (lost \d+, duplicated \d+, reordered \d+, corrupted \d+, delayed \d+, too big \d+)/);
    assert.ok(line !== null, `the fault statistics are logged at shutdown:\n${output.slice(-2000)}`);
    summary.push(`faults: ${line[1]}`);
    const lost = logged(output, /link faults: lost (\d+)/);
    if (/loss=/.test(faults)) {
      assert.ok(lost > 0, "frames were lost");
      assert.ok(ours > 0 && linuxRetransmits > 0, "both sides repaired losses by retransmission");
    }
    if (/corrupt=/.test(faults)) assert.ok(tcpStopped(output).badChecksums > 0, "corrupted segments were caught by the checksum");
  }
  t.diagnostic(summary.join("; "));
}

describe("our TCP against Linux: bulk transfers both ways at once (the network example's echo)", { skip, concurrency: 1 }, () => {
  let network: BuiltExample;
  before(() => {
    network = buildExampleCopy("network", "network", ["--net=direct"]);
  });
  after(() => network?.remove());

  it("1 GiB each way on a clean link, SHA-256 matching", { timeout: 300_000 }, async (t) => {
    await transfer(t, network, 1024 * MiB, undefined);
  });

  it("1 GiB each way with 1% loss, SHA-256 matching", { timeout: 300_000 }, async (t) => {
    await transfer(t, network, 1024 * MiB, "loss=0.01,seed=7");
  });

  // At 5% loss both congestion controls (ours and Linux's) keep the window small: about 200 Mbit/s
  // both ways together, 1 GiB each way in about 90 s, the longest run here.
  it("1 GiB each way with 5% loss, SHA-256 matching", { timeout: 300_000 }, async (t) => {
    await transfer(t, network, 1024 * MiB, "loss=0.05,seed=7");
  });

  it("1 GiB each way with 1% reordering, 1% duplication and 1% corruption, SHA-256 matching", { timeout: 300_000 }, async (t) => {
    await transfer(t, network, 1024 * MiB, "reorder=0.01,duplicate=0.01,corrupt=0.01,seed=7");
  });

  it("IPv6: 1 GiB each way on a clean link, SHA-256 matching", { timeout: 300_000 }, async (t) => {
    await transfer(t, network, 1024 * MiB, undefined, 6);
  });

  it("IPv6: 256 MiB each way with 1% loss, 1% reordering, 1% duplication and 1% corruption, SHA-256 matching", { timeout: 300_000 }, async (t) => {
    await transfer(t, network, 256 * MiB, "loss=0.01,reorder=0.01,duplicate=0.01,corrupt=0.01,seed=11", 6);
  });
});
