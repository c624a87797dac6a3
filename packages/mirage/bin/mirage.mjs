#!/usr/bin/env node
// The `mirage` command: registers tsx (the tool is TypeScript, run from source) and runs src/cli.ts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
const code = await main(process.argv.slice(2));
// Exit once stdout and stderr are flushed; nothing the tool started should keep Node alive.
process.exitCode = code;
