/**
 * `mirage clean`: removes exactly what configure and build wrote (listed in .mirage.config, or
 * recognised by their header when it is gone), except a generated file whose header the user
 * removed; then dist/ and .mirage/ when nothing else is left in them, and .mirage.config.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { configDirOf, shownPath, type CommandContext } from "./context.ts";
import { hasHeader } from "./codegen/header.ts";
import { CONFIG_FILES, SAVED_CONFIG } from "./plan.ts";
import { readSavedConfig, savedConfigPath } from "./saved-config.ts";

/** Files that cannot carry a header (a source map, a native addon): ours when listed; a source map also when beside a bundle of ours. */
const headerless = (path: string): boolean => path.endsWith(".map") || path.endsWith(".node");

function isOurs(full: string, path: string, listed: boolean): boolean {
  if (headerless(path)) return listed;
  try {
    return hasHeader(readFileSync(full, "utf8").slice(0, 2000));
  } catch {
    return false;
  }
}

/** Without .mirage.config: configure's files, and what dist/ and .mirage/ hold. */
function guessFiles(dir: string): string[] {
  const found: string[] = [...CONFIG_FILES];
  for (const sub of ["dist", ".mirage"]) {
    const full = join(dir, sub);
    if (!existsSync(full)) continue;
    for (const name of readdirSync(full)) found.push(join(sub, name));
  }
  return found;
}

export function cleanCommand(ctx: CommandContext, options: { file?: string }): void {
  const dir = configDirOf(ctx, options.file);
  const saved = readSavedConfig(dir);
  const listed = new Set(saved?.files ?? []);
  const candidates = (saved === undefined ? guessFiles(dir) : [...listed]).filter((path) => {
    const full = join(dir, path);
    return existsSync(full) && statSync(full).isFile();
  });
  // Decide everything before removing anything: a source map is judged by its bundle.
  const ours = new Map(candidates.map((path) => [path, isOurs(join(dir, path), path, listed.has(path))]));
  for (const path of candidates) {
    if (path.endsWith(".map") && !listed.has(path)) {
      const bundle = path.replace(/\.map$/, "");
      ours.set(path, ours.get(bundle) ?? isOurs(join(dir, bundle), bundle, false));
    }
  }
  const removed: string[] = [];
  for (const path of candidates) {
    if (ours.get(path)) {
      rmSync(join(dir, path));
      removed.push(path);
    } else if (listed.has(path)) {
      ctx.err(`left ${path}: its generated header was removed`);
    }
  }
  for (const sub of [".mirage", "dist"]) {
    const full = join(dir, sub);
    if (!existsSync(full)) continue;
    if (readdirSync(full).length === 0) {
      rmdirSync(full);
      removed.push(`${sub}/`);
    } else if (removed.some((r) => r.startsWith(`${sub}/`))) {
      ctx.err(`left ${sub}/: it holds files mirage did not write`);
    }
  }
  if (existsSync(savedConfigPath(dir))) {
    rmSync(savedConfigPath(dir));
    removed.push(SAVED_CONFIG);
  }
  const where = shownPath(ctx, dir);
  ctx.out(removed.length === 0 ? `nothing to clean${where === "." ? "" : ` in ${where}`}` : `removed ${removed.join(", ")}`);
}
