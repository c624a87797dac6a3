import { register, main, key, Arg, genericStackv4v6, defaultNetwork, resolver, httpClient, defaultConsole } from "@mirage-ts/mirage";

const uri = key(
  "uri",
  Arg.string({
    default: "http://example.invalid/",
    doc: "The URL to fetch (http or https). The default is under .invalid, which never resolves: give --uri.",
    docv: "URL",
  }),
);

const stack = genericStackv4v6(defaultNetwork);

register("http-fetch", [
  main("./unikernel.ts", { http: httpClient(stack, resolver(stack)), console: defaultConsole }, { keys: [uri] }),
]);
