/** Starting and stopping bench/pktgen.py (the kernel's AF_PACKET TX ring) in a namespace. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const pktgen = fileURLToPath(new URL("./pktgen.py", import.meta.url));

export interface RunningGenerator {
  /** Stops it and resolves with the frames it handed to the kernel. */
  stop(): Promise<number>;
}

/**
 * Starts sending `size`-byte frames out of `device`, for at most `seconds`; resolves once frames
 * flow. `namespace` undefined: the caller's own namespace.
 */
export function startGenerator(device: string, size: number, seconds: number, namespace?: string): Promise<RunningGenerator> {
  const args = [pktgen, "--dev", device, "--size", String(size), "--seconds", String(seconds)];
  const child: ChildProcess =
    namespace === undefined
      ? spawn("python3", args, { stdio: ["ignore", "pipe", "inherit"] })
      : spawn("ip", ["netns", "exec", namespace, "python3", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    void closed.then((code) => reject(new Error(`pktgen on ${device} exited (${code}) before sending:\n${output}`)));
    child.stdout!.on("data", (d: Buffer) => {
      output += d.toString();
      if (output.includes('"ready"')) {
        resolve({
          stop: async () => {
            child.kill("SIGTERM");
            await closed;
            const last = output.trim().split("\n").pop() ?? "{}";
            return (JSON.parse(last) as { sent?: number }).sent ?? 0;
          },
        });
      }
    });
  });
}
