/** Finding npm packages as the unikernel's directory sees them (not as this tool's own files do). */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** The directory of `name` in the node_modules visible from `fromDir`, or undefined. */
export function findPackageDir(fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The `version` field of `name`'s package.json as seen from `fromDir`. */
export function packageVersion(fromDir: string, name: string): string | undefined {
  const dir = findPackageDir(fromDir, name);
  if (dir === undefined) return undefined;
  try {
    const version = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: unknown }).version;
    return typeof version === "string" ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Imports `specifier` as resolved from `fromDir`, falling back to this tool's own resolution (the
 * two agree inside the mirage-ts repository).
 */
export async function importFrom(fromDir: string, specifier: string): Promise<unknown> {
  let resolved: string;
  try {
    resolved = pathToFileURL(createRequire(join(fromDir, "config.ts")).resolve(specifier)).href;
  } catch {
    resolved = specifier;
  }
  return import(resolved);
}
