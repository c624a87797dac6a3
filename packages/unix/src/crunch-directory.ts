/**
 * The build-time half of the crunch KV store: reads a directory into the object that
 * `connectCrunchKv` takes, for `mirage build` to serialise into the unikernel.
 *
 * Deterministic: keys are sorted, so the same tree gives the same object (and the same bundle).
 * Symbolic links are followed only when they resolve inside the directory; links leaving it, and
 * broken links, are skipped, so a stray link cannot embed /etc/passwd. Only regular files and
 * directories are embedded (not sockets, FIFOs or devices).
 */
import { readFile, readdir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import type { CrunchedFile } from "./kv-crunch.ts";
import { compareNames } from "./kv-key.ts";

export async function crunchDirectory(dir: string): Promise<Record<string, CrunchedFile>> {
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error("not a directory");
  } catch (e) {
    throw new Error(`crunch: cannot read the directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const prefix = root.endsWith(sep) ? root : root + sep;
  const inside = (real: string) => real === root || real.startsWith(prefix);
  const found: Array<[string, CrunchedFile]> = [];
  const visited = new Set<string>([root]);

  const walk = async (directory: string, keyPrefix: string): Promise<void> => {
    const entries = await readdir(directory, { withFileTypes: true });
    entries.sort((a, b) => compareNames(a.name, b.name));
    for (const entry of entries) {
      const full = join(directory, entry.name);
      const real = entry.isSymbolicLink() ? await realpath(full).catch(() => undefined) : full;
      if (real === undefined || !inside(real)) continue;
      const info = await stat(real);
      const key = `${keyPrefix}/${entry.name}`;
      if (info.isDirectory()) {
        // A link back up the tree would otherwise be walked forever.
        const canonical = await realpath(real);
        if (visited.has(canonical)) continue;
        visited.add(canonical);
        await walk(real, key);
        visited.delete(canonical);
      } else if (info.isFile()) {
        const data = await readFile(real);
        found.push([key, { base64: data.toString("base64"), mtimeMs: Math.floor(info.mtimeMs) }]);
      }
    }
  };
  await walk(root, "");
  found.sort(([a], [b]) => compareNames(a, b));
  // Every key starts with "/", so none is integer-like and the object keeps this order.
  return Object.fromEntries(found);
}
