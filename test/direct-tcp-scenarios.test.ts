/**
 * TCP scenarios against Linux in a namespace, read on the wire with tshark from the unikernel's
 * `--pcap` capture: half-close (Linux sends its FIN first and still reads what we send after it)
 * and TIME-WAIT (we close first; a new SYN on the same 4-tuple is accepted as RFC 6191 allows
 * with timestamps), and challenge ACKs for an in-window RST and SYN (scapy, RFC 5961). RST for a
 * closed port is in direct-tcp.test.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { buildExampleCopy, buildFixtureCopy, namespaceTestsUnavailable, tsharkFields, unikernelMac, withUnikernel, type BuiltExample } from "./helpers/netns.ts";

const skip = namespaceTestsUnavailable("tshark", "socat", "python3");
if (skip !== undefined) console.log(`# direct-tcp-scenarios: skipped: ${skip}`);

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** Sends stdin's bytes to ADDRESS:PORT, half-closes at once (FIN), and writes what comes back to stdout. */
const halfCloseClient = `
const net = require("node:net");
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const s = net.connect({ port: Number(process.argv[2]), host: process.argv[1], allowHalfOpen: true });
  const back = [];
  s.on("connect", () => s.end(Buffer.concat(chunks)));
  s.on("data", (d) => back.push(d));
  s.on("end", () => process.stdout.write(Buffer.concat(back)));
  s.on("error", (e) => { console.error(e.message); process.exit(1); });
});
`;

/**
 * On an established connection of Linux's to the echo on 10.0.0.2:8080 (DST_MAC on IFACE), reads
 * both sides' sequence numbers off the wire, then sends with scapy an RST whose sequence number is
 * in the window but not RCV.NXT, and a SYN in the window (RFC 5961 §3, §4), records our replies to
 * each, and checks the connection still echoes. Prints one JSON line.
 */
const challengeAckProbe = String.raw`
import socket, sys, time
from scapy.all import AsyncSniffer, Ether, IP, TCP, sendp, conf
conf.verb = 0
iface, dst_mac = sys.argv[1], sys.argv[2]
seen = []
sniffer = AsyncSniffer(iface=iface, filter="tcp port 8080", store=False, prn=seen.append)
sniffer.start()
time.sleep(0.5)
s = socket.create_connection(("10.0.0.2", 8080))
s.sendall(b"ping\n")
assert s.recv(100) == b"ping\n"
time.sleep(0.2)
pkts = list(seen)
lport = s.getsockname()[1]
ours = [p for p in pkts if p[IP].src == "10.0.0.2" and p[TCP].dport == lport]
theirs = [p for p in pkts if p[IP].src == "10.0.0.1" and p[TCP].sport == lport]
last_ours, last_theirs = ours[-1][TCP], theirs[-1][TCP]
snd_nxt = last_theirs.seq + len(last_theirs.payload)   # Linux's next sequence number = our RCV.NXT
our_nxt = last_ours.seq + len(last_ours.payload)
def probe(flags, seq, ack=0):
    before = len(seen)
    sendp(Ether(dst=dst_mac) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=lport, dport=8080, flags=flags, seq=seq, ack=ack, window=502), iface=iface)
    time.sleep(0.3)
    replies = [p for p in list(seen)[before:] if p[IP].src == "10.0.0.2" and p[TCP].dport == lport]
    return [(str(p[TCP].flags), p[TCP].seq, p[TCP].ack) for p in replies]
rst = probe("R", snd_nxt + 1000)
syn = probe("S", snd_nxt + 2000)
s.sendall(b"still there\n")
echo = s.recv(100)
s.close()
sniffer.stop()
import json
print(json.dumps({"rcvNxt": snd_nxt, "sndNxt": our_nxt, "rst": rst, "syn": syn, "echo": echo.decode()}))
`;

