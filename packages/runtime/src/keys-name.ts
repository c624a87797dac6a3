/**
 * Key names: kebab-case on the command line (`--ipv4-gateway`), camelCase in code
 * (`keys.ipv4Gateway`).
 */

const NAME_RE = /^[a-z][a-z0-9-]*$/;

/** Names the runtime gives a meaning of its own on every unikernel's command line. */
const RESERVED = new Set(["help"]);

/** Throws a clear Error on a malformed key name (a mistake in config.ts, found at configure time). */
export function checkKeyName(name: string): void {
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new Error(
      `invalid key name ${JSON.stringify(name)}: a key name is lower-case kebab-case, a letter then letters, digits and dashes (e.g. "ipv4-gateway")`,
    );
  }
  if (name.includes("--") || name.endsWith("-")) {
    throw new Error(`invalid key name ${JSON.stringify(name)}: dashes separate words, so no "--" and no trailing "-"`);
  }
  if (RESERVED.has(name)) throw new Error(`invalid key name ${JSON.stringify(name)}: --${name} is reserved by the runtime`);
}

/** The camelCase field of a key name: `ipv4-gateway` → `ipv4Gateway`, `max-old-space-size` → `maxOldSpaceSize`. */
export function keyField(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Edit distance counting a swap of two adjacent letters as one edit (optimal string alignment), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a distance that still looks like a typo, or undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance || (d === bestDistance && best !== undefined && c < best)) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
