/**
 * The HTTP server device: Node's own `http.Server` over any stack's flows (the socket stack now,
 * the direct stack later). Each accepted flow becomes a socket with `asSocket` and is handed to
 * the server as a connection; for HTTPS, a server-side `tls.TLSSocket` is put in between. Node
 * does the HTTP (keep-alive, pipelining, timeouts, chunking) and the TLS (ALPN "http/1.1").
 */
import { createServer, type RequestListener, type Server, type ServerOptions } from "node:http";
import { TLSSocket, createSecureContext, type SecureContext } from "node:tls";
import { asSocket, createLogSource, type Device, type FlowSocket, type StackV4V6, type TcpFlow } from "@mirage-ts/runtime";

const log = createLogSource("http", "the HTTP server device");

export interface HttpServerOptions {
  stack: StackV4V6;
}

export interface TlsServerCredentials {
  /** The certificate chain, PEM. */
  cert: string | Uint8Array;
  /** The private key, PEM. */
  key: string | Uint8Array;
}

export interface HttpServer extends Device {
  /** Serves HTTP on `port` of every address of the stack; returns the Node server (for its options and events). */
  listen(port: number, handler: RequestListener, options?: ServerOptions): Server;
  /** Serves HTTPS on `port`. */
  listenTls(port: number, tls: TlsServerCredentials, handler: RequestListener, options?: ServerOptions): Server;
}

interface Listening {
  server: Server;
  sockets: Set<FlowSocket | TLSSocket>;
}

export function connectHttpServer(opts: HttpServerOptions): HttpServer {
  const { stack } = opts;
  const listening = new Map<number, Listening>();
  let disconnected = false;

  const start = (port: number, handler: RequestListener, options: ServerOptions, secureContext?: SecureContext): Server => {
    if (disconnected) throw new Error(`HTTP listen on port ${port}: the device is disconnected`);
    if (listening.has(port)) throw new Error(`HTTP: port ${port} is already served`);
    const server = createServer(options, guard(port, handler));
    // A server fed with connections never calls listen(); this starts what listen() would have:
    // Node's connection tracking, which enforces headersTimeout/requestTimeout (slow clients)
    // and lets closeAllConnections work.
    server.emit("listening");
    const entry: Listening = { server, sockets: new Set() };
    const track = (socket: FlowSocket | TLSSocket) => {
      entry.sockets.add(socket);
      socket.once("close", () => entry.sockets.delete(socket));
    };
    stack.tcp.listen(port, (flow: TcpFlow) => {
      const raw = asSocket(flow);
      track(raw);
      if (!secureContext) {
        server.emit("connection", raw);
        return;
      }
      const tls = new TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: ["http/1.1"] });
      // TLS over a JS stream does not see the peer's address: report the flow's.
      Object.defineProperties(tls, {
        remoteAddress: { get: () => raw.remoteAddress },
        remotePort: { get: () => raw.remotePort },
        remoteFamily: { get: () => raw.remoteFamily },
        localAddress: { get: () => raw.localAddress },
        localPort: { get: () => raw.localPort },
      });
      track(tls);
      tls.once("close", () => raw.destroy());
      server.emit("connection", tls);
    });
    listening.set(port, entry);
    return server;
  };

  return {
    listen(port, handler, options = {}) {
      return start(port, handler, options);
    },
    listenTls(port, tls, handler, options = {}) {
      const secureContext = createSecureContext({ cert: toPem(tls.cert), key: toPem(tls.key) });
      return start(port, handler, options, secureContext);
    },
    async disconnect() {
      disconnected = true;
      for (const [port, { server, sockets }] of listening) {
        stack.tcp.unlisten(port);
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        server.close();
      }
      listening.clear();
    },
  };
}

function toPem(value: string | Uint8Array): string | Buffer {
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * A handler that throws (or rejects) answers 500 instead of taking the unikernel down: Node
 * would otherwise turn it into an uncaught exception.
 */
function guard(port: number, handler: RequestListener): RequestListener {
  return (req, res) => {
    const failed = (e: unknown) => {
      log.err(`port ${port}: ${req.method} ${req.url}: the handler failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader("Content-Type", "text/plain; charset=utf-8");
        res.end("Internal server error\n");
      } else {
        res.destroy();
      }
    };
    try {
      const result: unknown = handler(req, res);
      if (result instanceof Promise) result.catch(failed);
    } catch (e) {
      failed(e);
    }
  };
}
