/**
 * What the orchestrator (bench/suite.ts) and a TAP worker (bench/tap-worker.ts, the raw TAP;
 * bench/stack-worker.ts, the direct stack) say to each other: one JSON line in on stdin, one JSON
 * line out on stdout, so that the orchestrator can interleave the workers' runs with the veth's.
 */
import type { Family, PingRun } from "./stats.ts";

/**
 * What the worker sends out: frames to a MAC nobody has, which the kernel discards on arrival (the
 * device path alone), or UDP datagrams to the kernel's address and a bound socket (the kernel's
 * IPv4/UDP receive path runs too, inside the sender's write(2)).
 */
export type OutFrames = "anonymous" | "udp";

export type WorkerCommand =
  /** The generator sends `size`-byte frames to the worker; it counts what it delivers. */
  | { cmd: "in"; size: number; warmupMs: number; windowMs: number }
  /** The worker sends `size`-byte frames as fast as it can; the kernel counts them. */
  | { cmd: "out"; size: number; windowMs: number; frames: OutFrames }
  /** The kernel's `ping -4` (default) or `ping -6` to the worker's address of that family. */
  | { cmd: "ping"; count: number; interval: string; family?: Family }
  /** The same for each family at once, the i-th started i × `offsetMs` after the first; one PingFigure per family. */
  | { cmd: "pings"; count: number; interval: string; families: Family[]; offsetMs: number }
  /** The worker's own counters (drops, errors), for the notes under the table. */
  | { cmd: "diagnostics" }
  | { cmd: "quit" };

/** CPU time of the worker process (every thread: the event loop, GC, the kernel on its behalf). */
export interface CpuFigure {
  /** User-mode microseconds per frame. */
  userMicrosPerFrame: number;
  /** Kernel-mode microseconds per frame (read(2)/write(2), and the kernel's own receive path on write). */
  systemMicrosPerFrame: number;
  /** Over the window, in percent of one core: near 100 means the worker is the limit. */
  percent: number;
}

export interface InFigure {
  /** Frames (raw TAP) or UDP datagrams (stack) delivered per second. */
  rate: number;
  /** Frames per second the kernel tried to send out of the TAP during the window. */
  offered: number;
  /** Frames the TAP's queue dropped during the window because the reader was behind. */
  drops: number;
  cpu: CpuFigure;
}

export interface OutFigure {
  /** Frames per second the kernel received from the TAP (its rx_packets). */
  rate: number;
  /** UDP datagrams per second the kernel's UDP layer took in (0 for the raw TAP's anonymous frames). */
  udpAccepted: number;
  cpu: CpuFigure;
}

export type PingFigure = PingRun;

export type Diagnostics = Record<string, number>;
