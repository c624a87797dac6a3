/**
 * A TcpFlow over a connected node:net Socket (the socket stack's flows).
 *
 * Reading: the socket's 'data' chunks are queued for `read()`; once the queue holds
 * `highWaterMark` bytes the socket is paused, so the kernel's receive window closes and the peer
 * slows down instead of the process buffering without bound. Writing: `write` resolves when Node
 * has handed the bytes to the kernel (its write callback), after which the caller may reuse its
 * buffer. The socket is half-open capable: the peer's FIN ends `read()` (null) and leaves
 * `write` usable, as TCP allows.
 */
import type { Socket } from "node:net";
import { FlowError, type Endpoint, type TcpFlow } from "@mirage-ts/runtime";
import { flowErrorOf } from "./flow-error.ts";
import { endpointOfNode, familyOfNode } from "./socket-address.ts";

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

export class SocketFlow implements TcpFlow {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private ended = false;
  private error: FlowError | undefined;
  private readShut = false;
  private writeShut = false;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(
    /** The connected socket; it must have been created with allowHalfOpen: true. */
    readonly socket: Socket,
    private readonly highWaterMark = DEFAULT_HIGH_WATER_MARK,
  ) {
    const family = familyOfNode(socket.remoteFamily ?? socket.localFamily);
    this.local = endpointOfNode(socket.localAddress, socket.localPort, family);
    this.remote = endpointOfNode(socket.remoteAddress, socket.remotePort, family);
    socket.on("data", (chunk: Buffer) => {
      if (this.readShut) return;
      this.queue.push(chunk);
      this.queuedBytes += chunk.length;
      if (this.queuedBytes >= this.highWaterMark) socket.pause();
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", (e: Error) => {
      this.error ??= flowErrorOf(e);
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        this.queuedBytes -= chunk.length;
        if (this.queuedBytes < this.highWaterMark && !this.socket.destroyed) this.socket.resume();
        return chunk;
      }
      if (this.readShut || this.closed) return null;
      // Bytes received before a reset are delivered (above); then the reset is reported.
      if (this.error) throw this.error;
      if (this.ended) return null;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  write(data: Uint8Array): Promise<void> {
    const refused = this.writeRefusal();
    if (refused) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.socket.write(data, (e) => (e ? reject(this.error ?? flowErrorOf(e)) : resolve()));
    });
  }

  async writev(data: readonly Uint8Array[]): Promise<void> {
    const refused = this.writeRefusal();
    if (refused) throw refused;
    // Corked writes leave Node as one writev(2).
    this.socket.cork();
    const written = data.map((chunk) => this.write(chunk));
    this.socket.uncork();
    await Promise.all(written);
  }

  async shutdown(mode: "read" | "write" | "both" = "write"): Promise<void> {
    if (mode === "read" || mode === "both") {
      this.readShut = true;
      this.queue.length = 0;
      this.queuedBytes = 0;
      // Keep draining the kernel buffer (and dropping it) so the peer is not stalled by a full window.
      if (!this.socket.destroyed) this.socket.resume();
      this.wake();
    }
    if ((mode === "write" || mode === "both") && !this.writeShut) {
      this.writeShut = true;
      if (this.socket.destroyed || this.socket.writableEnded) return;
      await new Promise<void>((resolve, reject) => {
        this.socket.end((e?: Error | null) => (e ? reject(this.error ?? flowErrorOf(e)) : resolve()));
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.writeShut = true;
    this.wake();
    const socket = this.socket;
    if (socket.destroyed) return;
    if (socket.writableLength > 0) {
      // Unacknowledged writes are still queued in Node: let them go out, then FIN and free.
      socket.destroySoon();
      return;
    }
    await new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      socket.destroy();
    });
  }

  /** Frees the socket at once, whatever is pending (the stack's disconnect). */
  abort(): void {
    this.closed = true;
    this.wake();
    this.socket.destroy();
  }

  setNoDelay(noDelay: boolean): void {
    this.socket.setNoDelay(noDelay);
  }

  setKeepAlive(enable: boolean, idleMs?: number): void {
    this.socket.setKeepAlive(enable, idleMs ?? 0);
  }

  private writeRefusal(): FlowError | undefined {
    if (this.error) return this.error;
    if (this.closed || this.writeShut || this.socket.destroyed) return new FlowError("closed", "the flow is closed for writing");
    return undefined;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
