#!/usr/bin/env node
// Builds the TAP addon (build/Release/mirage_tap.node) with node-gyp, against the headers of the
// Node.js that runs this script, never downloading anything: this machine's network reaches the
// npm registry only, and an addon must match the Node that loads it anyway.
//
// Run by `npm ci` / `npm install` (this package's "install" script) and by hand with
// `npm run build:tap -w packages/unix` or `node packages/unix/native/build.mjs`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));

if (process.platform !== "linux") {
  console.log(`mirage-tap: not building the TAP addon: TAP devices are Linux only (this is ${process.platform}).`);
  process.exit(0);
}
if (process.env.MIRAGE_SKIP_TAP_BUILD === "1") {
  console.log("mirage-tap: MIRAGE_SKIP_TAP_BUILD=1, not building the TAP addon (--net=direct will not work).");
  process.exit(0);
}

/** The directory whose include/node holds node_api.h for the running Node. */
function headersDir() {
  const candidates = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))];
  for (const dir of candidates) {
    if (dir && existsSync(join(dir, "include", "node", "node_api.h"))) return dir;
  }
  return undefined;
}

/** node-gyp's entry point: the copy npm runs scripts with, else npm's own bundled copy. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(dirname(process.env.npm_execpath)), "node_modules", "node-gyp", "bin", "node-gyp.js"),
    join(dirname(dirname(process.execPath)), "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  for (const file of candidates) if (file && existsSync(file)) return file;
  return undefined;
}

const nodedir = headersDir();
if (nodedir === undefined) {
  console.error(
    "mirage-tap: cannot build the TAP addon: Node's headers (include/node/node_api.h) were not found next to " +
      `${process.execPath} nor in npm's nodedir. Install the headers of this Node (e.g. the nodejs-dev / node headers ` +
      "package) or set `npm config set nodedir DIR`; set MIRAGE_SKIP_TAP_BUILD=1 to install without --net=direct support.",
  );
  process.exit(1);
}
const gyp = nodeGyp();
if (gyp === undefined) {
  console.error("mirage-tap: cannot build the TAP addon: node-gyp was not found (it comes with npm).");
  process.exit(1);
}

const result = spawnSync(process.execPath, [gyp, "rebuild", `--nodedir=${nodedir}`, "--loglevel=warn"], {
  cwd: packageDir,
  stdio: "inherit",
});
if (result.status !== 0) {
  console.error(
    "mirage-tap: building the TAP addon failed (see above). It needs make, g++ and Python 3; " +
      "set MIRAGE_SKIP_TAP_BUILD=1 to install without --net=direct support.",
  );
  process.exit(result.status ?? 1);
}
console.log(`mirage-tap: built ${join(packageDir, "build", "Release", "mirage_tap.node")}`);
