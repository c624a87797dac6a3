import type { Console, KvRo } from "@mirage-ts/runtime";

/** Lists the store and prints each value with its size and digest. */
export async function start({ store, console }: { store: KvRo; console: Console }): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await store.list(dir)) {
      const path = `${dir === "/" ? "" : dir}/${entry.name}`;
      if (entry.kind === "dictionary") {
        await walk(path);
        continue;
      }
      const value = new TextDecoder().decode(await store.get(path));
      console.log(`${path} (${await store.size(path)} bytes, sha256 ${(await store.digest(path)).slice(0, 16)}): ${value.trimEnd()}`);
    }
  };
  await walk("/");
  console.log(`/missing exists: ${String(await store.exists("/missing"))}`);
}
