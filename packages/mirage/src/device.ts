/**
 * Devices: immutable descriptions of what a unikernel connects at boot, as functoria's `impl`.
 *
 * A device is plain data (no classes, no module-level state): config.ts is loaded through tsx's
 * `tsImport`, which may evaluate a second copy of this package, so devices are recognised by a
 * `Symbol.for` brand rather than by `instanceof`. Identical descriptions (same implementation,
 * dependencies, arguments and keys) are one device, connected once: graph.ts shares them by their
 * identity (see `implIdentity`).
 */
import type { Key } from "@mirage-ts/runtime";

export const deviceBrand: unique symbol = Symbol.for("@mirage-ts/mirage/device") as never;

/** What a build hook is given. */
export interface BuildContext {
  /** Absolute directory of config.ts: generated files are written relative to it. */
  readonly configDir: string;
  /** The device's label, unique in the unikernel (e.g. "kv_ro", "kv_ro-2"). */
  readonly label: string;
  readonly target: string;
  /** Prints a line under -v. */
  verbose(line: string): void;
}

/** A module written by a build hook, `file` relative to the config.ts directory (under `.mirage/`). */
export interface GeneratedModule {
  file: string;
  code: string;
}

export interface ImplSpec {
  /** The runtime interface the device provides, e.g. "StackV4V6", "KvRo" (for types and messages). */
  type: string;
  /** Base label, e.g. "stackv4v6"; made unique per unikernel. */
  name: string;
  /** The implementation's name, e.g. "socket", "crunch". */
  impl: string;
  /** Import specifier of the module exporting `connect`. */
  module: string;
  /** The exported function called at boot with one options record; it returns the device. */
  connect: string;
  /** Option fields holding connected devices. */
  deps?: Record<string, Device>;
  /** Option fields holding key values read at boot (`keys.<camelName>`). */
  keys?: Record<string, Key>;
  /** Option fields holding configure-time constants (JSON-serialisable). */
  args?: Record<string, unknown>;
  /**
   * Option fields holding the default export of a generated module: the path, relative to the
   * config.ts directory, with `{label}` replaced by the device's label. A build hook writes it.
   */
  imports?: Record<string, string>;
  /** npm packages the generated code needs (the package of `module` is added automatically). */
  packages?: string[];
  /** Files and directories the device reads at run time (the launcher's permission model allows them). */
  readPaths?: string[];
  /** Files and directories the device writes at run time. */
  writePaths?: string[];
  /**
   * Boot keys (among `keys`) whose value names a file the device writes at run time, e.g.
   * `--pcap=FILE`: the launcher finds them among the boot arguments and allows writing that file.
   */
  writePathKeys?: Key[];
  /** Native addons the device loads at run time (see NativeAddon): `mirage build` copies them beside the bundle. */
  addons?: NativeAddon[];
  /** Files and directories a build hook reads: part of the device's identity. */
  buildPaths?: string[];
  /** Writes build-time generated modules (e.g. an embedded directory). */
  build?: (ctx: BuildContext) => Promise<GeneratedModule[]>;
}

/**
 * A native addon (a `.node` file) a device loads: esbuild cannot bundle one, so `mirage build`
 * copies it to `dist/<file>`, where the device's code finds it beside the bundle, and the launcher
 * allows Node to load it (`--allow-addons` and a read permission for that file only).
 */
export interface NativeAddon {
  /** The file name beside the bundle, e.g. "mirage_tap.node". */
  file: string;
  /** The package (import specifier) that builds it, resolved from the unikernel's directory. */
  module: string;
  /** An exported function of `module` returning the absolute path of the built addon. */
  locate: string;
}

export interface ImplDevice {
  readonly [deviceBrand]: true;
  readonly kind: "impl";
  readonly spec: Readonly<ImplSpec>;
}

/** A device chosen at configure time by the value of a key (`ifImpl`, `matchImpl`). */
export interface ChoiceDevice {
  readonly [deviceBrand]: true;
  readonly kind: "choice";
  readonly type: string;
  readonly key: Key;
  /** Cases by the key's canonical text ("true"/"false" for ifImpl). */
  readonly cases: Readonly<Record<string, Device>>;
  readonly fallback: Device | undefined;
}

/**
 * An implementation that exists in the DSL but cannot be configured yet: choosing it is a
 * configure error with `reason`. Its keys and dependencies still count as configure keys, so
 * `--dhcp` is accepted wherever `--net=direct` could be chosen.
 */
