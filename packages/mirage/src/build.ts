/**
 * `mirage build`: regenerate what configure wrote (config.ts may have changed), run the build hooks
 * (crunch) into .mirage/, type-check with tsc, bundle with esbuild into dist/<name>.mjs, copy the
 * native addons the devices load beside it, and write the target's launcher and dist/manifest.json.
 */
import { join } from "node:path";
import { savedPlan, saveConfig, writeConfigureFiles } from "./configure.ts";
import { shownPath, type CommandContext } from "./context.ts";
import { MirageError } from "./errors.ts";
import { keptMessage, writeGenerated } from "./generated-files.ts";
import { generateManifest } from "./manifest.ts";
import { bundleFiles, MANIFEST, type Plan } from "./plan.ts";

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

async function timed<T>(ctx: CommandContext, what: string, f: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  const result = await f();
  if (ctx.verbose) ctx.out(`  ${what}: ${Math.round(performance.now() - started)} ms`);
  return result;
}

/** Runs the devices' build hooks; returns the files written, relative to the config directory. */
async function runHooks(ctx: CommandContext, plan: Plan): Promise<string[]> {
  const written: string[] = [];
  for (const device of plan.graph.devices) {
    const hook = device.spec.build;
    if (hook === undefined) continue;
    let modules;
    try {
      modules = await hook({
        configDir: plan.dir,
        label: device.label,
        target: plan.target.name,
        verbose: (line) => {
          if (ctx.verbose) ctx.err(`  ${device.label}: ${line}`);
        },
      });
    } catch (e) {
      throw new MirageError(`the build step of ${device.label} (${device.spec.impl}) failed: ${(e as Error).message}`, {
        detail: (e as Error).stack ?? String(e),
      });
    }
    for (const m of modules) {
      if (writeGenerated(plan.dir, m.file, m.code) === "kept") ctx.err(keptMessage(m.file));
      written.push(m.file);
    }
  }
  const missing = plan.generatedModules.filter((m) => !written.includes(m));
  if (missing.length > 0) throw new MirageError(`no build step wrote ${missing.join(", ")}, which main.ts imports`);
  return written;
}

export async function buildCommand(ctx: CommandContext, options: { file?: string; target?: string }): Promise<Plan> {
  const { plan } = await timed(ctx, "configure", () => savedPlan(ctx, options.file, options.target));
  const files: string[] = writeConfigureFiles(ctx, plan);
  // Record as we go, so that clean finds what a failed build left.
  const record = (paths: readonly string[]) => {
    files.push(...paths);
    saveConfig(plan, files);
  };
  record(await timed(ctx, "build hooks", () => runHooks(ctx, plan)));

  // typescript and esbuild are loaded only when building: the other commands start faster.
  const { typecheck } = await import("./typecheck.ts");
  const { bundle } = await import("./bundle.ts");
  const checked = await timed(ctx, "type-check", () => typecheck(plan, { color: ctx.color }));
  if (!checked.ok) {
    throw new MirageError(`type-check failed:\n${checked.text.trimEnd()}${checked.hints.map((h) => `\n${h}`).join("")}`);
  }
  ctx.out(`type-check ok${ctx.verbose ? ` (${checked.fileCount} files)` : ""}`);

  record(bundleFiles(plan.name));
  let bundled;
  try {
    bundled = await timed(ctx, "bundle", () => bundle(plan));
  } catch (e) {
    if ((e as { esbuild?: boolean }).esbuild) throw new MirageError(`bundle failed:\n${(e as Error).message.trimEnd()}`);
    throw e;
  }
  if (ctx.verbose) {
    for (const w of bundled.warnings) ctx.err(w.trimEnd());
    ctx.out(`  ${bundled.inputs.length} modules bundled; the largest:`);
    for (const i of bundled.inputs.slice(0, 5)) ctx.out(`    ${kib(i.bytes).padStart(10)}  ${i.path}`);
  }
  ctx.out(`bundle ${join(shownPath(ctx, plan.dir), bundled.file)} (${kib(bundled.bytes)})`);

  if (plan.addons.length > 0) {
    const { copyAddons } = await import("./addons.ts");
    const copied = await timed(ctx, "addons", () => copyAddons(plan, (line) => ctx.verbose && ctx.out(`  ${line}`)));
    record(copied);
    ctx.out(`addon${copied.length > 1 ? "s" : ""} ${copied.map((f) => join(shownPath(ctx, plan.dir), f)).join(", ")}`);
  }

  const artifacts = [...plan.target.artifactFiles(plan), { path: MANIFEST, content: generateManifest(plan), mode: undefined }];
  for (const f of artifacts) {
    if (writeGenerated(plan.dir, f.path, f.content, f.mode) === "kept") ctx.err(keptMessage(f.path));
  }
  record(artifacts.map((f) => f.path));
  const launcher = artifacts.find((f) => f.mode !== undefined && (f.mode & 0o111) !== 0);
  if (launcher !== undefined) ctx.out(`launcher ${join(shownPath(ctx, plan.dir), launcher.path)}`);
  return plan;
}
