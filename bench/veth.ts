/**
 * The kernel's own virtual link, the reference: a veth pair between two namespaces, the same
 * generator on one end, the peer namespace's kernel on the other.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { FrameGenerator } from "./generator.ts";
import { createNamespace, deleteNamespace, deviceCounter, execIn, ip } from "./netns.ts";
import { type Family, pingArgs, pingRun, seconds, sleep, type PingRun } from "./stats.ts";

const execFileAsync = promisify(execFile);

export class VethPair {
  private constructor(
    private readonly a: string,
    private readonly b: string,
    private readonly generator: FrameGenerator,
  ) {}

  /**
   * Namespaces `a` and `b` joined by veth-a/veth-b, 10.78.0.1/24 and 10.78.0.2/24; with `ipv6`,
   * fd00:78::1/64 and fd00:78::2/64 too (no DAD, no router solicitations), else no IPv6 at all.
   */
  static async create(ipv6 = false): Promise<VethPair> {
    const a = createNamespace("mbench-va");
    const b = createNamespace("mbench-vb");
    ip(["link", "add", "veth-a", "netns", a, "type", "veth", "peer", "name", "veth-b", "netns", b]);
    for (const [ns, dev, cidr, cidr6] of [
      [a, "veth-a", "10.78.0.1/24", "fd00:78::1/64"],
      [b, "veth-b", "10.78.0.2/24", "fd00:78::2/64"],
    ] as const) {
      if (ipv6) {
        await execIn(ns, "sysctl", ["-q", "-w", `net.ipv6.conf.${dev}.accept_ra=0`]);
        ip(["-n", ns, "addr", "add", cidr6, "dev", dev, "nodad"]);
      } else {
        await execIn(ns, "sysctl", ["-q", "-w", `net.ipv6.conf.${dev}.disable_ipv6=1`]);
      }
      ip(["-n", ns, "addr", "add", cidr, "dev", dev]);
      ip(["-n", ns, "link", "set", dev, "up"]);
    }
    return new VethPair(a, b, FrameGenerator.start(a));
  }

  /** Frames per second the peer namespace's kernel received over the veth from the generator. */
  async rate(size: number, warmupMs: number, windowMs: number): Promise<number> {
    const running = await this.generator.send({ device: "veth-a", size, seconds: (warmupMs + windowMs) / 1000 + 5 });
    await sleep(warmupMs);
    const c0 = deviceCounter(this.b, "veth-b", "rx", "packets");
    const start = seconds();
    await sleep(windowMs);
    const c1 = deviceCounter(this.b, "veth-b", "rx", "packets");
    const rate = (c1 - c0) / (seconds() - start);
    await running.stop();
    return rate;
  }

  /** The kernel's ping (`ping -6` for family 6: the pair was made with IPv6) from one end to the other. */
  async ping(count: number, interval: string, family: Family = 4): Promise<PingRun> {
    const address = family === 6 ? "fd00:78::2" : "10.78.0.2";
    const { stdout } = await execFileAsync("ip", ["netns", "exec", this.a, "ping", ...pingArgs(address, count, interval, family)], {
      encoding: "utf8",
    }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }));
    return pingRun(stdout);
  }

  async delete(): Promise<void> {
    await this.generator.close();
    deleteNamespace(this.a);
    deleteNamespace(this.b);
  }
}
