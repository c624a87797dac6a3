/**
 * IPv6 and the dual stack of the direct stack, against the Linux kernel: the built
 * static-website, ping6 and http-fetch unikernels (`--net=direct`) run as child processes inside
 * a network namespace on its TAP, with the kernel as their peer (and, with radvd, their router);
 * ping -6, ndisc6, curl, dnsmasq and tshark (on the unikernel's own `--pcap` capture) look at
 * what happens on the wire.
 *
 * Addresses, all inside the namespace: the kernel is 10.0.0.1/24 and 2001:db8::1/64 on tap0,
 * plus fe80::/64 from its MAC; the unikernel is 10.0.0.2/24, 2001:db8::2/64 when static, and
 * fe80::/64 and 2001:db8:1::/64 (radvd's prefix) from its MAC by modified EUI-64 (RFC 4291
 * appendix A). 2001:db8:99::1 on the namespace's loopback is an off-link host, reachable from the
 * unikernel only through a default router.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { Ipv6Address } from "@mirage-ts/runtime";
import { buildExampleCopy, createTapHost, namespaceTestsUnavailable, tsharkFields, unikernelMac, withUnikernel, type BuiltExample, type TapHost } from "./helpers/netns.ts";
import type { RunningUnikernel } from "./helpers/unikernel.ts";

const skip = namespaceTestsUnavailable("ping", "curl", "socat", "tshark", "ndisc6", "radvd", "dnsmasq", "python3");
if (skip !== undefined) console.log(`# direct-ipv6: skipped: ${skip}`);

// ---------------------------------------------------------------------------------------------
// Addresses

/** The address of `prefix` (a /64, e.g. "fe80::") whose interface identifier is the modified EUI-64 of `mac`. */
function eui64(prefix: string, mac: string): string {
  const b = mac.split(":").map((h) => parseInt(h, 16));
  const words = Ipv6Address.of(prefix);
  const iid = [((b[0]! ^ 0x02) << 8) | b[1]!, (b[2]! << 8) | 0xff, 0xfe00 | b[3]!, (b[4]! << 8) | b[5]!];
  const text = [0, 1, 2, 3].map((i) => words.word(i).toString(16)).concat(iid.map((w) => w.toString(16))).join(":");
  return Ipv6Address.of(text).toString();
}

/** The solicited-node multicast group of `address` (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX. */
function solicitedNode(address: string): string {
  const a = Ipv6Address.of(address);
  return Ipv6Address.of(`ff02::1:ff${(a.word(6) & 0xff).toString(16).padStart(2, "0")}:${a.word(7).toString(16)}`).toString();
}

// ---------------------------------------------------------------------------------------------
// Tools in the namespace

const ping6 = (host: TapHost, target: string, args: string[] = []) =>
  host.run("ping", ["-6", "-c", "3", "-i", "0.2", "-W", "2", ...args, target], { timeoutMs: 30_000 });
const ping4 = (host: TapHost, target: string) => host.run("ping", ["-4", "-c", "2", "-i", "0.2", "-W", "1", target], { timeoutMs: 15_000 });
const curl = (host: TapHost, args: string[]) => host.run("curl", ["-sS", "-g", "--max-time", "6", ...args], { timeoutMs: 20_000 });

/** Polls `check` every 200 ms until it holds; fails with `what` after `timeoutMs`. */
async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until one ping -6 to `target` is answered (duplicate address detection takes a second or two). */
async function reachable(host: TapHost, target: string, timeoutMs = 10_000): Promise<void> {
  await eventually(`${target} answers ping -6`, () => host.run("ping", ["-6", "-c", "1", "-W", "1", target]).status === 0, timeoutMs);
}

/**
 * Linux's tap0 without duplicate address detection of its own, so that its link-local address
 * (which radvd sends from) is usable as soon as the unikernel brings the carrier up.
 */
function kernelSkipsDad(host: TapHost): void {
  host.exec("sysctl", ["-qw", `net.ipv6.conf.${host.tap}.accept_dad=0`]);
}

