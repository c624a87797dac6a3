/**
 * Test helpers: fixture copies in scratch directories under the repository (so that module
 * resolution finds the workspace's node_modules), and the CLI run in-process.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli.ts";

export const testDir = dirname(fileURLToPath(import.meta.url));
export const fixturesDir = join(testDir, "fixtures");
export const mirageBin = join(testDir, "..", "bin", "mirage.mjs");

const scratch: string[] = [];

/** A fresh directory under packages/mirage/test/, optionally holding a copy of a fixture. */
export function scratchDir(fixture?: string): string {
  const dir = mkdtempSync(join(testDir, ".tmp-"));
  scratch.push(dir);
  if (fixture !== undefined) cpSync(join(fixturesDir, fixture), dir, { recursive: true });
  return dir;
}

/** Writes files (path → content) into `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** Removes every scratch directory made so far (call from `after`). */
export function removeScratch(): void {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `mirage ARGS` in `cwd`, in this process. */
export async function mirage(cwd: string, args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { cwd, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), color: false });
  return { code, stdout, stderr };
}

/** `mirage ARGS`, failing the test with the output when the exit code is not 0. */
export async function mirageOk(cwd: string, args: string[]): Promise<Run> {
  const r = await mirage(cwd, args);
  if (r.code !== 0) throw new Error(`mirage ${args.join(" ")} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

/** A config.ts and unikernel.ts pair, for error cases that cannot live in fixtures (they would not type-check). */
export const helloUnikernel = `import type { Console } from "@mirage-ts/runtime";
export async function start({ console }: { console: Console }): Promise<void> {
  console.log("hi");
}
`;
