/**
 * The direct stack against the Linux kernel: the built udp-echo and network unikernels
 * (`--net=direct`, static IPv4) run as child processes inside a network namespace, on its TAP,
 * with the kernel as their peer and gateway; ping, socat and tshark (on the unikernel's own
 * `--pcap` capture) look at what happens on the wire.
 *
 * Addresses: the kernel is 10.0.0.1/24 (and 10.0.0.254, the gateway) on tap0, with 10.9.0.1/32 on
 * its loopback as an off-link host; the unikernel is 10.0.0.2/24. All inside the namespace.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildExampleCopy, createTapHost, namespaceTestsUnavailable, tsharkFields, unikernelMac, withUnikernel, type BuiltExample, type TapHost } from "./helpers/netns.ts";

const skip = namespaceTestsUnavailable("ping", "socat", "tshark");
if (skip !== undefined) console.log(`# direct-ipv4: skipped: ${skip}`);

/** Sends `data` to the unikernel with socat inside the namespace and returns what came back. */
function udpExchange(host: TapHost, data: Buffer, port: number, extra = ""): { status: number | null; reply: Buffer; stderr: string } {
  const r = host.run("socat", ["-t", "1.5", "-T", "3", "-", `UDP:10.0.0.2:${port}${extra}`], { input: data, timeoutMs: 10_000 });
  return { status: r.status, reply: r.stdoutBytes, stderr: r.stderr };
}

describe("the direct stack against Linux (static IPv4)", { skip }, () => {
  let udpEcho: BuiltExample;
  before(() => {
    udpEcho = buildExampleCopy("udp-echo", "udp-echo", ["--net=direct"]);
  });
  after(() => udpEcho?.remove());

  it("answers ping, 8000-byte pings fragmented both ways, and a flood of 10,000 with no loss; Linux learns its MAC; the --pcap capture shows it", async () => {
    const pcap = join(udpEcho.dir, "ping.pcap");
    await withUnikernel(udpEcho, { kernelAddress: "10.0.0.1/24" }, [`--pcap=${pcap}`], /echoing UDP on port 7777/, async (host, u) => {
      const mac = await unikernelMac(u);
      const simple = host.exec("ping", ["-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"]);
      assert.match(simple, /3 packets transmitted, 3 received, 0% packet loss/);

      assert.match(host.neighbours(), new RegExp(`^10\\.0\\.0\\.2 lladdr ${mac} `, "m"), "the kernel's neighbour table has the unikernel's MAC");

      const big = host.exec("ping", ["-c", "3", "-i", "0.2", "-W", "2", "-s", "8000", "10.0.0.2"]);
      assert.match(big, /3 packets transmitted, 3 received, 0% packet loss/);
      assert.match(big, /8008 bytes from 10\.0\.0\.2/, "the replies carry the whole 8000 bytes of data");

      const flood = host.exec("ping", ["-f", "-c", "10000", "-q", "-W", "2", "10.0.0.2"], { timeoutMs: 60_000 });
      assert.match(flood, /10000 packets transmitted, 10000 received, 0% packet loss/, flood);
    });

    assert.ok(existsSync(pcap), "--pcap wrote the file");
    const arp = tsharkFields(pcap, "arp", ["arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.proto_ipv4"]);
    assert.ok(arp.some(([op, , src, dst]) => op === "1" && src === "10.0.0.1" && dst === "10.0.0.2"), "the kernel's ARP request for the unikernel");
    assert.ok(arp.some(([op, , src, dst]) => op === "2" && src === "10.0.0.2" && dst === "10.0.0.1"), "the unikernel's ARP reply");
    assert.ok(arp.some(([op, , src, dst]) => op === "1" && src === "10.0.0.2" && dst === "10.0.0.2"), "the gratuitous ARP at start");
    // ICMP echo, by type and by who sent it; fragments are counted on the IP layer.
    const icmp = tsharkFields(pcap, "icmp", ["ip.src", "icmp.type"]);
    const requests = icmp.filter(([src, type]) => src === "10.0.0.1" && type === "8").length;
    const replies = icmp.filter(([src, type]) => src === "10.0.0.2" && type === "0").length;
    assert.equal(requests, 10_006, "3 + 3 + 10,000 echo requests in the capture");
    assert.equal(replies, 10_006, "as many replies");
    const fragments = tsharkFields(pcap, "ip.flags.mf == 1", ["ip.src"]);
    assert.equal(fragments.filter(([src]) => src === "10.0.0.1").length, 15, "each 8000-byte request came in 6 fragments (5 with more-fragments)");
    assert.equal(fragments.filter(([src]) => src === "10.0.0.2").length, 15, "each reply went out in 6 fragments (5 with more-fragments)");
  });

  it("echoes socat's datagrams, 8 KB ones too (fragmented), and answers a closed port with ICMP port unreachable", async () => {
    const pcap = join(udpEcho.dir, "udp.pcap");
    await withUnikernel(udpEcho, { kernelAddress: "10.0.0.1/24" }, [`--pcap=${pcap}`], /echoing UDP on port 7777/, async (host) => {
      const small = Buffer.from("hello, unikernel\n");
      const r1 = udpExchange(host, small, 7777);
      assert.equal(r1.status, 0, r1.stderr);
      assert.ok(r1.reply.equals(small), `echoed ${JSON.stringify(r1.reply.toString("latin1"))}`);

      const large = randomBytes(8192);
      const r2 = udpExchange(host, large, 7777);
      assert.equal(r2.status, 0, r2.stderr);
      assert.equal(r2.reply.length, large.length);
      assert.ok(r2.reply.equals(large), "the 8 KB datagram came back byte for byte");

      // A connected UDP socket sees the ICMP error as ECONNREFUSED.
      const closed = udpExchange(host, Buffer.from("anyone?\n"), 9999);
      assert.notEqual(closed.status, 0);
      assert.match(closed.stderr, /Connection refused/);
    });
    const unreachable = tsharkFields(pcap, "icmp.type == 3", ["ip.src", "ip.dst", "icmp.code", "udp.dstport"]);
    assert.deepEqual(unreachable, [["10.0.0.2", "10.0.0.1", "3", "9999"]], "one port unreachable, quoting the datagram to 9999");
    const udpFragments = tsharkFields(pcap, "ip.proto == 17 && (ip.flags.mf == 1 || ip.frag_offset > 0)", ["ip.src"]);
    assert.ok(udpFragments.filter(([src]) => src === "10.0.0.1").length >= 6, "the 8 KB datagram arrived fragmented");
    assert.ok(udpFragments.filter(([src]) => src === "10.0.0.2").length >= 6, "and its echo left fragmented");
  });

  it("resolves the Linux peer and the gateway with ARP, and replies to an off-link host through the gateway's MAC", async () => {
    const pcap = join(udpEcho.dir, "gateway.pcap");
    const hostOptions = { kernelAddress: "10.0.0.1/24", extraAddresses: ["10.0.0.254/24"], loopbackAddresses: ["10.9.0.1/32"] };
    let kernelMac = "";
    let ukMac = "";
    await withUnikernel(udpEcho, hostOptions, ["--ipv4-gateway=10.0.0.254", `--pcap=${pcap}`], /echoing UDP on port 7777/, async (host, u) => {
      ukMac = await unikernelMac(u);
      kernelMac = host.mac();
      // The kernel knows the unikernel without asking, so every ARP request on the wire is the unikernel's own.
      host.exec("ip", ["neigh", "replace", "10.0.0.2", "lladdr", ukMac, "dev", host.tap, "nud", "permanent"]);
      const peer = udpExchange(host, Buffer.from("from the peer\n"), 7777);
      assert.equal(peer.reply.toString(), "from the peer\n", peer.stderr);
      const offLink = udpExchange(host, Buffer.from("from off-link\n"), 7777, ",bind=10.9.0.1");
      assert.equal(offLink.reply.toString(), "from off-link\n", offLink.stderr);
    });
    const requests = tsharkFields(pcap, "arp.opcode == 1", ["arp.src.hw_mac", "arp.dst.proto_ipv4"]);
    assert.ok(requests.some(([mac, target]) => mac === ukMac && target === "10.0.0.1"), "the unikernel asked for the peer");
    assert.ok(requests.some(([mac, target]) => mac === ukMac && target === "10.0.0.254"), "the unikernel asked for the gateway");
    assert.ok(!requests.some(([, target]) => target === "10.9.0.1"), "nobody asked for the off-link host");
    const replies = tsharkFields(pcap, "arp.opcode == 2", ["arp.src.proto_ipv4", "arp.src.hw_mac"]);
    assert.ok(replies.some(([ip, mac]) => ip === "10.0.0.254" && mac === kernelMac), "the kernel answered for the gateway");
    const echoes = tsharkFields(pcap, "udp.srcport == 7777", ["ip.dst", "eth.dst"]);
    assert.deepEqual(echoes, [
      ["10.0.0.1", kernelMac],
      ["10.9.0.1", kernelMac],
    ], "both replies went to the kernel's MAC: the peer's directly, the off-link one as the gateway's");
  });

  it("refuses --ipv4-only=true with --ipv6-only=true at boot, saying why", async () => {
    const host = createTapHost({ kernelAddress: "10.0.0.1/24" });
    try {
      const u = udpEcho.boot(host, ["--ipv4-only=true", "--ipv6-only=true"]);
      const { code } = await u.exited;
      assert.equal(code, 1, u.output);
      assert.match(u.output, /--ipv4-only and --ipv6-only cannot both be true/);
    } finally {
      host.destroy();
    }
  });
});

