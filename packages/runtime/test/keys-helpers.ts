/** Shared by the key tests: evaluating serialised keys the way generated code would see them. */
import { Arg, Conv, IpAddress, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix, key, type Key } from "../src/index.ts";

/** The names a generated module imports from "@mirage-ts/runtime". */
export const scope = { Arg, Conv, key, Ipv4Address, Ipv6Address, Ipv4Prefix, Ipv6Prefix, IpAddress };

/**
 * Evaluates serializeKey's output. The output is TypeScript that is also plain JavaScript (no type
 * annotations), so `new Function` with the imports as parameters evaluates it as a module would.
 */
export function evaluateKey(source: string): Key {
  const names = Object.keys(scope);
  const fn = new Function(...names, `"use strict"; return (${source});`) as (...args: unknown[]) => Key;
  return fn(...Object.values(scope));
}
