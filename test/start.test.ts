/** The README's quick start: `npm start` builds and serves examples/static-website. */
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { RunningUnikernel, freePort, repoRoot } from "./helpers/unikernel.ts";

it("npm start builds the static website, prints its URL and serves index.html", async () => {
  const port = await freePort();
  const child = spawn("npm", ["start", "--", `--port=${port}`], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const u = new RunningUnikernel(child);
  try {
    await u.waitFor(new RegExp(`http://127\\.0\\.0\\.1:${port}/`), 120_000);
    const r = spawnSync("curl", ["-sS", "--max-time", "10", `http://127.0.0.1:${port}/`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /<title>mirage-ts<\/title>/);
  } finally {
    // npm runs the script in a shell: signal the whole process group.
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
    await u.exited;
  }
});
