/**
 * Device-graph resolution: choices (`ifImpl`, `matchImpl`) are decided by configure-time values,
 * identical descriptions are shared (hash-consing: one device, connected once), and the devices
 * are put in dependency order with unique labels.
 */
import { createHash } from "node:crypto";
import type { Key } from "@mirage-ts/runtime";
import type { Device, ImplSpec } from "./device.ts";
import { MirageError } from "./errors.ts";
import type { Job, Registration } from "./registry.ts";

export interface ResolvedDevice {
  /** Hash of the description; equal descriptions have equal ids. */
  readonly id: string;
  readonly spec: Readonly<ImplSpec>;
  readonly deps: Readonly<Record<string, ResolvedDevice>>;
  /** Position in dependency order: every device comes after its dependencies. */
  index: number;
  /** Unique in the unikernel: the spec's name, numbered when several devices share it. */
  label: string;
  /** The variable holding the connected device in main.ts. */
  variable: string;
}

export interface ResolvedJob {
  readonly job: Job;
  readonly devices: Readonly<Record<string, ResolvedDevice>>;
}

/** A choice taken during resolution: for describe. */
export interface ChoiceTaken {
  readonly key: Key;
  readonly value: string;
  readonly impl: string;
}

export interface ResolvedGraph {
  /** In dependency order. */
  readonly devices: readonly ResolvedDevice[];
  readonly jobs: readonly ResolvedJob[];
  /** Keys the resolved graph uses: the jobs' keys, then the devices', then the choices' (unsorted, may repeat a name). */
  readonly keys: readonly Key[];
  readonly choices: readonly ChoiceTaken[];
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const json = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof json === "function") return stableJson(json.call(value));
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The identity of a resolved description: everything but the build hook (a function). */
function implIdentity(spec: Readonly<ImplSpec>, deps: Record<string, ResolvedDevice>): string {
  const canonical = stableJson({
    type: spec.type,
    name: spec.name,
    impl: spec.impl,
    module: spec.module,
    connect: spec.connect,
    deps: Object.fromEntries(Object.entries(deps).map(([f, d]) => [f, d.id])),
    keys: Object.fromEntries(Object.entries(spec.keys ?? {}).map(([f, k]) => [f, k.name])),
    args: spec.args ?? {},
    imports: spec.imports ?? {},
    packages: [...(spec.packages ?? [])].sort(),
    readPaths: [...(spec.readPaths ?? [])].sort(),
    writePaths: [...(spec.writePaths ?? [])].sort(),
    buildPaths: [...(spec.buildPaths ?? [])].sort(),
    writePathKeys: (spec.writePathKeys ?? []).map((k) => k.name).sort(),
    addons: spec.addons ?? [],
  });
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/**
 * Resolves the registered unikernel with `valueOf` giving each choice key's configure-time value.
 * Throws a MirageError when a choice has no case for the value, or picks an unavailable device.
 */
export function resolveGraph(registration: Registration, valueOf: (key: Key) => unknown): ResolvedGraph {
  const byDevice = new Map<Device, ResolvedDevice>();
  const byId = new Map<string, ResolvedDevice>();
  const order: ResolvedDevice[] = [];
  const choices: ChoiceTaken[] = [];
  const choiceKeys: Key[] = [];

  const resolve = (device: Device, path: string): ResolvedDevice => {
    const memo = byDevice.get(device);
    if (memo !== undefined) return memo;
    let resolved: ResolvedDevice;
    switch (device.kind) {
      case "choice": {
        const value = device.key.converter.format(valueOf(device.key));
        const chosen = device.cases[value] ?? device.fallback;
        if (chosen === undefined) {
          const cases = Object.keys(device.cases);
          throw new MirageError(
            `no ${device.type} for --${device.key.name}=${value} (needed by ${path}): the choice has cases ${cases.join(", ") || "(none)"} and no fallback`,
          );
        }
        choiceKeys.push(device.key);
        resolved = resolve(chosen, path);
        choices.push({ key: device.key, value, impl: resolved.spec.impl });
        break;
      }
      case "unavailable":
        throw new MirageError(`cannot configure ${path}: ${device.reason}`);
      case "impl": {
        const deps: Record<string, ResolvedDevice> = {};
        for (const [field, dep] of Object.entries(device.spec.deps ?? {})) deps[field] = resolve(dep, `${path}.${field}`);
        const id = implIdentity(device.spec, deps);
        const shared = byId.get(id);
        if (shared !== undefined) {
          resolved = shared;
        } else {
          resolved = { id, spec: device.spec, deps, index: order.length, label: "", variable: "" };
          byId.set(id, resolved);
          order.push(resolved);
        }
        break;
      }
    }
    byDevice.set(device, resolved);
    return resolved;
  };

  const jobs: ResolvedJob[] = registration.jobs.map((job) => ({
    job,
    devices: Object.fromEntries(Object.entries(job.devices).map(([name, d]) => [name, resolve(d, `${job.file}: ${name}`)])),
  }));

  const counts = new Map<string, number>();
  for (const d of order) counts.set(d.spec.name, (counts.get(d.spec.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const d of order) {
    const n = (seen.get(d.spec.name) ?? 0) + 1;
    seen.set(d.spec.name, n);
    d.label = counts.get(d.spec.name)! > 1 ? `${d.spec.name}-${n}` : d.spec.name;
    d.variable = `${d.label.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=[0-9])/, "_")}_${d.index}`;
  }

  const keys: Key[] = [
    ...registration.jobs.flatMap((j) => j.keys),
    ...order.flatMap((d) => Object.values(d.spec.keys ?? {})),
    ...choiceKeys,
  ];
  return { devices: order, jobs, keys, choices };
}

/** Every key reachable from the registration through every branch of every choice: the configure keys. */
export function reachableKeys(registration: Registration): Key[] {
  const keys: Key[] = [];
  const visited = new Set<Device>();
  const visit = (device: Device): void => {
    if (visited.has(device)) return;
    visited.add(device);
    switch (device.kind) {
      case "choice":
        keys.push(device.key);
        for (const d of Object.values(device.cases)) visit(d);
        if (device.fallback !== undefined) visit(device.fallback);
        break;
      case "unavailable":
        keys.push(...device.keys);
        for (const d of Object.values(device.deps)) visit(d);
        break;
      case "impl":
        keys.push(...Object.values(device.spec.keys ?? {}));
        for (const d of Object.values(device.spec.deps ?? {})) visit(d);
        break;
    }
  };
  for (const job of registration.jobs) {
    keys.push(...job.keys);
    for (const d of Object.values(job.devices)) visit(d);
  }
  return keys;
}
