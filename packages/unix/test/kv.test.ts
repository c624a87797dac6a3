import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, writeFile, symlink, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { KvError, type KvRo } from "@mirage-ts/runtime";
import { connectCrunchKv, connectDirectKv, crunchDirectory, dictionaryDigest, formatKvPath, parseKvKey } from "@mirage-ts/unix";

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");
const MTIME = new Date("2023-11-14T22:13:20Z"); // 1700000000000 ms

/** A store tree plus a secret beside it that no key may reach. */
async function makeTree(): Promise<{ base: string; root: string }> {
  const base = await mkdtemp(join(tmpdir(), "mirage-kv-"));
  const root = join(base, "htdocs");
  await mkdir(join(root, "css"), { recursive: true });
  await mkdir(join(root, "docs", "deep"), { recursive: true });
  await writeFile(join(root, "index.html"), "<h1>home</h1>");
  await writeFile(join(root, "css", "site.css"), "body{}");
  await writeFile(join(root, "docs", "deep", "a.txt"), "0123456789");
  await writeFile(join(base, "secret.txt"), "top secret");
  await symlink(join(base, "secret.txt"), join(root, "escape.txt"));
  await symlink(base, join(root, "escape-dir"));
  await symlink("css/site.css", join(root, "alias.css"));
  for (const p of ["index.html", "css/site.css", "docs/deep/a.txt"]) await utimes(join(root, p), MTIME, MTIME);
  return { base, root };
}

let tree: { base: string; root: string };
before(async () => {
  tree = await makeTree();
});
after(async () => {
  await rm(tree.base, { recursive: true, force: true });
});

test("keys: leading '/', empty and '.' segments are normalised", () => {
  const same = ["/a/b.txt", "a/b.txt", "a//b.txt", "/a/b.txt/", "./a/./b.txt", "//a///b.txt"];
  for (const key of same) {
    const parsed = parseKvKey(key);
    assert.ok(parsed.ok, key);
    assert.equal(formatKvPath(parsed.value), "/a/b.txt");
  }
  for (const root of ["", "/", "//", "."]) {
    const parsed = parseKvKey(root);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, []);
  }
});

test("keys: '..' segments and NUL bytes are rejected", () => {
  for (const key of ["..", "/..", "../x", "a/../b", "a/..", "x\0y", "\0"]) {
    assert.equal(parseKvKey(key).ok, false, JSON.stringify(key));
  }
  // ".." inside a name is just a name.
  assert.ok(parseKvKey("a..b/...").ok);
});

test("keys: normalisation is idempotent and never yields '..' (property)", () => {
  const segment = fc.constantFrom("a", "b.txt", "", ".", "..", "x y", "..a", "\\");
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 8 }), fc.boolean(), (segments, leading) => {
      const key = (leading ? "/" : "") + segments.join("/");
      const parsed = parseKvKey(key);
      if (segments.includes("..")) return assert.equal(parsed.ok, false);
      assert.ok(parsed.ok);
      assert.ok(parsed.value.every((s) => s !== "" && s !== "." && s !== ".."));
      const again = parseKvKey(formatKvPath(parsed.value));
      assert.ok(again.ok);
      assert.deepEqual(again.value, parsed.value);
    }),
  );
});

test("crunchDirectory: sorted keys, base64 contents, mtimes; links escaping the directory are skipped", async () => {
  const files = await crunchDirectory(tree.root);
  const keys = Object.keys(files);
  assert.deepEqual(keys, ["/alias.css", "/css/site.css", "/docs/deep/a.txt", "/index.html"]);
  assert.equal(Buffer.from(files["/index.html"]!.base64, "base64").toString(), "<h1>home</h1>");
  assert.equal(files["/index.html"]!.mtimeMs, MTIME.getTime());
  assert.deepEqual(await crunchDirectory(tree.root), files);
  assert.ok(!JSON.stringify(files).includes(Buffer.from("top secret").toString("base64")));
  await assert.rejects(crunchDirectory(join(tree.base, "missing")), /cannot read the directory/);
});

