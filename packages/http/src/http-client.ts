/**
 * The HTTP(S) client device: Node's own `http.request` / `https.request` over any stack's flows.
 * The name in the URL is resolved with the resolver device, the connection is
 * `stack.tcp.connect`, and `createConnection` hands Node `asSocket(flow)` — wrapped in
 * `tls.connect({ socket })` for https, which checks the certificate against `servername` and
 * the `ca` given (Node's bundled roots when none). No agent: one connection per request, closed
 * when the response ends.
 */
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import type { Duplex } from "node:stream";
import { IpAddress, asSocket, createLogSource, type Device, type StackV4V6, type TcpFlow } from "@mirage-ts/runtime";

const log = createLogSource("http-client", "the HTTP client device");

/** What the client needs of a resolver (the DNS resolver device of @mirage-ts/dns provides it). */
export interface HostResolver {
  getHostByName(name: string, family?: 4 | 6): Promise<IpAddress[]>;
}

export interface HttpClientOptions {
  stack: StackV4V6;
  resolver: HostResolver;
}

export interface HttpRequestOptions {
  /** Default "GET". */
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Uint8Array;
  /** Trusted CA certificates (PEM) for https, instead of Node's bundled roots. */
  ca?: string | Uint8Array;
  /** The whole exchange (resolution, connection, response body); default 30 s. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

export interface HttpClient extends Device {
  request(url: string | URL, options?: HttpRequestOptions): Promise<HttpResponse>;
}

export function connectHttpClient(opts: HttpClientOptions): HttpClient {
  const { stack, resolver } = opts;
  const active = new Set<ClientRequest>();
  let disconnected = false;

  /** The addresses of `host`: IPv4 first; IPv6 when the name has no A record. */
  const resolve = async (host: string): Promise<IpAddress[]> => {
    const literal = IpAddress.parse(host);
    if (literal.ok) return [literal.value];
    try {
      return await resolver.getHostByName(host, 4);
    } catch (e) {
      if ((e as { code?: unknown }).code !== "no-data") throw e;
      return resolver.getHostByName(host, 6);
    }
  };

  const connect = async (host: string, port: number): Promise<TcpFlow> => {
    const addresses = await resolve(host);
    let lastError: unknown = new Error(`${host}: no address`);
    for (const address of addresses) {
      try {
        return await stack.tcp.connect(address, port);
      } catch (e) {
        log.debug(`${host}: connecting to ${address} port ${port} failed: ${e instanceof Error ? e.message : String(e)}`);
        lastError = e;
      }
    }
    throw lastError;
  };

  return {
    async request(target, options = {}) {
      if (disconnected) throw new Error("HTTP request: the client is disconnected");
      const url = typeof target === "string" ? new URL(target) : target;
      const secure = url.protocol === "https:";
      if (!secure && url.protocol !== "http:") throw new Error(`HTTP request: unsupported scheme ${url.protocol} in ${url.href}`);
      // URL keeps the brackets of an IPv6 literal in hostname.
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
      const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
      const timeoutMs = options.timeoutMs ?? 30_000;

      return new Promise<HttpResponse>((resolveResponse, reject) => {
        let req: ClientRequest | undefined;
        let socket: Duplex | undefined;
        let settled = false;
        const fail = (e: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (req) active.delete(req);
          req?.destroy();
          socket?.destroy();
          reject(e instanceof Error ? e : new Error(String(e)));
        };
        const timer = setTimeout(() => fail(new Error(`HTTP request ${url.href}: no complete response within ${timeoutMs} ms`)), timeoutMs);

        const createConnection = ((_: unknown, done: (error: Error | null, socket?: Duplex) => void) => {
          connect(host, port).then(
            (flow) => {
              const raw = asSocket(flow);
              socket = secure
                ? tlsConnect({
                    socket: raw,
                    host,
                    // SNI carries names only (RFC 6066 §3); an IP literal is checked against the certificate's IP SANs.
                    servername: IpAddress.parse(host).ok ? "" : host,
                    ca: options.ca === undefined ? undefined : toPem(options.ca),
                    ALPNProtocols: ["http/1.1"],
                  })
                : raw;
              if (settled) socket.destroy();
              else done(null, socket);
            },
            (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
          );
          return undefined;
        }) as unknown as RequestOptions["createConnection"];

        const requestOptions: RequestOptions = {
          method: options.method ?? "GET",
          protocol: url.protocol,
          hostname: url.hostname,
          port,
          path: `${url.pathname}${url.search}`,
          headers: { ...options.headers },
          createConnection,
        };
        req = (secure ? httpsRequest : httpRequest)(requestOptions, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.once("error", fail);
          res.once("end", () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (req) active.delete(req);
            socket?.destroy();
            resolveResponse({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) });
          });
        });
        active.add(req);
        req.once("error", fail);
        req.end(options.body === undefined ? undefined : typeof options.body === "string" ? options.body : Buffer.from(options.body));
      });
    },
    async disconnect() {
      disconnected = true;
      for (const req of active) req.destroy(new Error("the HTTP client was disconnected"));
      active.clear();
    },
  };
}

function toPem(value: string | Uint8Array): string | Buffer {
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
