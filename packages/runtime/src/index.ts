export * from "./result.ts";
export * from "./ip.ts";
export * from "./devices.ts";
