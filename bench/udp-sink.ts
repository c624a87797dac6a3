/**
 * The kernel's end of the "out" measurements that send UDP: a socket bound in the worker's
 * namespace that never reads. Each datagram goes through the kernel's whole IPv4/UDP receive path
 * and is then dropped for a full socket buffer (counted in RcvbufErrors), and no ICMP port
 * unreachable comes back onto the link.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface UdpSink {
  close(): void;
}

/** Binds the socket (in a small Python process, which exits at the end of its stdin, so it cannot outlive the worker). */
export async function startUdpSink(address: string, port: number): Promise<UdpSink> {
  const program = [
    "import signal, socket, sys",
    "signal.signal(signal.SIGINT, signal.SIG_DFL)",
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)",
    `s.bind((${JSON.stringify(address)}, ${port}))`,
    "print('ready', flush=True)",
    "sys.stdin.read()",
  ].join("\n");
  const child: ChildProcess = spawn("python3", ["-c", program], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the UDP sink on ${address}:${port} exited (${code})`)));
    child.stdout!.once("data", () => resolve());
  });
  return { close: () => child.kill() };
}

/** UDP datagrams this namespace's kernel took in: queued to a socket, or dropped for a full socket buffer. */
export function kernelUdpAccepted(): number {
  const lines = readFileSync("/proc/net/snmp", "utf8")
    .split("\n")
    .filter((l) => l.startsWith("Udp: "));
  if (lines.length < 2) return 0;
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/).map(Number);
  const field = (name: string): number => values[names.indexOf(name)] ?? 0;
  return field("InDatagrams") + field("RcvbufErrors");
}
