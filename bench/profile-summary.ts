/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. from BENCH_CPU_PROF=DIR npm run bench):
 * the functions with the most self time, and the source files, in percent of the busy time (the
 * samples that are not "(idle)"). For a profile of an esbuild bundle (a unikernel's dist/*.mjs),
 * each function is named with the source file esbuild's "// path.ts" markers give for its line.
 *
 * `node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top=N] [--skip=SECONDS]`
 * (--skip leaves out the first seconds: start-up and module loading); bench/profile-tcp.ts calls
 * `summariseCpuProfile` itself.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The summary of the profile in `file`, as printable text. */
export function summariseCpuProfile(file: string, options: { top?: number; skipSeconds?: number } = {}): string {
  const top = options.top ?? 25;
  const skipMicros = (options.skipSeconds ?? 0) * 1e6;
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;

  // Self time per node: each sample's time delta goes to the node sampled.
  const selfMicros = new Map<number, number>();
  let elapsed = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    elapsed += profile.timeDeltas[i] ?? 0;
    if (elapsed < skipMicros) continue;
    const id = profile.samples[i]!;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }

  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busy = 0;
  let total = 0;
  for (const node of profile.nodes) {
    const t = selfMicros.get(node.id) ?? 0;
    if (t === 0) continue;
    total += t;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") continue;
    busy += t;
    const bundled = sourceOf(url, lineNumber);
    const source = bundled ?? (url === "" ? "" : shortUrl(url));
    const where = source === "" ? "" : bundled !== undefined ? `  ${source} (bundle line ${lineNumber + 1})` : `  ${source}:${lineNumber + 1}`;
    const key = `${functionName === "" ? "(anonymous)" : functionName}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + t);
    const f = source === "" ? `(${functionName})` : source;
    byFile.set(f, (byFile.get(f) ?? 0) + t);
  }

  const lines = [
    `${(total / 1e6).toFixed(2)} s sampled${skipMicros > 0 ? ` after the first ${(skipMicros / 1e6).toFixed(1)} s` : ""}, ${(busy / 1e6).toFixed(2)} s busy (${((100 * busy) / total).toFixed(0)}%)`,
  ];
  const print = (title: string, map: Map<string, number>, n: number): void => {
    lines.push("", `${title}, % of the busy time`);
    for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) lines.push(`${((100 * t) / busy).toFixed(1).padStart(5)}%  ${k}`);
  };
  print("Self time by function", byFunction, top);
  print("Self time by source file", byFile, Math.min(top, 15));
  return lines.join("\n");
}

/** For a bundle: the source module of each line, from esbuild's "// path" comments. */
const bundleModules = new Map<string, string[]>();
/** The source module of 0-based `line` of the bundle at file URL `url`, or undefined when `url` is not a bundle. */
export function sourceOf(url: string, line: number): string | undefined {
  if (!url.startsWith("file://") || !url.endsWith(".mjs")) return undefined;
  let modules = bundleModules.get(url);
  if (modules === undefined) {
    const path = fileURLToPath(url);
    modules = [];
    if (existsSync(path)) {
      let current = "";
      for (const text of readFileSync(path, "utf8").split("\n")) {
        const m = /^\/\/ (\S+\.(?:ts|js|mjs))$/.exec(text);
        if (m) current = m[1]!;
        modules.push(current);
      }
    }
    bundleModules.set(url, modules);
  }
  return modules[line] || undefined;
}

const shortUrl = (url: string): string => url.replace(/^file:\/\/.*?\/(packages|bench|node_modules)\//, "$1/");

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--"));
  const option = (name: string, fallback: number): number => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
  if (file === undefined) {
    console.error("usage: profile-summary.ts FILE.cpuprofile [--top=N] [--skip=SECONDS]");
    process.exit(2);
  }
  console.log(summariseCpuProfile(file, { top: option("top", 25), skipSeconds: option("skip", 0) }));
}