/** Linux's own link-local address on the TAP, once the carrier is up. */
async function kernelLinkLocal(host: TapHost): Promise<string> {
  let found = "";
  await eventually("the kernel has its link-local address on the TAP", () => {
    const m = host.exec("ip", ["-6", "-o", "addr", "show", "dev", host.tap, "scope", "link"]).match(/inet6 (fe80::[0-9a-f:]+)\/64 scope link(?! tentative)/);
    found = m?.[1] ?? "";
    return found !== "";
  });
  return found;
}

/** radvd on the TAP advertising `prefix` (on-link, autonomous), Linux routing as the default router. */
async function startRadvd(host: TapHost, dir: string, prefix: string): Promise<ChildProcess> {
  await kernelLinkLocal(host);
  host.exec("sysctl", ["-qw", "net.ipv6.conf.all.forwarding=1"]);
  const conf = join(dir, `radvd-${host.ns}.conf`);
  writeFileSync(
    conf,
    `interface ${host.tap} {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n  prefix ${prefix} { AdvOnLink on; AdvAutonomous on; };\n};\n`,
  );
  return host.spawn("radvd", ["-C", conf, "-n", "-m", "stderr", "-p", join(dir, `radvd-${host.ns}.pid`), "-d", "1"]);
}

/** The unikernel's exit code, failing the test when it still runs after `timeoutMs`. */
async function exitCodeWithin(u: RunningUnikernel, timeoutMs: number): Promise<number | null> {
  const timer = new Promise<"running">((r) => setTimeout(() => r("running"), timeoutMs).unref());
  const ended = await Promise.race([u.exited, timer]);
  if (ended === "running") {
    await u.stop("SIGKILL");
    assert.fail(`still running after ${timeoutMs} ms:\n${u.output}`);
  }
  return ended.code;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await once(child, "exit");
}

/** Frames the unikernel (`mac`) sent, matching `filter`. */
const fromUs = (pcap: string, mac: string, filter: string, fields: string[]) => tsharkFields(pcap, `eth.src == ${mac} && (${filter})`, fields);

const page = /Hello from a mirage-ts unikernel/;

// ---------------------------------------------------------------------------------------------

