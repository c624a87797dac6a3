/**
 * A block device backed by a host file (MirageOS's mirage-block-unix).
 *
 * The file's size must be a whole number of sectors. Every request is checked before it reaches
 * the file: a start sector and buffers that are whole sectors ("unaligned" otherwise), inside the
 * device ("out-of-bounds"), and no writes to a read-only device ("read-only"). Requests use
 * positional I/O on one FileHandle, so concurrent requests do not disturb each other.
 */
import { open, type FileHandle } from "node:fs/promises";
import { BlockError, type Block, type BlockInfo } from "@mirage-ts/runtime";

export interface FileBlockOptions {
  /** The backing file; it must exist. */
  path: string;
  /** Bytes per sector; default 512. */
  sectorSize?: number;
  /** Opens the file read-only and refuses writes. */
  readOnly?: boolean;
}

export async function connectFileBlock(opts: FileBlockOptions): Promise<Block> {
  const sectorSize = opts.sectorSize ?? 512;
  if (!Number.isSafeInteger(sectorSize) || sectorSize <= 0) {
    throw new Error(`block ${opts.path}: the sector size ${sectorSize} is not a positive integer`);
  }
  const readWrite = !opts.readOnly;
  let file: FileHandle;
  try {
    file = await open(opts.path, readWrite ? "r+" : "r");
  } catch (e) {
    throw new Error(`block ${opts.path}: cannot open the file: ${(e as Error).message}`, { cause: e });
  }
  const stats = await file.stat();
  if (!stats.isFile()) {
    await file.close();
    throw new Error(`block ${opts.path}: not a regular file`);
  }
  if (stats.size % sectorSize !== 0) {
    await file.close();
    throw new Error(
      `block ${opts.path}: the file's size (${stats.size} bytes) is not a multiple of the sector size (${sectorSize} bytes); ` +
        `resize it, e.g. truncate -s ${Math.ceil(stats.size / sectorSize) * sectorSize} ${opts.path}`,
    );
  }
  const info: BlockInfo = { readWrite, sectorSize, sizeSectors: stats.size / sectorSize };

  let disconnected = false;
  const inFlight = new Set<Promise<unknown>>();

  /** Checks a request and returns its byte position in the file. */
  const check = (op: "read" | "write", startSector: number, buffers: Uint8Array[]): number => {
    if (disconnected) throw new BlockError("disconnected", `block ${opts.path}: ${op} after disconnect`);
    if (op === "write" && !readWrite) throw new BlockError("read-only", `block ${opts.path} is read-only`);
    if (!Number.isSafeInteger(startSector) || startSector < 0) {
      throw new BlockError("out-of-bounds", `block ${opts.path}: start sector ${startSector} is not a sector number`);
    }
    let sectors = 0;
    for (const buffer of buffers) {
      if (buffer.length % sectorSize !== 0) {
        throw new BlockError("unaligned", `block ${opts.path}: a ${buffer.length}-byte buffer is not a whole number of ${sectorSize}-byte sectors`);
      }
      sectors += buffer.length / sectorSize;
    }
    if (startSector + sectors > info.sizeSectors) {
      throw new BlockError(
        "out-of-bounds",
        `block ${opts.path}: sectors ${startSector}..${startSector + sectors - 1} are beyond the end (${info.sizeSectors} sectors)`,
      );
    }
    return startSector * sectorSize;
  };

  /** Runs one request, tracked so that disconnect waits for it before closing the file. */
  const track = async (run: () => Promise<void>): Promise<void> => {
    const p = run().catch((e: unknown) => {
      throw e instanceof BlockError ? e : new BlockError("io", `block ${opts.path}: ${(e as Error).message}`);
    });
    inFlight.add(p);
    try {
      await p;
    } finally {
      inFlight.delete(p);
    }
  };

  return {
    info: () => ({ ...info }),
    async read(startSector, buffers) {
      let position = check("read", startSector, buffers);
      await track(async () => {
        for (const buffer of buffers) {
          let done = 0;
          while (done < buffer.length) {
            const { bytesRead } = await file.read(buffer, done, buffer.length - done, position + done);
            // The file shrank under us: the sectors that were checked are no longer there.
            if (bytesRead === 0) throw new BlockError("io", `block ${opts.path}: unexpected end of file at byte ${position + done}`);
            done += bytesRead;
          }
          position += buffer.length;
        }
      });
    },
    async write(startSector, buffers) {
      let position = check("write", startSector, buffers);
      await track(async () => {
        for (const buffer of buffers) {
          let done = 0;
          while (done < buffer.length) {
            const { bytesWritten } = await file.write(buffer, done, buffer.length - done, position + done);
            done += bytesWritten;
          }
          position += buffer.length;
        }
      });
    },
    async disconnect() {
      if (disconnected) return;
      disconnected = true;
      await Promise.allSettled(inFlight);
      // What was written reaches the disk before the unikernel reports a clean exit.
      if (readWrite) await file.datasync().catch(() => undefined);
      await file.close();
    },
  };
}
