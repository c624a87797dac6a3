/**
 * DESIGN.md §2: packages/tcpip is platform-neutral and is handed its clock, timers and randomness,
 * which is what makes every protocol testable in virtual time and deterministic under a seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const src = fileURLToPath(new URL("../src", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith(".ts") ? [path] : [];
  });
}

/** The code without comments and string contents, so that prose may name what code must not use. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
}

const forbidden: Array<[RegExp, string]> = [
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b/, "host timers (use the injected Time)"],
  [/\bDate\b/, "the wall clock (use the injected clocks)"],
  [/\bperformance\b|\bprocess\b/, "the host process or clock"],
  [/\bMath\.random\b/, "Math.random (use the injected Random)"],
  [/\bBigInt\b|\d+n\b/, "BigInt on the stack's paths"],
];

test("packages/tcpip/src imports no node: module and uses no host clock, timer or randomness", () => {
  const problems: string[] = [];
  const files = sources(src);
  assert.ok(files.length > 20, "the sources were found");
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const name = relative(src, file);
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/gm))
      if (m[1]!.startsWith("node:") || ["fs", "net", "dgram", "crypto", "os", "timers"].includes(m[1]!)) problems.push(`${name}: imports ${m[1]}`);
    const body = code(text);
    for (const [pattern, what] of forbidden) if (pattern.test(body)) problems.push(`${name}: uses ${what}`);
  }
  assert.deepEqual(problems, []);
});
