/**
 * `mirage configure`: evaluates config.ts, resolves the device graph with the configure keys, and
 * writes main.ts, keys.ts, package.json, tsconfig.json and .mirage.config. Also the first step of
 * build, describe and query, which recompute the plan from the saved arguments.
 */
import { existsSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { configDirOf, configPath, shownPath, type CommandContext } from "./context.ts";
import { keptMessage, writeGenerated } from "./generated-files.ts";
import { loadConfig } from "./load-config.ts";
import { makePlan, type Plan } from "./plan.ts";
import { formatSavedConfig, readSavedConfig, requireSavedConfig, savedConfigPath, type SavedConfig } from "./saved-config.ts";
import { defaultTarget, findTarget } from "./targets.ts";
import { usageError } from "./errors.ts";

export interface ConfigureOptions {
  file?: string;
  target?: string;
  /** The configure keys, e.g. ["--net=socket", "--port", "9090"]. */
  argv: readonly string[];
}

/** The plan for explicit arguments (configure) without writing anything. */
export async function planFor(ctx: CommandContext, options: ConfigureOptions): Promise<Plan> {
  const target = findTarget(options.target ?? defaultTarget);
  const file = configPath(ctx, options.file);
  const registration = await loadConfig(file, { cwd: ctx.cwd });
  return makePlan({ registration, file, target, argv: options.argv });
}

/** The plan of the saved configuration (build, describe, query). */
export async function savedPlan(
  ctx: CommandContext,
  file: string | undefined,
  target?: string,
): Promise<{ plan: Plan; saved: SavedConfig }> {
  const dir = configDirOf(ctx, file);
  const saved = requireSavedConfig(dir, ctx.cwd);
  if (target !== undefined && target !== saved.target) {
    findTarget(target);
    throw usageError(`${shownPath(ctx, dir)} is configured for ${saved.target}: run \`mirage configure -t ${target}\` first`);
  }
  if (file !== undefined && basename(configPath(ctx, file)) !== saved.file) {
    ctx.err(`note: ${shownPath(ctx, dir)} was configured with ${saved.file}; using it (run mirage configure -f ${file} to change)`);
  }
  const plan = await planFor(ctx, { file: join(dir, saved.file), target: saved.target, argv: saved.argv });
  return { plan, saved };
}

/** Writes configure's files; returns those written or unchanged (not those the user kept). */
export function writeConfigureFiles(ctx: CommandContext, plan: Plan): string[] {
  const written: string[] = [];
  for (const [path, content] of plan.files) {
    const outcome = writeGenerated(plan.dir, path, content);
    if (outcome === "kept") ctx.err(keptMessage(path));
    else written.push(path);
  }
  return written;
}

/** Records the configuration and the files written so far (keeping earlier ones that still exist). */
export function saveConfig(plan: Plan, files: readonly string[]): void {
  const previous = readSavedConfig(plan.dir);
  const stillThere = (previous?.files ?? []).filter((f) => existsSync(join(plan.dir, f)));
  const config: SavedConfig = {
    file: relative(plan.dir, plan.file),
    target: plan.target.name,
    argv: [...plan.argv],
    files: [...new Set([...stillThere, ...files])],
  };
  writeFileSync(savedConfigPath(plan.dir), formatSavedConfig(plan.name, config));
}

export async function configure(ctx: CommandContext, options: ConfigureOptions): Promise<Plan> {
  const plan = await planFor(ctx, options);
  const written = writeConfigureFiles(ctx, plan);
  saveConfig(plan, written);
  const where = shownPath(ctx, plan.dir);
  ctx.out(`configured ${plan.name} for ${plan.target.name}${where === "." ? "" : ` in ${where}`}: wrote ${written.join(", ")}`);
  if (ctx.verbose) {
    for (const k of plan.keys) if (k.given) ctx.out(`  --${k.key.name}=${k.key.converter.format(k.value)}`);
  }
  return plan;
}
