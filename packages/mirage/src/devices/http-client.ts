/** The HTTP(S) client device: Node's http.request and https.request over any stack's flows, names resolved by `resolver`. */
import { impl, type Device, type ImplDevice } from "../device.ts";
import { HTTP_PACKAGE } from "./packages.ts";

export function httpClient(stack: Device, resolver: Device): ImplDevice {
  return impl({
    type: "HttpClient",
    name: "http_client",
    impl: "node",
    module: HTTP_PACKAGE,
    connect: "connectHttpClient",
    deps: { stack, resolver },
  });
}
