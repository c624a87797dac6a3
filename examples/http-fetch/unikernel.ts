import { createLogSource, type Console } from "@mirage-ts/runtime";
import type { HttpClient } from "@mirage-ts/http";

const log = createLogSource("http-fetch", "fetches --uri and reports what came back");

/** Resolves the name in --uri, fetches it, prints the status and the body's length, then exits. */
export async function start({ http, console }: { http: HttpClient; console: Console }, keys: { uri: string }): Promise<void> {
  log.info(`fetching ${keys.uri}`);
  const response = await http.request(keys.uri);
  console.log(`status ${response.status}`);
  console.log(`body ${response.body.byteLength} bytes`);
}
