import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlockError } from "@mirage-ts/runtime";
import { connectFileBlock } from "@mirage-ts/unix";

async function withFile(size: number, run: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mirage-block-"));
  const path = join(dir, "disk.img");
  await writeFile(path, Buffer.alloc(size));
  try {
    await run(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const isBlockError = (code: string) => (e: unknown) => e instanceof BlockError && e.code === code;

test("block: info reports the geometry of the file", async () => {
  await withFile(8 * 512, async (path) => {
    const block = await connectFileBlock({ path });
    assert.deepEqual(block.info(), { readWrite: true, sectorSize: 512, sizeSectors: 8 });
    await block.disconnect();
    const ro = await connectFileBlock({ path, sectorSize: 4096, readOnly: true });
    assert.deepEqual(ro.info(), { readWrite: false, sectorSize: 4096, sizeSectors: 1 });
    await ro.disconnect();
  });
});

test("block: writes land at sector offsets and read back, across several buffers", async () => {
  await withFile(8 * 512, async (path) => {
    const block = await connectFileBlock({ path });
    const a = Buffer.alloc(512, 0xaa);
    const b = Buffer.alloc(1024, 0xbb);
    await block.write(3, [a, b]);
    const into = [new Uint8Array(512), new Uint8Array(1024), new Uint8Array(512)];
    await block.read(2, into);
    assert.deepEqual(Buffer.from(into[0]!), Buffer.alloc(512, 0));
    assert.deepEqual(Buffer.from(into[1]!), Buffer.concat([a, Buffer.alloc(512, 0xbb)]));
    assert.deepEqual(Buffer.from(into[2]!), Buffer.alloc(512, 0xbb));
    await block.disconnect();
    const file = await readFile(path);
    assert.deepEqual(file.subarray(3 * 512, 4 * 512), a);
    assert.deepEqual(file.subarray(4 * 512, 6 * 512), b);
  });
});

test("block: out-of-bounds requests are refused and touch nothing", async () => {
  await withFile(4 * 512, async (path) => {
    const block = await connectFileBlock({ path });
    await assert.rejects(block.read(4, [new Uint8Array(512)]), isBlockError("out-of-bounds"));
    await assert.rejects(block.read(3, [new Uint8Array(1024)]), isBlockError("out-of-bounds"));
    await assert.rejects(block.write(2, [new Uint8Array(512), new Uint8Array(1024)]), isBlockError("out-of-bounds"));
    await assert.rejects(block.read(-1, [new Uint8Array(512)]), isBlockError("out-of-bounds"));
    await assert.rejects(block.read(0.5, [new Uint8Array(512)]), isBlockError("out-of-bounds"));
    // The last sector is fine.
    await block.write(3, [Buffer.alloc(512, 1)]);
    await block.disconnect();
    const file = await readFile(path);
    assert.equal(file.length, 4 * 512);
    assert.deepEqual(file.subarray(0, 3 * 512), Buffer.alloc(3 * 512));
  });
});

test("block: buffers must be whole sectors", async () => {
  await withFile(4 * 512, async (path) => {
    const block = await connectFileBlock({ path });
    await assert.rejects(block.read(0, [new Uint8Array(100)]), isBlockError("unaligned"));
    await assert.rejects(block.write(0, [new Uint8Array(512), new Uint8Array(513)]), isBlockError("unaligned"));
    await block.disconnect();
  });
});

test("block: a read-only device refuses writes", async () => {
  await withFile(2 * 512, async (path) => {
    const block = await connectFileBlock({ path, readOnly: true });
    await assert.rejects(block.write(0, [new Uint8Array(512)]), isBlockError("read-only"));
    await block.read(0, [new Uint8Array(512)]);
    await block.disconnect();
  });
});

test("block: requests after disconnect are refused", async () => {
  await withFile(2 * 512, async (path) => {
    const block = await connectFileBlock({ path });
    const pending = block.write(0, [Buffer.alloc(512, 7)]);
    await block.disconnect();
    await pending;
    await assert.rejects(block.read(0, [new Uint8Array(512)]), isBlockError("disconnected"));
    await assert.rejects(block.write(0, [new Uint8Array(512)]), isBlockError("disconnected"));
    assert.equal((await readFile(path))[0], 7);
  });
});

test("block: a size that is not a whole number of sectors, or a missing file, is a clear error", async () => {
  await withFile(1000, async (path) => {
    await assert.rejects(connectFileBlock({ path }), /1000 bytes\) is not a multiple of the sector size \(512 bytes\)/);
    await assert.rejects(connectFileBlock({ path, sectorSize: 0 }), /not a positive integer/);
    await assert.rejects(connectFileBlock({ path: `${path}.missing` }), /cannot open the file/);
  });
});
