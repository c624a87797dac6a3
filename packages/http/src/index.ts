export * from "./http-server.ts";
export * from "./tls-from-kv.ts";
export * from "./serve-kv.ts";
export * from "./content-type.ts";
export * from "./request-path.ts";
export * from "./http-client.ts";
