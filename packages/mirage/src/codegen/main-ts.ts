/**
 * main.ts: imports the connect functions and `start`, boots, connects every device once in
 * dependency order, and calls `start` with typed records.
 *
 * Each `start` call is one line showing the whole record, so that when `start` expects something
 * config.ts does not provide, tsc's error lands on a line whose source shows what was given.
 */
import { keyField } from "@mirage-ts/runtime";
import type { ResolvedDevice, ResolvedGraph } from "../graph.ts";
import { headerComment } from "./header.ts";
import { Identifiers } from "./identifiers.ts";

export interface StartCall {
  /** 1-based line of the call in main.ts. */
  line: number;
  /** The job's file, e.g. "./unikernel.ts". */
  file: string;
  /** What config.ts gives, e.g. "{ http: HttpServer, htdocs: KvRo }". */
  gives: string;
}

export interface MainTs {
  code: string;
  startCalls: StartCall[];
}

/** The path of a generated module a device imports, relative to config.ts's directory. */
export function importPath(template: string, device: ResolvedDevice): string {
  const path = template.replaceAll("{label}", device.label);
  return path.startsWith("./") || path.startsWith("../") || path.startsWith("/") ? path : `./${path}`;
}

export function startGives(devices: Readonly<Record<string, ResolvedDevice>>): string {
  const fields = Object.entries(devices).map(([name, d]) => `${name}: ${d.spec.type}`);
  return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`;
}

export function generateMainTs(options: { name: string; target: string; graph: ResolvedGraph; keysModule: string }): MainTs {
  const { name, graph } = options;
  const ids = new Identifiers(["boot", "keys", "keyDefinitions", "connect"]);

  // Imports, in order of first use, grouped by module.
  const imports = new Map<string, Map<string, string>>();
  const named = (module: string, exported: string): string => {
    let names = imports.get(module);
    if (names === undefined) imports.set(module, (names = new Map()));
    let local = names.get(exported);
    if (local === undefined) names.set(exported, (local = ids.allocate(exported)));
    return local;
  };
  const defaults: Array<[string, string]> = [];

  const variables = new Map<ResolvedDevice, string>();
  const variable = (d: ResolvedDevice): string => variables.get(d)!;
  const connectLines: string[] = [];
  for (const d of graph.devices) {
    variables.set(d, ids.allocate(d.variable));
    const fn = named(d.spec.module, d.spec.connect);
    const fields: string[] = [];
    for (const [field, dep] of Object.entries(d.deps)) fields.push(`${field}: ${variable(dep)}`);
    for (const [field, key] of Object.entries(d.spec.keys ?? {})) fields.push(`${field}: keys.${keyField(key.name)}`);
    for (const [field, value] of Object.entries(d.spec.args ?? {})) fields.push(`${field}: ${JSON.stringify(value)}`);
    for (const [field, template] of Object.entries(d.spec.imports ?? {})) {
      const local = ids.allocate(`${variable(d)}_${field}`);
      defaults.push([local, importPath(template, d)]);
      fields.push(`${field}: ${local}`);
    }
    const call = fields.length === 0 ? `${fn}()` : `${fn}({ ${fields.join(", ")} })`;
    connectLines.push(`  const ${variable(d)} = await connect(${JSON.stringify(d.label)}, () => ${call});`);
  }

  const jobs = graph.jobs.map((j) => {
    const imported = named(j.job.file, j.job.start);
    const record = Object.entries(j.devices).map(([field, d]) => (field === variable(d) ? field : `${field}: ${variable(d)}`));
    return {
      file: j.job.file,
      imported,
      // `start` may declare fewer parameters than it is given (no keys): calling it through this
      // typed alias accepts that, and still checks its keys parameter against Keys.
      alias: ids.allocate(`${imported}_job`),
      record: record.length === 0 ? "{}" : `{ ${record.join(", ")} }`,
      gives: startGives(j.devices),
    };
  });

  const lines: string[] = [headerComment("configure", name).trimEnd()];
  lines.push(`import { boot, type StartDevices } from "@mirage-ts/runtime";`);
  for (const [module, names] of imports) {
    const list = [...names].map(([exported, local]) => (exported === local ? exported : `${exported} as ${local}`));
    lines.push(`import { ${list.join(", ")} } from ${JSON.stringify(module)};`);
  }
  for (const [local, path] of defaults) lines.push(`import ${local} from ${JSON.stringify(path)};`);
  lines.push(`import { keyDefinitions, keys, type Keys } from ${JSON.stringify(options.keysModule)};`);
  lines.push("");
  lines.push(`await boot({ name: ${JSON.stringify(name)}, keys: keyDefinitions }, async ({ connect }) => {`);
  lines.push(...connectLines);
  const startCalls: StartCall[] = [];
  for (const job of jobs) {
    lines.push(`  // config.ts gives ${job.file} ${job.gives} and the keys of ${options.keysModule}:`);
    lines.push(`  const ${job.alias}: (devices: StartDevices<typeof ${job.imported}>, keys: Keys) => unknown = ${job.imported};`);
    startCalls.push({ line: lines.length, file: job.file, gives: job.gives });
  }
  if (jobs.length === 1) {
    lines.push(`  await ${jobs[0]!.alias}(${jobs[0]!.record}, keys);`);
    startCalls.push({ line: lines.length, file: jobs[0]!.file, gives: jobs[0]!.gives });
  } else {
    lines.push(`  // every job runs at once`, `  await Promise.all([`);
    for (const job of jobs) {
      lines.push(`    ${job.alias}(${job.record}, keys),`);
      startCalls.push({ line: lines.length, file: job.file, gives: job.gives });
    }
    lines.push(`  ]);`);
  }
  lines.push(`});`);
  return { code: lines.join("\n") + "\n", startCalls };
}
