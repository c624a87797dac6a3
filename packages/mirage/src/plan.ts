/**
 * What `mirage configure` decides, computed without writing anything: the configure-time values,
 * the resolved device graph, the keys, the packages and the text of every generated file.
 * configure writes it; build, describe and query recompute it from the saved arguments.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs, serializeKey, type Key } from "@mirage-ts/runtime";
import { packageOfSpecifier, type NativeAddon } from "./device.ts";
import { didYouMean } from "./did-you-mean.ts";
import { MirageError, usageError } from "./errors.ts";
import { globalKeys, hardeningKey } from "./global-keys.ts";
import { reachableKeys, resolveGraph, type ResolvedGraph } from "./graph.ts";
import type { Registration } from "./registry.ts";
import { packageVersion } from "./resolve-package.ts";
import type { Target } from "./targets.ts";
import { generateKeysTs } from "./codegen/keys-ts.ts";
import { generateMainTs, importPath, type MainTs } from "./codegen/main-ts.ts";
import { generatePackageJson, gitOrigin, type PackageDependency } from "./codegen/package-json.ts";
import { generateTsconfigJson } from "./codegen/tsconfig-json.ts";

export interface PlannedKey {
  readonly key: Key;
  /** The configure-time value: the one given to configure, else the key's default. */
  readonly value: unknown;
  /** Whether it was given to configure. */
  readonly given: boolean;
}

export interface Plan {
  readonly name: string;
  readonly target: Target;
  /** Absolute directory of config.ts, where generated files go. */
  readonly dir: string;
  /** Absolute path of config.ts. */
  readonly file: string;
  /** The configure arguments (keys), as given. */
  readonly argv: readonly string[];
  readonly registration: Registration;
  readonly graph: ResolvedGraph;
  /** The keys of the configured unikernel, one per name. */
  readonly keys: readonly PlannedKey[];
  readonly dependencies: readonly PackageDependency[];
  readonly mainTs: MainTs;
  /** What configure writes: path relative to `dir` → content. */
  readonly files: ReadonlyMap<string, string>;
  /** The modules build hooks write (under .mirage/), relative to `dir`. */
  readonly generatedModules: readonly string[];
  /** Absolute paths the unikernel reads and writes at run time (the launcher allows them). */
  readonly readPaths: readonly string[];
  readonly writePaths: readonly string[];
  /** Boot keys naming files the unikernel writes (e.g. "pcap"): the launcher allows the files given. */
  readonly writePathKeys: readonly string[];
  /** Native addons copied beside the bundle (one per file name). */
  readonly addons: readonly NativeAddon[];
  /** Whether the launcher applies the hardening flags. */
  readonly hardening: boolean;
}

export const CONFIG_FILES = ["main.ts", "keys.ts", "package.json", "tsconfig.json"] as const;
export const SAVED_CONFIG = ".mirage.config";

/** One key per name: the first wins (configure parsing sees every branch, whose keys may repeat a name). */
function firstByName(keys: readonly Key[]): Key[] {
  const seen = new Map<string, Key>();
  for (const k of keys) if (!seen.has(k.name)) seen.set(k.name, k);
  return [...seen.values()];
}

/** One key per name; two different definitions of one name are an error. */
function uniqueByName(keys: readonly Key[]): Key[] {
  const seen = new Map<string, { key: Key; text: string }>();
  for (const k of keys) {
    const text = serializeKey(k);
    const previous = seen.get(k.name);
    if (previous === undefined) seen.set(k.name, { key: k, text });
    else if (previous.text !== text && previous.key !== k) {
      throw new MirageError(`two different keys are named --${k.name}; rename one of them`, {
        detail: `first:  ${previous.text}\nsecond: ${text}`,
      });
    }
  }
  return [...seen.values()].map((v) => v.key);
}

function splitPackage(spec: string): { name: string; range: string | undefined } {
  const at = spec.indexOf("@", 1);
  return at < 0 ? { name: spec, range: undefined } : { name: spec.slice(0, at), range: spec.slice(at + 1) };
}

