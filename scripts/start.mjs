#!/usr/bin/env node
// `npm start`: configure, build and boot the default service, examples/static-website, on the
// socket stack. Arguments after `--` go to the unikernel (`npm start -- --port=9090`).
import { spawnSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const example = join(root, "examples", "static-website");
const mirage = join(root, "packages", "mirage", "bin", "mirage.mjs");

for (const step of [["configure", "-t", "unix"], ["build"]]) {
  const r = spawnSync(process.execPath, [mirage, ...step], { cwd: example, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const unikernel = spawn(join(example, "dist", "static-website"), process.argv.slice(2), { cwd: example, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => unikernel.kill(signal));
unikernel.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
