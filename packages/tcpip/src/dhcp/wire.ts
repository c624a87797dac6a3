/**
 * DHCPv4 messages (RFC 2131 over the BOOTP format of RFC 951, options of RFC 2132): the 236-byte
 * fixed part, the magic cookie, then options. Parsing honours option overload (RFC 2131 §4.1:
 * options continued in the `file` and `sname` fields) and concatenates repeated options
 * (RFC 3396); options this stack does not interpret are kept, in order, in `other`. Emitting
 * splits options longer than 255 bytes and pads the message to BOOTP's 300-byte minimum.
 * Never throws on input.
 */
import { Ipv4Address, MacAddress, type Result } from "@mirage-ts/runtime";
import { get16, get32, set16, set32 } from "../bytes.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** op .. file: everything before the magic cookie. */
export const BOOTP_FIXED_LEN = 236;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** The options start here (after the cookie). */
export const DHCP_OPTIONS_OFFSET = BOOTP_FIXED_LEN + 4;
/** BOOTP's minimum message (RFC 951); some servers drop shorter requests. */
export const BOOTP_MIN_LEN = 300;
const SNAME_OFFSET = 44;
const SNAME_LEN = 64;
const FILE_OFFSET = 108;
const FILE_LEN = 128;
const BROADCAST_FLAG = 0x8000;

export const DhcpOptionCode = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dnsServers: 6,
  requestedIp: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverId: 54,
  parameterRequestList: 55,
  message: 56,
  maxMessageSize: 57,
  renewalTime: 58,
  rebindingTime: 59,
  clientId: 61,
  end: 255,
} as const;

export const DHCP_MESSAGE_TYPES = ["discover", "offer", "request", "decline", "ack", "nak", "release", "inform"] as const;
export type DhcpMessageType = (typeof DHCP_MESSAGE_TYPES)[number];

/** The options this stack reads and writes; absent fields were not in the message. */
export interface DhcpOptions {
  messageType: DhcpMessageType;
  subnetMask?: Ipv4Address;
  /** At least one address. */
  routers?: Ipv4Address[];
  dnsServers?: Ipv4Address[];
  requestedIp?: Ipv4Address;
  /** Seconds; 0xffffffff means infinite. */
  leaseTime?: number;
  /** T1, seconds. */
  renewalTime?: number;
  /** T2, seconds. */
  rebindingTime?: number;
  serverId?: Ipv4Address;
  parameterRequestList?: number[];
  /** A server's explanation (in a NAK), bytes as Latin-1. */
  message?: string;
  maxMessageSize?: number;
  clientId?: Uint8Array;
  /** Every other option, in order of first appearance. */
  other?: Array<{ code: number; data: Uint8Array }>;
}

export interface DhcpMessage {
  op: "request" | "reply";
  xid: number;
  /** Seconds since the client began acquiring or renewing. */
  secs: number;
  /** The client asks for broadcast replies (it cannot receive unicast before it has an address). */
  broadcast: boolean;
  ciaddr: Ipv4Address;
  yiaddr: Ipv4Address;
  siaddr: Ipv4Address;
  giaddr: Ipv4Address;
  chaddr: MacAddress;
  options: DhcpOptions;
}

const KNOWN = new Set<number>(Object.values(DhcpOptionCode));

/** Field access over a DHCP message; no validation, bounds-safe. */
export class DhcpView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}
  op(): number {
    return this.bytes[this.offset] ?? 0;
  }
  htype(): number {
    return this.bytes[this.offset + 1] ?? 0;
  }
  hlen(): number {
    return this.bytes[this.offset + 2] ?? 0;
  }
  xid(): number {
    return get32(this.bytes, this.offset + 4);
  }
  secs(): number {
    return get16(this.bytes, this.offset + 8);
  }
  flags(): number {
    return get16(this.bytes, this.offset + 10);
  }
  ciaddrValue(): number {
    return get32(this.bytes, this.offset + 12);
  }
  yiaddrValue(): number {
    return get32(this.bytes, this.offset + 16);
  }
  siaddrValue(): number {
    return get32(this.bytes, this.offset + 20);
  }
  giaddrValue(): number {
    return get32(this.bytes, this.offset + 24);
  }
  chaddr(): MacAddress {
    return MacAddress.ofBytes(this.bytes, this.offset + 28);
  }
  cookie(): number {
    return get32(this.bytes, this.offset + BOOTP_FIXED_LEN);
  }
}

