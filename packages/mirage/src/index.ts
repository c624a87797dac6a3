/**
 * The configuration DSL of mirage-ts: what a config.ts imports.
 *
 *   import { register, main, key, Arg, genericStackv4v6, defaultNetwork } from "@mirage-ts/mirage";
 *   const port = key("port", Arg.int({ default: 8080, doc: "TCP port to serve on" }));
 *   register("echo", [main("./unikernel.ts", { stack: genericStackv4v6(defaultNetwork) }, { keys: [port] })]);
 */
export { Arg, Conv, key, Ipv4Address, Ipv6Address, Ipv4Prefix, Ipv6Prefix, IpAddress } from "@mirage-ts/runtime";
export type { Key, KeyArg, ArgOptions, Stage, KeySection, KeyType, Converter } from "@mirage-ts/runtime";
export { impl, ifImpl, matchImpl, unavailable, isDevice } from "./device.ts";
export type { Device, ImplDevice, ChoiceDevice, UnavailableDevice, ImplSpec, BuildContext, GeneratedModule, NativeAddon } from "./device.ts";
export { main, register } from "./registry.ts";
export type { Job, Registration } from "./registry.ts";
export { defaultConsole, defaultMonotonicClock, defaultPosixClock, defaultTime, defaultRandom, randomSeedKey } from "./devices/basic.ts";
export { crunch, direct, genericKvRo, blockOfFile, kvRoKey } from "./devices/storage.ts";
export {
  defaultNetwork,
  genericStackv4v6,
  socketStackv4v6,
  directStackv4v6,
  pcapNetwork,
  pcapFile,
  pcapKey,
  linkFaultsNetwork,
  linkFaultsKey,
  netKey,
  dhcpKey,
  interfaceKey,
  ipv4GatewayKey,
  ipv6Key,
  ipv6GatewayKey,
  acceptRouterAdvertisementsKey,
  ipv4OnlyKey,
  ipv6OnlyKey,
} from "./devices/network.ts";
export { httpServer } from "./devices/http.ts";
export { httpClient } from "./devices/http-client.ts";
export { resolver, resolverKey, resolverPortKey } from "./devices/dns.ts";
export { hardeningKey } from "./global-keys.ts";
