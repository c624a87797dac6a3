export * from "./dns-error.ts";
export * from "./resolver.ts";
export { decodeReply, encodeQuery, followCnames, invalidName, type DnsReply } from "./dns-message.ts";
