/**
 * Every example, end to end: configure, build, boot the artifact as a child process and talk to it
 * as a user would (curl, a TCP client, its output).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createConnection } from "node:net";
import { rmSync, truncateSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { configureAndBuild, exampleDir, freePort, mirage, run } from "./helpers/unikernel.ts";
import { makeCertificate } from "./helpers/certificate.ts";

function curl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("curl", ["-sS", "--max-time", "10", ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("hello", () => {
  const dir = exampleDir("hello");
  before(() => configureAndBuild(dir));

  it("prints Hello four times, a second apart, then exits 0", async () => {
    const started = Date.now();
    const u = run(dir, "hello");
    const { code } = await u.exited;
    const elapsed = Date.now() - started;
    assert.equal(code, 0, u.output);
    assert.deepEqual(u.stdout.trim().split("\n"), ["Hello", "Hello", "Hello", "Hello"]);
    assert.ok(elapsed >= 2900, `the four lines took ${elapsed} ms: three 1 s sleeps separate them`);
  });
});

describe("hello-key", () => {
  const dir = exampleDir("hello-key");
  before(() => configureAndBuild(dir));

  it("says what --hello says", async () => {
    const u = run(dir, "hello-key", ["--hello=World"]);
    const { code } = await u.exited;
    assert.equal(code, 0, u.output);
    assert.deepEqual(u.stdout.trim().split("\n"), ["World", "World", "World", "World"]);
  });

  it("uses the default when --hello is not given", async () => {
    const u = run(dir, "hello-key");
    assert.equal((await u.exited).code, 0, u.output);
    assert.match(u.stdout, /^Hello World!$/m);
  });

  it("lists its key in --help with type, default and doc", async () => {
    const u = run(dir, "hello-key", ["--help"]);
    assert.equal((await u.exited).code, 0, u.output);
    assert.match(u.stdout, /--hello/);
    assert.match(u.stdout, /How to say hello\./);
    assert.match(u.stdout, /Hello World!/);
  });

  it("rejects an unknown argument with one line and a non-zero exit", async () => {
    const u = run(dir, "hello-key", ["--helo=x"]);
    const { code } = await u.exited;
    assert.notEqual(code, 0);
    assert.match(u.stderr, /--helo/);
    assert.equal(u.stdout, "");
  });
});

describe("network (TCP echo on the socket stack)", () => {
  const dir = exampleDir("network");
  before(() => configureAndBuild(dir));

  it("echoes what a TCP client sends, on --port", async () => {
    const port = await freePort();
    const u = run(dir, "network", [`--port=${port}`, "--ipv4=127.0.0.1/8"]);
    try {
      await u.waitFor(/echoing on TCP port/);
      const payload = Buffer.alloc(256 * 1024, 0).map((_, i) => (i * 7) & 0xff);
      const echoed = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const socket = createConnection({ host: "127.0.0.1", port }, () => socket.end(payload));
        socket.on("data", (d) => chunks.push(d));
        socket.on("end", () => resolve(Buffer.concat(chunks)));
        socket.on("error", reject);
      });
      assert.equal(echoed.length, payload.length);
      assert.ok(echoed.equals(payload), "the echo differs from what was sent");
    } finally {
      const { code } = await u.stop("SIGTERM");
      assert.equal(code, 0, `SIGTERM must stop it cleanly:\n${u.output}`);
    }
  });

  it("refuses a malformed --ipv4 naming the key, the value and the expected form", async () => {
    const u = run(dir, "network", ["--ipv4=10.0.0.300/24"]);
    const { code } = await u.exited;
    assert.notEqual(code, 0);
    const lines = u.stderr.trim().split("\n");
    assert.match(lines[0]!, /--ipv4/);
    assert.match(lines[0]!, /10\.0\.0\.300\/24/);
    assert.match(u.stderr, /IPV4\/LEN|10\.0\.0\.2\/24/);
  });

  it("refuses --port=x", async () => {
    const u = run(dir, "network", ["--port=x"]);
    assert.notEqual((await u.exited).code, 0);
    assert.match(u.stderr, /--port.*"x"/);
  });

  it("--help lists unikernel keys, network keys and Node runtime parameters in sections", async () => {
    const u = run(dir, "network", ["--help"]);
    assert.equal((await u.exited).code, 0, u.output);
    assert.match(u.stdout, /UNIKERNEL KEYS/);
    assert.match(u.stdout, /NETWORK KEYS/);
    assert.match(u.stdout, /NODE RUNTIME PARAMETERS/);
    for (const k of ["--port", "--ipv4", "--ipv4-gateway", "--ipv6", "--ipv4-only", "--ipv6-only", "--max-old-space-size", "--logs"])
      assert.ok(u.stdout.includes(k), `--help lacks ${k}`);
  });
});

describe("kv-ro", () => {
  const dir = exampleDir("kv-ro");
  for (const mode of ["crunch", "direct"]) {
    it(`prints the store's values with --kv-ro=${mode}`, async () => {
      configureAndBuild(dir, [`--kv-ro=${mode}`]);
      const u = run(dir, "kv-ro");
      assert.equal((await u.exited).code, 0, u.output);
      assert.match(u.stdout, /\/secret \(\d+ bytes, sha256 [0-9a-f]{16}\): This is a secret/);
      assert.match(u.stdout, /\/sub\/nested\.txt .*: nested value/);
      assert.match(u.stdout, /\/missing exists: null/);
    });
  }
});

describe("block", () => {
  const dir = exampleDir("block");
  const image = join(dir, "disk.img");
  before(() => {
    rmSync(image, { force: true });
    writeFileSync(image, "");
    truncateSync(image, 256 * 1024);
    configureAndBuild(dir);
  });

  it("writes, reads back and verifies every sector, and refuses a read past the end", async () => {
    const u = run(dir, "block");
    assert.equal((await u.exited).code, 0, u.output);
    assert.match(u.stdout, /512 sectors of 512 bytes, read-write/);
    assert.match(u.stdout, /verified 512 sectors/);
    assert.match(u.stdout, /read past the end refused: out-of-bounds/);
    const bytes = readFileSync(image);
    assert.equal(bytes[512 * 3 + 5], (3 * 31 + 5) & 0xff, "the pattern is on the file itself");
  });
});

describe("clock", () => {
  const dir = exampleDir("clock");
  before(() => configureAndBuild(dir));

  it("ticks once a second with both clocks and stops cleanly on SIGINT", async () => {
    const u = run(dir, "clock");
    await u.waitFor(/(monotonic \+[\d.]+ s[\s\S]*){2}/, 10_000);
    const { code } = await u.stop("SIGINT");
    assert.equal(code, 0, u.output);
    const lines = u.stdout.trim().split("\n");
    const wall = lines[0]!.match(/wall (\S+)/)?.[1];
    assert.ok(wall && Math.abs(Date.parse(wall) - Date.now()) < 60_000, `wall clock off: ${lines[0]}`);
    const secs = lines.map((l) => Number(l.match(/monotonic \+([\d.]+) s/)?.[1]));
    assert.ok(secs[1]! - secs[0]! >= 0.9, `monotonic ticks ${secs.join(", ")}`);
  });
});

describe("static-website", () => {
  const dir = exampleDir("static-website");
  before(() => configureAndBuild(dir));

  it("serves htdocs with content types, 404s and no traversal", async () => {
    const port = await freePort();
    const u = run(dir, "static-website", [`--port=${port}`]);
    try {
      await u.waitFor(new RegExp(`serving http://127\\.0\\.0\\.1:${port}/`));
      const base = `http://127.0.0.1:${port}`;
      const index = curl(["-i", `${base}/`]);
      assert.equal(index.status, 0, index.stderr);
      assert.match(index.stdout, /^HTTP\/1\.1 200/);
      assert.match(index.stdout, /content-type: text\/html/i);
      assert.match(index.stdout, /Hello from a mirage-ts unikernel/);
      assert.match(curl(["-i", `${base}/css/site.css`]).stdout, /content-type: text\/css/i);
      assert.match(curl(["-i", `${base}/about.json`]).stdout, /content-type: application\/json/i);
      assert.match(curl(["-i", `${base}/nope.html`]).stdout, /^HTTP\/1\.1 404/);
      for (const path of ["/../config.ts", "/%2e%2e/config.ts", "/css/..%2f..%2fconfig.ts"]) {
        const r = curl(["-i", "--path-as-is", `${base}${path}`]);
        assert.match(r.stdout, /^HTTP\/1\.1 4\d\d/, `${path} must not escape the store`);
        assert.doesNotMatch(r.stdout, /register\(/);
      }
    } finally {
      assert.equal((await u.stop()).code, 0, u.output);
    }
  });
});

describe("static-website-tls", () => {
  const dir = exampleDir("static-website-tls");
  const tls = join(dir, "tls");
  before(() => {
    makeCertificate(tls, ["DNS:localhost", "IP:127.0.0.1"]);
    configureAndBuild(dir);
  });
  after(() => {
    for (const f of ["server.key", "server.pem"]) rmSync(join(tls, f), { force: true });
  });

  it("serves HTTPS on --https with the certificate from the store, and HTTP on --http", async () => {
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    const u = run(dir, "static-website-tls", [`--http=${httpPort}`, `--https=${httpsPort}`]);
    try {
      await u.waitFor(/serving https:/);
      const s = curl(["-i", "--cacert", join(tls, "server.pem"), `https://localhost:${httpsPort}/`]);
      assert.equal(s.status, 0, s.stderr);
      assert.match(s.stdout, /^HTTP\/1\.1 200/);
      assert.match(s.stdout, /Hello from a mirage-ts unikernel/);
      const p = curl(["-i", `http://127.0.0.1:${httpPort}/css/site.css`]);
      assert.match(p.stdout, /content-type: text\/css/i);
      assert.ok(existsSync(join(dir, "dist", "static-website-tls.mjs")));
    } finally {
      assert.equal((await u.stop()).code, 0, u.output);
    }
  });
});

describe("ping6 (needs the direct stack; pinging is in test/direct-ipv6.test.ts)", () => {
  const dir = exampleDir("ping6");

  it("refuses the socket stack at configure time, saying why and what to do", () => {
    const r = mirage(dir, ["configure", "-t", "unix", "--net=socket"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ping6 sends ICMPv6 echo requests itself, which needs the direct stack/);
    assert.match(r.stderr, /configure with --net=direct/);
  });

  it("configures and builds with --net=direct, and --help lists its keys", async () => {
    configureAndBuild(dir, ["--net=direct"]);
    const u = run(dir, "ping6", ["--help"]);
    assert.equal((await u.exited).code, 0, u.output);
    for (const k of ["--target", "--count", "--interval", "--size", "--ipv6", "--accept-router-advertisements", "--interface"])
      assert.ok(u.stdout.includes(k), `--help lacks ${k}`);
  });
});
