/**
 * `--net=direct`: what configure generates (the TAP, the capture, the shared clocks and the
 * direct stack, static or DHCP), what build writes (the TAP addon beside the bundle, the
 * manifest's network, the launcher's addon and --pcap permissions), and the artifact loading the
 * addon from dist/ under Node's permission model.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tapAddonBuildPath } from "@mirage-ts/unix";
import { generateLauncher } from "../src/launcher.ts";
import { mirage, mirageOk, removeScratch, scratchDir } from "./helpers.ts";

after(removeScratch);

const listing = (dir: string): string[] => readdirSync(dir).sort();
const mainTs = (dir: string): string => readFileSync(join(dir, "main.ts"), "utf8");
const connectLine = (code: string, label: string): string => code.split("\n").find((l) => l.includes(`await connect("${label}"`)) ?? "";

describe("configure --net=direct", () => {
  const dir = scratchDir("direct");
  before(() => mirageOk(dir, ["configure", "--net=direct"]));

  it("writes the same files as on the socket stack", () => {
    assert.deepEqual(listing(dir), [".mirage.config", "config.ts", "keys.ts", "main.ts", "package.json", "tsconfig.json", "unikernel.ts"]);
  });

  it("connects the TAP, the link faults, the capture, the shared clocks and random, then the direct stack over the capture", () => {
    const code = mainTs(dir);
    assert.match(code, /^import \{ connectTapNetif, connectTime, connectRandom, connectPcapFile, connectPosixClock, connectMonotonicClock \} from "@mirage-ts\/unix";$/m);
    assert.match(code, /^import \{ connectLinkFaultsNetif, connectPcapNetif, connectDirectStackV4V6 \} from "@mirage-ts\/tcpip";$/m);
    const labels = [...code.matchAll(/await connect\("([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(labels, ["net", "time", "random", "link_faults", "pcap_file", "pclock", "pcap", "mclock", "stackv4v6"]);
    assert.match(connectLine(code, "net"), /connectTapNetif\(\{ name: keys\.interface \}\)/);
    assert.match(connectLine(code, "link_faults"), /connectLinkFaultsNetif\(\{ netif: net_0, time: time_1, random: random_2, spec: keys\.linkFaults \}\)/);
    assert.match(connectLine(code, "pcap_file"), /connectPcapFile\(\{ path: keys\.pcap \}\)/);
    assert.match(connectLine(code, "pcap"), /connectPcapNetif\(\{ netif: link_faults_3, sink: pcap_file_4, clock: pclock_5 \}\)/);
    const stack = connectLine(code, "stackv4v6");
    assert.match(stack, /connectDirectStackV4V6\(\{ netif: pcap_6, clock: mclock_7, time: time_1, random: random_2, ipv4: keys\.ipv4, ipv4Gateway: keys\.ipv4Gateway, /);
    for (const field of ["ipv6: keys.ipv6", "ipv6Gateway: keys.ipv6Gateway", "ipv4Only: keys.ipv4Only", "ipv6Only: keys.ipv6Only"]) assert.ok(stack.includes(field), field);
    assert.doesNotMatch(stack, /dhcp/);
    assert.match(code, /start_job\(\{ stack: stackv4v6_8, random: random_2 \}, keys\)/, "the job's random is the stack's");
  });

  it("has the direct stack's keys: --ipv4 defaults to 10.0.0.2/24, --interface to tap0, --pcap is a boot key", async () => {
    const keys = (await mirageOk(dir, ["query", "keys"])).stdout;
    assert.match(keys, /^--ipv4=10\.0\.0\.2\/24\tboth\tkeys\.ipv4: Ipv4Prefix\t\(default\)$/m);
    assert.match(keys, /^--interface=tap0\tboth\tkeys\.interface: string\t\(default\)$/m);
    assert.match(keys, /^--pcap=\(none\)\tboot\tkeys\.pcap: string \| undefined\t\(default\)$/m);
    assert.match(keys, /^--link-faults=\(none\)\tboot\tkeys\.linkFaults: string \| undefined\t\(default\)$/m);
    assert.match(keys, /^--net=direct\tconfigure\t/m);
    assert.match(keys, /^--ipv6-only=false\t/m);
  });

  it("lists @mirage-ts/tcpip among the packages and the addon among the files", async () => {
    const packages = (await mirageOk(dir, ["query", "packages"])).stdout.trim().split("\n").map((l) => l.replace(/@[^@]*$/, ""));
    assert.deepEqual(packages, ["@mirage-ts/runtime", "@mirage-ts/tcpip", "@mirage-ts/unix"]);
    const files = (await mirageOk(dir, ["query", "files"])).stdout.trim().split("\n");
    assert.deepEqual(files.slice(5), ["dist/direct.mjs", "dist/direct.mjs.map", "dist/mirage_tap.node", "dist/direct", "dist/manifest.json"]);
  });

  it("with --dhcp=true, asks the stack for DHCP and has no --ipv4 or --ipv4-gateway key", async () => {
    const d = scratchDir("direct");
    await mirageOk(d, ["configure", "--net=direct", "--dhcp=true"]);
    const stack = connectLine(mainTs(d), "stackv4v6");
    assert.match(stack, /connectDirectStackV4V6\(\{ netif: pcap_6, clock: mclock_7, time: time_1, random: random_2, ipv6: keys\.ipv6, /);
    assert.match(stack, /dhcp: true \}\)\);$/);
    assert.doesNotMatch(stack, /ipv4: |ipv4Gateway/);
    const keys = (await mirageOk(d, ["query", "keys"])).stdout;
    assert.doesNotMatch(keys, /^--ipv4=|^--ipv4-gateway=/m);
    assert.match(keys, /^--dhcp=true\tconfigure\t/m);
    const described = (await mirageOk(d, ["describe"])).stdout;
    assert.match(described, /stackv4v6: StackV4V6 \(direct-dhcp\)/);
  });

  it("leaves the socket stack as it was: no TAP, no addon, no tcpip", async () => {
    const d = scratchDir("direct");
    await mirageOk(d, ["configure"]);
    assert.doesNotMatch(mainTs(d), /tcpip|connectTapNetif/);
    assert.ok(!(await mirageOk(d, ["query", "files"])).stdout.includes(".node"));
  });
});

describe("build --net=direct", () => {
  const dir = scratchDir("direct");
  let built: { stdout: string; stderr: string };
  before(async () => {
    await mirageOk(dir, ["configure", "--net=direct"]);
    built = await mirageOk(dir, ["build"]);
  });

  it("copies the TAP addon beside the bundle and says so", () => {
    assert.deepEqual(built.stdout.trim().split("\n").map((l) => l.replace(/\(.*\)/, "(...)")), [
      "type-check ok",
      "bundle dist/direct.mjs (...)",
      "addon dist/mirage_tap.node",
      "launcher dist/direct",
    ]);
    assert.deepEqual(listing(join(dir, "dist")), ["direct", "direct.mjs", "direct.mjs.map", "manifest.json", "mirage_tap.node"]);
    assert.ok(readFileSync(join(dir, "dist", "mirage_tap.node")).equals(readFileSync(tapAddonBuildPath())), "the addon npm ci built");
    const saved = JSON.parse(readFileSync(join(dir, ".mirage.config"), "utf8")) as { files: string[] };
    assert.ok(saved.files.includes("dist/mirage_tap.node"), "recorded for clean");
  });

  it("lists the TAP interface, the addon and the --pcap write key in the manifest", () => {
    const manifest = JSON.parse(readFileSync(join(dir, "dist", "manifest.json"), "utf8")) as Record<string, unknown>;
    assert.deepEqual(manifest["networks"], [{ name: "net", kind: "tap", key: "--interface", default: "tap0" }]);
    assert.deepEqual(manifest["addons"], ["mirage_tap.node"]);
    assert.deepEqual(manifest["data"], { read: ["/sys/class/net"], write: [], writeKeys: ["--pcap"] });
  });

  it("makes a launcher that allows the addon (and only that file of it) and reading the interface's MTU", () => {
    const launcher = readFileSync(join(dir, "dist", "direct"), "utf8");
    assert.match(launcher, / --allow-addons "--allow-fs-read=\$DIR\/mirage_tap\.node" /);
    assert.match(launcher, /'--allow-fs-read=\/sys\/class\/net'/);
    assert.match(launcher, /--disable-warning=SecurityWarning/);
  });

  it("--help lists the network keys of the direct stack", () => {
    const r = spawnSync(join(dir, "dist", "direct"), ["--help"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--interface=NAME/);
    assert.match(r.stdout, /--pcap=FILE/);
    assert.match(r.stdout, /10\.0\.0\.2\/24/);
  });

  it("loads the addon from dist/ under the permission model: opens a TAP (in a throwaway namespace as root), or says it may not", () => {
    const root = process.getuid?.() === 0;
    const unshare = root && spawnSync("unshare", ["--net", "true"]).status === 0;
    if (unshare) {
      // A new network namespace: the TAP it creates vanishes with the process.
      const r = spawnSync("unshare", ["--net", join(dir, "dist", "direct"), "--interface=mtest0", "--pcap=capture.pcap"], { cwd: dir, encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^addresses 10\.0\.0\.2$/m);
      assert.match(r.stdout, /^random 4$/m);
      const capture = readFileSync(join(dir, "capture.pcap"));
      assert.equal(capture.readUInt32LE(0), 0xa1b2c3d4, "the --pcap file given at boot was writable");
      assert.ok(capture.length > 24, "and holds the gratuitous ARP");
    } else {
      const r = spawnSync(join(dir, "dist", "direct"), ["--interface=mtest0"], { cwd: dir, encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 1);
      // The message comes from the addon's failed open: it was found and loaded.
      assert.match(r.stdout + r.stderr, /cannot open TAP mtest0: .*not permitted: run as root or grant CAP_NET_ADMIN/);
    }
  });

  it("a missing addon is a build error that says where it was expected and how to build it", async () => {
    const d = scratchDir();
    writeFileSync(
      join(d, "config.ts"),
      `import { register, main, impl } from "@mirage-ts/mirage";
const thing = impl({ type: "Random", name: "thing", impl: "x", module: "@mirage-ts/unix", connect: "connectRandom",
  addons: [{ file: "nothing.node", module: "./locate.ts", locate: "nowhere" }] });
register("nothing", [main("./unikernel.ts", { random: thing })]);
`,
    );
    writeFileSync(join(d, "locate.ts"), `export const nowhere = (): string => "/nonexistent/nothing.node";\n`);
    writeFileSync(join(d, "unikernel.ts"), `export async function start(_devices: { random: unknown }): Promise<void> {}\n`);
    await mirageOk(d, ["configure"]);
    const r = await mirage(d, ["build"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mirage: the native addon nothing\.node is not built \(expected at \/nonexistent\/nothing\.node\)$/m);
    assert.match(r.stderr, /builds it during `npm ci`/);
  });

  it("clean removes the addon with the rest", async () => {
    await mirageOk(dir, ["clean"]);
    const captured = existsSync(join(dir, "capture.pcap")) ? ["capture.pcap"] : [];
    assert.deepEqual(listing(dir), [...captured, "config.ts", "unikernel.ts"]);
  });
});

describe("the launcher's --pcap and addon permissions", () => {
  function launch(options: { hardening?: boolean }, args: string[], cwd?: string) {
    const dir = scratchDir();
    mkdirSync(join(dir, "dist"));
    const launcher = join(dir, "dist", "svc");
    writeFileSync(
      launcher,
      generateLauncher({
        name: "svc",
        hardening: options.hardening ?? true,
        readPaths: [],
        writePaths: [],
        writePathKeys: ["pcap"],
        addons: ["mirage_tap.node"],
        runtimeParameters: [{ name: "max-old-space-size", value: undefined, unit: "MIB" }],
      }),
    );
    chmodSync(launcher, 0o755);
    const fakeNode = join(dir, "fake-node");
    writeFileSync(fakeNode, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done\n`);
    chmodSync(fakeNode, 0o755);
    const r = spawnSync(launcher, args, { cwd: cwd ?? dir, env: { ...process.env, MIRAGE_NODE: fakeNode }, encoding: "utf8" });
    return { dir, status: r.status, args: r.stdout.split("\n").slice(0, -1), stderr: r.stderr };
  }

  it("allows writing the --pcap file given at boot, made absolute against the current directory", () => {
    const relative = launch({}, ["--pcap=out/cap.pcap", "--port=1"]);
    assert.equal(relative.status, 0, relative.stderr);
    assert.equal(relative.args[0], `--allow-fs-write=${relative.dir}/out/cap.pcap`);
    assert.deepEqual(relative.args.slice(-3), [`${relative.dir}/dist/svc.mjs`, "--pcap=out/cap.pcap", "--port=1"], "the arguments reach the unikernel as given");
    const spaced = launch({}, ["--pcap", "/var/tmp/a b.pcap"]);
    assert.equal(spaced.args[0], "--allow-fs-write=/var/tmp/a b.pcap");
    const none = launch({}, ["--port=1"]);
    assert.ok(!none.args.some((a) => a.startsWith("--allow-fs-write")));
    const afterDashes = launch({}, ["--", "--pcap=x"]);
    assert.ok(!afterDashes.args.some((a) => a.startsWith("--allow-fs-write")), "nothing after -- is scanned");
  });

  it("allows the addon: --allow-addons and a read permission for its file", () => {
    const r = launch({}, []);
    assert.ok(r.args.includes("--allow-addons"));
    assert.ok(r.args.includes(`--allow-fs-read=${r.dir}/dist/mirage_tap.node`));
    assert.ok(r.args.includes("--disable-warning=SecurityWarning"));
  });

  it("adds nothing without hardening", () => {
    const r = launch({ hardening: false }, ["--pcap=x.pcap"]);
    assert.deepEqual(r.args, [`${r.dir}/dist/svc.mjs`, "--pcap=x.pcap"]);
  });
});
