/**
 * Classic libpcap files (magic 0xa1b2c3d4, microsecond timestamps, link type 1 = Ethernet), as
 * tcpdump and tshark read them, and a Netif wrapper that records every frame in both directions.
 * Everything is written little-endian (readers detect the byte order from the magic).
 */
import type { FramesHandler, Netif, NetifStats, MacAddress, Result } from "@mirage-ts/runtime";

export const PCAP_MAGIC = 0xa1b2c3d4;
export const PCAP_LINKTYPE_ETHERNET = 1;
export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
const DEFAULT_SNAPLEN = 65535;

/** The 24-byte file header. */
export function pcapGlobalHeader(snaplen = DEFAULT_SNAPLEN, linktype = PCAP_LINKTYPE_ETHERNET): Uint8Array {
  const bytes = new Uint8Array(PCAP_GLOBAL_HEADER_LEN);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, PCAP_MAGIC, true);
  view.setUint16(4, 2, true); // version 2.4
  view.setUint16(6, 4, true);
  view.setInt32(8, 0, true); // thiszone: timestamps are UTC
  view.setUint32(12, 0, true); // sigfigs
  view.setUint32(16, snaplen, true);
  view.setUint32(20, linktype, true);
  return bytes;
}

/** One record (16-byte header + the frame cut to `snaplen`), stamped `timestampMs` (milliseconds, fraction kept to the microsecond). */
export function pcapRecord(frame: Uint8Array, timestampMs: number, snaplen = DEFAULT_SNAPLEN): Uint8Array {
  const captured = Math.min(frame.length, snaplen);
  const bytes = new Uint8Array(PCAP_RECORD_HEADER_LEN + captured);
  const view = new DataView(bytes.buffer);
  const totalMicros = Math.max(0, Math.round(timestampMs * 1000));
  view.setUint32(0, Math.floor(totalMicros / 1_000_000), true);
  view.setUint32(4, totalMicros % 1_000_000, true);
  view.setUint32(8, captured, true);
  view.setUint32(12, frame.length, true);
  bytes.set(frame.subarray(0, captured), PCAP_RECORD_HEADER_LEN);
  return bytes;
}

export interface PcapRecord {
  timestampMs: number;
  /** The frame's length on the wire (may exceed `data.length` when cut by the snaplen). */
  originalLength: number;
  /** The captured bytes (a subarray of the file). */
  data: Uint8Array;
}

export interface PcapFile {
  linktype: number;
  snaplen: number;
  records: PcapRecord[];
}

/** Reads a classic pcap file of either byte order with microsecond or nanosecond timestamps. Never throws. */
export function parsePcap(bytes: Uint8Array): Result<PcapFile, string> {
  if (bytes.length < PCAP_GLOBAL_HEADER_LEN) return { ok: false, error: `a pcap file needs a 24-byte header, got ${bytes.length} bytes` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  let nanos = false;
  const magicLe = view.getUint32(0, true);
  if (magicLe === PCAP_MAGIC || magicLe === 0xa1b23c4d) little = true;
  else if (view.getUint32(0, false) === PCAP_MAGIC || view.getUint32(0, false) === 0xa1b23c4d) little = false;
  else return { ok: false, error: `not a classic pcap file (magic 0x${view.getUint32(0, false).toString(16)}; pcapng is not read)` };
  if (view.getUint32(0, little) === 0xa1b23c4d) nanos = true;
  const snaplen = view.getUint32(16, little);
  const linktype = view.getUint32(20, little);
  const records: PcapRecord[] = [];
  let offset = PCAP_GLOBAL_HEADER_LEN;
  while (offset < bytes.length) {
    if (offset + PCAP_RECORD_HEADER_LEN > bytes.length) return { ok: false, error: `truncated record header at byte ${offset}` };
    const seconds = view.getUint32(offset, little);
    const fraction = view.getUint32(offset + 4, little);
    const captured = view.getUint32(offset + 8, little);
    const originalLength = view.getUint32(offset + 12, little);
    const start = offset + PCAP_RECORD_HEADER_LEN;
    if (start + captured > bytes.length) return { ok: false, error: `record at byte ${offset} announces ${captured} bytes past the end` };
    records.push({ timestampMs: seconds * 1000 + (nanos ? fraction / 1e6 : fraction / 1000), originalLength, data: bytes.subarray(start, start + captured) });
    offset = start + captured;
  }
  return { ok: true, value: { linktype, snaplen, records } };
}

export interface PcapOptions {
  snaplen?: number;
}

/**
 * Wraps `netif` so that every frame received and every frame sent (and accepted by the netif) is
 * given to `sink` as pcap bytes: first the file header (synchronously, before this returns), then
 * one chunk per frame. Chunks are fresh arrays the sink may keep (e.g. hand to a file stream).
 * `clock.now()` stamps the records; give it the PosixClock for real dates.
 */
export function withPcap(netif: Netif, sink: (chunk: Uint8Array) => void, clock: { now(): number }, options: PcapOptions = {}): Netif {
  const snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
  sink(pcapGlobalHeader(snaplen));
  const record = (frame: Uint8Array): void => sink(pcapRecord(frame, clock.now(), snaplen));
  return {
    get mac(): MacAddress {
      return netif.mac;
    },
    get mtu(): number {
      return netif.mtu;
    },
    listen(onFrames: FramesHandler): void {
      netif.listen((frames) => {
        for (let i = 0; i < frames.length; i++) record(frames[i]!);
        onFrames(frames);
      });
    },
    // Recorded once the netif accepted the frame, so a capture shows what was sent; netifs
    // deliver asynchronously, so no reply can be recorded before its request.
    write(frame: Uint8Array): boolean {
      const accepted = netif.write(frame);
      if (accepted) record(frame);
      return accepted;
    },
    writeBatch(frames: readonly Uint8Array[]): number {
      const sent = netif.writeBatch(frames);
      for (let i = 0; i < sent; i++) record(frames[i]!);
      return sent;
    },
    stats(): NetifStats {
      return netif.stats();
    },
    disconnect: () => netif.disconnect(),
  };
}
