/** Helpers for TCP tests: two direct stacks on the switch, reading a flow to the end. */
import type { Flow, TcpFlow } from "@mirage-ts/runtime";
import type { DirectStackOptions } from "../../src/stack/direct-stack.ts";
import { lan, settle } from "./stacks.ts";
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
