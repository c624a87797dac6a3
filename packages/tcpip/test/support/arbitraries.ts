import fc from "fast-check";
import { Ipv4Address, Ipv6Address, MacAddress } from "@mirage-ts/runtime";
import type { DecodeErrorCode, WireProtocol } from "../../src/decode-error.ts";
import type { Result } from "@mirage-ts/runtime";
import type { DecodeError } from "../../src/decode-error.ts";

export const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => MacAddress.ofBytes(b));
export const ipv4Arb = fc.integer({ min: 0, max: 0xffffffff }).map((v) => Ipv4Address.ofInt(v));
export const ipv6Arb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Ipv6Address.ofBytes(b));
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u8 = fc.integer({ min: 0, max: 0xff });
export const payloadArb = (maxLength = 1600) => fc.uint8Array({ maxLength });

const CODES: ReadonlySet<DecodeErrorCode> = new Set<DecodeErrorCode>([
  "truncated", "bad-version", "bad-header-length", "bad-length", "bad-checksum", "bad-field", "unsupported", "vlan-tagged",
]);

/** A parse outcome is a value or a well-formed typed error from the expected protocol. */
export function assertValueOrTypedError<T>(result: Result<T, DecodeError>, protocol: WireProtocol): void {
  if (result.ok) return;
  const e = result.error;
  if (e.protocol !== protocol || !CODES.has(e.code) || typeof e.message !== "string" || e.message.length === 0) {
    throw new Error(`malformed decode error: ${JSON.stringify(e)}`);
  }
}

/** Bytes that are sometimes valid-looking: random, or a valid packet damaged by flips, truncation or extension. */
export function damaged(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.tuple(valid, fc.array(fc.tuple(fc.nat(), u8), { maxLength: 4 })).map(([bytes, edits]) => {
      const out = bytes.slice();
      for (const [at, value] of edits) if (out.length > 0) out[at % out.length] = value;
      return out;
    }),
    fc.tuple(valid, fc.nat()).map(([bytes, cut]) => bytes.subarray(0, bytes.length === 0 ? 0 : cut % bytes.length)),
    fc.tuple(valid, fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([bytes, extra]) => {
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes);
      out.set(extra, bytes.length);
      return out;
    }),
  );
}
