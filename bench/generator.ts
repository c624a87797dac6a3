/**
 * bench/pktgen.py (the kernel's AF_PACKET TX ring) kept running in serve mode, one process per
 * namespace: starting Python costs a few hundred milliseconds on a busy machine, which would
 * otherwise be paid before every measurement window.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const pktgen = fileURLToPath(new URL("./pktgen.py", import.meta.url));

/** Valid Ethernet/IPv4/UDP frames to a listening stack, instead of anonymous frames nobody answers. */
export interface UdpFrameSpec {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort?: number;
  dstPort: number;
}

export interface GeneratorRequest {
  device: string;
  /** Frame length, Ethernet header included (no FCS). */
  size: number;
  /** An upper bound: `stop` normally ends it first. */
  seconds: number;
  udp?: UdpFrameSpec;
}

export interface RunningGenerator {
  /** Stops it and resolves with the frames it handed to the kernel. */
  stop(): Promise<number>;
}

export class FrameGenerator {
  private readonly lines: AsyncIterator<string>;
  private busy = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.pipe(process.stderr);
  }

  /** Starts pktgen in serve mode in `namespace` (undefined: the caller's own). */
  static start(namespace?: string): FrameGenerator {
    const args = ["python3", pktgen, "--serve"];
    const child = namespace === undefined ? spawn(args[0]!, args.slice(1)) : spawn("ip", ["netns", "exec", namespace, ...args]);
    return new FrameGenerator(child);
  }

  /** Sends `request.size`-byte frames out of `request.device`; resolves once frames flow. */
  async send(request: GeneratorRequest): Promise<RunningGenerator> {
    if (this.busy) throw new Error("pktgen: one request at a time");
    this.busy = true;
    const { udp } = request;
    this.child.stdin.write(
      `${JSON.stringify({
        dev: request.device,
        size: request.size,
        seconds: request.seconds,
        ...(udp === undefined
          ? {}
          : {
              udp: {
                src_mac: udp.srcMac,
                dst_mac: udp.dstMac,
                src_ip: udp.srcIp,
                dst_ip: udp.dstIp,
                src_port: udp.srcPort ?? 9,
                dst_port: udp.dstPort,
              },
            }),
      })}\n`,
    );
    const ready = await this.next();
    if (!(ready as { ready?: boolean }).ready) throw new Error(`pktgen on ${request.device}: unexpected ${JSON.stringify(ready)}`);
    return {
      stop: async () => {
        this.child.stdin.write("stop\n");
        const done = (await this.next()) as { sent?: number };
        this.busy = false;
        return done.sent ?? 0;
      },
    };
  }

  /** Ends the process (it exits at the end of its stdin). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const closed = new Promise((resolve) => this.child.once("close", resolve));
    this.child.stdin.end();
    await closed;
  }

  private async next(): Promise<unknown> {
    const r = await this.lines.next();
    if (r.done) throw new Error("pktgen exited (see its errors above)");
    return JSON.parse(r.value) as unknown;
  }
}
