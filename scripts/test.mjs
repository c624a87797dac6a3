#!/usr/bin/env node
// `npm test`: every test file of every package and the root integration tests, with Node's own
// runner. Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function testFiles(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name === "fixtures") continue;
      out = out.concat(testFiles(path));
    } else if (name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out;
}

const filter = process.argv.slice(2);
let files = [
  ...readdirSync(join(root, "packages")).sort().flatMap((p) => testFiles(join(root, "packages", p, "test"))),
  ...testFiles(join(root, "test")),
];
if (filter.length) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const reporter = "spec";
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", `--test-reporter=${reporter}`, ...files], {
  cwd: root,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