describe("IPv6 on the direct stack against Linux: static-website on --net=direct", { skip }, () => {
  let site: BuiltExample;
  before(() => {
    site = buildExampleCopy("static-website", "static-website", ["--net=direct"]);
  });
  after(() => site?.remove());

  const dualHost = { kernelAddress: "10.0.0.1/24", kernelAddress6: "2001:db8::1/64" };

  it("answers ping -6 at its link-local and static global addresses, 8000-byte pings fragmented both ways, and an off-link host through --ipv6-gateway; Linux's neighbour table learns it; ndisc6 gets an answer; MLDv2 joins before DAD", async () => {
    const pcap = join(site.dir, "reach.pcap");
    let mac = "";
    let linkLocal = "";
    let kernelMac = "";
    const hostOptions = { ...dualHost, loopbackAddresses: ["2001:db8:99::1/128"] };
    const args = ["--ipv6=2001:db8::2/64", "--ipv6-gateway=2001:db8::1", `--pcap=${pcap}`];
    await withUnikernel(site, hostOptions, args, /serving http:/, async (host, u) => {
      mac = await unikernelMac(u);
      linkLocal = eui64("fe80::", mac);
      await reachable(host, "2001:db8::2");
      await reachable(host, `${linkLocal}%${host.tap}`);

      const ll = ping6(host, `${linkLocal}%${host.tap}`);
      assert.equal(ll.status, 0, ll.stdout + ll.stderr);
      assert.match(ll.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
      const global = ping6(host, "2001:db8::2");
      assert.match(global.stdout, /3 packets transmitted, 3 received, 0% packet loss/, global.stdout + global.stderr);
      const big = ping6(host, "2001:db8::2", ["-s", "8000"]);
      assert.match(big.stdout, /3 packets transmitted, 3 received, 0% packet loss/, big.stdout + big.stderr);
      assert.match(big.stdout, /8008 bytes from 2001:db8::2/, "the replies carry the whole 8000 bytes of data");
      kernelMac = host.mac();
      const offLink = ping6(host, "2001:db8::2", ["-I", "2001:db8:99::1"]);
      assert.match(offLink.stdout, /3 packets transmitted, 3 received, 0% packet loss/, `the off-link host got no reply: ${offLink.stdout}${offLink.stderr}`);

      const neighbours = host.exec("ip", ["-6", "neigh", "show", "dev", host.tap]);
      assert.match(neighbours, new RegExp(`^2001:db8::2 lladdr ${mac} `, "m"), `Linux learned our global address:\n${neighbours}`);
      assert.match(neighbours, new RegExp(`^${linkLocal} lladdr ${mac} `, "m"), `Linux learned our link-local address:\n${neighbours}`);

      // A datagram to a closed port: ICMPv6 port unreachable, which a connected UDP socket sees as ECONNREFUSED.
      const closed = host.run("socat", ["-t", "1", "-T", "2", "-", "UDP6:[2001:db8::2]:9999"], { input: "anyone?\n", timeoutMs: 10_000 });
      assert.notEqual(closed.status, 0);
      assert.match(closed.stderr, /Connection refused/);

      for (const target of ["2001:db8::2", linkLocal]) {
        const nd = host.run("ndisc6", ["-1", "-r", "3", "-w", "1000", target, host.tap]);
        assert.equal(nd.status, 0, `ndisc6 ${target}: ${nd.stdout}${nd.stderr}`);
        assert.match(nd.stdout, new RegExp(`Target link-layer address: ${mac.toUpperCase()}`), nd.stdout);
      }
    });

    // Start-up: an MLDv2 report joins each solicited-node group before the DAD probe (from ::) for that address.
    const reports = fromUs(pcap, mac, "icmpv6.type == 143", ["frame.number", "icmpv6.mldr.mar.multicast_address"]).map(([n, groups]) => ({
      frame: Number(n),
      groups: (groups ?? "").split(","),
    }));
    const probes = fromUs(pcap, mac, "icmpv6.type == 135 && ipv6.src == ::", ["frame.number", "icmpv6.nd.ns.target_address", "ipv6.dst"]);
    for (const address of [linkLocal, "2001:db8::2"]) {
      const probe = probes.find(([, target]) => target === address);
      assert.ok(probe !== undefined, `a DAD probe (NS from ::) for ${address}: ${JSON.stringify(probes)}`);
      assert.equal(probe[2], solicitedNode(address), "sent to the address's solicited-node group");
      const joined = reports.find((r) => r.groups.includes(solicitedNode(address)));
      assert.ok(joined !== undefined, `an MLDv2 report joins ${solicitedNode(address)}: ${JSON.stringify(reports)}`);
      assert.ok(joined.frame < Number(probe[0]), `the report (frame ${joined.frame}) comes before the DAD probe (frame ${probe[0]})`);
    }

    // Echo: 9 requests and 9 replies; the 8000-byte ones in fragments that fit the 1500-byte MTU.
    const replies = fromUs(pcap, mac, "icmpv6.type == 129", ["ipv6.src", "ipv6.dst"]);
    assert.ok(replies.filter(([src]) => src === "2001:db8::2").length >= 6, "3 + 3 replies (and the first probes') from the global address");
    // To whichever source Linux chose: its own link-local, or its global one while the link-local
    // is still tentative right after the namespace came up (RFC 6724 allows both).
    assert.ok(replies.filter(([src]) => src === linkLocal).length >= 3, "3 replies from the link-local address");
    const errors = fromUs(pcap, mac, "icmpv6.type < 128", ["icmpv6.type", "icmpv6.code", "udp.dstport"]);
    assert.deepEqual(errors, [["1", "4", "9999"]], "one ICMPv6 error: port unreachable, quoting the datagram to 9999");
    const viaGateway = fromUs(pcap, mac, "icmpv6.type == 129 && ipv6.dst == 2001:db8:99::1", ["eth.dst"]);
    assert.deepEqual(viaGateway, [[kernelMac], [kernelMac], [kernelMac]], "the replies to the off-link host went to the gateway's MAC");
    const ourFragments = fromUs(pcap, mac, "ipv6.fraghdr", ["frame.len", "ipv6.fraghdr.more"]);
    const theirFragments = tsharkFields(pcap, `eth.src != ${mac} && ipv6.fraghdr`, ["frame.len"]);
    assert.ok(theirFragments.length >= 3 * 6, `Linux's 8000-byte requests came in fragments (${theirFragments.length})`);
    assert.ok(ourFragments.length >= 3 * 6, `our 8000-byte replies left in fragments (${ourFragments.length})`);
    assert.ok(ourFragments.every(([len]) => Number(len) <= 1514), "every fragment fits a 1500-byte MTU");
    assert.equal(ourFragments.filter(([, more]) => more === "0" || more === "False").length, 3, "one last fragment per reply");
  });

  it("with radvd advertising 2001:db8:1::/64: forms the SLAAC address from its MAC, installs the default router, and answers there, also to an off-link host", async () => {
    const pcap = join(site.dir, "slaac.pcap");
    let mac = "";
    let kernelMac = "";
    let slaac = "";
    let radvd: ChildProcess | undefined;
    const hostOptions = { kernelAddress: "10.0.0.1/24", kernelAddress6: "2001:db8:1::1/64", loopbackAddresses: ["2001:db8:99::1/128"] };
    await withUnikernel(site, hostOptions, [`--pcap=${pcap}`], /serving http:/, async (host, u) => {
      try {
        kernelSkipsDad(host);
        mac = await unikernelMac(u);
        kernelMac = host.mac();
        slaac = eui64("2001:db8:1::", mac);
        radvd = await startRadvd(host, site.dir, "2001:db8:1::/64");
        await reachable(host, slaac, 15_000);
        const r = ping6(host, slaac);
        assert.match(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/, r.stdout + r.stderr);
        // The reply to 2001:db8:99::1 can only leave through a default router: the one radvd announced.
        const offLink = ping6(host, slaac, ["-I", "2001:db8:99::1"]);
        assert.match(offLink.stdout, /3 packets transmitted, 3 received, 0% packet loss/, `the off-link host got no reply: ${offLink.stdout}${offLink.stderr}`);
        const site6 = curl(host, [`http://[${slaac}]:8080/`]);
        assert.equal(site6.status, 0, site6.stderr);
        assert.match(site6.stdout, page);
      } finally {
        if (radvd) await stopChild(radvd);
      }
    });
    const solicitations = fromUs(pcap, mac, "icmpv6.type == 133", ["frame.number"]);
    assert.ok(solicitations.length >= 1, "a router solicitation at start");
    const probe = fromUs(pcap, mac, `icmpv6.type == 135 && ipv6.src == :: && icmpv6.nd.ns.target_address == ${slaac}`, ["frame.number"]);
    assert.ok(probe.length >= 1, `DAD for the SLAAC address ${slaac}`);
    const offLinkReplies = fromUs(pcap, mac, "icmpv6.type == 129 && ipv6.dst == 2001:db8:99::1", ["ipv6.src", "eth.dst"]);
    assert.equal(offLinkReplies.length, 3);
    assert.ok(
      offLinkReplies.every(([src, dst]) => src === slaac && dst === kernelMac),
      `the replies to the off-link host went to the router's MAC (${kernelMac}): ${JSON.stringify(offLinkReplies)}`,
    );
  });

  it("with --accept-router-advertisements=false: the same advertisements give it no address and no default router", async () => {
    const pcap = join(site.dir, "no-ra.pcap");
    let mac = "";
    let slaac = "";
    let radvd: ChildProcess | undefined;
    const hostOptions = { ...dualHost, loopbackAddresses: ["2001:db8:99::1/128"] };
    const args = ["--accept-router-advertisements=false", "--ipv6=2001:db8::2/64", `--pcap=${pcap}`];
    await withUnikernel(site, hostOptions, args, /serving http:/, async (host, u) => {
      try {
        kernelSkipsDad(host);
        mac = await unikernelMac(u);
        slaac = eui64("2001:db8:1::", mac);
        await reachable(host, "2001:db8::2");
        // Linux on the advertised prefix too, so that it tries the address SLAAC would have formed.
        host.exec("ip", ["-6", "addr", "add", "2001:db8:1::1/64", "dev", host.tap, "nodad"]);
        radvd = await startRadvd(host, site.dir, "2001:db8:1::/64");
        // What the previous test needed to form its address and answer there, and then some.
        await new Promise((r) => setTimeout(r, 3000));
        assert.notEqual(host.run("ping", ["-6", "-c", "2", "-W", "1", slaac]).status, 0, `nothing answers at ${slaac}`);
        const offLink = host.run("ping", ["-6", "-c", "2", "-i", "0.2", "-W", "1", "-I", "2001:db8:99::1", "2001:db8::2"]);
        assert.match(offLink.stdout, /2 packets transmitted, 0 received/, `without a default router, no reply reaches the off-link host: ${offLink.stdout}`);
        const onLink = ping6(host, "2001:db8::2");
        assert.match(onLink.stdout, /3 received, 0% packet loss/, "the static address still answers on the link");
      } finally {
        if (radvd) await stopChild(radvd);
      }
    });
    assert.ok(tsharkFields(pcap, "icmpv6.type == 134", ["frame.number"]).length >= 1, "radvd's advertisement reached the unikernel");
    assert.deepEqual(fromUs(pcap, mac, "icmpv6.type == 133", ["frame.number"]), [], "no router solicitation: it asks for nothing it would ignore");
    assert.deepEqual(fromUs(pcap, mac, `ipv6.src == ${slaac} || icmpv6.nd.ns.target_address == ${slaac}`, ["frame.number"]), [], `no DAD for, and nothing from, ${slaac}`);
    assert.deepEqual(fromUs(pcap, mac, "ipv6.dst == 2001:db8:99::1", ["frame.number"]), [], "nothing sent towards the off-link host");
  });

  it("a static --ipv6 that Linux already holds: duplicate address detection finds it and the unikernel stops at boot, saying so", async () => {
    const pcap = join(site.dir, "dad-static.pcap");
    const host = createTapHost({ kernelAddress: "10.0.0.1/24", kernelAddress6: "2001:db8::2/64" });
    try {
      const u = site.boot(host, ["--ipv6=2001:db8::2/64", `--pcap=${pcap}`]);
      assert.equal(await exitCodeWithin(u, 20_000), 1, u.output);
      assert.match(u.output, /2001:db8::2/);
      assert.match(u.output, /duplicate/i);
      assert.doesNotMatch(u.output, /serving http:/);
    } finally {
      host.destroy();
    }
    const probes = tsharkFields(pcap, "icmpv6.type == 135 && ipv6.src == :: && icmpv6.nd.ns.target_address == 2001:db8::2", ["eth.src"]);
    assert.ok(probes.length >= 1, "the unikernel probed for 2001:db8::2");
    const defence = tsharkFields(pcap, "icmpv6.type == 136 && icmpv6.nd.na.target_address == 2001:db8::2", ["eth.src", "ipv6.dst"]);
    assert.ok(defence.length >= 1, "Linux defended its address with a neighbour advertisement");
    assert.ok(defence.every(([src]) => src !== probes[0]![0]), "the advertisements are Linux's, not ours");
  });

  it("a SLAAC address that Linux already holds: it logs the duplicate, does not use it, and keeps running", async () => {
    const pcap = join(site.dir, "dad-slaac.pcap");
    let mac = "";
    let slaac = "";
    let radvd: ChildProcess | undefined;
    await withUnikernel(site, { kernelAddress: "10.0.0.1/24" }, [`--pcap=${pcap}`], /serving http:/, async (host, u) => {
      try {
        kernelSkipsDad(host);
        mac = await unikernelMac(u);
        slaac = eui64("2001:db8:1::", mac);
        host.exec("ip", ["-6", "addr", "add", `${slaac}/64`, "dev", host.tap, "nodad"]);
        radvd = await startRadvd(host, site.dir, "2001:db8:1::/64");
        await u.waitFor(/duplicate/i, 15_000);
        assert.ok(u.output.includes(slaac), `the log names the duplicate address ${slaac}:\n${u.output}`);
        // The unikernel does not claim the address: whatever answers ndisc6, it is not the unikernel's MAC.
        const nd = host.run("ndisc6", ["-1", "-r", "2", "-w", "500", slaac, host.tap]);
        assert.doesNotMatch(nd.stdout, new RegExp(mac, "i"), `the unikernel answered for ${slaac}: ${nd.stdout}`);
        // And it still works at its link-local address.
        await reachable(host, `${eui64("fe80::", mac)}%${host.tap}`);
      } finally {
        if (radvd) await stopChild(radvd);
      }
    });
    assert.ok(fromUs(pcap, mac, `icmpv6.type == 135 && ipv6.src == :: && icmpv6.nd.ns.target_address == ${slaac}`, ["frame.number"]).length >= 1, "it probed for the address");
    assert.deepEqual(fromUs(pcap, mac, `ipv6.src == ${slaac} || icmpv6.nd.na.target_address == ${slaac}`, ["frame.number"]), [], `nothing from, or advertising, ${slaac}`);
  });

  it("curl -6 gets the site at the global and link-local addresses, and the same listener answers curl -4 (dual stack)", async () => {
    const pcap = join(site.dir, "dual.pcap");
    let mac = "";
    await withUnikernel(site, dualHost, ["--ipv6=2001:db8::2/64", `--pcap=${pcap}`], /serving http:/, async (host, u) => {
      mac = await unikernelMac(u);
      await reachable(host, "2001:db8::2");
      const v6 = curl(host, ["-6", "-i", "http://[2001:db8::2]:8080/"]);
      assert.equal(v6.status, 0, v6.stderr);
      assert.match(v6.stdout, /^HTTP\/1\.1 200/);
      assert.match(v6.stdout, page);
      const ll = curl(host, ["-6", `http://[${eui64("fe80::", mac)}%25${host.tap}]:8080/`]);
      assert.equal(ll.status, 0, ll.stderr);
      assert.match(ll.stdout, page);
      const v4 = curl(host, ["-4", "http://10.0.0.2:8080/"]);
      assert.equal(v4.status, 0, v4.stderr);
      assert.match(v4.stdout, page);
    });
    // Over IPv6 the MSS is 1500 - 40 - 20.
    const synAcks = fromUs(pcap, mac, "tcp.flags.syn == 1 && tcp.flags.ack == 1", ["ipv6.src", "ip.src", "tcp.options.mss_val"]);
    assert.equal(synAcks.length, 3, JSON.stringify(synAcks));
    for (const [v6src, v4src, mss] of synAcks) assert.equal(mss, v6src ? "1440" : "1460", `MSS of the SYN-ACK from ${v6src || v4src}`);
  });

  it("--ipv4-only=true: no IPv6 at all (ping -6 and curl -6 fail, not one IPv6 frame leaves), IPv4 works", async () => {
    const pcap = join(site.dir, "v4-only.pcap");
    let mac = "";
    await withUnikernel(site, dualHost, ["--ipv4-only=true", "--ipv6=2001:db8::2/64", `--pcap=${pcap}`], /serving http:/, async (host, u) => {
      mac = await unikernelMac(u);
      const v4 = ping4(host, "10.0.0.2");
      assert.match(v4.stdout, /2 received, 0% packet loss/, v4.stdout + v4.stderr);
      const site4 = curl(host, ["-4", "http://10.0.0.2:8080/"]);
      assert.equal(site4.status, 0, site4.stderr);
      assert.notEqual(host.run("ping", ["-6", "-c", "2", "-W", "1", "2001:db8::2"]).status, 0, "ping -6 at the static address fails");
      assert.notEqual(host.run("ping", ["-6", "-c", "2", "-W", "1", `${eui64("fe80::", mac)}%${host.tap}`]).status, 0, "ping -6 at the link-local address fails");
      const site6 = curl(host, ["-6", "http://[2001:db8::2]:8080/"]);
      assert.notEqual(site6.status, 0, "curl -6 fails");
    });
    assert.deepEqual(fromUs(pcap, mac, "ipv6", ["frame.number", "icmpv6.type"]), [], "not one IPv6 frame from the unikernel (no MLD, no DAD, no NA)");
  });

  it("--ipv6-only=true: no IPv4 at all (ping -4 and curl -4 fail, no ARP reply), IPv6 works", async () => {
    const pcap = join(site.dir, "v6-only.pcap");
    let mac = "";
    await withUnikernel(site, dualHost, ["--ipv6-only=true", "--ipv6=2001:db8::2/64", `--pcap=${pcap}`], /serving http:/, async (host, u) => {
      mac = await unikernelMac(u);
      await reachable(host, "2001:db8::2");
      const site6 = curl(host, ["-6", "http://[2001:db8::2]:8080/"]);
      assert.equal(site6.status, 0, site6.stderr);
      assert.match(site6.stdout, page);
      assert.notEqual(ping4(host, "10.0.0.2").status, 0, "ping -4 fails");
      assert.notEqual(curl(host, ["-4", "--connect-timeout", "3", "http://10.0.0.2:8080/"]).status, 0, "curl -4 fails");
      assert.doesNotMatch(host.neighbours(), /^10\.0\.0\.2 lladdr/m, "Linux never learned a MAC for 10.0.0.2");
    });
    assert.ok(tsharkFields(pcap, "arp.opcode == 1 && arp.dst.proto_ipv4 == 10.0.0.2", ["frame.number"]).length >= 1, "Linux asked for 10.0.0.2");
    assert.deepEqual(fromUs(pcap, mac, "arp || ip", ["frame.number"]), [], "not one ARP or IPv4 frame from the unikernel");
  });
});

describe("the ping6 example on --net=direct", { skip }, () => {
  let ping: BuiltExample;
  before(() => {
    ping = buildExampleCopy("ping6", "ping6", ["--net=direct"]);
  });
  after(() => ping?.remove());

  /** Runs ping6 to the end in `host` and returns it. */
  async function pingRun(host: TapHost, args: string[]): Promise<RunningUnikernel> {
    const u = ping.boot(host, args);
    await exitCodeWithin(u, 20_000);
    return u;
  }

  const replyLine = (target: string, seq: number) => new RegExp(`64 bytes from ${target}: icmp_seq=${seq}\\b.* time=\\d+(\\.\\d+)? ms`);

  it("pings Linux at its global and link-local addresses and prints each reply and a summary; no reply at all exits 1", async () => {
    const host = createTapHost({ kernelAddress6: "2001:db8::1/64" });
    const pcap = join(ping.dir, "ping6.pcap");
    try {
      kernelSkipsDad(host);
      const global = await pingRun(host, ["--ipv6=2001:db8::2/64", "--target=2001:db8::1", "--count=3", "--interval=200", `--pcap=${pcap}`]);
      assert.equal(global.child.exitCode, 0, global.output);
      for (const seq of [1, 2, 3]) assert.match(global.output, replyLine("2001:db8::1", seq));
      assert.match(global.output, /3 packets transmitted, 3 received, 0% packet loss/);
      assert.match(global.output, /rtt min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms/);

      const kernelLinkLocal = eui64("fe80::", host.mac());
      const local = await pingRun(host, [`--target=${kernelLinkLocal}`, "--count=2", "--interval=200"]);
      assert.equal(local.child.exitCode, 0, local.output);
      for (const seq of [1, 2]) assert.match(local.output, replyLine(kernelLinkLocal, seq));
      assert.match(local.output, /2 packets transmitted, 2 received, 0% packet loss/);

      const nobody = await pingRun(host, ["--ipv6=2001:db8::2/64", "--target=2001:db8::99", "--count=1", "--timeout=500"]);
      assert.equal(nobody.child.exitCode, 1, nobody.output);
      assert.match(nobody.output, /1 packets transmitted, 0 received, 100% packet loss/);
      assert.match(nobody.output, /no reply from 2001:db8::99/);
    } finally {
      host.destroy();
    }
    // The requests on the wire: 64-byte ICMPv6 echo requests with sequence numbers 1..3, and Linux's replies.
    const requests = tsharkFields(pcap, "icmpv6.type == 128", ["ipv6.src", "ipv6.dst", "ipv6.plen", "icmpv6.echo.sequence_number"]);
    assert.deepEqual(requests.map(([src, dst, plen, seq]) => `${src}>${dst} ${plen} #${seq}`), [1, 2, 3].map((s) => `2001:db8::2>2001:db8::1 64 #${s}`));
    assert.equal(tsharkFields(pcap, "icmpv6.type == 129 && ipv6.src == 2001:db8::1", ["frame.number"]).length, 3);
  });
});

describe("http-fetch over IPv6 on --net=direct", { skip }, () => {
  let fetcher: BuiltExample;
  let site: string;
  const size = 200_003;
  before(() => {
    fetcher = buildExampleCopy("http-fetch", "http-fetch", ["--net=direct"]);
    site = mkdtempSync(join(tmpdir(), "mirage-http-fetch6-"));
    writeFileSync(join(site, "file.bin"), randomBytes(size));
  });
  after(() => {
    fetcher?.remove();
    if (site) rmSync(site, { recursive: true, force: true });
  });

  it("fetches from a Python server on 2001:db8::1, by literal [address] and by a name dnsmasq has an AAAA record for (and no A)", async () => {
    const host = createTapHost({ kernelAddress: "10.0.0.1/24", kernelAddress6: "2001:db8::1/64" });
    const servers: ChildProcess[] = [];
    try {
      kernelSkipsDad(host);
      const web = host.spawn("python3", ["-u", "-m", "http.server", "8000", "--bind", "2001:db8::1", "--directory", site]);
      const dnsmasq = host.spawn("dnsmasq", [
        "--no-daemon", "--conf-file=/dev/null", "--port=53", "--listen-address=2001:db8::1", "--bind-interfaces",
        "--no-resolv", "--no-hosts", "--local=/test/", "--host-record=web6.test,2001:db8::1", "--log-queries",
      ]);
      servers.push(web, dnsmasq);
      let dnsLog = "";
      dnsmasq.stderr?.setEncoding("utf8").on("data", (d: string) => (dnsLog += d));
      let webLog = "";
      web.stdout?.setEncoding("utf8").on("data", (d: string) => (webLog += d));
      web.stderr?.setEncoding("utf8").on("data", (d: string) => (webLog += d));
      await eventually("dnsmasq and the web server are up", () => /started/.test(dnsLog) && /Serving HTTP/.test(webLog));

      for (const uri of ["http://[2001:db8::1]:8000/file.bin", "http://web6.test:8000/file.bin"]) {
        const u = fetcher.boot(host, ["--ipv6=2001:db8::2/64", `--uri=${uri}`, "--resolver=2001:db8::1"]);
        assert.equal(await exitCodeWithin(u, 30_000), 0, `${uri}:\n${u.output}`);
        assert.match(u.stdout, /^status 200$/m);
        assert.match(u.stdout, new RegExp(`^body ${size} bytes$`, "m"));
      }
      assert.match(dnsLog, /query\[AAAA\] web6\.test from 2001:db8::2/, `the name was resolved over IPv6:\n${dnsLog}`);
      assert.match(webLog, /2001:db8::2 .*"GET \/file\.bin HTTP\/1\.1" 200/, webLog);
    } finally {
      for (const s of servers) await stopChild(s);
      host.destroy();
    }
  });
});
