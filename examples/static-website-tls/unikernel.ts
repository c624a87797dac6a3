import { createLogSource, type KvRo, type StackV4V6 } from "@mirage-ts/runtime";
import { serveKv, tlsFromKv, type HttpServer } from "@mirage-ts/http";

const log = createLogSource("static-website-tls", "serves htdocs over HTTPS and HTTP");

/** Serves `htdocs` over HTTPS on --https, with the certificate from `certs`, and over HTTP on --http. */
export async function start(
  { stack, http, htdocs, certs }: { stack: StackV4V6; http: HttpServer; htdocs: KvRo; certs: KvRo },
  keys: { http: number; https: number },
): Promise<void> {
  const handler = serveKv(htdocs);
  http.listenTls(keys.https, await tlsFromKv(certs), handler);
  http.listen(keys.http, handler);
  log.info(`serving https://127.0.0.1:${keys.https}/ and http://127.0.0.1:${keys.http}/`);
  await stack.listen();
}
