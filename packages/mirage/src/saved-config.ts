/**
 * `.mirage.config`: the arguments of the last `mirage configure` (so that build, describe, query
 * and clean reuse them) and the files configure and build wrote (so that clean removes exactly
 * those).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { MirageError } from "./errors.ts";
import { headerText } from "./codegen/header.ts";
import { SAVED_CONFIG } from "./plan.ts";

export interface SavedConfig {
  /** config.ts, relative to the directory of .mirage.config. */
  file: string;
  target: string;
  /** The configure keys as given. */
  argv: string[];
  /** Files configure and build wrote, relative to the directory. */
  files: string[];
}

export function savedConfigPath(dir: string): string {
  return join(dir, SAVED_CONFIG);
}

export function readSavedConfig(dir: string): SavedConfig | undefined {
  const path = savedConfigPath(dir);
  if (!existsSync(path)) return undefined;
  let json: Partial<SavedConfig>;
  try {
    json = JSON.parse(readFileSync(path, "utf8")) as Partial<SavedConfig>;
  } catch (e) {
    throw new MirageError(`${SAVED_CONFIG} is not valid JSON (${(e as Error).message}): run mirage configure again`);
  }
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
  if (typeof json.file !== "string" || typeof json.target !== "string" || !strings(json.argv)) {
    throw new MirageError(`${SAVED_CONFIG} is not one mirage configure wrote: run mirage configure again`);
  }
  return { file: json.file, target: json.target, argv: json.argv, files: strings(json.files) ? json.files : [] };
}

/** The saved configuration, or the error that says to configure first. */
export function requireSavedConfig(dir: string, cwd: string): SavedConfig {
  const saved = readSavedConfig(dir);
  if (saved === undefined) {
    const shown = relative(cwd, dir) || ".";
    throw new MirageError(`no configuration found in ${shown}: run \`mirage configure -t unix\` first`);
  }
  return saved;
}

export function formatSavedConfig(name: string, config: SavedConfig): string {
  return (
    JSON.stringify(
      {
        "//": headerText("configure", name).replace("(delete this line to keep your own version)", "(the arguments of the last configure)"),
        ...config,
        files: [...new Set(config.files)],
      },
      null,
      2,
    ) + "\n"
  );
}