describe("TCP scenarios against Linux: half-close and challenge ACKs (the network example's echo)", { skip }, () => {
  let network: BuiltExample;
  before(() => {
    network = buildExampleCopy("network", "network", ["--net=direct"]);
  });
  after(() => network?.remove());

  it("Linux half-closes after 2 MiB and still reads the echo that we send after its FIN, then our FIN", async () => {
    const pcap = join(network.dir, "half-close.pcap");
    const data = randomBytes(2 * 1024 * 1024);
    await withUnikernel(network, { kernelAddress: "10.0.0.1/24" }, [`--pcap=${pcap}`], /echoing on TCP port 8080/, async (host) => {
      const r = host.run(process.execPath, ["-e", halfCloseClient, "10.0.0.2", "8080"], { input: data, timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdoutBytes.length, data.length, "every byte came back after Linux's FIN");
      assert.equal(sha256(r.stdoutBytes), sha256(data));
    });
    const segments = tsharkFields(pcap, "tcp.port == 8080", ["frame.number", "ip.src", "tcp.flags.fin", "tcp.len"]);
    const linuxFin = segments.find(([, src, fin]) => src === "10.0.0.1" && fin === "1");
    const ourFin = segments.find(([, src, fin]) => src === "10.0.0.2" && fin === "1");
    assert.ok(linuxFin !== undefined && ourFin !== undefined, "both sides sent a FIN");
    const dataAfter = segments.filter(([n, src, , len]) => src === "10.0.0.2" && Number(n) > Number(linuxFin[0]) && Number(len) > 0);
    const bytesAfter = dataAfter.reduce((sum, [, , , len]) => sum + Number(len), 0);
    assert.ok(bytesAfter > 0, "we sent data after Linux's FIN (the connection was half-open)");
    assert.ok(Number(ourFin[0]) > Number(linuxFin[0]), "our FIN came after Linux's, once the echo was sent");
    const lastData = Math.max(...segments.filter(([, src, , len]) => src === "10.0.0.2" && Number(len) > 0).map(([n]) => Number(n)));
    assert.ok(Number(ourFin[0]) >= lastData, "and after the last of our data");
  });

  it("answers an in-window RST with a wrong sequence number and an in-window SYN with a challenge ACK, and the connection survives (RFC 5961)", async () => {
    await withUnikernel(network, { kernelAddress: "10.0.0.1/24" }, [], /echoing on TCP port 8080/, async (host, u) => {
      const r = host.run("/usr/bin/python3", ["-c", challengeAckProbe, host.tap, await unikernelMac(u)], { timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const probe = JSON.parse(r.stdout.trim()) as { rcvNxt: number; sndNxt: number; rst: Array<[string, number, number]>; syn: Array<[string, number, number]>; echo: string };
      const challenge: [string, number, number] = ["A", probe.sndNxt, probe.rcvNxt];
      assert.deepEqual(probe.rst, [challenge], "one challenge ACK (SND.NXT, RCV.NXT) for the RST, no reset");
      assert.deepEqual(probe.syn, [challenge], "one challenge ACK for the SYN");
      assert.equal(probe.echo, "still there\n", "the connection survived both");
    });
  });
});

/**
 * From local port LPORT (SO_REUSEADDR, so that it can be used again at once), sends an HTTP
 * request with `Connection: close`, reads until the server's FIN, and only then closes: the
 * server closes first, and TIME-WAIT is its side's.
 */
const closingClient = String.raw`
import socket, sys
host, port, lport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.0.0.1", lport))
s.connect((host, port))
s.sendall(b"GET / HTTP/1.1\r\nHost: 10.0.0.2\r\nConnection: close\r\n\r\n")
reply = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    reply += chunk
s.close()
sys.stdout.write(reply.decode("latin1"))
`;

describe("TCP scenarios against Linux: TIME-WAIT (static-website closes first)", { skip }, () => {
  let site: BuiltExample;
  before(() => {
    site = buildExampleCopy("static-website", "static-website", ["--net=direct"]);
  });
  after(() => site?.remove());

  it("we close first and ACK Linux's FIN last (TIME-WAIT is ours); a new SYN on the same 4-tuple with a later timestamp is accepted (RFC 6191)", async () => {
    const pcap = join(site.dir, "time-wait.pcap");
    const port = "40123";
    await withUnikernel(site, { kernelAddress: "10.0.0.1/24" }, [`--pcap=${pcap}`], /serving http:/, async (host) => {
      for (let i = 0; i < 2; i++) {
        const r = host.run("/usr/bin/python3", ["-c", closingClient, "10.0.0.2", "8080", port], { timeoutMs: 20_000 });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^HTTP\/1\.1 200/, `request ${i + 1} on the same 4-tuple`);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    });
    const segments = tsharkFields(pcap, `tcp.port == ${port}`, ["frame.number", "ip.src", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.seq_raw", "tcp.ack_raw", "tcp.options.timestamp.tsval"]);
    const syns = segments.filter(([, src, syn, ack]) => src === "10.0.0.1" && syn === "1" && ack === "0");
    const table = segments.map((f) => f.join(" ")).join("\n");
    assert.equal(syns.length, 2, `two connections on the same 4-tuple, one SYN each:\n${table}`);
    const first = segments.filter(([n]) => Number(n) < Number(syns[1]![0]));
    const ourFin = first.find(([, src, , , fin]) => src === "10.0.0.2" && fin === "1");
    const linuxFin = first.find(([, src, , , fin]) => src === "10.0.0.1" && fin === "1");
    assert.ok(ourFin !== undefined && linuxFin !== undefined);
    assert.ok(Number(ourFin[0]) < Number(linuxFin[0]), "we sent the first FIN: the active close, so TIME-WAIT is on our side");
    const linuxFinSeq = Number(linuxFin[6]);
    const finalAck = first.find(([n, src, , ack, fin]) => Number(n) > Number(linuxFin[0]) && src === "10.0.0.2" && ack === "1" && fin === "0" && Number(first.find(([m]) => m === n)![7]) === (linuxFinSeq + 1) >>> 0);
    assert.ok(finalAck !== undefined, "our last ACK acknowledges Linux's FIN");
    assert.equal(segments.filter(([, src, , , , rst]) => src === "10.0.0.2" && rst === "1").length, 0, "we never reset the 4-tuple");
    // The second SYN arrived during our TIME-WAIT (2 MSL = 60 s) and was answered with a SYN-ACK.
    const secondSynAck = segments.find(([n, src, syn, ack]) => Number(n) > Number(syns[1]![0]) && src === "10.0.0.2" && syn === "1" && ack === "1");
    assert.ok(secondSynAck !== undefined, "the new SYN on the 4-tuple in TIME-WAIT opened a new connection");
    assert.ok(Number(syns[1]![8]) > Number(syns[0]![8]), "its timestamp is later than the old connection's (what RFC 6191 checks)");
  });
});

/** Connects to ADDRESS:PORT, sends "hello\n", reads the echo, stays idle for IDLE_MS, then closes; prints the echo. */
const idleClient = `
const net = require("node:net");
const s = net.connect(Number(process.argv[2]), process.argv[1]);
let got = "";
s.setEncoding("latin1");
s.on("connect", () => s.write("hello\\n"));
s.on("data", (d) => { got += d; if (got === "hello\\n") setTimeout(() => s.end(), Number(process.argv[3])); });
s.on("end", () => process.stdout.write(got));
s.on("error", (e) => { console.error(e.message); process.exit(1); });
`;

/**
 * Simultaneous open (RFC 9293 §3.5, figure 8), with scapy as the peer 10.0.0.77 (answering our ARP
 * for it): asks the fixture (control connection to port 8083) to connect to 10.0.0.77:9000; when
 * our SYN appears, sends a SYN of its own across it (not a SYN-ACK), then answers our SYN-ACK with
 * its SYN-ACK, and our "hello" with "world". Prints our segments and the fixture's answer.
 */
const simultaneousOpenPeer = String.raw`
import json, socket, sys, time
from scapy.all import AsyncSniffer, ARP, Ether, IP, TCP, sendp, conf
conf.verb = 0
iface, dst_mac = sys.argv[1], sys.argv[2]
peer_ip, peer_mac, peer_port, peer_isn = "10.0.0.77", "02:00:00:00:00:77", 9000, 300000
ours, state = [], {}
def on(p):
    if ARP in p and p[ARP].op == 1 and p[ARP].pdst == peer_ip:
        sendp(Ether(dst=p[ARP].hwsrc, src=peer_mac) / ARP(op=2, hwsrc=peer_mac, psrc=peer_ip, hwdst=p[ARP].hwsrc, pdst=p[ARP].psrc), iface=iface)
        return
    if IP not in p or TCP not in p or p[IP].src != "10.0.0.2" or p[IP].dst != peer_ip:
        return
    t = p[TCP]
    flags = str(t.flags)
    ours.append([flags, t.seq, t.ack, len(t.payload)])
    base = Ether(dst=dst_mac, src=peer_mac) / IP(src=peer_ip, dst="10.0.0.2")
    if flags == "S" and "isn" not in state:
        # Our SYN is out and unanswered: send ours across it, as a peer opening at the same time.
        state["isn"] = t.seq
        sendp(base / TCP(sport=peer_port, dport=t.sport, flags="S", seq=peer_isn, window=65535), iface=iface)
    elif flags == "SA":
        sendp(base / TCP(sport=peer_port, dport=t.sport, flags="SA", seq=peer_isn, ack=t.seq + 1, window=65535), iface=iface)
    elif len(t.payload) > 0 and "answered" not in state:
        state["answered"] = True
        sendp(base / TCP(sport=peer_port, dport=t.sport, flags="PA", seq=peer_isn + 1, ack=t.seq + len(t.payload), window=65535) / b"world\n", iface=iface)
sniffer = AsyncSniffer(iface=iface, filter="arp or (tcp and host 10.0.0.77)", store=False, prn=on)
sniffer.start()
time.sleep(0.5)
control = socket.create_connection(("10.0.0.2", 8083))
control.sendall(b"10.0.0.77 9000\n")
answer = b""
while not answer.endswith(b"\n"):
    chunk = control.recv(100)
    if not chunk: break
    answer += chunk
time.sleep(0.2)
sniffer.stop()
print(json.dumps({"answer": answer.decode().strip(), "ours": ours, "peerIsn": peer_isn}))
`;

describe("TCP scenarios against Linux: zero window, keepalive and simultaneous open (test/fixtures/tcp-behaviours)", { skip }, () => {
  let fixture: BuiltExample;
  before(() => {
    fixture = buildFixtureCopy("tcp-behaviours", "tcp-behaviours", ["--net=direct"]);
  });
  after(() => fixture?.remove());

  it("a slow reader closes the window; Linux probes it; the window reopens and every byte is delivered", async () => {
    const pcap = join(fixture.dir, "zero-window.pcap");
    const data = randomBytes(4 * 1024 * 1024);
    await withUnikernel(fixture, { kernelAddress: "10.0.0.1/24" }, [`--pcap=${pcap}`], /slow reader on 8081/, async (host) => {
      const r = host.run("socat", ["-t", "30", "-T", "30", "-", "TCP:10.0.0.2:8081"], { input: data, timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${data.length} ${sha256(data)}\n`, "the reader got every byte, in order");
    });
    const zero = tsharkFields(pcap, "ip.src == 10.0.0.2 && tcp.analysis.zero_window", ["frame.number"]);
    const probes = tsharkFields(pcap, "ip.src == 10.0.0.1 && (tcp.analysis.zero_window_probe || tcp.analysis.keep_alive)", ["frame.number"]);
    assert.ok(zero.length > 0, "we advertised a zero window while the reader slept");
    assert.ok(probes.length > 0, "Linux probed the zero window");
    const firstZero = Number(zero[0]![0]);
    const reopened = tsharkFields(pcap, `ip.src == 10.0.0.2 && frame.number > ${firstZero} && tcp.window_size > 0 && !tcp.analysis.zero_window`, ["frame.number", "tcp.window_size"]);
    assert.ok(reopened.length > 0, "the window reopened once the reader caught up");
    const linuxAfter = tsharkFields(pcap, `ip.src == 10.0.0.1 && frame.number > ${reopened[0]![0]} && tcp.len > 0`, ["frame.number"]);
    assert.ok(linuxAfter.length > 0, "and Linux sent the rest");
  });

  it("keepalive probes go out after 1 s idle and Linux answers them", async () => {
    const pcap = join(fixture.dir, "keepalive.pcap");
    await withUnikernel(fixture, { kernelAddress: "10.0.0.1/24" }, [`--pcap=${pcap}`], /slow reader on 8081/, async (host) => {
      const r = host.run(process.execPath, ["-e", idleClient, "10.0.0.2", "8082", "3600"], { timeoutMs: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "hello\n");
    });
    const probes = tsharkFields(pcap, "ip.src == 10.0.0.2 && tcp.analysis.keep_alive", ["frame.number", "frame.time_relative"]);
    const answers = tsharkFields(pcap, "ip.src == 10.0.0.1 && tcp.analysis.keep_alive_ack", ["frame.number"]);
    assert.ok(probes.length >= 2, `at least two keepalive probes in 3.6 s idle (${probes.length})`);
    assert.ok(answers.length >= 2, `Linux acknowledged them (${answers.length})`);
    const gaps = probes.slice(1).map(([, t], i) => Number(t) - Number(probes[i]![1]));
    for (const gap of gaps) assert.ok(gap > 0.5, `probes are spaced by the interval, not sent in a burst (${gap.toFixed(3)} s)`);
  });

  it("simultaneous open: our SYN crosses the peer's SYN; we answer with a SYN-ACK of the same ISN and the connection carries data", async () => {
    await withUnikernel(fixture, { kernelAddress: "10.0.0.1/24" }, [], /connect on 8083/, async (host, u) => {
      const r = host.run("/usr/bin/python3", ["-c", simultaneousOpenPeer, host.tap, await unikernelMac(u)], { timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const result = JSON.parse(r.stdout.trim()) as { answer: string; ours: Array<[string, number, number, number]>; peerIsn: number };
      assert.equal(result.answer, "connected world", `the connection opened and carried data both ways: ${JSON.stringify(result)}`);
      const [syn, synAck] = result.ours;
      assert.equal(syn?.[0], "S", "we sent a SYN first");
      assert.deepEqual(synAck?.slice(0, 3), ["SA", syn![1], (result.peerIsn + 1) >>> 0], "the crossing SYN made us SYN-RECEIVED: a SYN-ACK with our ISN again, acknowledging the peer's SYN");
      assert.ok(result.ours.some(([flags, , , len]) => flags.includes("P") && len === 6), "then our hello went out");
    });
  });
});
