import { register, main, key, Arg, genericStackv4v6, defaultNetwork, genericKvRo, httpServer } from "@mirage-ts/mirage";

const httpPort = key("http", Arg.int({ default: 8080, doc: "Listening HTTP port." }));
const httpsPort = key("https", Arg.int({ default: 4433, doc: "Listening HTTPS port." }));

const stack = genericStackv4v6(defaultNetwork);

// ./tls holds server.pem and server.key (see README.md in this folder).
register("static-website-tls", [
  main(
    "./unikernel.ts",
    { stack, http: httpServer(stack), htdocs: genericKvRo("./htdocs"), certs: genericKvRo("./tls") },
    { keys: [httpPort, httpsPort] },
  ),
]);
