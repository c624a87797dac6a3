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
