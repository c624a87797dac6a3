/**
 * The http-fetch example end to end on the socket stack: the built unikernel resolves a name with
 * the test's DNS server on 127.0.0.1 (`--resolver`, `--resolver-port`), fetches a page from a
 * local Node HTTP server, and prints the status and the body's length. Then the same on
 * `--net=direct` in a network namespace, with dnsmasq as DNS and Python's http.server, both on the
 * kernel's side of the TAP (10.0.0.1; the unikernel is 10.0.0.2).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureAndBuild, exampleDir, run, type RunningUnikernel } from "./helpers/unikernel.ts";
import { buildExampleCopy, createTapHost, namespaceTestsUnavailable, type BuiltExample } from "./helpers/netns.ts";
import { FakeDnsServer } from "../packages/dns/test/fake-dns-server.ts";

const directSkip = namespaceTestsUnavailable("dnsmasq", "python3");
if (directSkip !== undefined) console.log(`# http-fetch on --net=direct: skipped: ${directSkip}`);

describe("http-fetch on the socket stack", () => {
  const dir = exampleDir("http-fetch");
  let dns: FakeDnsServer;
  let web: Server;
  let webPort: number;
  const body = Buffer.alloc(123_457, 0x61);
  const paths: string[] = [];

  before(async () => {
    configureAndBuild(dir);
    dns = await FakeDnsServer.start({ "web.test": { A: ["127.0.0.1"] } });
    web = createServer((req, res) => {
      paths.push(req.url ?? "");
      res.end(body);
    });
    web.listen(0, "127.0.0.1");
    await once(web, "listening");
    webPort = (web.address() as AddressInfo).port;
  });

  after(() => {
    dns?.close();
    web?.close();
  });

  it("resolves the name, fetches --uri and prints status and body length", async () => {
    const u = run(dir, "http-fetch", [`--uri=http://web.test:${webPort}/page`, "--resolver=127.0.0.1", `--resolver-port=${dns.port}`]);
    const { code } = await u.exited;
    assert.equal(code, 0, u.output);
    assert.match(u.stdout, /^status 200$/m);
    assert.match(u.stdout, new RegExp(`^body ${body.length} bytes$`, "m"));
    assert.ok(dns.queries.some((q) => q.name === "web.test" && q.type === "A"), "the name went through --resolver");
    assert.deepEqual(paths, ["/page"]);
  });

  it("fails with a non-zero exit and says why when the name does not exist", async () => {
    const u = run(dir, "http-fetch", [`--uri=http://nowhere.test:${webPort}/`, "--resolver=127.0.0.1", `--resolver-port=${dns.port}`]);
    const { code } = await u.exited;
    assert.notEqual(code, 0);
    assert.match(u.stderr, /nowhere\.test.*NXDOMAIN/);
    assert.doesNotMatch(u.stdout, /status/);
  });

  it("lists --uri, --resolver and --resolver-port in --help", async () => {
    const u = run(dir, "http-fetch", ["--help"]);
    assert.equal((await u.exited).code, 0, u.output);
    for (const k of ["--uri=URL", "--resolver=IP", "--resolver-port=PORT"]) assert.ok(u.stdout.includes(k), `${k} in:\n${u.stdout}`);
    assert.match(u.stdout, /default: 127\.0\.0\.1/);
  });
});

describe("http-fetch on --net=direct, with dnsmasq as DNS", { skip: directSkip }, () => {
  let built: BuiltExample;
  let site: string;
  const size = 300_001;

  before(() => {
    built = buildExampleCopy("http-fetch", "http-fetch", ["--net=direct"]);
    site = mkdtempSync(join(tmpdir(), "mirage-http-fetch-site-"));
    writeFileSync(join(site, "file.bin"), randomBytes(size));
  });
  after(() => {
    built?.remove();
    if (site) rmSync(site, { recursive: true, force: true });
  });

  it("resolves web.test with dnsmasq in the namespace and fetches from a Python server there", async () => {
    const host = createTapHost({ kernelAddress: "10.0.0.1/24" });
    const servers: ChildProcess[] = [];
    let u: RunningUnikernel | undefined;
    try {
      const dnsmasq = host.spawn("dnsmasq", [
        "--no-daemon", "--conf-file=/dev/null", "--port=53", "--listen-address=10.0.0.1", "--bind-interfaces",
        "--no-resolv", "--no-hosts", "--address=/web.test/10.0.0.1", "--log-queries",
      ]);
      const web = host.spawn("python3", ["-u", "-m", "http.server", "8000", "--bind", "10.0.0.1", "--directory", site]);
      servers.push(dnsmasq, web);
      await Promise.all([outputOf(dnsmasq, /started/), outputOf(web, /Serving HTTP/)]);
      const dnsLog = collect(dnsmasq);
      u = built.boot(host, ["--uri=http://web.test:8000/file.bin", "--resolver=10.0.0.1"]);
      const { code } = await u.exited;
      assert.equal(code, 0, u.output);
      assert.match(u.stdout, /^status 200$/m);
      assert.match(u.stdout, new RegExp(`^body ${size} bytes$`, "m"));
      assert.match(dnsLog(), /query\[A\] web\.test from 10\.0\.0\.2/, "the name was resolved by dnsmasq");
    } finally {
      if (u !== undefined && u.child.exitCode === null && u.child.signalCode === null) await u.stop("SIGKILL");
      for (const s of servers) s.kill("SIGTERM");
      await Promise.all(servers.map((s) => (s.exitCode === null && s.signalCode === null ? once(s, "exit") : undefined)));
      host.destroy();
    }
  });
});

/** Resolves when `child` prints `pattern` on stdout or stderr; rejects when it exits first or after 10 s. */
function outputOf(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}:\n${seen}`)), 10_000);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${pattern}:\n${seen}`));
    });
  });
}

/** Everything `child` prints from now on. */
function collect(child: ChildProcess): () => string {
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  return () => out;
}
