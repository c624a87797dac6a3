/** The bundle: esbuild, every dependency included, so that the artifact needs no node_modules. */
import { statSync } from "node:fs";
import { join } from "node:path";
import { build, formatMessages, type Message } from "esbuild";
import { headerComment } from "./codegen/header.ts";
import type { Plan } from "./plan.ts";

export interface BundleResult {
  /** Relative to the config.ts directory. */
  file: string;
  bytes: number;
  warnings: string[];
  /** The modules bundled, largest first (for -v). */
  inputs: Array<{ path: string; bytes: number }>;
}

export async function bundle(plan: Plan): Promise<BundleResult> {
  const file = join("dist", `${plan.name}.mjs`);
  const banner =
    headerComment("build", plan.name) +
    // Bundled CommonJS modules call require(): give them one.
    `import { createRequire as __mirageCreateRequire } from "node:module";\n` +
    `const require = __mirageCreateRequire(import.meta.url);`;
  const result = await build({
    absWorkingDir: plan.dir,
    entryPoints: [join(plan.dir, "main.ts")],
    outfile: join(plan.dir, file),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    banner: { js: banner },
    logLevel: "silent",
    tsconfig: join(plan.dir, "tsconfig.json"),
    metafile: true,
  }).catch(async (e: unknown) => {
    const errors = (e as { errors?: Message[] }).errors;
    if (errors === undefined) throw e;
    const text = (await formatMessages(errors, { kind: "error", color: false })).join("");
    throw Object.assign(new Error(text), { esbuild: true });
  });
  const warnings = await formatMessages(result.warnings, { kind: "warning", color: false });
  const output = Object.values(result.metafile?.outputs ?? {}).find((o) => o.entryPoint !== undefined);
  const inputs = Object.entries(output?.inputs ?? {})
    .map(([path, i]) => ({ path, bytes: i.bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { file, bytes: statSync(join(plan.dir, file)).size, warnings, inputs };
}
