/**
 * What the orchestrator (bench/tcp-suite.ts) and a TCP worker (bench/tcp-worker.ts, the direct or
 * the socket stack) say to each other: one JSON line in on stdin, one JSON line out on stdout, as
 * for the UDP workers (bench/worker-protocol.ts).
 *
 * The worker serves, from the moment it is ready: a sink on `TCP_PORTS.sink` (reads and discards
 * until the peer's FIN), an echo on `TCP_PORTS.echo` (echoes until the peer's FIN, then closes),
 * HTTP with a 2-byte body on `TCP_PORTS.http` and the static-website example's htdocs on
 * `TCP_PORTS.site`, all with the same code whichever stack is under it.
 */

export const TCP_PORTS = {
  /** Kernel → stack bulk: the stack reads and discards. */
  sink: 5001,
  /** Stack → kernel bulk: the kernel's sink listens there. */
  kernelSink: 5002,
  /** Connections per second: a small exchange, then the client closes. */
  echo: 5003,
  /** HTTP, "ok" (2 bytes) for every request. */
  http: 8080,
  /** HTTP, examples/static-website/htdocs (embedded) through serveKv. */
  site: 8081,
} as const;

export type TcpWorkerCommand =
  /** Connects to `host`:`port` (an IPv4 or IPv6 address) and writes `chunk`-byte buffers as fast as the flow takes them, until "stop". */
  | { cmd: "send"; host: string; port: number; chunk: number }
  /** Ends the "send" loop and closes its flow. */
  | { cmd: "stop" }
  /** Resolves once the stack's IPv6 address is usable (the direct stack's DAD passed): {ok, error?} as SendStarted. */
  | { cmd: "ipv6-ready" }
  /** The stack's counters (retransmits, drops), for the notes under the table. */
  | { cmd: "diagnostics" }
  | { cmd: "quit" };

export interface SendStarted {
  /** False when the connection failed (the reason in `error`). */
  ok: boolean;
  error?: string;
}

export interface SendStopped {
  /** Bytes the flow accepted since "send". */
  bytes: number;
  /** Why the loop ended early, if it did. */
  error?: string;
}

export type TcpDiagnostics = Record<string, number>;
