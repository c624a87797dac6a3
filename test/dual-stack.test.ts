/**
 * The dual stack on the socket stack, as Linux sees it: the built static-website unikernel
 * (`--net=socket`) runs inside a network namespace, where it uses the namespace's own kernel
 * addresses (loopback: 127.0.0.1 and ::1), and curl and ss look at what it answers.
 *
 * - by default one `listen` serves both families: curl -4 and curl -6 get the page;
 * - `--ipv4-only=true` turns IPv6 off entirely: nothing listens on IPv6, curl -6 is refused;
 * - `--ipv6-only=true` turns IPv4 off entirely: nothing listens on IPv4, curl -4 is refused;
 * - both at once stop the unikernel at boot with a message saying why;
 * - http-fetch on the socket stack fetches from an IPv6 literal ([::1], no namespace needed),
 *   and with --ipv4-only=true refuses to, naming the key.
 *
 * (ping is the kernel's business on the socket stack, so it is not part of this: the direct
 * stack's answers to ping -4/-6 under the same keys are in direct-ipv6.test.ts.)
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { buildExampleCopy, createTapHost, namespaceTestsUnavailable, withUnikernel, type BuiltExample, type TapHost } from "./helpers/netns.ts";
import { run } from "./helpers/unikernel.ts";

const skip = namespaceTestsUnavailable("curl", "ss");
if (skip !== undefined) console.log(`# dual-stack: skipped: ${skip}`);

function curl(host: TapHost, url: string, family: "-4" | "-6") {
  return host.run("curl", ["-sS", "-g", family, "--max-time", "5", url], { timeoutMs: 15_000 });
}

/** The local addresses TCP listens on in the namespace (ss -ltnH): "0.0.0.0:8080", "[::]:8080"... */
function listening(host: TapHost, port: number): string[] {
  return host
    .exec("ss", ["-ltnH"])
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[3] ?? "")
    .filter((local) => local.endsWith(`:${port}`))
    .sort();
}

const page = /Hello from a mirage-ts unikernel/;

describe("the socket stack's dual stack in a namespace: static-website on --net=socket", { skip }, () => {
  let site: BuiltExample;
  before(() => {
    site = buildExampleCopy("static-website", "static-website", ["--net=socket"]);
  });
  after(() => site?.remove());

  it("by default, one listen serves curl -4 at 127.0.0.1 and curl -6 at ::1", async () => {
    await withUnikernel(site, {}, ["--port=8080"], /serving http:/, async (host) => {
      assert.deepEqual(listening(host, 8080), ["0.0.0.0:8080", "[::]:8080"].sort(), "one socket per family, IPv6 one IPv6-only");
      const v4 = curl(host, "http://127.0.0.1:8080/", "-4");
      assert.equal(v4.status, 0, v4.stderr);
      assert.match(v4.stdout, page);
      const v6 = curl(host, "http://[::1]:8080/", "-6");
      assert.equal(v6.status, 0, v6.stderr);
      assert.match(v6.stdout, page);
    });
  });

  it("--ipv4-only=true: nothing listens on IPv6, curl -6 is refused, curl -4 gets the page", async () => {
    await withUnikernel(site, {}, ["--port=8080", "--ipv4-only=true"], /serving http:/, async (host) => {
      assert.deepEqual(listening(host, 8080), ["0.0.0.0:8080"]);
      const v6 = curl(host, "http://[::1]:8080/", "-6");
      assert.equal(v6.status, 7, `curl -6 cannot connect: ${v6.stdout}${v6.stderr}`);
      const v4 = curl(host, "http://127.0.0.1:8080/", "-4");
      assert.equal(v4.status, 0, v4.stderr);
      assert.match(v4.stdout, page);
    });
  });

  it("--ipv6-only=true: nothing listens on IPv4, curl -4 is refused, curl -6 gets the page", async () => {
    await withUnikernel(site, {}, ["--port=8080", "--ipv6-only=true"], /serving http:/, async (host) => {
      assert.deepEqual(listening(host, 8080), ["[::]:8080"]);
      const v4 = curl(host, "http://127.0.0.1:8080/", "-4");
      assert.equal(v4.status, 7, `curl -4 cannot connect: ${v4.stdout}${v4.stderr}`);
      const v6 = curl(host, "http://[::1]:8080/", "-6");
      assert.equal(v6.status, 0, v6.stderr);
      assert.match(v6.stdout, page);
    });
  });

  it("--ipv6=::1/128 with the default --ipv4: each family listens on its own address only", async () => {
    await withUnikernel(site, {}, ["--port=8080", "--ipv6=::1/128"], /serving http:/, async (host) => {
      assert.deepEqual(listening(host, 8080), ["0.0.0.0:8080", "[::1]:8080"].sort());
      const v6 = curl(host, "http://[::1]:8080/", "-6");
      assert.equal(v6.status, 0, v6.stderr);
      assert.match(v6.stdout, page);
    });
  });

  it("--ipv4-only=true with --ipv6-only=true stops at boot, saying why", async () => {
    const host = createTapHost();
    try {
      const u = site.boot(host, ["--ipv4-only=true", "--ipv6-only=true"]);
      const { code } = await u.exited;
      assert.equal(code, 1, u.output);
      assert.match(u.output, /--ipv4-only and --ipv6-only cannot both be true/);
      assert.doesNotMatch(u.output, /serving http:/);
    } finally {
      host.destroy();
    }
  });
});

describe("http-fetch over IPv6 on the socket stack", () => {
  let fetcher: BuiltExample;
  const body = Buffer.alloc(100_003, 7);
  const server = createServer((_req, res) => res.end(body));
  let port = 0;
  before(async () => {
    fetcher = buildExampleCopy("http-fetch", "http-fetch", ["--net=socket"]);
    server.listen(0, "::1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.close();
    fetcher?.remove();
  });

  it("fetches http://[::1]:PORT/ and prints the status and the body's length", async () => {
    const u = run(fetcher.dir, "http-fetch", [`--uri=http://[::1]:${port}/page`]);
    assert.equal((await u.exited).code, 0, u.output);
    assert.match(u.stdout, /^status 200$/m);
    assert.match(u.stdout, new RegExp(`^body ${body.length} bytes$`, "m"));
  });

  it("with --ipv4-only=true, refuses the IPv6 address, naming the key", async () => {
    const u = run(fetcher.dir, "http-fetch", [`--uri=http://[::1]:${port}/page`, "--ipv4-only=true"]);
    assert.equal((await u.exited).code, 1, u.output);
    assert.match(u.output, /IPv6 is disabled \(--ipv4-only=true\)/);
    assert.doesNotMatch(u.stdout, /^status/m);
  });
});
