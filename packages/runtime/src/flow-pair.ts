/**
 * Two in-memory flows joined back to back, like the two ends of a TCP connection: what one
 * writes the other reads. For tests of anything that runs over a Flow (asSocket, HTTP, TLS)
 * without a network stack.
 *
 * Each direction is a bounded buffer of `capacity` bytes: `write` resolves once its bytes fit
 * (a large write waits for the reader in pieces), so back-pressure behaves as over TCP. Written
 * bytes are copied, so the writer may reuse its buffer as soon as `write` resolves.
 * `shutdown("write")` is a FIN (the peer reads the rest, then null); `close()` is a FIN plus
 * "I will not read": the peer's later writes reject with FlowError "reset", as TCP answers
 * data for a closed socket with RST.
 */
import { FlowError, type Endpoint, type TcpFlow } from "./devices.ts";
import { Ipv4Address } from "./ip.ts";

export interface FlowPairOptions {
  /** Bytes each direction buffers before `write` waits; default 64 KiB. */
  capacity?: number;
  /** The first flow's local endpoint (the second's remote); default 192.0.2.1:49152. */
  a?: Endpoint;
  /** The second flow's local endpoint (the first's remote); default 192.0.2.2:80. */
  b?: Endpoint;
}

/** One direction: the bytes in flight from a writer to a reader. */
class Pipe {
  private readonly chunks: Uint8Array[] = [];
  private queued = 0;
  /** The writer shut down: the reader gets null once the queue is empty. */
  finished = false;
  /** The reader closed: writes are refused with "reset". */
  reset = false;
  /** The reader shut down its reading: writes succeed and their bytes are dropped. */
  discarding = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly capacity: number) {}

  async write(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      if (this.reset) throw new FlowError("reset", "the peer closed the flow");
      if (this.discarding) return;
      const room = this.capacity - this.queued;
      if (room <= 0) {
        await this.wait();
        continue;
      }
      // A copy (Uint8Array.prototype.slice, not Buffer.slice, which would share memory).
      const piece = Uint8Array.prototype.slice.call(data, offset, offset + room);
      this.chunks.push(piece);
      this.queued += piece.length;
      offset += piece.length;
      this.wake();
    }
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        this.queued -= chunk.length;
        this.wake();
        return chunk;
      }
      if (this.finished || this.discarding || this.reset) return null;
      await this.wait();
    }
  }

  /** Drops what is queued and whatever comes later. */
  discard(reset: boolean): void {
    this.discarding = true;
    if (reset) this.reset = true;
    this.chunks.length = 0;
    this.queued = 0;
    this.wake();
  }

  finish(): void {
    this.finished = true;
    this.wake();
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

class PairedFlow implements TcpFlow {
  private writeShut = false;
  private closed = false;
  noDelay = false;
  keepAlive: { enable: boolean; idleMs: number | undefined } = { enable: false, idleMs: undefined };

  constructor(
    private readonly inbound: Pipe,
    private readonly outbound: Pipe,
    readonly local: Endpoint,
    readonly remote: Endpoint,
  ) {}

  read(): Promise<Uint8Array | null> {
    return this.closed ? Promise.resolve(null) : this.inbound.read();
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.closed || this.writeShut) throw new FlowError("closed", "the flow is closed for writing");
    await this.outbound.write(data);
  }

  async writev(data: readonly Uint8Array[]): Promise<void> {
    for (const chunk of data) await this.write(chunk);
  }

  async shutdown(mode: "read" | "write" | "both" = "write"): Promise<void> {
    if (mode !== "write") this.inbound.discard(false);
    if (mode !== "read") {
      this.writeShut = true;
      this.outbound.finish();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.writeShut = true;
    this.outbound.finish();
    this.inbound.discard(true);
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
  }

  setKeepAlive(enable: boolean, idleMs?: number): void {
    this.keepAlive = { enable, idleMs };
  }
}

/** Two connected flows: `[a, b]`, where a.local is b.remote and a.remote is b.local. */
export function createFlowPair(options: FlowPairOptions = {}): [TcpFlow, TcpFlow] {
  const capacity = options.capacity ?? 64 * 1024;
  if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new RangeError(`createFlowPair: capacity ${capacity} is not a positive integer`);
  const a = options.a ?? { address: Ipv4Address.of("192.0.2.1"), port: 49152 };
  const b = options.b ?? { address: Ipv4Address.of("192.0.2.2"), port: 80 };
  const aToB = new Pipe(capacity);
  const bToA = new Pipe(capacity);
  return [new PairedFlow(bToA, aToB, a, b), new PairedFlow(aToB, bToA, b, a)];
}
