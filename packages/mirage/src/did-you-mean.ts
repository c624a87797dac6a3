/** "Did you mean ...?" suggestions for misspelt names (keys, DSL exports, targets). */

/** Damerau-Levenshtein (optimal string alignment) distance. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
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

/** The candidates close enough to `name` to be what was meant, best first. */
export function suggestions(name: string, candidates: Iterable<string>): string[] {
  const lower = name.toLowerCase();
  const scored: Array<{ c: string; d: number }> = [];
  for (const c of new Set(candidates)) {
    const cl = c.toLowerCase();
    const d = editDistance(lower, cl);
    const limit = Math.max(1, Math.floor(Math.max(name.length, c.length) / 3));
    if (d <= limit || (lower.length >= 3 && (cl.startsWith(lower) || lower.startsWith(cl)))) scored.push({ c, d });
  }
  return scored.sort((x, y) => x.d - y.d || x.c.localeCompare(y.c)).map((s) => s.c);
}

/** "; did you mean X?" or "; did you mean X or Y?", or "" when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>, format: (c: string) => string = (c) => c): string {
  const s = suggestions(name, candidates).slice(0, 2).map(format);
  return s.length === 0 ? "" : `; did you mean ${s.join(" or ")}?`;
}
