/**
 * keys.ts: the unikernel's key definitions (their defaults being the values given at configure
 * time) and a typed `keys` record whose getters read the values parsed at boot. main.ts passes it
 * to `start`; a unikernel may also `import { keys } from "./keys.ts"`.
 */
import { keyField, keyTsType, serializeKey, type Key } from "@mirage-ts/runtime";
import { headerComment } from "./header.ts";

export interface KeyWithValue {
  key: Key;
  /** The configure-time value: the key's default in the generated definition. */
  value: unknown;
}

const docComment = (text: string): string => text.replaceAll("*/", "*\\/").replace(/\s+/g, " ").trim();

export function generateKeysTs(options: { name: string; keys: readonly KeyWithValue[] }): string {
  const lines: string[] = [headerComment("configure", options.name).trimEnd()];
  lines.push(
    `import { Arg, Conv, key, bootValue, IpAddress, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "@mirage-ts/runtime";`,
    `import type { Key } from "@mirage-ts/runtime";`,
    "",
    `/** The values of the unikernel's keys. Read them inside start(): they are parsed when the unikernel boots. */`,
    `export interface Keys {`,
  );
  for (const { key } of options.keys) {
    const stage = key.stage === "configure" ? "fixed at configure time" : key.stage === "boot" ? "boot" : "configure or boot";
    lines.push(`  /** --${key.name} (${stage}): ${docComment(key.doc)} */`);
    lines.push(`  readonly ${keyField(key.name)}: ${keyTsType(key)};`);
  }
  lines.push(
    `}`,
    "",
    `/** Every key, its default the value given to \`mirage configure\`; configure-time keys are refused at boot. */`,
    `export const keyDefinitions: readonly Key[] = [`,
  );
  for (const { key, value } of options.keys) lines.push(`  ${serializeKey(key, value)},`);
  lines.push(`];`, "", `export const keys: Keys = {`);
  for (const { key } of options.keys) {
    lines.push(`  get ${keyField(key.name)}() {`, `    return bootValue(${JSON.stringify(key.name)}) as ${keyTsType(key)};`, `  },`);
  }
  lines.push(`};`);
  return lines.join("\n") + "\n";
}
