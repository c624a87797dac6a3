/**
 * The TAP netif against the Linux kernel.
 *
 * The kernel-facing tests need root (to create a TAP and a network namespace): they make a fresh
 * namespace, run this same file inside it as a worker (`ip netns exec NS node --import tsx
 * tap.test.ts` with MIRAGE_TAP_TEST_ROLE=worker), and assert on the JSON the worker prints. The
 * worker answers ARP, ICMP echo and UDP echo for 10.77.0.2 by hand-built frames, so the kernel's
 * own `ping` and UDP sockets talk to it. Traffic stays inside the namespace, which is always
 * deleted. Without root or /dev/net/tun those tests skip and say why.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { MacAddress } from "@mirage-ts/runtime";
import { TapError, connectTapNetif, loadTapAddon, tapErrorMessage, type TapNetif } from "../src/index.ts";

const execFileAsync = promisify(execFile);
const thisFile = fileURLToPath(import.meta.url);
const role = process.env["MIRAGE_TAP_TEST_ROLE"];

const TAP_NAME = "mtap0";
const OUR_MAC = MacAddress.of("02:77:00:00:00:02");
const OUR_IP = [10, 77, 0, 2] as const;
const KERNEL_CIDR = "10.77.0.1/24";

if (role === "worker") {
  await worker();
} else if (role === "unprivileged") {
  await unprivileged();
} else {
  tests();
}

// ---------------------------------------------------------------------------------------------
// The responder: answers ARP requests for OUR_IP, ICMP echo requests and UDP (any port, echoed).
// It rewrites each received frame in place and writes it back: the Netif contract lets a handler
// modify the batch's bytes during the call, and write() consumes the frame before returning.

function isOurIp(frame: Uint8Array, offset: number): boolean {
  return (
    frame[offset] === OUR_IP[0] && frame[offset + 1] === OUR_IP[1] && frame[offset + 2] === OUR_IP[2] && frame[offset + 3] === OUR_IP[3]
  );
}

function swap(frame: Uint8Array, a: number, b: number, length: number): void {
  for (let i = 0; i < length; i++) {
    const t = frame[a + i]!;
    frame[a + i] = frame[b + i]!;
    frame[b + i] = t;
  }
}

function internetChecksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if ((end - start) & 1) sum += bytes[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function respond(netif: TapNetif, frame: Uint8Array): void {
  if (frame.length < 42) return;
  const etherType = (frame[12]! << 8) | frame[13]!;
  if (etherType === 0x0806) {
    // ARP request (op 1) for our address: turn it into the reply.
    if (frame[21] !== 1 || !isOurIp(frame, 38)) return;
    frame[21] = 2;
    frame.copyWithin(32, 22, 32); // target := sender (hardware and protocol address)
    OUR_MAC.toBytes(frame, 22);
    frame.set(OUR_IP, 28);
  } else if (etherType === 0x0800) {
    if (!isOurIp(frame, 30)) return;
    const ihl = (frame[14]! & 0x0f) * 4;
    const totalLength = (frame[16]! << 8) | frame[17]!;
    const l4 = 14 + ihl;
    const protocol = frame[23];
    if (protocol === 1) {
      if (frame[l4] !== 8) return; // echo request only
      frame[l4] = 0;
      frame[l4 + 2] = 0;
      frame[l4 + 3] = 0;
      const sum = internetChecksum(frame, l4, 14 + totalLength);
      frame[l4 + 2] = sum >> 8;
      frame[l4 + 3] = sum & 0xff;
    } else if (protocol === 17) {
      swap(frame, l4, l4 + 2, 2); // ports; the checksum is unchanged by swapping
    } else {
      return;
    }
    swap(frame, 26, 30, 4); // addresses; the header checksum is unchanged by swapping
  } else {
    return;
  }
  frame.copyWithin(0, 6, 12);
  OUR_MAC.toBytes(frame, 6);
  netif.write(frame);
}

// ---------------------------------------------------------------------------------------------
// The worker: runs inside the namespace, prints one JSON line of observations.

interface WorkerReport {
  up: boolean;
  mtu: number;
  busy: { code: string; message: string } | undefined;
  ping: { available: boolean; output: string };
  udpEchoes: { sent: number[]; received: number[] };
  neighbour: string;
  burst: { accepted: number; kernelDelta: number };
  oversize: boolean;
  undersize: boolean;
  stats: { rxFrames: number; rxBytes: number; txFrames: number; txBytes: number; rxDrops: number; txDrops: number };
  kernel: { rxPackets: number; txPackets: number; rxBytes: number };
  writeAfterDisconnect: boolean;
}

function kernelCounter(name: string): number {
  return Number(readFileSync(`/sys/class/net/${TAP_NAME}/statistics/${name}`, "utf8"));
}

async function udpEcho(sizes: number[]): Promise<number[]> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "10.77.0.1", resolve));
  const received: number[] = [];
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    socket.on("message", (message) => {
      received.push(message.length);
      if (received.length === sizes.length) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (const size of sizes) socket.send(Buffer.alloc(size, size & 0xff), 7, "10.77.0.2");
  await done;
  socket.close();
  return received.sort((a, b) => a - b);
}

async function worker(): Promise<void> {
  const netif = await connectTapNetif({ name: TAP_NAME, mac: OUR_MAC });
  // Listening before the next turn of the event loop: no frame is read before there is a handler.
  netif.listen((frames) => {
    for (const frame of frames) respond(netif, frame);
  });
  await execFileAsync("ip", ["addr", "add", KERNEL_CIDR, "dev", TAP_NAME]);

  let busy: WorkerReport["busy"];
  try {
    const second = await connectTapNetif({ name: TAP_NAME });
    await second.disconnect();
  } catch (e) {
    if (e instanceof TapError) busy = { code: e.code, message: e.message };
  }

  // `ping` runs as a child, asynchronously: this process must keep answering meanwhile.
  const pingAvailable = spawnSync("ping", ["-V"]).error === undefined;
  let pingOutput = "";
  if (pingAvailable) {
    const r = await execFileAsync("ping", ["-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2"]).catch(
      (e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stdout ?? ""}${e.stderr ?? ""}` }),
    );
    pingOutput = r.stdout;
  }

  const sizes = [8, 512, 1472]; // 1472 bytes of UDP payload make a full 1514-byte frame
  const received = await udpEcho(sizes);
  const neighbour = (await execFileAsync("ip", ["neigh", "show", "10.77.0.2", "dev", TAP_NAME])).stdout;

  // A burst larger than the send ring (256 slots): frames to a MAC that is nobody's, which the
  // kernel counts and discards.
  const before = kernelCounter("rx_packets");
  const burst: Uint8Array[] = [];
  for (let i = 0; i < 1000; i++) {
    const frame = new Uint8Array(64);
    MacAddress.of("02:00:00:00:00:99").toBytes(frame, 0);
    OUR_MAC.toBytes(frame, 6);
    frame[12] = 0x88;
    frame[13] = 0xb5; // IEEE 802 local experimental EtherType
    frame[14] = i & 0xff;
    burst.push(frame);
  }
  const accepted = netif.writeBatch(burst);
  await new Promise((resolve) => setImmediate(resolve));
  const kernelDelta = kernelCounter("rx_packets") - before;

  const oversize = netif.write(new Uint8Array(netif.mtu + 15));
  const undersize = netif.write(new Uint8Array(13));
  await new Promise((resolve) => setImmediate(resolve));

  const stats = netif.stats();
  const kernel = { rxPackets: kernelCounter("rx_packets"), txPackets: kernelCounter("tx_packets"), rxBytes: kernelCounter("rx_bytes") };
  const { up, mtu } = netif;
  await netif.disconnect();
  const writeAfterDisconnect = netif.write(new Uint8Array(60));

  const report: WorkerReport = {
    up,
    mtu,
    busy,
    ping: { available: pingAvailable, output: pingOutput },
    udpEchoes: { sent: sizes, received },
    neighbour,
    burst: { accepted, kernelDelta },
    oversize,
    undersize,
    stats: { ...stats },
    kernel,
    writeAfterDisconnect,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/**
 * Started as root, drops to an unprivileged user once the code and the addon are loaded (so that
 * the repository need not be readable by that user), then opens a TAP: it must fail with the
 * "not permitted" advice.
 */
