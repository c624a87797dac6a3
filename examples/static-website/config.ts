import { register, main, key, Arg, genericStackv4v6, defaultNetwork, genericKvRo, httpServer } from "@mirage-ts/mirage";

const port = key("port", Arg.int({ default: 8080, doc: "Listening HTTP port." }));

const stack = genericStackv4v6(defaultNetwork);

register("static-website", [
  main("./unikernel.ts", { stack, http: httpServer(stack), htdocs: genericKvRo("./htdocs") }, { keys: [port] }),
]);
