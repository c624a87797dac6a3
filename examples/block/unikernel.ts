import { BlockError, type Block, type Console } from "@mirage-ts/runtime";

/** Writes a pattern to every sector, reads it back, checks it, and shows that bounds are enforced. */
export async function start({ disk, console }: { disk: Block; console: Console }): Promise<void> {
  const { sectorSize, sizeSectors, readWrite } = disk.info();
  console.log(`disk: ${sizeSectors} sectors of ${sectorSize} bytes, ${readWrite ? "read-write" : "read-only"}`);
  const pattern = (sector: number, into: Uint8Array) => {
    for (let i = 0; i < into.length; i++) into[i] = (sector * 31 + i) & 0xff;
    return into;
  };
  const perBatch = 8;
  for (let s = 0; s < sizeSectors; s += perBatch) {
    const n = Math.min(perBatch, sizeSectors - s);
    await disk.write(s, Array.from({ length: n }, (_, k) => pattern(s + k, new Uint8Array(sectorSize))));
  }
  let bad = 0;
  const buf = new Uint8Array(sectorSize);
  const want = new Uint8Array(sectorSize);
  for (let s = 0; s < sizeSectors; s++) {
    await disk.read(s, [buf]);
    pattern(s, want);
    if (!buf.every((b, i) => b === want[i])) bad++;
  }
  console.log(bad === 0 ? `verified ${sizeSectors} sectors` : `${bad} sectors differ`);
  try {
    await disk.read(sizeSectors, [buf]);
    console.log("read past the end succeeded: bounds are not checked");
  } catch (e) {
    console.log(`read past the end refused: ${e instanceof BlockError ? e.code : String(e)}`);
  }
  if (bad !== 0) throw new Error(`${bad} sectors differ`);
}
