import { createLogSource, type KvRo, type StackV4V6 } from "@mirage-ts/runtime";
import { serveKv, type HttpServer } from "@mirage-ts/http";

const log = createLogSource("static-website", "serves htdocs over HTTP");

/** The URL a person on this host can open: the stack's first address, loopback when it listens on any. */
export function siteUrl(stack: StackV4V6, scheme: string, port: number): string {
  const address = stack.ip.addresses()[0];
  // The socket stack binds the wildcard: name the loopback of the family it listens on.
  if (address === undefined || address.isUnspecified()) return address?.family === 6 ? `${scheme}://[::1]:${port}/` : `${scheme}://127.0.0.1:${port}/`;
  return address.family === 6 ? `${scheme}://[${address}]:${port}/` : `${scheme}://${address}:${port}/`;
}

/** Serves the read-only store `htdocs` on --port until stopped. */
export async function start(
  { stack, http, htdocs }: { stack: StackV4V6; http: HttpServer; htdocs: KvRo },
  keys: { port: number },
): Promise<void> {
  http.listen(keys.port, serveKv(htdocs));
  log.info(`serving ${siteUrl(stack, "http", keys.port)}`);
  await stack.listen();
}
