/**
 * `main` and `register`: what config.ts ends with. `register` stores the unikernel in a registry on
 * `globalThis` (under a `Symbol.for` key) because config.ts is evaluated by tsx's `tsImport`, which
 * may load a second copy of this package: module-level state would not be seen by the tool.
 */
import { dirname } from "node:path";
import type { Key } from "@mirage-ts/runtime";
import { isDevice, isKey, type Device } from "./device.ts";

const jobBrand = Symbol.for("@mirage-ts/mirage/job");
const registryKey = Symbol.for("@mirage-ts/mirage/registry");

/** One `start` function and the devices and keys it receives. */
export interface Job {
  readonly [jobBrand]: true;
  /** The unikernel's file, relative to config.ts (e.g. "./unikernel.ts"). */
  readonly file: string;
  /** The exported function called with the connected devices and the keys. */
  readonly start: string;
  readonly devices: Readonly<Record<string, Device>>;
  readonly keys: readonly Key[];
  readonly packages: readonly string[];
}

export interface Registration {
  readonly name: string;
  readonly jobs: readonly Job[];
}

interface Registry {
  /** The config.ts being evaluated, set by the tool around the import. */
  configFile: string | undefined;
  registrations: Registration[];
}

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  return (g[registryKey] ??= { configFile: undefined, registrations: [] });
}

/** Starts collecting the registration of `configFile` (the tool calls this before evaluating it). */
export function beginRegistration(configFile: string): void {
  const r = registry();
  r.configFile = configFile;
  r.registrations = [];
}

/** What the evaluated config.ts registered, and stops collecting. */
export function endRegistration(): Registration[] {
  const r = registry();
  const found = r.registrations;
  r.configFile = undefined;
  r.registrations = [];
  return found;
}

/** The directory relative paths in config.ts are resolved against: config.ts's own. */
export function configDir(): string {
  const file = registry().configFile;
  return file === undefined ? process.cwd() : dirname(file);
}

export function isJob(value: unknown): value is Job {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[jobBrand] === true;
}

/**
 * A job: `start` of `file` called with `devices` (connected) and the keys.
 * `options.keys` are the unikernel's own keys; `options.packages` the npm packages it imports.
 */
export function main(
  file: string,
  devices: Record<string, Device>,
  options: { keys?: Key[]; packages?: string[]; start?: string } = {},
): Job {
  if (typeof file !== "string" || !/\.(ts|mts|js|mjs)$/.test(file)) {
    throw new TypeError(`main(): the first argument is the unikernel's file, e.g. "./unikernel.ts", got ${JSON.stringify(file)}`);
  }
  if (typeof devices !== "object" || devices === null || Array.isArray(devices)) {
    throw new TypeError(`main(): the second argument is a record of devices, e.g. { console: defaultConsole }`);
  }
  for (const [name, device] of Object.entries(devices)) {
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) throw new TypeError(`main(): device name "${name}" is not an identifier`);
    if (!isDevice(device)) {
      throw new TypeError(`main(): devices.${name} is not a device (${device === undefined ? "undefined: is it declared before use?" : typeof device})`);
    }
  }
  const keys = options.keys ?? [];
  keys.forEach((k, i) => {
    if (!isKey(k)) throw new TypeError(`main(): keys[${i}] is not a key (create it with key("name", Arg...))`);
  });
  const packages = options.packages ?? [];
  if (!packages.every((p) => typeof p === "string" && p !== "")) throw new TypeError("main(): packages must be package names");
  const start = options.start ?? "start";
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(start)) throw new TypeError(`main(): start "${start}" is not an identifier`);
  return Object.freeze({
    [jobBrand]: true as const,
    file: file.startsWith(".") || file.startsWith("/") ? file : `./${file}`,
    start,
    devices: Object.freeze({ ...devices }),
    keys: Object.freeze([...keys]),
    packages: Object.freeze([...packages]),
  });
}

export const unikernelNamePattern = /^[a-z][a-z0-9-]*$/;

/** Declares the unikernel: its name (lower case, digits and '-') and its jobs. Call it once. */
export function register(name: string, jobs: Job[]): void {
  if (typeof name !== "string" || !unikernelNamePattern.test(name)) {
    throw new TypeError(
      `register(): ${JSON.stringify(name)} is not a valid unikernel name: use lower-case letters, digits and '-', starting with a letter (e.g. "static-website")`,
    );
  }
  if (!Array.isArray(jobs) || jobs.length === 0) throw new TypeError(`register("${name}", jobs): jobs must be a non-empty array of main(...)`);
  jobs.forEach((j, i) => {
    if (!isJob(j)) throw new TypeError(`register("${name}", jobs): jobs[${i}] is not a job (create it with main(...))`);
  });
  const r = registry();
  const previous = r.registrations[0];
  if (previous !== undefined) {
    throw new Error(`register() is called twice (first "${previous.name}", then "${name}"): a config.ts registers one unikernel`);
  }
  r.registrations.push(Object.freeze({ name, jobs: Object.freeze([...jobs]) }));
}