async function unprivileged(): Promise<void> {
  loadTapAddon();
  process.setgroups?.([]);
  process.setgid?.(65534);
  process.setuid?.(65534);
  try {
    const netif = await connectTapNetif({ name: TAP_NAME });
    await netif.disconnect();
    process.stdout.write(`${JSON.stringify({ opened: true })}\n`);
  } catch (e) {
    const error = e as TapError;
    process.stdout.write(`${JSON.stringify({ opened: false, code: error.code, message: error.message })}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// The tests.

/** Why the kernel-facing tests cannot run here, or undefined when they can. */
function whyNoKernelTests(): string | undefined {
  if (process.platform !== "linux") return "TAP devices are Linux only";
  if (process.getuid?.() !== 0) return "creating a TAP and a network namespace needs root (CI runs as root)";
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun is missing: the kernel has no TUN/TAP support (modprobe tun)";
  if (spawnSync("ip", ["-V"]).error !== undefined) return "the `ip` command (iproute2) is not installed";
  return undefined;
}

function runNode(args: string[], options: { env: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(args[0]!, args.slice(1), { env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // The worker is not a test file of this run: keep it away from the runner's reporting channel.
  delete env["NODE_TEST_CONTEXT"];
  return env;
}

function lastJsonLine<T>(stdout: string, stderr: string): T {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`the child printed no report.\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  }
}

function tests(): void {
  test("error messages say what to do", () => {
    const missing = tapErrorMessage("tap0", "/dev/net/tun", "open", "ENOENT");
    assert.match(missing, /no TUN\/TAP support/);
    assert.match(missing, /modprobe tun/);
    for (const [syscall, code] of [
      ["open", "EACCES"],
      ["ioctl(TUNSETIFF)", "EPERM"],
    ] as const) {
      const m = tapErrorMessage("tap7", "/dev/net/tun", syscall, code);
      assert.match(m, /not permitted: run as root or grant CAP_NET_ADMIN/);
      assert.match(m, /ip tuntap add dev tap7 mode tap/);
    }
    const busy = tapErrorMessage("tap3", "/dev/net/tun", "ioctl(TUNSETIFF)", "EBUSY");
    assert.match(busy, /tap3 is busy: another process has it open/);
    assert.match(tapErrorMessage("eth0", "/dev/net/tun", "ioctl(TUNSETIFF)", "EINVAL"), /eth0 exists but is not a TAP device/);
    assert.match(tapErrorMessage("tap0", "/dev/net/tun", "ioctl(TUNSETIFF)", "EIO"), /TUNSETIFF\) failed with EIO/);
  });

  test("an invalid interface name is refused before the kernel is asked", async () => {
    for (const name of ["", "a-name-longer-than-15", "has space", "a/b"]) {
      await assert.rejects(connectTapNetif({ name }), (e: unknown) => e instanceof TapError && e.code === "EINVALNAME");
    }
  });

  test("a missing clone device is reported as missing TUN/TAP support", async () => {
    await assert.rejects(connectTapNetif({ name: "tap0", device: "/nonexistent/net/tun" }), (e: unknown) => {
      assert.ok(e instanceof TapError);
      assert.equal(e.code, "ENOENT");
      assert.equal(e.syscall, "open");
      assert.match(e.message, /modprobe tun/);
      return true;
    });
  });

  const why = whyNoKernelTests();

  test("an unprivileged process is told to get CAP_NET_ADMIN", { skip: why && `skipped: ${why}` }, async () => {
    const r = await runNode([process.execPath, "--import", "tsx", thisFile], {
      env: childEnv({ MIRAGE_TAP_TEST_ROLE: "unprivileged" }),
    });
    const report = lastJsonLine<{ opened: boolean; code?: string; message?: string }>(r.stdout, r.stderr);
    assert.equal(report.opened, false);
    assert.ok(report.code === "EACCES" || report.code === "EPERM", `code ${report.code}`);
    assert.match(report.message ?? "", /not permitted: run as root or grant CAP_NET_ADMIN/);
  });

  test("the kernel pings, resolves and exchanges UDP with frames answered through the TAP", { skip: why && `skipped: ${why}` }, async (t) => {
    const ns = `mtap-${randomBytes(4).toString("hex")}`;
    spawnSync("ip", ["netns", "add", ns], { stdio: "ignore" });
    try {
      const r = await runNode(["ip", "netns", "exec", ns, process.execPath, "--import", "tsx", thisFile], {
        env: childEnv({ MIRAGE_TAP_TEST_ROLE: "worker" }),
      });
      const report = lastJsonLine<WorkerReport>(r.stdout, r.stderr);
      assert.equal(r.code, 0, `worker exit ${r.code}: ${r.stderr}`);

      assert.equal(report.up, true, "connectTapNetif brings the interface up");
      assert.equal(report.mtu, 1500, "the MTU is read from the kernel");
      assert.equal(report.busy?.code, "EBUSY");
      assert.match(report.busy?.message ?? "", /mtap0 is busy: another process has it open/);

      if (report.ping.available) {
        assert.match(report.ping.output, /3 packets transmitted, 3 received/, report.ping.output);
      } else {
        t.diagnostic("`ping` is not installed (iputils-ping): checked ARP and UDP only");
      }
      assert.deepEqual(report.udpEchoes.received, report.udpEchoes.sent);
      assert.match(report.neighbour, new RegExp(OUR_MAC.toString()), "the kernel learnt our MAC by ARP");

      assert.equal(report.burst.accepted, 1000);
      assert.equal(report.burst.kernelDelta, 1000, "every frame of a burst larger than the ring reached the kernel");
      assert.equal(report.oversize, false);
      assert.equal(report.undersize, false);
      assert.equal(report.writeAfterDisconnect, false);

      // Our counters agree with the kernel's: what we sent is what it received.
      assert.equal(report.stats.txFrames, report.kernel.rxPackets);
      assert.equal(report.stats.txBytes, report.kernel.rxBytes);
      assert.ok(report.stats.rxFrames <= report.kernel.txPackets);
      // At least: one ARP request, three echo requests (when ping ran), three UDP datagrams.
      assert.ok(report.stats.rxFrames >= 1 + (report.ping.available ? 3 : 0) + 3, `rxFrames ${report.stats.rxFrames}`);
      assert.ok(report.stats.rxBytes >= 1514);
      assert.equal(report.stats.txDrops, 2, "the oversize and the undersize frame");
      assert.equal(report.stats.rxDrops, 0, "a handler was listening from the start");
    } finally {
      spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    }
  });
}
