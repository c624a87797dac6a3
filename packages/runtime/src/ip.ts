/**
 * IP addresses and prefixes. Parsing is strict (no leading zeros in IPv4 octets, no octet above
 * 255, at most one "::" in IPv6) and never throws: it returns a Result whose error says what was
 * wrong. Formatting of IPv6 follows RFC 5952 (lower case, longest zero run compressed).
 */
import { type Result, ok, err } from "./result.ts";

export class Ipv4Address {
  readonly family = 4 as const;
  /** The address as an unsigned 32-bit integer, network order (10.0.0.1 is 0x0a000001). */
  private constructor(readonly value: number) {}

  static ofInt(value: number): Ipv4Address {
    return new Ipv4Address(value >>> 0);
  }

  static ofBytes(bytes: Uint8Array, offset = 0): Ipv4Address {
    return new Ipv4Address(
      ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0,
    );
  }

  static parse(text: string): Result<Ipv4Address, string> {
    const parts = text.split(".");
    if (parts.length !== 4) return err(`"${text}" is not an IPv4 address (expected four numbers joined by dots, e.g. 10.0.0.2)`);
    let value = 0;
    for (const part of parts) {
      if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return err(`"${text}" is not an IPv4 address: "${part}" is not a number from 0 to 255`);
      const n = Number(part);
      if (n > 255) return err(`"${text}" is not an IPv4 address: ${n} is above 255`);
      value = value * 256 + n;
    }
    return ok(new Ipv4Address(value));
  }

  /** Parses or throws a TypeError; for literals in code, not for input. */
  static of(text: string): Ipv4Address {
    const r = Ipv4Address.parse(text);
    if (!r.ok) throw new TypeError(r.error);
    return r.value;
  }

  static readonly any = new Ipv4Address(0);
  static readonly broadcast = new Ipv4Address(0xffffffff);
  static readonly localhost = new Ipv4Address(0x7f000001);

  toBytes(into: Uint8Array = new Uint8Array(4), offset = 0): Uint8Array {
    into[offset] = this.value >>> 24;
    into[offset + 1] = (this.value >>> 16) & 0xff;
    into[offset + 2] = (this.value >>> 8) & 0xff;
    into[offset + 3] = this.value & 0xff;
    return into;
  }

  equals(other: IpAddress): boolean {
    return other.family === 4 && other.value === this.value;
  }

  isMulticast(): boolean {
    return this.value >>> 28 === 0xe;
  }

  isUnspecified(): boolean {
    return this.value === 0;
  }

