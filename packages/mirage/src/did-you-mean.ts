/** "Did you mean ...?" suggestions for misspelt names (keys, DSL exports, targets). */
import { editDistance } from "@mirage-ts/runtime/keys-name";

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