export interface UnavailableDevice {
  readonly [deviceBrand]: true;
  readonly kind: "unavailable";
  readonly type: string;
  readonly impl: string;
  readonly reason: string;
  readonly keys: readonly Key[];
  readonly deps: Readonly<Record<string, Device>>;
}

export type Device = ImplDevice | ChoiceDevice | UnavailableDevice;

export function isDevice(value: unknown): value is Device {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[deviceBrand] === true;
}

export function isKey(value: unknown): value is Key {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Key).name === "string" &&
    typeof (value as Key).converter === "object" &&
    typeof (value as Key).converter.format === "function"
  );
}

/** The runtime interface a device provides. */
export function deviceType(device: Device): string {
  return device.kind === "impl" ? device.spec.type : device.type;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A device from its description: functoria's `impl`. Every predefined device is built with it. */
export function impl(spec: ImplSpec): ImplDevice {
  for (const field of ["type", "name", "impl", "module"] as const) {
    if (typeof spec[field] !== "string" || spec[field] === "") throw new TypeError(`impl(): "${field}" must be a non-empty string`);
  }
  if (typeof spec.connect !== "string" || !IDENTIFIER.test(spec.connect)) {
    throw new TypeError(`impl(): "connect" must name an exported function, got ${describeValue(spec.connect)}`);
  }
  const fields = new Set<string>();
  const claim = (group: string, record: Record<string, unknown> | undefined, check: (v: unknown) => string | undefined) => {
    for (const [field, value] of Object.entries(record ?? {})) {
      if (!IDENTIFIER.test(field)) throw new TypeError(`impl(${spec.name}): option field "${field}" is not an identifier`);
      if (fields.has(field)) throw new TypeError(`impl(${spec.name}): option field "${field}" is given twice`);
      fields.add(field);
      const problem = check(value);
      if (problem !== undefined) throw new TypeError(`impl(${spec.name}): ${group}.${field} ${problem}`);
    }
  };
  claim("deps", spec.deps, (v) => (isDevice(v) ? undefined : `must be a device, got ${describeValue(v)}`));
  claim("keys", spec.keys, (v) => (isKey(v) ? undefined : `must be a key (from key(...)), got ${describeValue(v)}`));
  claim("args", spec.args, (v) => {
    if (v === undefined) return "is undefined";
    try {
      JSON.stringify(v);
      return undefined;
    } catch (e) {
      return `is not JSON-serialisable: ${(e as Error).message}`;
    }
  });
  claim("imports", spec.imports, (v) => (typeof v === "string" && v !== "" ? undefined : "must be a module path"));
  for (const list of ["packages", "readPaths", "writePaths", "buildPaths"] as const) {
    const v = spec[list];
    if (v !== undefined && !(Array.isArray(v) && v.every((s) => typeof s === "string"))) {
      throw new TypeError(`impl(${spec.name}): "${list}" must be an array of strings`);
    }
  }
  if (spec.writePathKeys !== undefined) {
    const own = new Set(Object.values(spec.keys ?? {}));
    if (!Array.isArray(spec.writePathKeys) || !spec.writePathKeys.every((k) => isKey(k) && own.has(k))) {
      throw new TypeError(`impl(${spec.name}): "writePathKeys" must list keys the device also has in "keys"`);
    }
    for (const k of spec.writePathKeys) {
      if (k.stage === "configure") throw new TypeError(`impl(${spec.name}): writePathKeys: --${k.name} is a configure key; a file written at run time is named at boot`);
    }
  }
  if (spec.addons !== undefined) {
    const valid = (a: NativeAddon) =>
      typeof a === "object" && a !== null && /^[A-Za-z0-9_.-]+\.node$/.test(a.file) && typeof a.module === "string" && a.module !== "" && IDENTIFIER.test(a.locate);
    if (!Array.isArray(spec.addons) || !spec.addons.every(valid)) {
      throw new TypeError(`impl(${spec.name}): "addons" must be a list of { file: "NAME.node", module, locate } (locate: an exported function's name)`);
    }
  }
  if (spec.build !== undefined && typeof spec.build !== "function") throw new TypeError(`impl(${spec.name}): "build" must be a function`);
  // Copies, so that mutating what was passed in cannot change the device afterwards.
  const record = <T>(r: Record<string, T> | undefined) => (r === undefined ? undefined : Object.freeze({ ...r }));
  const list = (l: string[] | undefined) => (l === undefined ? undefined : Object.freeze([...l]) as string[]);
  const frozen: ImplSpec = {
    ...spec,
    deps: record(spec.deps),
    keys: record(spec.keys),
    args: record(spec.args),
    imports: record(spec.imports),
    packages: list(spec.packages),
    readPaths: list(spec.readPaths),
    writePaths: list(spec.writePaths),
    buildPaths: list(spec.buildPaths),
    writePathKeys: spec.writePathKeys === undefined ? undefined : (Object.freeze([...spec.writePathKeys]) as Key[]),
    addons: spec.addons === undefined ? undefined : (Object.freeze(spec.addons.map((a) => Object.freeze({ ...a }))) as NativeAddon[]),
  };
  return Object.freeze({ [deviceBrand]: true as const, kind: "impl" as const, spec: Object.freeze(frozen) });
}

function choiceKeyCheck(fn: string, key: Key): void {
  if (!isKey(key)) throw new TypeError(`${fn}(): the first argument must be a key (from key(...)), got ${describeValue(key)}`);
  if (key.stage === "boot") {
    throw new TypeError(`${fn}(): --${key.name} is a boot key; ${fn} chooses at configure time, so give the key stage "configure" or "both"`);
  }
}

function sameType(fn: string, devices: Array<[string, Device]>): string {
  let type: string | undefined;
  for (const [name, d] of devices) {
    if (!isDevice(d)) throw new TypeError(`${fn}(): case ${name} must be a device, got ${describeValue(d)}`);
    const t = deviceType(d);
    if (type !== undefined && t !== type) throw new TypeError(`${fn}(): every case must provide the same interface, but ${devices[0]![0]} is ${type} and ${name} is ${t}`);
    type = t;
  }
  if (type === undefined) throw new TypeError(`${fn}(): needs at least one case`);
  return type;
}

/** `thenDevice` when the bool configure key is true, else `elseDevice`. */
export function ifImpl(key: Key<boolean>, thenDevice: Device, elseDevice: Device): ChoiceDevice {
  choiceKeyCheck("ifImpl", key);
  if (key.converter.type.kind !== "bool") throw new TypeError(`ifImpl(): --${key.name} must be a bool key (use matchImpl for other types)`);
  const type = sameType("ifImpl", [["then", thenDevice], ["else", elseDevice]]);
  return Object.freeze({
    [deviceBrand]: true as const,
    kind: "choice" as const,
    type,
    key: key as Key,
    cases: Object.freeze({ true: thenDevice, false: elseDevice }),
    fallback: undefined,
  });
}

/**
 * The device of the case named by the configure key's value (its canonical text: an enum's
 * value, "true"/"false", a number...), or `fallback` when no case matches.
 */
export function matchImpl<T>(key: Key<T>, cases: Record<string, Device>, fallback?: Device): ChoiceDevice {
  choiceKeyCheck("matchImpl", key);
  const entries = Object.entries(cases ?? {});
  const type = sameType("matchImpl", fallback === undefined ? entries : [...entries, ["fallback", fallback]]);
  const keyType = key.converter.type;
  if (keyType.kind === "enum") {
    for (const [name] of entries) {
      if (!keyType.values.includes(name)) throw new TypeError(`matchImpl(): case "${name}" is not a value of --${key.name} (${keyType.values.join(", ")})`);
    }
  }
  return Object.freeze({
    [deviceBrand]: true as const,
    kind: "choice" as const,
    type,
    key: key as Key,
    cases: Object.freeze({ ...cases }),
    fallback,
  });
}

/** An implementation that cannot be configured yet (see UnavailableDevice). */
export function unavailable(options: {
  type: string;
  impl: string;
  reason: string;
  keys?: Key[];
  deps?: Record<string, Device>;
}): UnavailableDevice {
  return Object.freeze({
    [deviceBrand]: true as const,
    kind: "unavailable" as const,
    type: options.type,
    impl: options.impl,
    reason: options.reason,
    keys: Object.freeze([...(options.keys ?? [])]),
    deps: Object.freeze({ ...(options.deps ?? {}) }),
  });
}

/** The npm package an import specifier belongs to, or undefined for a relative or `node:` one. */
export function packageOfSpecifier(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}
