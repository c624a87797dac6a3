/**
 * A small seeded PRNG (xoshiro128**, seeded through splitmix32) for everything in tcpip that must
 * be random yet reproducible: link faults in tests, a deterministic Random device for virtual-time
 * protocol tests. Not for secrets (ISNs and DHCP transaction ids in production come from the
 * platform's Random device).
 */
import type { Random } from "@mirage-ts/runtime";

export interface Prng {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number;
  /** A float in [0, 1). */
  nextFloat(): number;
  /** An integer in [0, bound) for 0 < bound <= 2^32 (unbiased). */
  nextInt(bound: number): number;
  /** Fills `into` with random bytes and returns it. */
  fill(into: Uint8Array): Uint8Array;
}

function splitmix32(state: number): () => number {
  let a = state | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** A PRNG whose whole sequence is fixed by `seed` (any number; its low 32 bits are used). */
export function createPrng(seed: number): Prng {
  const init = splitmix32(seed >>> 0);
  let s0 = init() | 0;
  let s1 = init() | 0;
  let s2 = init() | 0;
  let s3 = init() | 0;
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point
  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  return {
    nextUint32,
    nextFloat: () => nextUint32() / 0x100000000,
    nextInt(bound: number): number {
      if (!(bound > 0 && bound <= 0x100000000)) throw new RangeError(`nextInt bound ${bound} is not in (0, 2^32]`);
      const b = Math.floor(bound);
      // Rejection sampling: drop the top partial range so every value is equally likely.
      const limit = 0x100000000 - (0x100000000 % b);
      for (;;) {
        const x = nextUint32();
        if (x < limit) return x % b;
      }
    },
    fill(into: Uint8Array): Uint8Array {
      let i = 0;
      for (; i + 4 <= into.length; i += 4) {
        const x = nextUint32();
        into[i] = x;
        into[i + 1] = x >>> 8;
        into[i + 2] = x >>> 16;
        into[i + 3] = x >>> 24;
      }
      if (i < into.length) {
        let x = nextUint32();
        for (; i < into.length; i++, x >>>= 8) into[i] = x;
      }
      return into;
    },
  };
}

/** The runtime's Random device backed by a seeded PRNG: deterministic protocol tests. */
export function seededRandom(seed: number): Random {
  const prng = createPrng(seed);
  return {
    fill: (into) => prng.fill(into),
    bytes: (length) => prng.fill(new Uint8Array(length)),
    uint32: () => prng.nextUint32(),
    disconnect: async () => {},
  };
}
