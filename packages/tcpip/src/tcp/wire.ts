/**
 * TCP segment headers (RFC 9293 §3.1). The checksum (mandatory) covers a pseudo-header, the
 * header and the data. Options are kept as raw bytes here; their parsing belongs to the TCP
 * engine that negotiates them.
 */
import type { IpAddress, Result } from "@mirage-ts/runtime";
import { get16, get32, placePayload, set16, set32 } from "../bytes.ts";
import { checksumValid, internetChecksum, pseudoHeaderSum } from "../checksum.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";
import { IpProtocol } from "../ipv4/wire.ts";

export const TCP_HEADER_LEN = 20;
/** The data offset field is 4 bits of 32-bit words. */
export const TCP_MAX_HEADER_LEN = 60;

export const TcpFlag = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20, ece: 0x40, cwr: 0x80 } as const;

/** Field access over a TCP header at `offset`; no validation, bounds-safe. */
export class TcpView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  srcPort(): number {
    return get16(this.bytes, this.offset);
  }
  dstPort(): number {
    return get16(this.bytes, this.offset + 2);
  }
  seq(): number {
    return get32(this.bytes, this.offset + 4);
  }
  ack(): number {
    return get32(this.bytes, this.offset + 8);
  }
  /** The header length in bytes. */
  dataOffset(): number {
    return ((this.bytes[this.offset + 12] ?? 0) >> 4) * 4;
  }
  flags(): number {
    return this.bytes[this.offset + 13] ?? 0;
  }
  window(): number {
    return get16(this.bytes, this.offset + 14);
  }
  checksum(): number {
    return get16(this.bytes, this.offset + 16);
  }
  urgentPointer(): number {
    return get16(this.bytes, this.offset + 18);
  }
}

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TcpFlag bits. */
  flags: number;
  window: number;
  urgentPointer: number;
  /** Raw option bytes (a multiple of 4 long when emitted). */
  options: Uint8Array;
  payload: Uint8Array;
}

/** Parses a whole TCP segment (the IP payload) from `src` to `dst`, verifying its checksum. */
export function parseTcp(bytes: Uint8Array, src: IpAddress, dst: IpAddress): Result<TcpSegment, DecodeError> {
  if (bytes.length < TCP_HEADER_LEN) return decodeError("tcp", "truncated", `a TCP header needs ${TCP_HEADER_LEN} bytes, got ${bytes.length}`);
  const view = new TcpView(bytes);
  const headerLength = view.dataOffset();
  if (headerLength < TCP_HEADER_LEN) return decodeError("tcp", "bad-header-length", `TCP data offset ${headerLength / 4} is below 5`);
  if (headerLength > bytes.length) return decodeError("tcp", "truncated", `TCP data offset says ${headerLength} header bytes, only ${bytes.length} present`);
  if (!checksumValid(bytes, 0, bytes.length, pseudoHeaderSum(src, dst, IpProtocol.tcp, bytes.length))) {
    return decodeError("tcp", "bad-checksum", `TCP checksum 0x${view.checksum().toString(16)} is wrong`);
  }
  return {
    ok: true,
    value: {
      srcPort: view.srcPort(),
      dstPort: view.dstPort(),
      seq: view.seq(),
      ack: view.ack(),
      flags: view.flags(),
      window: view.window(),
      urgentPointer: view.urgentPointer(),
      options: bytes.subarray(TCP_HEADER_LEN, headerLength),
      payload: bytes.subarray(headerLength),
    },
  };
}

/** The length `emitTcp` writes. */
export function tcpLength(segment: TcpSegment): number {
  return TCP_HEADER_LEN + segment.options.length + segment.payload.length;
}

/**
 * Writes the segment at `into[offset..]` with its checksum over the pseudo-header of `src` and
 * `dst`, returning its length. Throws RangeError when the options are not a multiple of 4 bytes
 * up to 40, or `into` is too small (programming errors, not input errors).
 */