type RawOptions = Map<number, Uint8Array[]>;

/** Reads the TLVs of `bytes[start..end]` into `raw`; an error message when they overrun. */
function readOptions(bytes: Uint8Array, start: number, end: number, raw: RawOptions): string | undefined {
  let i = start;
  while (i < end) {
    const code = bytes[i]!;
    if (code === DhcpOptionCode.pad) {
      i++;
      continue;
    }
    if (code === DhcpOptionCode.end) return undefined;
    if (i + 1 >= end) return `option ${code} at byte ${i} has no length`;
    const length = bytes[i + 1]!;
    if (i + 2 + length > end) return `option ${code} at byte ${i} announces ${length} bytes past the end of its field`;
    const data = bytes.subarray(i + 2, i + 2 + length);
    const list = raw.get(code);
    if (list === undefined) raw.set(code, [data]);
    else list.push(data);
    i += 2 + length;
  }
  // RFC 2131 requires an end option, but tolerating its absence costs nothing.
  return undefined;
}

function joined(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function addresses(data: Uint8Array): Ipv4Address[] {
  const out: Ipv4Address[] = [];
  for (let i = 0; i + 4 <= data.length; i += 4) out.push(Ipv4Address.ofBytes(data, i));
  return out;
}

const latin1 = (data: Uint8Array): string => {
  let s = "";
  for (let i = 0; i < data.length; i++) s += String.fromCharCode(data[i]!);
  return s;
};

export function parseDhcp(bytes: Uint8Array): Result<DhcpMessage, DecodeError> {
  if (bytes.length < DHCP_OPTIONS_OFFSET) {
    return decodeError("dhcp", "truncated", `a DHCP message needs ${DHCP_OPTIONS_OFFSET} bytes before its options, got ${bytes.length}`);
  }
  const view = new DhcpView(bytes);
  const op = view.op();
  if (op !== 1 && op !== 2) return decodeError("dhcp", "bad-field", `BOOTP op ${op} is neither request (1) nor reply (2)`);
  if (view.htype() !== 1 || view.hlen() !== 6) {
    return decodeError("dhcp", "unsupported", `hardware type ${view.htype()} length ${view.hlen()}, not Ethernet (1, 6)`);
  }
  if (view.cookie() !== DHCP_MAGIC_COOKIE) return decodeError("dhcp", "unsupported", `no DHCP magic cookie (0x${view.cookie().toString(16)}): plain BOOTP`);
  const raw: RawOptions = new Map();
  let problem = readOptions(bytes, DHCP_OPTIONS_OFFSET, bytes.length, raw);
  const overload = raw.get(DhcpOptionCode.overload);
  if (problem === undefined && overload !== undefined) {
    const value = joined(overload);
    if (value.length !== 1 || value[0]! < 1 || value[0]! > 3) return decodeError("dhcp", "bad-field", "option overload (52) is not 1, 2 or 3");
    if (value[0]! & 1) problem = readOptions(bytes, FILE_OFFSET, FILE_OFFSET + FILE_LEN, raw);
    if (problem === undefined && value[0]! & 2) problem = readOptions(bytes, SNAME_OFFSET, SNAME_OFFSET + SNAME_LEN, raw);
    raw.delete(DhcpOptionCode.overload);
  }
  if (problem !== undefined) return decodeError("dhcp", "truncated", problem);

  const typeData = raw.get(DhcpOptionCode.messageType);
  if (typeData === undefined) return decodeError("dhcp", "unsupported", "no DHCP message type option (53): plain BOOTP");
  const type = joined(typeData);
  if (type.length !== 1 || type[0]! < 1 || type[0]! > DHCP_MESSAGE_TYPES.length) {
    return decodeError("dhcp", "bad-field", `DHCP message type ${type.length === 1 ? type[0] : `of ${type.length} bytes`} is not 1 to 8`);
  }
  const options: DhcpOptions = { messageType: DHCP_MESSAGE_TYPES[type[0]! - 1]! };
  for (const [code, parts] of raw) {
    const data = joined(parts);
    const fixed = (n: number): DecodeError | undefined =>
      data.length === n ? undefined : { protocol: "dhcp", code: "bad-length", message: `option ${code} has ${data.length} bytes, expected ${n}` };
    let bad: DecodeError | undefined;
    switch (code) {
      case DhcpOptionCode.messageType:
        break;
      case DhcpOptionCode.subnetMask:
        if (!(bad = fixed(4))) options.subnetMask = Ipv4Address.ofBytes(data);
        break;
      case DhcpOptionCode.requestedIp:
        if (!(bad = fixed(4))) options.requestedIp = Ipv4Address.ofBytes(data);
        break;
      case DhcpOptionCode.serverId:
        if (!(bad = fixed(4))) options.serverId = Ipv4Address.ofBytes(data);
        break;
      case DhcpOptionCode.leaseTime:
        if (!(bad = fixed(4))) options.leaseTime = get32(data, 0);
        break;
      case DhcpOptionCode.renewalTime:
        if (!(bad = fixed(4))) options.renewalTime = get32(data, 0);
        break;
      case DhcpOptionCode.rebindingTime:
        if (!(bad = fixed(4))) options.rebindingTime = get32(data, 0);
        break;
      case DhcpOptionCode.maxMessageSize:
        if (!(bad = fixed(2))) options.maxMessageSize = get16(data, 0);
        break;
      case DhcpOptionCode.router:
      case DhcpOptionCode.dnsServers:
        if (data.length === 0 || data.length % 4 !== 0) {
          bad = { protocol: "dhcp", code: "bad-length", message: `option ${code} has ${data.length} bytes, not a positive multiple of 4` };
        } else if (code === DhcpOptionCode.router) options.routers = addresses(data);
        else options.dnsServers = addresses(data);
        break;
      case DhcpOptionCode.parameterRequestList:
        options.parameterRequestList = Array.from(data);
        break;
      case DhcpOptionCode.message:
        options.message = latin1(data);
        break;
      case DhcpOptionCode.clientId:
        options.clientId = data.slice();
        break;
      default:
        (options.other ??= []).push({ code, data: data.slice() });
    }
    if (bad !== undefined) return { ok: false, error: bad };
  }
  return {
    ok: true,
    value: {
      op: op === 1 ? "request" : "reply",
      xid: view.xid(),
      secs: view.secs(),
      broadcast: (view.flags() & BROADCAST_FLAG) !== 0,
      ciaddr: Ipv4Address.ofInt(view.ciaddrValue()),
      yiaddr: Ipv4Address.ofInt(view.yiaddrValue()),
      siaddr: Ipv4Address.ofInt(view.siaddrValue()),
      giaddr: Ipv4Address.ofInt(view.giaddrValue()),
      chaddr: view.chaddr(),
      options,
    },
  };
}

/** The options as (code, bytes) in the order they are written; the message type comes first. */
function encodeOptions(options: DhcpOptions): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  const ip = (a: Ipv4Address): Uint8Array => a.toBytes();
  const u32 = (n: number): Uint8Array => {
    const b = new Uint8Array(4);
    set32(b, 0, n);
    return b;
  };
  const list = (as: Ipv4Address[]): Uint8Array => {
    const b = new Uint8Array(as.length * 4);
    as.forEach((a, i) => a.toBytes(b, i * 4));
    return b;
  };
  out.push([DhcpOptionCode.messageType, Uint8Array.of(DHCP_MESSAGE_TYPES.indexOf(options.messageType) + 1)]);
  if (options.serverId !== undefined) out.push([DhcpOptionCode.serverId, ip(options.serverId)]);
  if (options.requestedIp !== undefined) out.push([DhcpOptionCode.requestedIp, ip(options.requestedIp)]);
  if (options.leaseTime !== undefined) out.push([DhcpOptionCode.leaseTime, u32(options.leaseTime)]);
  if (options.renewalTime !== undefined) out.push([DhcpOptionCode.renewalTime, u32(options.renewalTime)]);
  if (options.rebindingTime !== undefined) out.push([DhcpOptionCode.rebindingTime, u32(options.rebindingTime)]);
  if (options.subnetMask !== undefined) out.push([DhcpOptionCode.subnetMask, ip(options.subnetMask)]);
  if (options.routers !== undefined && options.routers.length > 0) out.push([DhcpOptionCode.router, list(options.routers)]);
  if (options.dnsServers !== undefined && options.dnsServers.length > 0) out.push([DhcpOptionCode.dnsServers, list(options.dnsServers)]);
  if (options.maxMessageSize !== undefined) {
    const b = new Uint8Array(2);
    set16(b, 0, options.maxMessageSize);
    out.push([DhcpOptionCode.maxMessageSize, b]);
  }
  if (options.parameterRequestList !== undefined) out.push([DhcpOptionCode.parameterRequestList, Uint8Array.from(options.parameterRequestList)]);
  if (options.clientId !== undefined) out.push([DhcpOptionCode.clientId, options.clientId]);
  if (options.message !== undefined) out.push([DhcpOptionCode.message, Uint8Array.from(options.message, (c) => c.charCodeAt(0) & 0xff)]);
  for (const o of options.other ?? []) {
    if (KNOWN.has(o.code)) throw new RangeError(`DHCP option ${o.code} has its own field; it cannot be given in "other"`);
    out.push([o.code, o.data]);
  }
  return out;
}

