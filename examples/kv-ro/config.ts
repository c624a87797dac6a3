import { register, main, genericKvRo, defaultConsole } from "@mirage-ts/mirage";

// --kv-ro=crunch (the default) embeds ./t in the artifact at build time; --kv-ro=direct reads it at run time.
register("kv-ro", [main("./unikernel.ts", { store: genericKvRo("./t"), console: defaultConsole })]);