export function emitTcp(segment: TcpSegment, into: Uint8Array, offset: number, src: IpAddress, dst: IpAddress): number {
  const optionsLength = segment.options.length;
  if (optionsLength % 4 !== 0 || optionsLength > TCP_MAX_HEADER_LEN - TCP_HEADER_LEN) {
    throw new RangeError(`TCP options must be a multiple of 4 bytes up to 40, got ${optionsLength}`);
  }
  const length = tcpLength(segment);
  if (offset + length > into.length) throw new RangeError(`emitTcp needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  const headerLength = TCP_HEADER_LEN + optionsLength;
  set16(into, offset, segment.srcPort);
  set16(into, offset + 2, segment.dstPort);
  set32(into, offset + 4, segment.seq);
  set32(into, offset + 8, segment.ack);
  into[offset + 12] = (headerLength / 4) << 4;
  into[offset + 13] = segment.flags;
  set16(into, offset + 14, segment.window);
  set16(into, offset + 16, 0);
  set16(into, offset + 18, segment.urgentPointer);
  placePayload(into, offset + TCP_HEADER_LEN, segment.options);
  placePayload(into, offset + headerLength, segment.payload);
  set16(into, offset + 16, internetChecksum(into, offset, length, pseudoHeaderSum(src, dst, IpProtocol.tcp, length)));
  return length;
}

// ---------------------------------------------------------------------------------------------
// Options (RFC 9293 §3.2, RFC 7323, RFC 2018)

export const TcpOptionKind = { eol: 0, nop: 1, mss: 2, windowScale: 3, sackPermitted: 4, sack: 5, timestamps: 8 } as const;
/** RFC 7323 §2.3: shifts above 14 are treated as 14. */
export const TCP_MAX_WINDOW_SCALE = 14;
/** At most four SACK blocks fit in 40 option bytes (three next to timestamps). */
export const TCP_MAX_SACK_BLOCKS = 4;

/**
 * Parsed options. Mutable and reusable: the engine decodes every segment's options into the same
 * object, so a segment costs no allocation. -1 (or false) means "absent".
 */
export interface TcpOptions {
  mss: number;
  windowScale: number;
  sackPermitted: boolean;
  /** TSval and TSecr, meaningful when `timestamps` is true. */
  timestamps: boolean;
  tsVal: number;
  tsEcr: number;
  /** Number of SACK blocks in `sackBlocks` (left edge, right edge pairs). */
  sackCount: number;
  sackBlocks: number[];
}

export function emptyTcpOptions(): TcpOptions {
  return { mss: -1, windowScale: -1, sackPermitted: false, timestamps: false, tsVal: 0, tsEcr: 0, sackCount: 0, sackBlocks: [0, 0, 0, 0, 0, 0, 0, 0] };
}

export function resetTcpOptions(o: TcpOptions): void {
  o.mss = -1;
  o.windowScale = -1;
  o.sackPermitted = false;
  o.timestamps = false;
  o.tsVal = 0;
  o.tsEcr = 0;
  o.sackCount = 0;
}

/**
 * Decodes the options in `bytes[start..end]` into `into` (reset first). Unknown kinds are skipped
 * by their length; EOL ends the list. Returns undefined, or why the options are malformed (a
 * length byte below 2 or past the end, a known option of the wrong length).
 */
export function decodeTcpOptionsInto(bytes: Uint8Array, start: number, end: number, into: TcpOptions): DecodeError | undefined {
  resetTcpOptions(into);
  let i = start;
  while (i < end) {
    const kind = bytes[i]!;
    if (kind === TcpOptionKind.eol) break;
    if (kind === TcpOptionKind.nop) {
      i++;
      continue;
    }
    if (i + 1 >= end) return { protocol: "tcp", code: "truncated", message: `TCP option ${kind} has no length byte` };
    const length = bytes[i + 1]!;
    if (length < 2) return { protocol: "tcp", code: "bad-length", message: `TCP option ${kind} has length ${length}` };
    if (i + length > end) return { protocol: "tcp", code: "truncated", message: `TCP option ${kind} of ${length} bytes runs past the header` };
    switch (kind) {
      case TcpOptionKind.mss:
        if (length !== 4) return { protocol: "tcp", code: "bad-field", message: `TCP MSS option of length ${length}` };
        into.mss = get16(bytes, i + 2);
        break;
      case TcpOptionKind.windowScale:
        if (length !== 3) return { protocol: "tcp", code: "bad-field", message: `TCP window scale option of length ${length}` };
        into.windowScale = Math.min(bytes[i + 2]!, TCP_MAX_WINDOW_SCALE);
        break;
      case TcpOptionKind.sackPermitted:
        if (length !== 2) return { protocol: "tcp", code: "bad-field", message: `TCP SACK-permitted option of length ${length}` };
        into.sackPermitted = true;
        break;
      case TcpOptionKind.sack: {
        const blocks = (length - 2) / 8;
        if (!Number.isInteger(blocks) || blocks < 1 || blocks > TCP_MAX_SACK_BLOCKS) {
          return { protocol: "tcp", code: "bad-field", message: `TCP SACK option of length ${length}` };
        }
        for (let b = 0; b < blocks; b++) {
          into.sackBlocks[2 * b] = get32(bytes, i + 2 + 8 * b);
          into.sackBlocks[2 * b + 1] = get32(bytes, i + 6 + 8 * b);
        }
        into.sackCount = blocks;
        break;
      }
      case TcpOptionKind.timestamps:
        if (length !== 10) return { protocol: "tcp", code: "bad-field", message: `TCP timestamps option of length ${length}` };
        into.timestamps = true;
        into.tsVal = get32(bytes, i + 2);
        into.tsEcr = get32(bytes, i + 6);
        break;
      default:
        break;
    }
    i += length;
  }
  return undefined;
}

export function parseTcpOptions(bytes: Uint8Array): Result<TcpOptions, DecodeError> {
  const options = emptyTcpOptions();
  const error = decodeTcpOptionsInto(bytes, 0, bytes.length, options);
  return error === undefined ? { ok: true, value: options } : { ok: false, error };
}

/** The bytes `emitTcpOptions` writes: a multiple of 4. Throws RangeError above 40 (a programming error). */
export function tcpOptionsLength(o: TcpOptions): number {
  let n = 0;
  if (o.mss >= 0) n += 4;
  if (o.sackPermitted && o.timestamps) n += 12; // SACK_PERM + TS, as Linux lays them out
  else {
    if (o.sackPermitted) n += 4;
    if (o.timestamps) n += 12;
  }
  if (o.windowScale >= 0) n += 4;
  if (o.sackCount > 0) n += 4 + 8 * o.sackCount;
  if (n > TCP_MAX_HEADER_LEN - TCP_HEADER_LEN) throw new RangeError(`TCP options need ${n} bytes, at most 40 fit`);
  return n;
}

/** Writes the options at `into[offset..]`, NOP-padded to 32-bit words; returns the length. */
export function emitTcpOptions(o: TcpOptions, into: Uint8Array, offset: number): number {
  const length = tcpOptionsLength(o);
  let i = offset;
  if (o.mss >= 0) {
    into[i] = TcpOptionKind.mss;
    into[i + 1] = 4;
    set16(into, i + 2, o.mss);
    i += 4;
  }
  if (o.sackPermitted && o.timestamps) {
    into[i] = TcpOptionKind.sackPermitted;
    into[i + 1] = 2;
    i += 2;
  } else if (o.sackPermitted) {
    into[i] = TcpOptionKind.nop;
    into[i + 1] = TcpOptionKind.nop;
    into[i + 2] = TcpOptionKind.sackPermitted;
    into[i + 3] = 2;
    i += 4;
  } else if (o.timestamps) {
    into[i] = TcpOptionKind.nop;
    into[i + 1] = TcpOptionKind.nop;
    i += 2;
  }
  if (o.timestamps) {
    into[i] = TcpOptionKind.timestamps;
    into[i + 1] = 10;
    set32(into, i + 2, o.tsVal);
    set32(into, i + 6, o.tsEcr);
    i += 10;
  }
  if (o.windowScale >= 0) {
    into[i] = TcpOptionKind.nop;
    into[i + 1] = TcpOptionKind.windowScale;
    into[i + 2] = 3;
    into[i + 3] = o.windowScale;
    i += 4;
  }
  if (o.sackCount > 0) {
    into[i] = TcpOptionKind.nop;
    into[i + 1] = TcpOptionKind.nop;
    into[i + 2] = TcpOptionKind.sack;
    into[i + 3] = 2 + 8 * o.sackCount;
    i += 4;
    for (let b = 0; b < o.sackCount; b++) {
      set32(into, i, o.sackBlocks[2 * b]!);
      set32(into, i + 4, o.sackBlocks[2 * b + 1]!);
      i += 8;
    }
  }
  return length;
}

/** A segment with its options decoded: the repr level of the codec. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgentPointer: number;
  options: TcpOptions;
  payload: Uint8Array;
}

/** Parses a segment (checksum verified) and decodes its options. */
export function parseTcpRepr(bytes: Uint8Array, src: IpAddress, dst: IpAddress): Result<TcpRepr, DecodeError> {
  const segment = parseTcp(bytes, src, dst);
  if (!segment.ok) return segment;
  const options = parseTcpOptions(segment.value.options);
  if (!options.ok) return options;
  return { ok: true, value: { ...segment.value, options: options.value } };
}

/** Emits a repr (options encoded) with its checksum; returns its length. */
export function emitTcpRepr(repr: TcpRepr, into: Uint8Array, offset: number, src: IpAddress, dst: IpAddress): number {
  const options = new Uint8Array(tcpOptionsLength(repr.options));
  emitTcpOptions(repr.options, options, 0);
  return emitTcp({ ...repr, options }, into, offset, src, dst);
}
