/**
 * Big-endian field access over Uint8Array. Reads past the end yield 0 (an out-of-range index is
 * undefined, which bitwise operators turn into 0) and writes past the end are ignored by typed
 * arrays, so views built on these are bounds-safe without checks.
 */

export function get16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

export function get32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

export function set16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value;
}

export function set32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/** `bytes[start..end]` clamped to the array, never throwing. */
export function slice(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const s = Math.max(0, Math.min(start, bytes.length));
  return bytes.subarray(s, Math.max(s, Math.min(end, bytes.length)));
}

/**
 * Copies `payload` to `into[offset..]` unless it is already there: an engine that built the
 * payload in place (a subarray of the frame it emits into) pays no copy.
 */
export function placePayload(into: Uint8Array, offset: number, payload: Uint8Array): void {
  if (payload.length === 0) return;
  if (payload.buffer === into.buffer && payload.byteOffset === into.byteOffset + offset) return;
  into.set(payload, offset);
}
