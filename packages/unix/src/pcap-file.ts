/**
 * The file behind `--pcap=FILE`: where the direct stack's packet capture goes (the pcap bytes
 * themselves come from @mirage-ts/tcpip's `connectPcapNetif`, which this package does not import).
 *
 * Chunks are written through a file stream, so capturing never blocks the event loop. The stream
 * is bounded: while more than `maxBufferedBytes` wait for the disk, whole records are dropped
 * (counted, and warned about once), so that a slow disk cannot eat the heap; the file header is
 * never dropped, so the file stays readable by tshark and tcpdump. Without a path the device is
 * disabled and writes nothing.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { resolve } from "node:path";
import { type Device, createLogSource } from "@mirage-ts/runtime";

const log = createLogSource("pcap", "the packet capture file (--pcap)");

export interface PcapFileOptions {
  /** The file to write (created or truncated); undefined: no capture. */
  path?: string;
  /** Bytes waiting for the disk beyond which records are dropped; default 16 MiB. */
  maxBufferedBytes?: number;
}

export interface PcapFileStats {
  /** Chunks written (the header counts as one). */
  chunks: number;
  bytes: number;
  /** Chunks dropped because the disk was behind. */
  dropped: number;
}

export interface PcapFile extends Device {
  /** Whether a capture was asked for. */
  readonly enabled: boolean;
  /** The absolute path written, when enabled. */
  readonly path: string | undefined;
  /** Queues one chunk (the caller gives up the bytes). */
  write(chunk: Uint8Array): void;
  stats(): PcapFileStats;
}

const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;

/** Opens `options.path` for writing (rejecting with a message naming the file when it cannot be), or a disabled device. */
export async function connectPcapFile(options: PcapFileOptions = {}): Promise<PcapFile> {
  if (options.path === undefined || options.path === "") return disabledPcapFile();
  const path = resolve(options.path);
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  let stream: WriteStream;
  try {
    stream = createWriteStream(path, { flags: "w" });
  } catch (e) {
    // Node's permission model refuses synchronously (ERR_ACCESS_DENIED).
    throw new Error(`cannot write the packet capture ${path}: ${(e as Error).message}`);
  }
  await new Promise<void>((resolveOpen, reject) => {
    const onError = (e: Error) => reject(new Error(`cannot write the packet capture ${path}: ${e.message}`));
    stream.once("error", onError);
    stream.once("open", () => {
      stream.off("error", onError);
      resolveOpen();
    });
  });
  let failed: Error | undefined;
  stream.on("error", (e) => {
    if (failed === undefined) log.err(`writing the packet capture ${path} failed, capture stopped: ${e.message}`);
    failed = e;
  });
  const stats: PcapFileStats = { chunks: 0, bytes: 0, dropped: 0 };
  let closed = false;
  log.info(`capturing packets to ${path}`);
  return {
    enabled: true,
    path,
    write(chunk: Uint8Array): void {
      if (closed || failed !== undefined) return;
      if (stats.chunks > 0 && stream.writableLength > maxBuffered) {
        if (stats.dropped++ === 0) log.warn(`the disk is behind: dropping packets from the capture ${path} until it catches up`);
        return;
      }
      stats.chunks++;
      stats.bytes += chunk.length;
      stream.write(chunk);
    },
    stats: () => ({ ...stats }),
    async disconnect(): Promise<void> {
      if (closed) return;
      closed = true;
      await new Promise<void>((done) => {
        if (failed !== undefined || stream.destroyed) return done();
        stream.end(() => done());
      });
      if (stats.dropped > 0) log.warn(`the capture ${path} misses ${stats.dropped} packets (the disk was behind)`);
    },
  };
}

function disabledPcapFile(): PcapFile {
  return {
    enabled: false,
    path: undefined,
    write: () => {},
    stats: () => ({ chunks: 0, bytes: 0, dropped: 0 }),
    disconnect: async () => {},
  };
}
