/**
 * Initial sequence numbers as RFC 6528 §3 asks: ISN = M + F(localip, localport, remoteip,
 * remoteport, secretkey), M a clock ticking every 4 µs and F a keyed pseudo-random function.
 * F is HalfSipHash-2-4 (SipHash on 32-bit words, so plain integer arithmetic and no BigInt),
 * keyed from the injected Random once per stack: another host cannot predict our ISNs, and a
 * new incarnation of a 4-tuple starts above the old one's sequence space.
 */
import type { Random } from "@mirage-ts/runtime";

const rotl = (x: number, b: number): number => ((x << b) | (x >>> (32 - b))) >>> 0;

/** HalfSipHash's state, module-level so that a round is a plain call that allocates nothing (no closure per hash). */
let v0 = 0;
let v1 = 0;
let v2 = 0;
let v3 = 0;

function sipRound(): void {
  v0 = (v0 + v1) >>> 0;
  v1 = rotl(v1, 5) ^ v0;
  v0 = rotl(v0, 16);
  v2 = (v2 + v3) >>> 0;
  v3 = rotl(v3, 8) ^ v2;
  v0 = (v0 + v3) >>> 0;
  v3 = rotl(v3, 7) ^ v0;
  v2 = (v2 + v1) >>> 0;
  v1 = rotl(v1, 13) ^ v2;
  v2 = rotl(v2, 16);
}

/** HalfSipHash-2-4 of 32-bit words (little-endian word order as the reference reads bytes); 32-bit result. */
export function halfSipHash24(k0: number, k1: number, words: ArrayLike<number>, byteLength = words.length * 4): number {
  v0 = k0 >>> 0;
  v1 = k1 >>> 0;
  v2 = (0x6c796765 ^ k0) >>> 0;
  v3 = (0x74656462 ^ k1) >>> 0;
  const full = Math.floor(byteLength / 4);
  for (let i = 0; i < full; i++) {
    const m = words[i]! >>> 0;
    v3 ^= m;
    sipRound();
    sipRound();
    v0 ^= m;
  }
  const rest = byteLength % 4;
  const last = (((byteLength & 0xff) << 24) | (rest === 0 ? 0 : (words[full]! & ((1 << (8 * rest)) - 1)))) >>> 0;
  v3 ^= last;
  sipRound();
  sipRound();
  v0 ^= last;
  v2 ^= 0xff;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  return (v1 ^ v3) >>> 0;
}

export interface IsnGenerator {
  /** The ISN for a connection at `nowMs` (monotonic clock). */
  isn(localAddress: number, localPort: number, remoteAddress: number, remotePort: number, nowMs: number): number;
  /** A per-connection offset for the timestamp clock (RFC 7323 §5.4), from the same secret. */
  tsOffset(localAddress: number, localPort: number, remoteAddress: number, remotePort: number): number;
  /**
   * HalfSipHash-2-4 of `words` under the same secret, for other keyed values of the stack (SYN
   * cookies, syncookies.ts): callers put a distinct constant in their words so that no value
   * of one use can stand for another.
   */
  keyed(words: ArrayLike<number>, byteLength?: number): number;
}

export function createIsnGenerator(random: Random): IsnGenerator {
  const k0 = random.uint32();
  const k1 = random.uint32();
  const words = [0, 0, 0];
  const hash = (la: number, lp: number, ra: number, rp: number, salt: number): number => {
    words[0] = la;
    words[1] = ra;
    words[2] = ((lp << 16) | rp) ^ salt;
    return halfSipHash24(k0, k1, words);
  };
  return {
    isn(la, lp, ra, rp, nowMs) {
      const m = Math.floor(nowMs * 250) % 0x100000000;
      return (m + hash(la, lp, ra, rp, 0)) >>> 0;
    },
    tsOffset: (la, lp, ra, rp) => hash(la, lp, ra, rp, 0x5a5a5a5a),
    keyed: (w, byteLength) => halfSipHash24(k0, k1, w, byteLength),
  };
}
