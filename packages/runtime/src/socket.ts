/**
 * `asSocket(flow)`: a Flow as a `net.Socket`-compatible Duplex (DESIGN.md §3), so that Node's
 * own protocol code — `http.Server` (via `server.emit("connection", socket)`), `http.request`
 * (`createConnection`), `tls.TLSSocket` / `tls.connect({ socket })`, `http2` — runs over any
 * stack's flows unchanged.
 *
 * It is already connected: there is no 'connect' event and `connecting` is false. Back-pressure
 * holds both ways: `_read` pulls `flow.read()` only when the stream asks for more, and `_write`
 * completes only when `flow.write` has accepted the bytes. `end()` is `flow.shutdown("write")`,
 * `destroy()` is `flow.close()`. `setTimeout` emits 'timeout' after that long without traffic,
 * as net.Socket does (Node's HTTP server relies on it for keep-alive and header timeouts).
 */
import { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import type { Flow, TcpFlow } from "./devices.ts";

export interface AsSocketOptions {
  /**
   * Whether the writable side stays open after the peer's end of stream. Default false, as for
   * net.Socket: when the peer shuts down, this side ends too once its pending writes are done.
   */
  allowHalfOpen?: boolean;
}

type Family = "IPv4" | "IPv6";

const familyOf = (version: 4 | 6): Family => (version === 4 ? "IPv4" : "IPv6");

function isTcpFlow(flow: Flow): flow is TcpFlow {
  return typeof (flow as Partial<TcpFlow>).setNoDelay === "function" && typeof (flow as Partial<TcpFlow>).setKeepAlive === "function";
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export class FlowSocket extends Duplex {
  /** Always false: a flow is connected from the start. */
  readonly connecting = false;
  readonly pending = false;
  /** Bytes read from the flow so far. */
  bytesRead = 0;
  /** Bytes the flow has accepted so far. */
  bytesWritten = 0;
  private pulling = false;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly flow: Flow,
    options: AsSocketOptions = {},
  ) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false });
  }

  get remoteAddress(): string {
    return this.flow.remote.address.toString();
  }
  get remotePort(): number {
    return this.flow.remote.port;
  }
  get remoteFamily(): Family {
    return familyOf(this.flow.remote.address.family);
  }
  get localAddress(): string {
    return this.flow.local.address.toString();
  }
  get localPort(): number {
    return this.flow.local.port;
  }
  get localFamily(): Family {
    return familyOf(this.flow.local.address.family);
  }

  address(): AddressInfo {
    return { address: this.localAddress, family: this.localFamily, port: this.localPort };
  }

  /** As net.Socket's: "open", "readOnly", "writeOnly" or "closed". */
  get readyState(): "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  /** Bytes waiting to be accepted by the flow (net.Socket's deprecated bufferSize). */
  get bufferSize(): number {
    return this.writableLength;
  }

  setNoDelay(noDelay = true): this {
    if (isTcpFlow(this.flow)) this.flow.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelayMs = 0): this {
    if (isTcpFlow(this.flow)) this.flow.setKeepAlive(enable, initialDelayMs > 0 ? initialDelayMs : undefined);
    return this;
  }

  /** Emits 'timeout' after `ms` without reads or writes (0 disables), as net.Socket does. */
  setTimeout(ms: number, callback?: () => void): this {
    this.timeoutMs = ms;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (ms > 0 && !this.destroyed) {
      // Unref'd, as net.Socket's: an idle timer must not keep the process alive.
      this.timer = setTimeout(() => this.emit("timeout"), ms).unref();
    }
    if (callback) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    return this;
  }

  /** The flow's own resources decide what keeps the process alive; these exist for compatibility. */
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  /** Ends the writable side, then destroys once it is flushed (net.Socket's destroySoon). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  resetAndDestroy(): this {
    return this.destroy();
  }

  override _read(): void {
    if (this.pulling) return;
    this.pulling = true;
    void this.pull();
  }

  private async pull(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.flow.read();
        if (this.destroyed) return;
        if (chunk === null) {
          this.push(null);
          return;
        }
        if (chunk.length === 0) continue;
        this.bytesRead += chunk.length;
        this.touch();
        // Stop when the stream's buffer is full; it calls _read again when it wants more.
        if (!this.push(chunk)) return;
      }
    } catch (e) {
      this.destroy(toError(e));
    } finally {
      this.pulling = false;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.touch();
    this.flow.write(chunk).then(
      () => {
        this.bytesWritten += chunk.length;
        this.touch();
        callback();
      },
      (e: unknown) => callback(toError(e)),
    );
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    this.touch();
    const buffers = chunks.map((c) => c.chunk);
    this.flow.writev(buffers).then(
      () => {
        for (const b of buffers) this.bytesWritten += b.length;
        this.touch();
        callback();
      },
      (e: unknown) => callback(toError(e)),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flow.shutdown("write").then(
      () => callback(),
      (e: unknown) => callback(toError(e)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Not awaited: destroy is immediate for the stream; the flow finishes closing on its own.
    this.flow.close().catch(() => undefined);
    callback(error);
  }

  /** Traffic: the idle timeout starts again. */
  private touch(): void {
    if (this.timer && this.timeoutMs > 0) this.timer.refresh();
  }
}

/** The flow as a connected net.Socket-compatible Duplex. */
export function asSocket(flow: Flow, options?: AsSocketOptions): FlowSocket {
  return new FlowSocket(flow, options);
}
