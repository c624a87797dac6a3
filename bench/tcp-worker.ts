/**
 * The TCP worker: one stack, the same services over it whichever it is, so that the two figures
 * differ only by the stack (`node --import tsx bench/tcp-worker.ts direct|socket`, inside a
 * namespace made for it by bench/tcp-suite.ts):
 *
 * - direct: our stack (Ethernet, ARP, IPv4, TCP) over a TAP, built as a unikernel gets it
 *   (`connectTapNetif`, the unix clock, time and random, `createDirectStack` with a static address);
 *   the kernel is the TAP's other end, in this namespace;
 * - socket: the socket stack (`connectSocketStack`, node:net), on one end of a veth pair whose other
 *   end, in the peer namespace, is the kernel the benchmark's tools run in.
 *
 * Services (bench/tcp-protocol.ts): a sink, an echo, HTTP with a 2-byte body and the
 * static-website example's htdocs (embedded, as `--kv-ro=crunch`, the default, builds it) through
 * the HTTP device (`connectHttpServer`, `serveKv`), and
 * a sender driven by commands on stdin. Replies go to stdout; warnings and errors to stderr.
 *
 * With `--ipv6` (the IPv6 rows), the link is dual-stack: static IPv6 addresses on both ends
 * (bench/tcp-worker-config.ts), the same listeners serving both families, the sender connecting to
 * whichever family its host is. Without it, the link carries no IPv6 at all.
 */
import { writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { IpAddress, Ipv4Prefix, Ipv6Address, Ipv6Prefix, setLogReporter, stderrLogReporter, type StackV4V6, type TcpFlow } from "@mirage-ts/runtime";
import { connectHttpServer, serveKv } from "@mirage-ts/http";
import { createDirectStack } from "@mirage-ts/tcpip";
import { connectCrunchKv, connectMonotonicClock, crunchDirectory, connectRandom, connectSocketStack, connectTapNetif, connectTime } from "@mirage-ts/unix";
import { DIRECT_TAP, SOCKET_VETH } from "./tcp-worker-config.ts";
import { TCP_PORTS, type SendStarted, type SendStopped, type TcpDiagnostics, type TcpWorkerCommand } from "./tcp-protocol.ts";


// stdout carries the protocol alone: a stray console.log (a debugging line left in a library) goes to stderr.
console.log = console.error;
setLogReporter((entry) => {
  if (entry.level === "error" || entry.level === "warning") stderrLogReporter(entry);
});

const kind = process.argv[2];
if (kind !== "direct" && kind !== "socket") throw new Error(`tcp-worker: "direct" or "socket", not ${kind}`);
const ipv6 = process.argv.includes("--ipv6");

interface Booted {
  stack: StackV4V6;
  /** Resolves when the IPv6 address is usable (the direct stack's DAD on it passed). */
  ipv6Ready(): Promise<void>;
  diagnostics(): TcpDiagnostics;
  close(): Promise<void>;
}

/** Every numeric counter of a nested stats record, as "protocol.counter", the zeros left out. */
function flatten(prefix: string, value: unknown, into: TcpDiagnostics): TcpDiagnostics {
  if (typeof value === "number") {
    if (value !== 0) into[prefix] = value;
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) flatten(prefix === "" ? k : `${prefix}.${k}`, v, into);
  }
  return into;
}

async function bootDirect(): Promise<Booted> {
  const netif = await connectTapNetif({ name: DIRECT_TAP.device });
  const execFileAsync = promisify(execFile);
  if (ipv6) {
    // Dual stack: a static address on each end, no DAD on the kernel's and no router solicitations from it.
    writeFileSync(`/proc/sys/net/ipv6/conf/${DIRECT_TAP.device}/accept_ra`, "0");
    await execFileAsync("ip", ["addr", "add", `${DIRECT_TAP.kernel6}/${DIRECT_TAP.prefixLength6}`, "dev", DIRECT_TAP.device, "nodad"]);
  } else {
    // No IPv6 chatter on the link: only the benchmark's frames cross it.
    writeFileSync(`/proc/sys/net/ipv6/conf/${DIRECT_TAP.device}/disable_ipv6`, "1");
  }
  await execFileAsync("ip", ["addr", "add", `${DIRECT_TAP.kernel}/${DIRECT_TAP.prefixLength}`, "dev", DIRECT_TAP.device]);
  const stack = createDirectStack({
    netif,
    clock: connectMonotonicClock(),
    time: connectTime(),
    random: connectRandom(),
    ipv4: { address: Ipv4Prefix.of(`${DIRECT_TAP.address}/${DIRECT_TAP.prefixLength}`) },
    ...(ipv6 ? { ipv6: { address: Ipv6Prefix.of(`${DIRECT_TAP.address6}/${DIRECT_TAP.prefixLength6}`) } } : {}),
  });
  // DAD on the static address runs in the background while the IPv4 rows warm up.
  const address6 = ipv6 ? stack.ipv6.waitForAddress(Ipv6Address.of(DIRECT_TAP.address6)) : Promise.reject(new Error("started without --ipv6"));
  address6.catch(() => undefined);
  return {
    stack,
    ipv6Ready: () => address6,
    diagnostics: () => flatten("", { ...stack.stats(), netif: netif.stats() }, {}),
    async close() {
      await stack.disconnect();
      await netif.disconnect();
    },
  };
}

