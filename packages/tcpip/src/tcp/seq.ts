/** Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): comparisons by the sign of the 32-bit difference. */
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqGt = (a: number, b: number): boolean => ((a - b) | 0) > 0;
export const seqGe = (a: number, b: number): boolean => ((a - b) | 0) >= 0;
/** b - a as a signed distance. */
export const seqDiff = (b: number, a: number): number => (b - a) | 0;
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
export const seqMax = (a: number, b: number): number => (seqGt(a, b) ? a : b);