test("crunchDirectory: a link loop does not hang", async () => {
  const base = await mkdtemp(join(tmpdir(), "mirage-kv-loop-"));
  try {
    await mkdir(join(base, "a"));
    await writeFile(join(base, "a", "f"), "x");
    await symlink(join(base, "a"), join(base, "a", "loop"));
    assert.deepEqual(Object.keys(await crunchDirectory(base)), ["/a/f"]);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

const stores: Array<[string, () => Promise<KvRo>]> = [
  ["crunch", async () => connectCrunchKv({ files: await crunchDirectory(tree.root) })],
  ["direct", async () => connectDirectKv({ root: tree.root })],
];

for (const [name, connect] of stores) {
  describe(`${name} KV`, () => {
    let kv: KvRo;
    before(async () => {
      kv = await connect();
    });

    test("exists, get, size for values and dictionaries", async () => {
      assert.equal(await kv.exists("/index.html"), "value");
      assert.equal(await kv.exists("index.html"), "value");
      assert.equal(await kv.exists("/css"), "dictionary");
      assert.equal(await kv.exists("/"), "dictionary");
      assert.equal(await kv.exists("/nope"), null);
      assert.equal(await kv.exists("/index.html/x"), null);
      assert.equal(Buffer.from(await kv.get("/css//site.css")).toString(), "body{}");
      assert.equal(await kv.size("docs/deep/a.txt"), 10);
      await assert.rejects(kv.get("/nope"), (e: unknown) => e instanceof KvError && e.code === "not-found");
      await assert.rejects(kv.get("/css"), (e: unknown) => e instanceof KvError && e.code === "value-expected");
      await assert.rejects(kv.size("/docs"), (e: unknown) => e instanceof KvError && e.code === "value-expected");
    });

    test("a value handed out cannot change the store", async () => {
      const value = await kv.get("/index.html");
      value.fill(0);
      assert.equal(Buffer.from(await kv.get("/index.html")).toString(), "<h1>home</h1>");
    });

    test("getPartial: ranges, short at the end, empty past it", async () => {
      assert.equal(Buffer.from(await kv.getPartial("/docs/deep/a.txt", 2, 3)).toString(), "234");
      assert.equal(Buffer.from(await kv.getPartial("/docs/deep/a.txt", 8, 100)).toString(), "89");
      assert.equal((await kv.getPartial("/docs/deep/a.txt", 50, 5)).length, 0);
      await assert.rejects(kv.getPartial("/docs/deep/a.txt", -1, 5), RangeError);
      await assert.rejects(kv.getPartial("/docs", 0, 5), (e: unknown) => e instanceof KvError && e.code === "value-expected");
    });

    test("list: sorted entries with their kinds; a value is not a dictionary", async () => {
      const root = await kv.list("/");
      assert.deepEqual(
        root.filter((e) => !e.name.startsWith("escape")),
        [
          { name: "alias.css", kind: "value" },
          { name: "css", kind: "dictionary" },
          { name: "docs", kind: "dictionary" },
          { name: "index.html", kind: "value" },
        ],
      );
      // Links leading out of the store are never listed.
      assert.ok(root.every((e) => !e.name.startsWith("escape")));
      assert.deepEqual(await kv.list("docs"), [{ name: "deep", kind: "dictionary" }]);
      await assert.rejects(kv.list("/index.html"), (e: unknown) => e instanceof KvError && e.code === "dictionary-expected");
      await assert.rejects(kv.list("/nope"), (e: unknown) => e instanceof KvError && e.code === "not-found");
    });

    test("digest: SHA-256 of values, of the sorted listing for dictionaries", async () => {
      assert.equal(await kv.digest("/index.html"), sha256("<h1>home</h1>"));
      assert.equal(await kv.digest("/css"), dictionaryDigest([{ name: "site.css", kind: "value" }]));
      assert.notEqual(await kv.digest("/css"), await kv.digest("/docs"));
      assert.match(await kv.digest("/"), /^[0-9a-f]{64}$/);
    });

    test("lastModified in milliseconds", async () => {
      assert.equal(await kv.lastModified("/index.html"), MTIME.getTime());
      assert.equal(typeof (await kv.lastModified("/docs")), "number");
    });

    test("traversal: '..' and NUL are invalid keys, nothing outside the store is reachable", async () => {
      for (const key of ["../secret.txt", "/../secret.txt", "css/../../secret.txt", "/index.html\0.png", ".."]) {
        for (const op of [kv.get(key), kv.exists(key), kv.size(key), kv.list(key), kv.digest(key)]) {
          await assert.rejects(op, (e: unknown) => e instanceof KvError && e.code === "invalid-key", key);
        }
      }
      // A link out of the store: never its contents.
      for (const key of ["/escape.txt", "/escape-dir/secret.txt"]) {
        await assert.rejects(kv.get(key), (e: unknown) => e instanceof KvError && (e.code === "invalid-key" || e.code === "not-found"), key);
      }
    });
  });
}

test("direct KV: a link escaping the root is an invalid key; a link inside it is followed", async () => {
  const kv = connectDirectKv({ root: tree.root });
  await assert.rejects(kv.get("/escape.txt"), (e: unknown) => e instanceof KvError && e.code === "invalid-key");
  await assert.rejects(kv.get("/escape-dir/secret.txt"), (e: unknown) => e instanceof KvError && e.code === "invalid-key");
  await assert.rejects(kv.exists("/escape-dir"), (e: unknown) => e instanceof KvError && e.code === "invalid-key");
  assert.equal(Buffer.from(await kv.get("/alias.css")).toString(), "body{}");
});

test("direct KV: reads the directory at run time", async () => {
  const kv = connectDirectKv({ root: tree.root });
  await writeFile(join(tree.root, "new.txt"), "fresh");
  try {
    assert.equal(Buffer.from(await kv.get("/new.txt")).toString(), "fresh");
  } finally {
    await rm(join(tree.root, "new.txt"));
  }
  assert.equal(await kv.exists("/new.txt"), null);
});

test("direct KV: a missing root is a clear error at connect", () => {
  assert.throws(() => connectDirectKv({ root: join(tree.base, "missing") }), /root directory .*missing/);
  assert.throws(() => connectDirectKv({ root: join(tree.root, "index.html") }), /not a directory/);
});

test("crunch KV: keys that cannot form a tree are refused at connect", () => {
  const f = { base64: "", mtimeMs: 0 };
  assert.throws(() => connectCrunchKv({ files: { "/a": f, "/a/b": f } }), /both a file and a directory|twice/);
  assert.throws(() => connectCrunchKv({ files: { "/../x": f } }), /not a valid file key/);
  assert.throws(() => connectCrunchKv({ files: { "/": f } }), /not a valid file key/);
});

test("crunch KV: the example shape from the build step", async () => {
  const kv = connectCrunchKv({ files: { "/index.html": { base64: Buffer.from("hi").toString("base64"), mtimeMs: 1700000000000 } } });
  assert.equal(Buffer.from(await kv.get("/index.html")).toString(), "hi");
  assert.equal(await kv.lastModified("/"), 1700000000000);
  assert.deepEqual(await kv.list("/"), [{ name: "index.html", kind: "value" }]);
});