async function bootSocket(): Promise<Booted> {
  // The orchestrator gives the veth its IPv6 addresses (nodad) before starting this worker.
  const stack = await connectSocketStack({
    ipv4: Ipv4Prefix.of(`${SOCKET_VETH.address}/${SOCKET_VETH.prefixLength}`),
    ...(ipv6 ? { ipv6: Ipv6Prefix.of(`${SOCKET_VETH.address6}/${SOCKET_VETH.prefixLength6}`) } : {}),
    ipv4Only: !ipv6,
    ipv6Only: false,
  });
  return {
    stack,
    ipv6Ready: () => (ipv6 ? Promise.resolve() : Promise.reject(new Error("started without --ipv6"))),
    diagnostics: () => ({}),
    close: () => stack.disconnect(),
  };
}

const booted = kind === "direct" ? await bootDirect() : await bootSocket();
const { stack } = booted;

/** Reads and discards until the peer's FIN; any error just ends the flow. */
async function sink(flow: TcpFlow): Promise<void> {
  try {
    while ((await flow.read()) !== null);
  } catch {
    /* the peer reset: the measurement is over */
  }
  await flow.close().catch(() => undefined);
}

/** Echoes until the peer's FIN, then closes. */
async function echo(flow: TcpFlow): Promise<void> {
  flow.setNoDelay(true);
  try {
    for (let data = await flow.read(); data !== null; data = await flow.read()) await flow.write(data);
  } catch {
    /* reset by the client */
  }
  await flow.close().catch(() => undefined);
}

stack.tcp.listen(TCP_PORTS.sink, sink);
stack.tcp.listen(TCP_PORTS.echo, echo);
const http = connectHttpServer({ stack });
const body = Buffer.from("ok");
http.listen(TCP_PORTS.http, (_req, res) => {
  res.setHeader("Content-Type", "text/plain");
  res.end(body);
});
// The static-website example as configured by default: its htdocs embedded (crunch), served from memory.
// BENCH_HTDOCS: where the htdocs are when this worker runs as a bundle (for profiling), not from bench/.
const htdocs = connectCrunchKv({
  files: await crunchDirectory(process.env["BENCH_HTDOCS"] ?? fileURLToPath(new URL("../examples/static-website/htdocs", import.meta.url))),
});
http.listen(TCP_PORTS.site, serveKv(htdocs));

/** The sender of "send" … "stop". */
let sending: { stop: boolean; bytes: number; done: Promise<string | undefined> } | undefined;

async function startSending(host: string, port: number, chunk: number): Promise<SendStarted> {
  let flow: TcpFlow;
  try {
    flow = await stack.tcp.connect(IpAddress.of(host), port);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const data = new Uint8Array(chunk).fill(0x5a);
  const state = { stop: false, bytes: 0, done: Promise.resolve<string | undefined>(undefined) };
  state.done = (async () => {
    try {
      // The same buffer again and again: what the stack does with it is the cost measured.
      while (!state.stop) {
        await flow.write(data);
        state.bytes += chunk;
      }
      return undefined;
    } catch (e) {
      return (e as Error).message;
    } finally {
      await flow.close().catch(() => undefined);
    }
  })();
  sending = state;
  return { ok: true };
}

async function stopSending(): Promise<SendStopped> {
  const s = sending;
  sending = undefined;
  if (s === undefined) return { bytes: 0, error: "not sending" };
  s.stop = true;
  const error = await s.done;
  return error === undefined ? { bytes: s.bytes } : { bytes: s.bytes, error };
}

const quit = async (): Promise<never> => {
  await stopSending();
  await http.disconnect();
  await booted.close();
  process.exit(0);
};

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as TcpWorkerCommand;
  let reply: unknown;
  switch (command.cmd) {
    case "send":
      reply = await startSending(command.host, command.port, command.chunk);
      break;
    case "stop":
      reply = await stopSending();
      break;
    case "ipv6-ready":
      reply = await booted.ipv6Ready().then(
        () => ({ ok: true }),
        (e: Error) => ({ ok: false, error: e.message }),
      );
      break;
    case "diagnostics":
      reply = booted.diagnostics();
      break;
    case "quit":
      await quit();
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
await quit();
