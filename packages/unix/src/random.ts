/**
 * The unix Random device.
 *
 * Without a seed it reads the OS CSPRNG (node:crypto randomFillSync, i.e. getrandom(2)).
 * With a seed it is a deterministic generator — FOR TESTS ONLY: the same seed gives the same
 * bytes on every run and every machine, so anything derived from it (TCP initial sequence numbers,
 * DHCP transaction ids, MAC addresses) is predictable by whoever knows the seed.
 *
 * The seeded generator is the ChaCha20 keystream (RFC 8439) under the key SHA-256(seed), with a
 * zero nonce and counter: a well-studied stream cipher, so the output is statistically sound,
 * unlike Math.random. It repeats after 2^32 blocks (256 GiB), far beyond any test.
 */
import { createCipheriv, createHash, randomFillSync, type Cipher } from "node:crypto";
import type { Random } from "@mirage-ts/runtime";

export interface RandomOptions {
  /** Makes the generator deterministic (tests only: see the module comment). */
  seed?: string;
}

export function connectRandom(opts: RandomOptions = {}): Random {
  const fill = opts.seed === undefined ? osFill : seededFill(opts.seed);
  const word = new Uint8Array(4);
  return {
    fill,
    bytes: (length: number) => fill(new Uint8Array(length)),
    uint32: () => {
      fill(word);
      return (word[0]! | (word[1]! << 8) | (word[2]! << 16) | (word[3]! << 24)) >>> 0;
    },
    disconnect: async () => undefined,
  };
}

function osFill(into: Uint8Array): Uint8Array {
  randomFillSync(into);
  return into;
}

function seededFill(seed: string): (into: Uint8Array) => Uint8Array {
  const key = createHash("sha256").update("mirage-ts seeded random\0").update(seed, "utf8").digest();
  const keystream: Cipher = createCipheriv("chacha20", key, Buffer.alloc(16));
  let zeros = Buffer.alloc(64);
  return (into: Uint8Array) => {
    if (into.length === 0) return into;
    if (zeros.length < into.length) zeros = Buffer.alloc(into.length);
    // Encrypting zeros yields the keystream itself; the cipher keeps its position between calls.
    into.set(keystream.update(zeros.subarray(0, into.length)));
    return into;
  };
}