/** Bytes the options take, with RFC 3396 splitting of values above 255 bytes. */
function optionsLength(encoded: Array<[number, Uint8Array]>): number {
  let n = 0;
  for (const [, data] of encoded) n += data.length === 0 ? 2 : data.length + 2 * Math.ceil(data.length / 255);
  return n;
}

/** The length `emitDhcp` writes. */
export function dhcpLength(message: DhcpMessage): number {
  return Math.max(BOOTP_MIN_LEN, DHCP_OPTIONS_OFFSET + optionsLength(encodeOptions(message.options)) + 1);
}

/** Writes the message at `into[offset..]` and returns its length. Throws RangeError when `into` is too small. */
export function emitDhcp(message: DhcpMessage, into: Uint8Array, offset = 0): number {
  const encoded = encodeOptions(message.options);
  const length = Math.max(BOOTP_MIN_LEN, DHCP_OPTIONS_OFFSET + optionsLength(encoded) + 1);
  if (offset + length > into.length) throw new RangeError(`emitDhcp needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  into.fill(0, offset, offset + length);
  into[offset] = message.op === "request" ? 1 : 2;
  into[offset + 1] = 1;
  into[offset + 2] = 6;
  into[offset + 3] = 0;
  set32(into, offset + 4, message.xid);
  set16(into, offset + 8, message.secs);
  set16(into, offset + 10, message.broadcast ? BROADCAST_FLAG : 0);
  set32(into, offset + 12, message.ciaddr.value);
  set32(into, offset + 16, message.yiaddr.value);
  set32(into, offset + 20, message.siaddr.value);
  set32(into, offset + 24, message.giaddr.value);
  message.chaddr.toBytes(into, offset + 28);
  set32(into, offset + BOOTP_FIXED_LEN, DHCP_MAGIC_COOKIE);
  let at = offset + DHCP_OPTIONS_OFFSET;
  for (const [code, data] of encoded) {
    let from = 0;
    do {
      const piece = Math.min(255, data.length - from);
      into[at] = code;
      into[at + 1] = piece;
      into.set(data.subarray(from, from + piece), at + 2);
      at += 2 + piece;
      from += piece;
    } while (from < data.length);
  }
  into[at] = DhcpOptionCode.end;
  return length;
}

/** A fresh buffer holding the message. */
export function encodeDhcp(message: DhcpMessage): Uint8Array {
  const out = new Uint8Array(dhcpLength(message));
  emitDhcp(message, out, 0);
  return out;
}

/** The prefix length of a netmask, or undefined when its ones are not contiguous. */
export function netmaskLength(mask: Ipv4Address): number | undefined {
  const m = mask.value >>> 0;
  const inverted = ~m >>> 0;
  if ((inverted & (inverted + 1)) !== 0) return undefined;
  let length = 0;
  for (let bit = 31; bit >= 0 && ((m >>> bit) & 1) === 1; bit--) length++;
  return length;
}
