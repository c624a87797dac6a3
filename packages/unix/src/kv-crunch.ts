/**
 * The crunch KV store: read-only data embedded in the unikernel at build time (MirageOS's
 * ocaml-crunch). `mirage build` calls `crunchDirectory` (crunch-directory.ts) and writes the
 * result as a module whose default export is passed to `connectCrunchKv`.
 *
 * Dictionaries are implied by the files' paths (an empty directory is not embedded). A
 * dictionary's lastModified is that of its newest file.
 */
import { KvError, type KvEntryKind, type KvRo } from "@mirage-ts/runtime";
import { checkRange, compareNames, dictionaryDigest, formatKvPath, kvPathOf, parseKvKey, valueDigest } from "./kv-key.ts";

/** One embedded file, as the build step serialises it. */
export interface CrunchedFile {
  base64: string;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
}

export interface CrunchKvOptions {
  /** Keys ("/index.html") to their contents. */
  files: Readonly<Record<string, CrunchedFile>>;
}

interface ValueNode {
  kind: "value";
  /** A plain Uint8Array (not a Buffer), so that slice() copies: callers get their own bytes. */
  data: Uint8Array;
  mtimeMs: number;
  digest: string | undefined;
}

interface DictionaryNode {
  kind: "dictionary";
  children: Map<string, KvEntryKind>;
  mtimeMs: number;
  digest: string | undefined;
}

type Node = ValueNode | DictionaryNode;

export function connectCrunchKv(opts: CrunchKvOptions): KvRo {
  const nodes = buildTree(opts.files);

  const lookup = (key: string): Node | undefined => nodes.get(formatKvPath(kvPathOf(key)));
  const found = (key: string): Node => {
    const node = lookup(key);
    if (!node) throw new KvError("not-found", key);
    return node;
  };
  const value = (key: string): ValueNode => {
    const node = found(key);
    if (node.kind !== "value") throw new KvError("value-expected", key, `${key} is a dictionary, not a value`);
    return node;
  };
  const listing = (node: DictionaryNode) =>
    [...node.children].map(([name, kind]) => ({ name, kind })).sort((a, b) => compareNames(a.name, b.name));

  return {
    exists: async (key) => lookup(key)?.kind ?? null,
    get: async (key) => value(key).data.slice(),
    async getPartial(key, offset, length) {
      checkRange(offset, length);
      return value(key).data.slice(offset, offset + length);
    },
    async list(key) {
      const node = found(key);
      if (node.kind !== "dictionary") throw new KvError("dictionary-expected", key, `${key} is a value, not a dictionary`);
      return listing(node);
    },
    lastModified: async (key) => found(key).mtimeMs,
    async digest(key) {
      const node = found(key);
      node.digest ??= node.kind === "value" ? valueDigest(node.data) : dictionaryDigest(listing(node));
      return node.digest;
    },
    size: async (key) => value(key).data.length,
    disconnect: async () => undefined,
  };
}

/** Every node by canonical key ("/" is the root); throws on keys that cannot form a tree. */
function buildTree(files: Readonly<Record<string, CrunchedFile>>): Map<string, Node> {
  const root: DictionaryNode = { kind: "dictionary", children: new Map(), mtimeMs: 0, digest: undefined };
  const nodes = new Map<string, Node>([["/", root]]);
  for (const [key, file] of Object.entries(files)) {
    const parsed = parseKvKey(key);
    if (!parsed.ok || parsed.value.length === 0) {
      throw new Error(`crunch KV: the embedded key ${JSON.stringify(key)} is not a valid file key${parsed.ok ? "" : `: ${parsed.error}`}`);
    }
    const path = parsed.value;
    let parent = root;
    for (let i = 0; i < path.length; i++) {
      const here = formatKvPath(path.slice(0, i + 1));
      const last = i === path.length - 1;
      parent.mtimeMs = Math.max(parent.mtimeMs, file.mtimeMs);
      const existing = nodes.get(here);
      if (last) {
        if (existing) throw new Error(`crunch KV: ${here} is embedded twice (or is also a directory)`);
        nodes.set(here, { kind: "value", data: new Uint8Array(Buffer.from(file.base64, "base64")), mtimeMs: file.mtimeMs, digest: undefined });
        parent.children.set(path[i]!, "value");
      } else {
        if (existing?.kind === "value") throw new Error(`crunch KV: ${here} is both a file and a directory`);
        const dictionary: DictionaryNode = existing ?? { kind: "dictionary", children: new Map(), mtimeMs: 0, digest: undefined };
        nodes.set(here, dictionary);
        parent.children.set(path[i]!, "dictionary");
        parent = dictionary;
      }
    }
  }
  return nodes;
}