describe("the network example on --net=direct", { skip }, () => {
  let network: BuiltExample;
  before(() => {
    network = buildExampleCopy("network", "network", ["--net=direct"]);
  });
  after(() => network?.remove());

  it("boots on the TAP, answers ping, echoes Linux's TCP over our TCP, and refuses a closed port", async () => {
    await withUnikernel(network, { kernelAddress: "10.0.0.1/24" }, [], /echoing on TCP port 8080/, async (host) => {
      assert.match(host.exec("ping", ["-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"]), /2 received, 0% packet loss/);
      const small = host.run("socat", ["-T", "5", "-", "TCP:10.0.0.2:8080"], { input: "hello\n", timeoutMs: 15_000 });
      assert.equal(small.status, 0, small.stderr);
      assert.equal(small.stdout, "hello\n");
      // 4 MiB through Linux's TCP and ours, both ways: many windows, the peer's MSS and options.
      const big = randomBytes(4 * 1024 * 1024);
      const r = host.run("socat", ["-T", "10", "-", "TCP:10.0.0.2:8080"], { input: big, timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdoutBytes.length, big.length);
      assert.ok(r.stdoutBytes.equals(big), "the echo differs from what Linux sent");
      const closed = host.run("socat", ["-T", "3", "-", "TCP:10.0.0.2:8081"], { input: "hello\n", timeoutMs: 10_000 });
      assert.notEqual(closed.status, 0);
      assert.match(closed.stderr, /Connection refused/);
    });
  });
});
