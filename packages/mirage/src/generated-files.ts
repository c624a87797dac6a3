/** Writing generated files without overwriting one the user took over (by deleting its header). */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { hasHeader } from "./codegen/header.ts";

export type WriteOutcome = "written" | "unchanged" | "kept";

/** Writes `content` to `dir/path` unless the existing file lost its header; "kept" then. */
export function writeGenerated(dir: string, path: string, content: string, mode?: number): WriteOutcome {
  const full = join(dir, path);
  if (existsSync(full)) {
    const existing = readFileSync(full, "utf8");
    if (!hasHeader(existing) && hasHeader(content)) return "kept";
    if (existing === content) {
      if (mode !== undefined) chmodSync(full, mode);
      return "unchanged";
    }
  }
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, content, mode === undefined ? {} : { mode });
  if (mode !== undefined) chmodSync(full, mode);
  return "written";
}

export function keptMessage(path: string): string {
  return `kept ${path}: its generated header was removed, so mirage leaves it to you`;
}
