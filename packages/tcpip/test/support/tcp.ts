/** Helpers for TCP tests: two direct stacks on the switch, reading a flow to the end. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Flow, TcpFlow } from "@mirage-ts/runtime";
import type { DirectTcpFlow } from "../../src/tcp/flow.ts";
import type { DirectStackOptions } from "../../src/stack/direct-stack.ts";
import { ip, lan, settle } from "./stacks.ts";
import { type LinkFaults, withFaults } from "../../src/link/faults.ts";

export async function readAll(flow: Flow): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) break;
    chunks.push(chunk);
    n += chunk.length;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** `drainTurns` microtask turns between timers, or "macrotask" for code (node:http) that needs setImmediate turns. */
export function pair(extra: Partial<DirectStackOptions> = {}, drainTurns: number | "macrotask" = 64, faults?: LinkFaults & { seed: number }) {
  const l = lan({
    drain:
      drainTurns === "macrotask"
        ? () => new Promise<void>((resolve) => setImmediate(resolve))
        : async () => {
            for (let i = 0; i < drainTurns; i++) await Promise.resolve();
          },
  });
  const netif = faults !== undefined ? withFaults(l.sw.connect(), faults, { time: l.vt.time }) : undefined;
  const a = l.stack("10.0.0.1/24", netif !== undefined ? { ...extra, netif } : extra);
  const b = l.stack("10.0.0.2/24", extra);
  return { ...l, a, b, netif, settle: <T>(p: Promise<T>, limitMs = 600_000, stepMs = 5) => settle(l.vt, p, limitMs, stepMs) };
}

export type { TcpFlow };

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** `n` pseudo-random bytes from `seed` (an LCG: quick to make, the same for the same seed). */
export function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * Sends `up` from `a` to `b` (10.0.0.2:80) and `down` back, both at once on one connection, each
 * side shutting its write half when done; asserts both arrive whole (SHA-256) and returns the flows.
 */
export async function exchangeBothWays(
  { a, b, settle: run }: Pick<ReturnType<typeof pair>, "a" | "b" | "settle">,
  up: Uint8Array,
  down: Uint8Array,
): Promise<{ client: DirectTcpFlow; server: DirectTcpFlow }> {
  let server: DirectTcpFlow | undefined;
  let serverDone: (hash: string) => void = () => {};
  const serverGot = new Promise<string>((resolve) => (serverDone = resolve));
  b.tcp.listen(80, async (flow) => {
    server = flow as DirectTcpFlow;
    const [got] = await Promise.all([readAll(flow), flow.write(down).then(() => flow.shutdown("write"))]);
    serverDone(sha(got));
  });
  const client = (await run(a.tcp.connect(ip("10.0.0.2"), 80), 3_600_000)) as DirectTcpFlow;
  const [got] = await run(Promise.all([readAll(client), client.write(up).then(() => client.shutdown("write"))]), 3_600_000);
  assert.equal(sha(got), sha(down));
  assert.equal(await run(serverGot, 3_600_000), sha(up));
  return { client, server: server! };
}
