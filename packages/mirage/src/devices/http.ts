/** The HTTP server device: Node's http.Server over any stack's flows. */
import { impl, type Device, type ImplDevice } from "../device.ts";
import { HTTP_PACKAGE } from "./packages.ts";

export function httpServer(stack: Device): ImplDevice {
  return impl({
    type: "HttpServer",
    name: "http",
    impl: "node",
    module: HTTP_PACKAGE,
    connect: "connectHttpServer",
    deps: { stack },
  });
}