  toString(): string {
    const v = this.value;
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

export class Ipv6Address {
  readonly family = 6 as const;
  private constructor(readonly bytes: Uint8Array) {}

  static ofBytes(bytes: Uint8Array, offset = 0): Ipv6Address {
    return new Ipv6Address(Uint8Array.prototype.slice.call(bytes, offset, offset + 16));
  }

  static parse(text: string): Result<Ipv6Address, string> {
    const bad = (why: string) => err(`"${text}" is not an IPv6 address: ${why} (e.g. 2001:db8::42)`);
    if (text.length === 0) return bad("it is empty");
    const zoneless = text;
    if (zoneless.includes("%")) return bad("zone identifiers are not accepted");
    const halves = zoneless.split("::");
    if (halves.length > 2) return bad('"::" appears more than once');
    const groups: number[][] = [];
    let embeddedV4: Ipv4Address | undefined;
    for (const [h, half] of halves.entries()) {
      const out: number[] = [];
      if (half.length > 0) {
        const parts = half.split(":");
        for (const [i, part] of parts.entries()) {
          const last = h === halves.length - 1 && i === parts.length - 1;
          if (last && part.includes(".")) {
            const v4 = Ipv4Address.parse(part);
            if (!v4.ok) return bad(`the embedded IPv4 part "${part}" is not valid`);
            embeddedV4 = v4.value;
            out.push(v4.value.value >>> 16, v4.value.value & 0xffff);
            continue;
          }
          if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return bad(`"${part}" is not a group of 1 to 4 hex digits`);
          out.push(parseInt(part, 16));
        }
      }
      groups.push(out);
    }
    void embeddedV4;
    let words: number[];
    if (halves.length === 2) {
      const fill = 8 - groups[0]!.length - groups[1]!.length;
      if (fill < 1) return bad('"::" stands for no group');
      words = [...groups[0]!, ...new Array<number>(fill).fill(0), ...groups[1]!];
    } else {
      words = groups[0]!;
      if (words.length !== 8) return bad(`it has ${words.length} groups, not 8`);
    }
    const bytes = new Uint8Array(16);
    words.forEach((w, i) => {
      bytes[2 * i] = w >> 8;
      bytes[2 * i + 1] = w & 0xff;
    });
    return ok(new Ipv6Address(bytes));
  }

  static of(text: string): Ipv6Address {
    const r = Ipv6Address.parse(text);
    if (!r.ok) throw new TypeError(r.error);
    return r.value;
  }

  static readonly unspecified = new Ipv6Address(new Uint8Array(16));
  static readonly localhost = Ipv6Address.of("::1");

  /** The 16-bit group `i` (0..7). */
  word(i: number): number {
    return (this.bytes[2 * i]! << 8) | this.bytes[2 * i + 1]!;
  }

  toBytes(into: Uint8Array = new Uint8Array(16), offset = 0): Uint8Array {
    into.set(this.bytes, offset);
    return into;
  }

  equals(other: IpAddress): boolean {
    if (other.family !== 6) return false;
    for (let i = 0; i < 16; i++) if (this.bytes[i] !== other.bytes[i]) return false;
    return true;
  }

  isMulticast(): boolean {
    return this.bytes[0] === 0xff;
  }

  isLinkLocal(): boolean {
    return this.bytes[0] === 0xfe && (this.bytes[1]! & 0xc0) === 0x80;
  }

  isUnspecified(): boolean {
    return this.bytes.every((b) => b === 0);
  }

  /** RFC 5952 text form. */
  toString(): string {
    const words = Array.from({ length: 8 }, (_, i) => this.word(i));
    // Longest run of two or more zero groups, the first one on a tie.
    let bestStart = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (words[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && words[j] === 0) j++;
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
    if (bestStart < 0) return hex(words);
    return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

export type IpAddress = Ipv4Address | Ipv6Address;

export const IpAddress = {
  parse(text: string): Result<IpAddress, string> {
    if (text.includes(":")) return Ipv6Address.parse(text);
    const v4 = Ipv4Address.parse(text);
    if (v4.ok) return v4;
    return err(`"${text}" is not an IP address (expected IPv4 like 10.0.0.2 or IPv6 like 2001:db8::42)`);
  },
  of(text: string): IpAddress {
    const r = IpAddress.parse(text);
    if (!r.ok) throw new TypeError(r.error);
    return r.value;
  },
};

function parsePrefixLength(text: string, whole: string, max: number): Result<number, string> {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(text)) return err(`"${whole}": the prefix length "${text}" is not a number`);
  const n = Number(text);
  if (n > max) return err(`"${whole}": the prefix length ${n} is above ${max}`);
  return ok(n);
}

/**
 * An address with its prefix length, as `--ipv4=10.0.0.2/24` gives it: the host's address and
 * the network it is on (MirageOS's Ipaddr.V4.Prefix used for an interface address).
 */
export class Ipv4Prefix {
  readonly family = 4 as const;
  private constructor(readonly address: Ipv4Address, readonly length: number) {}

  static make(address: Ipv4Address, length: number): Ipv4Prefix {
    if (!Number.isInteger(length) || length < 0 || length > 32) throw new RangeError(`IPv4 prefix length ${length} is not in 0..32`);
    return new Ipv4Prefix(address, length);
  }

  static parse(text: string): Result<Ipv4Prefix, string> {
    const slash = text.indexOf("/");
    if (slash < 0) return err(`"${text}" is not an IPv4 prefix (expected ADDRESS/LENGTH, e.g. 10.0.0.2/24)`);
    const a = Ipv4Address.parse(text.slice(0, slash));
    if (!a.ok) return err(`"${text}" is not an IPv4 prefix: ${a.error}`);
    const l = parsePrefixLength(text.slice(slash + 1), text, 32);
    if (!l.ok) return l;
    return ok(new Ipv4Prefix(a.value, l.value));
  }

  static of(text: string): Ipv4Prefix {
    const r = Ipv4Prefix.parse(text);
    if (!r.ok) throw new TypeError(r.error);
    return r.value;
  }

  /** The netmask as an unsigned 32-bit integer. */
  get mask(): number {
    return this.length === 0 ? 0 : (0xffffffff << (32 - this.length)) >>> 0;
  }

  /** The network address (host bits cleared). */
  get network(): Ipv4Address {
    return Ipv4Address.ofInt((this.address.value & this.mask) >>> 0);
  }

  /** The directed broadcast address of the network. */
  get broadcast(): Ipv4Address {
    return Ipv4Address.ofInt((this.address.value | ~this.mask) >>> 0);
  }

  contains(address: Ipv4Address): boolean {
    return ((address.value ^ this.address.value) & this.mask) === 0;
  }

  equals(other: Ipv4Prefix): boolean {
    return other.length === this.length && other.address.equals(this.address);
  }

  toString(): string {
    return `${this.address.toString()}/${this.length}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

export class Ipv6Prefix {
  readonly family = 6 as const;
  private constructor(readonly address: Ipv6Address, readonly length: number) {}

  static make(address: Ipv6Address, length: number): Ipv6Prefix {
    if (!Number.isInteger(length) || length < 0 || length > 128) throw new RangeError(`IPv6 prefix length ${length} is not in 0..128`);
    return new Ipv6Prefix(address, length);
  }

  static parse(text: string): Result<Ipv6Prefix, string> {
    const slash = text.indexOf("/");
    if (slash < 0) return err(`"${text}" is not an IPv6 prefix (expected ADDRESS/LENGTH, e.g. 2001:db8::42/64)`);
    const a = Ipv6Address.parse(text.slice(0, slash));
    if (!a.ok) return err(`"${text}" is not an IPv6 prefix: ${a.error}`);
    const l = parsePrefixLength(text.slice(slash + 1), text, 128);
    if (!l.ok) return l;
    return ok(new Ipv6Prefix(a.value, l.value));
  }

  static of(text: string): Ipv6Prefix {
    const r = Ipv6Prefix.parse(text);
    if (!r.ok) throw new TypeError(r.error);
    return r.value;
  }

  contains(address: Ipv6Address): boolean {
    let bits = this.length;
    for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if (((address.bytes[i]! ^ this.address.bytes[i]!) & mask) !== 0) return false;
    }
    return true;
  }

  /** The network address (host bits cleared). */
  get network(): Ipv6Address {
    const bytes = new Uint8Array(16);
    let bits = this.length;
    for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      bytes[i] = this.address.bytes[i]! & mask;
    }
    return Ipv6Address.ofBytes(bytes);
  }

  equals(other: Ipv6Prefix): boolean {
    return other.length === this.length && other.address.equals(this.address);
  }

  toString(): string {
    return `${this.address.toString()}/${this.length}`;
  }

  toJSON(): string {
    return this.toString();
  }
}
