/**
 * Multicast Listener Discovery version 2 (RFC 3810): the listener report a host sends to join
 * (and leave) groups, above all the solicited-node groups of its addresses, so that snooping
 * switches forward neighbour solicitations to it; and the queries (v1 and v2) a router sends,
 * which the host answers with a report. Both are ICMPv6 messages; a report is sent to ff02::16
 * with hop limit 1 and a hop-by-hop Router Alert option (`MLD_HOP_BY_HOP`).
 */
import { Ipv6Address, type Result } from "@mirage-ts/runtime";
import { get16, set16 } from "../bytes.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";
import { IcmpV6Type, IcmpV6View, icmpV6ChecksumValid } from "../icmpv6/wire.ts";
import { Ipv6NextHeader } from "../ipv6/wire.ts";

export const MldRecordType = {
  modeIsInclude: 1,
  modeIsExclude: 2,
  changeToInclude: 3,
  changeToExclude: 4,
  allowNewSources: 5,
  blockOldSources: 6,
} as const;

/**
 * The hop-by-hop header an MLD message travels behind (RFC 3810 §5): Next Header ICMPv6, length
 * 0 (8 bytes), Router Alert (RFC 2711) with value 0 (MLD), PadN of 2 bytes.
 */
export const MLD_HOP_BY_HOP: Uint8Array = Uint8Array.of(Ipv6NextHeader.icmpv6, 0, 5, 2, 0, 0, 1, 0);

export interface MldAddressRecord {
  /** One of MldRecordType. */
  recordType: number;
  group: Ipv6Address;
  sources: Ipv6Address[];
  /** Auxiliary data (a multiple of 4 bytes); empty in RFC 3810. */
  auxData: Uint8Array;
}

export interface MldV2Report {
  records: MldAddressRecord[];
}

/** The report that joins `groups` (CHANGE_TO_EXCLUDE with no sources: every source is wanted). */
export function mldJoinReport(groups: readonly Ipv6Address[]): MldV2Report {
  return { records: groups.map((group) => ({ recordType: MldRecordType.changeToExclude, group, sources: [], auxData: new Uint8Array(0) })) };
}

/** The report that leaves `groups` (CHANGE_TO_INCLUDE with no sources). */
export function mldLeaveReport(groups: readonly Ipv6Address[]): MldV2Report {
  return { records: groups.map((group) => ({ recordType: MldRecordType.changeToInclude, group, sources: [], auxData: new Uint8Array(0) })) };
}

export function parseMldV2Report(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): Result<MldV2Report, DecodeError> {
  if (bytes.length < 8) return decodeError("mld", "truncated", `an MLDv2 report needs 8 bytes, got ${bytes.length}`);
  const view = new IcmpV6View(bytes);
  if (view.type() !== IcmpV6Type.mldV2Report) return decodeError("mld", "unsupported", `ICMPv6 type ${view.type()} is not an MLDv2 report`);
  if (!icmpV6ChecksumValid(bytes, src, dst)) return decodeError("mld", "bad-checksum", `ICMPv6 checksum 0x${view.checksum().toString(16)} is wrong`);
  const count = get16(bytes, 6);
  const records: MldAddressRecord[] = [];
  let at = 8;
  for (let i = 0; i < count; i++) {
    if (at + 20 > bytes.length) return decodeError("mld", "truncated", `record ${i} of ${count} needs 20 bytes at ${at}, ${bytes.length - at} left`);
    const auxLength = bytes[at + 1]! * 4;
    const sourceCount = get16(bytes, at + 2);
    const end = at + 20 + sourceCount * 16 + auxLength;
    if (end > bytes.length) return decodeError("mld", "truncated", `record ${i} of ${end - at} bytes at ${at}, ${bytes.length - at} left`);
    const sources: Ipv6Address[] = [];
    for (let s = 0; s < sourceCount; s++) sources.push(Ipv6Address.ofBytes(bytes, at + 20 + s * 16));
    records.push({ recordType: bytes[at]!, group: Ipv6Address.ofBytes(bytes, at + 4), sources, auxData: bytes.subarray(end - auxLength, end) });
    at = end;
  }
  return { ok: true, value: { records } };
}

export function mldV2ReportLength(report: MldV2Report): number {
  let n = 8;
  for (const r of report.records) n += 20 + r.sources.length * 16 + r.auxData.length;
  return n;
}

