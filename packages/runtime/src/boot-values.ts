/**
 * The boot values of the running unikernel, stored by `boot` once the arguments are parsed. A
 * generated keys module exposes typed getters over this store, e.g.
 *   export const port = (): number => bootValue("port") as number;
 * Read them from inside `start` (or later), not at module top level: main.ts imports modules
 * before boot has parsed anything.
 */
import { keyField } from "./keys-name.ts";

let byName: ReadonlyMap<string, unknown> | undefined;
let byField: Readonly<Record<string, unknown>> | undefined;

/** Stores the values (by kebab-case key name) and returns them by camelCase field. */
export function setBootValues(values: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  byName = new Map(Object.entries(values));
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) fields[keyField(name)] = value;
  byField = Object.freeze(fields);
  return byField;
}

/** Forgets the stored values (for tests that boot more than once). */
export function clearBootValues(): void {
  byName = undefined;
  byField = undefined;
}

const notBooted = (what: string) =>
  new Error(`${what} was called before boot() parsed the arguments: read keys inside start(), not at module top level`);

/** The boot value of key `name` (kebab-case, as on the command line). */
export function bootValue(name: string): unknown {
  if (byName === undefined) throw notBooted(`bootValue(${JSON.stringify(name)})`);
  if (!byName.has(name)) throw new Error(`bootValue(${JSON.stringify(name)}): the unikernel has no key named ${JSON.stringify(name)}`);
  return byName.get(name);
}

/** Every boot value by camelCase field (`ipv4Gateway`). */
export function getKeys<K extends Record<string, unknown> = Record<string, unknown>>(): K {
  if (byField === undefined) throw notBooted("getKeys()");
  return byField as K;
}