function dependencies(dir: string, specs: Iterable<string>): PackageDependency[] {
  const ranges = new Map<string, string | undefined>();
  for (const s of specs) {
    const { name, range } = splitPackage(s);
    if (range !== undefined || !ranges.has(name)) ranges.set(name, range ?? ranges.get(name));
  }
  return [...ranges]
    .map(([name, range]) => {
      if (range !== undefined) return { name, range };
      const version = packageVersion(dir, name);
      return { name, range: version === undefined ? "*" : `^${version}` };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The unknown-argument error of configure, with a suggestion among the configure keys. */
function unknownArgument(arg: string, keys: readonly Key[]): MirageError {
  if (!arg.startsWith("-")) return usageError(`unexpected argument "${arg}": configure takes keys, e.g. --port=9090`);
  const name = arg.replace(/^-+/, "").split("=")[0]!;
  const names = keys.map((k) => k.name);
  return usageError(
    `unknown configure key ${arg.startsWith("--") ? "--" : "-"}${name}${didYouMean(name, names, (n) => `--${n}`)}`,
    `the configure keys of this config.ts: ${names.map((n) => `--${n}`).join(", ")}`,
  );
}

export function makePlan(options: { registration: Registration; file: string; target: Target; argv: readonly string[] }): Plan {
  const { registration, target, argv } = options;
  const file = resolve(options.file);
  const dir = dirname(file);
  const name = registration.name;

  const configureKeys = firstByName([...reachableKeys(registration), ...globalKeys()]);
  const parsed = parseArgs(configureKeys, argv, { stage: "configure", allowUnknown: true });
  if (!parsed.ok) throw usageError(parsed.error);
  const firstUnknown = parsed.value.rest[0];
  if (firstUnknown !== undefined) throw unknownArgument(firstUnknown, configureKeys);
  if (parsed.value.help) throw usageError("--help is not a configure key (try mirage configure --help)");
  const { values, given } = parsed.value;
  const valueOf = (k: Key): unknown => (given.has(k.name) ? values[k.name] : k.default);

  for (const job of registration.jobs) {
    if (!existsSync(resolve(dir, job.file))) {
      throw new MirageError(`main("${job.file}"): there is no ${job.file} next to config.ts (in ${dir})`);
    }
  }
  const graph = resolveGraph(registration, valueOf);
  const keys: PlannedKey[] = uniqueByName([...graph.keys, ...globalKeys()]).map((key) => ({
    key,
    value: valueOf(key),
    given: given.has(key.name),
  }));

  const packageSpecs = [
    "@mirage-ts/runtime",
    ...target.packages,
    ...graph.devices.flatMap((d) => [packageOfSpecifier(d.spec.module), ...(d.spec.packages ?? [])]),
    ...registration.jobs.flatMap((j) => j.packages),
  ].filter((p): p is string => p !== undefined);
  const deps = dependencies(dir, packageSpecs);

  const keysModule = "./keys.ts";
  const mainTs = generateMainTs({ name, target: target.name, graph, keysModule });
  const files = new Map<string, string>([
    ["main.ts", mainTs.code],
    ["keys.ts", generateKeysTs({ name, keys })],
    [
      "package.json",
      generatePackageJson({
        name,
        target: target.name,
        dependencies: deps,
        devDependencies: dependencies(dir, ["@mirage-ts/mirage"]),
        repository: gitOrigin(dir),
      }),
    ],
    ["tsconfig.json", generateTsconfigJson({ name })],
  ]);

  const generatedModules = graph.devices.flatMap((d) =>
    Object.values(d.spec.imports ?? {}).map((t) => importPath(t, d).replace(/^\.\//, "")),
  );
  const hardening = keys.find((k) => k.key.name === hardeningKey.name)?.value !== false;
  return {
    name,
    target,
    dir,
    file,
    argv: [...argv],
    registration,
    graph,
    keys,
    dependencies: deps,
    mainTs,
    files,
    generatedModules,
    readPaths: unique(graph.devices.flatMap((d) => d.spec.readPaths ?? [])),
    writePaths: unique(graph.devices.flatMap((d) => d.spec.writePaths ?? [])),
    writePathKeys: unique(graph.devices.flatMap((d) => (d.spec.writePathKeys ?? []).map((k) => k.name))),
    addons: uniqueAddons(graph.devices.flatMap((d) => d.spec.addons ?? [])),
    hardening,
  };
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

/** One addon per file name; two devices wanting different addons under one name is a mistake. */
function uniqueAddons(addons: readonly NativeAddon[]): NativeAddon[] {
  const byFile = new Map<string, NativeAddon>();
  for (const a of addons) {
    const seen = byFile.get(a.file);
    if (seen === undefined) byFile.set(a.file, a);
    else if (seen.module !== a.module || seen.locate !== a.locate) {
      throw new MirageError(`two devices need different native addons named ${a.file} (from ${seen.module} and ${a.module})`);
    }
  }
  return [...byFile.values()];
}

/** Where an addon goes, relative to the config.ts directory. */
export function addonFile(addon: NativeAddon): string {
  return join("dist", addon.file);
}

export const MANIFEST = join("dist", "manifest.json");

/** The bundle and its source map. */
export function bundleFiles(name: string): string[] {
  return [join("dist", `${name}.mjs`), join("dist", `${name}.mjs.map`)];
}

/** Everything build writes, relative to the config.ts directory. */
export function buildFileList(plan: Plan): string[] {
  return [
    ...plan.generatedModules,
    ...bundleFiles(plan.name),
    ...plan.addons.map(addonFile),
    ...plan.target.artifactFiles(plan).map((f) => f.path),
    MANIFEST,
  ];
}