/** Writes the report at `into[offset..]` with its checksum and returns its length. */
export function emitMldV2Report(report: MldV2Report, into: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): number {
  const length = mldV2ReportLength(report);
  if (offset + length > into.length) throw new RangeError(`emitMldV2Report needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  if (report.records.length > 0xffff) throw new RangeError(`${report.records.length} records do not fit an MLDv2 report`);
  into.fill(0, offset, offset + 8);
  into[offset] = IcmpV6Type.mldV2Report;
  set16(into, offset + 6, report.records.length);
  let at = offset + 8;
  for (const r of report.records) {
    if (r.auxData.length % 4 !== 0 || r.auxData.length > 255 * 4) throw new RangeError(`auxiliary data of ${r.auxData.length} bytes is not a number of 32-bit words below 256`);
    into[at] = r.recordType;
    into[at + 1] = r.auxData.length / 4;
    set16(into, at + 2, r.sources.length);
    into.set(r.group.bytes, at + 4);
    at += 20;
    for (const s of r.sources) {
      into.set(s.bytes, at);
      at += 16;
    }
    into.set(r.auxData, at);
    at += r.auxData.length;
  }
  new IcmpV6View(into, offset).fillChecksum(length, src, dst);
  return length;
}

export interface MldQuery {
  version: 1 | 2;
  /** How long a host may wait before answering, in milliseconds (decoded from the v2 exponential form). */
  maxResponseDelayMs: number;
  /** The group asked about; :: for a general query. */
  group: Ipv6Address;
  /** v2 only (false, 0, 0 and none for v1). */
  suppressRouterProcessing: boolean;
  robustness: number;
  /** The querier's query interval in seconds (decoded QQIC). */
  queryIntervalS: number;
  sources: Ipv6Address[];
}

/** RFC 3810 §5.1.3 and §5.1.9: a code below 128 (QQIC) or 32768 (maximum response code) is the value; above, mantissa and exponent. */
function decodeFloatingCode(code: number, mantissaBits: number, exponentBits: number): number {
  const threshold = 1 << (mantissaBits + exponentBits);
  if (code < threshold) return code;
  const mantissa = code & ((1 << mantissaBits) - 1);
  const exponent = (code >> mantissaBits) & ((1 << exponentBits) - 1);
  return (mantissa | (1 << mantissaBits)) * 2 ** (exponent + 3);
}

/** Parses an MLD query (type 130): 24 bytes for v1 (RFC 2710), at least 28 for v2. */
export function parseMldQuery(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): Result<MldQuery, DecodeError> {
  if (bytes.length < 24) return decodeError("mld", "truncated", `an MLD query needs 24 bytes, got ${bytes.length}`);
  const view = new IcmpV6View(bytes);
  if (view.type() !== IcmpV6Type.mldQuery) return decodeError("mld", "unsupported", `ICMPv6 type ${view.type()} is not an MLD query`);
  if (!icmpV6ChecksumValid(bytes, src, dst)) return decodeError("mld", "bad-checksum", `ICMPv6 checksum 0x${view.checksum().toString(16)} is wrong`);
  const code = get16(bytes, 4);
  const group = Ipv6Address.ofBytes(bytes, 8);
  if (bytes.length < 28) {
    // RFC 3810 §8.1: 24 bytes is an MLDv1 query; 25 to 27 are neither and are ignored.
    if (bytes.length !== 24) return decodeError("mld", "bad-length", `an MLD query of ${bytes.length} bytes`);
    return { ok: true, value: { version: 1, maxResponseDelayMs: code, group, suppressRouterProcessing: false, robustness: 0, queryIntervalS: 0, sources: [] } };
  }
  const sourceCount = get16(bytes, 26);
  if (28 + sourceCount * 16 > bytes.length) return decodeError("mld", "truncated", `${sourceCount} sources need ${28 + sourceCount * 16} bytes, got ${bytes.length}`);
  const sources: Ipv6Address[] = [];
  for (let s = 0; s < sourceCount; s++) sources.push(Ipv6Address.ofBytes(bytes, 28 + s * 16));
  return {
    ok: true,
    value: {
      version: 2,
      maxResponseDelayMs: decodeFloatingCode(code, 12, 3),
      group,
      suppressRouterProcessing: (bytes[24]! & 0x08) !== 0,
      robustness: bytes[24]! & 0x07,
      queryIntervalS: decodeFloatingCode(bytes[25]!, 4, 3),
      sources,
    },
  };
}
