/** node:http over asSocket over two direct stacks, in virtual time. */
import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";
import { asSocket } from "@mirage-ts/runtime";
import type { Duplex } from "node:stream";
import { ip } from "./support/stacks.ts";
import { pair } from "./support/tcp.ts";

test("http.Server answers http.request, both over asSocket on the direct stack", async () => {
  const { a, b, settle } = pair({}, "macrotask");
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => res.end(`hello ${req.url} ${n}`));
  });
  b.tcp.listen(80, (flow) => {
    server.emit("connection", asSocket(flow));
  });
  const body = new Promise<string>((resolve, reject) => {
    const req = http.request(
      {
        method: "POST",
        path: "/x",
        createConnection: () => {
          const socket = new (require_passthrough())();
          a.tcp.connect(ip("10.0.0.2"), 80).then((flow) => socket.attach(asSocket(flow)), reject);
          return socket as unknown as Duplex;
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve(`${res.statusCode} ${text}`));
      },
    );
    req.on("error", reject);
    req.end("x".repeat(100_000));
  });
  assert.equal(await settle(body, 60_000, 5), "200 hello /x 100000");
});

/** A socket-shaped proxy that connects later: http.request wants its socket synchronously. */
import { Duplex as DuplexStream } from "node:stream";
function require_passthrough() {
  return class Later extends DuplexStream {
    private inner: Duplex | undefined;
    private queued: Array<[Buffer, (e?: Error | null) => void]> = [];
    attach(inner: Duplex): void {
      this.inner = inner;
      inner.on("data", (c) => this.push(c));
      inner.on("end", () => this.push(null));
      inner.on("error", (e) => this.destroy(e));
      for (const [c, cb] of this.queued.splice(0)) inner.write(c, cb);
      this.emit("connect");
    }
    override _read(): void {}
    override _write(chunk: Buffer, _enc: string, cb: (e?: Error | null) => void): void {
      if (this.inner) this.inner.write(chunk, cb);
      else this.queued.push([chunk, cb]);
    }
    override _final(cb: (e?: Error | null) => void): void {
      if (this.inner) this.inner.end(cb);
      else cb();
    }
    setNoDelay(): this {
      return this;
    }
    setKeepAlive(): this {
      return this;
    }
    setTimeout(): this {
      return this;
    }
  };
}
