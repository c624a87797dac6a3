/**
 * The direct KV store: reads a host directory at run time (MirageOS's `direct` kv_ro on unix).
 *
 * Keys are normalised by kv-key.ts. Every lookup resolves the real path (following symbolic
 * links) and refuses, with KvError "invalid-key", any that resolves outside the root: a link
 * inside the tree pointing at /etc is as much an escape as "..". Only regular files (values) and
 * directories (dictionaries) are visible; sockets, FIFOs and devices are "not found" so that a
 * read can never block on them.
 */
import { createReadStream, realpathSync, statSync, type Stats } from "node:fs";
import { open, readdir, realpath, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join, resolve, sep } from "node:path";
import { KvError, type KvEntryKind, type KvRo } from "@mirage-ts/runtime";
import { checkRange, compareNames, dictionaryDigest, kvPathOf } from "./kv-key.ts";

export interface DirectKvOptions {
  /** The directory whose files are the store's values. */
  root: string;
}

interface Resolved {
  real: string;
  kind: KvEntryKind;
  stats: Stats;
}

export function connectDirectKv(opts: DirectKvOptions): KvRo {
  let root: string;
  try {
    root = realpathSync(resolve(opts.root));
  } catch (e) {
    throw new Error(`direct KV: the root directory ${opts.root} cannot be opened: ${(e as Error).message}`, { cause: e });
  }
  if (!statSync(root).isDirectory()) throw new Error(`direct KV: the root ${opts.root} is not a directory`);
  const prefix = root.endsWith(sep) ? root : root + sep;
  const inside = (real: string) => real === root || real.startsWith(prefix);

  const ioError = (key: string, e: unknown) =>
    e instanceof KvError ? e : new KvError("io", key, `${key}: ${(e as Error).message}`);

  /** The entry `key` names, or null when nothing (visible) is there. */
  const locate = async (key: string): Promise<Resolved | null> => {
    const path = kvPathOf(key);
    let real: string;
    try {
      real = await realpath(join(root, ...path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      if (code === "ELOOP") throw new KvError("invalid-key", key, `${key}: too many symbolic links`);
      throw ioError(key, e);
    }
    if (!inside(real)) throw new KvError("invalid-key", key, `${key} resolves outside the store`);
    const stats = await stat(real).catch((e: unknown) => {
      throw ioError(key, e);
    });
    if (stats.isFile()) return { real, kind: "value", stats };
    if (stats.isDirectory()) return { real, kind: "dictionary", stats };
    return null;
  };
  const found = async (key: string): Promise<Resolved> => {
    const entry = await locate(key);
    if (!entry) throw new KvError("not-found", key);
    return entry;
  };
  const value = async (key: string): Promise<Resolved> => {
    const entry = await found(key);
    if (entry.kind !== "value") throw new KvError("value-expected", key, `${key} is a dictionary, not a value`);
    return entry;
  };
  const listing = async (key: string, directory: string): Promise<Array<{ name: string; kind: KvEntryKind }>> => {
    const out: Array<{ name: string; kind: KvEntryKind }> = [];
    const entries = await readdir(directory, { withFileTypes: true }).catch((e: unknown) => {
      throw ioError(key, e);
    });
    for (const entry of entries) {
      if (entry.isFile()) out.push({ name: entry.name, kind: "value" });
      else if (entry.isDirectory()) out.push({ name: entry.name, kind: "dictionary" });
      else if (entry.isSymbolicLink()) {
        // Listed only when the link stays inside the store, as locate would accept it.
        const real = await realpath(join(directory, entry.name)).catch(() => undefined);
        if (real === undefined || !inside(real)) continue;
        const stats = await stat(real).catch(() => undefined);
        if (stats?.isFile()) out.push({ name: entry.name, kind: "value" });
        else if (stats?.isDirectory()) out.push({ name: entry.name, kind: "dictionary" });
      }
    }
    return out.sort((a, b) => compareNames(a.name, b.name));
  };

  return {
    exists: async (key) => (await locate(key))?.kind ?? null,
    async get(key) {
      const { real } = await value(key);
      const file = await open(real, "r").catch((e: unknown) => {
        throw ioError(key, e);
      });
      try {
        return await file.readFile();
      } catch (e) {
        throw ioError(key, e);
      } finally {
        await file.close();
      }
    },
    async getPartial(key, offset, length) {
      checkRange(offset, length);
      const { real } = await value(key);
      const file = await open(real, "r").catch((e: unknown) => {
        throw ioError(key, e);
      });
      try {
        const size = (await file.stat()).size;
        const buffer = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
        let filled = 0;
        while (filled < buffer.length) {
          const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      } catch (e) {
        throw ioError(key, e);
      } finally {
        await file.close();
      }
    },
    async list(key) {
      const entry = await found(key);
      if (entry.kind !== "dictionary") throw new KvError("dictionary-expected", key, `${key} is a value, not a dictionary`);
      return listing(key, entry.real);
    },
    lastModified: async (key) => Math.floor((await found(key)).stats.mtimeMs),
    async digest(key) {
      const entry = await found(key);
      if (entry.kind === "dictionary") return dictionaryDigest(await listing(key, entry.real));
      const hash = createHash("sha256");
      try {
        for await (const chunk of createReadStream(entry.real)) hash.update(chunk as Buffer);
      } catch (e) {
        throw ioError(key, e);
      }
      return hash.digest("hex");
    },
    size: async (key) => (await value(key)).stats.size,
    disconnect: async () => undefined,
  };
}
