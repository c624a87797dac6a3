/**
 * The two tables `npm run bench` prints, from one suite run (bench/suite.ts): the direct stack
 * against the raw TAP and the veth, then the raw TAP against the veth. Every figure is a median of
 * the runs, next to what it is compared against and the ratio, all from the same run.
 */
import type { SuiteResults, TapResults } from "./suite.ts";
import { median, type PingRun } from "./stats.ts";
import type { CpuFigure, InFigure, OutFigure } from "./worker-protocol.ts";

const thousands = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—");
const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? (a / b).toFixed(2) : "—");
const longer = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}× longer` : "—");
const micros = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : "—");

/** Rows as a text table: the first is the header, the first column left-aligned, the others right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("   ");
      return i === 0 ? `${line}\n${"-".repeat(line.length)}` : line;
    })
    .join("\n");
}

/** The median of the runs' median round trips. */
export const pingMedian = (runs: readonly PingRun[]): number => median(runs.map((r) => median(r.micros)));
export const pingLoss = (runs: readonly PingRun[]): number => median(runs.map((r) => r.lossPercent));
export const pingList = (runs: readonly PingRun[]): string => `[${runs.map((r) => micros(median(r.micros))).join(", ")}]`;

const inRate = (t: TapResults, size: number): number => median((t.in.get(size) ?? []).map((f) => f.rate));
const outRate = (t: TapResults, size: number): number => median((t.out.get(size) ?? []).map((f) => f.rate));
const vethRate = (r: SuiteResults, size: number): number => median(r.veth.rate.get(size) ?? []);
const runsOf = (figures: readonly { rate: number }[] | undefined): string => `[${(figures ?? []).map((f) => thousands(f.rate)).join(", ")}]`;

function cpu(figures: readonly (InFigure | OutFigure)[] | undefined): CpuFigure {
  const f = figures ?? [];
  return {
    userMicrosPerFrame: median(f.map((x) => x.cpu.userMicrosPerFrame)),
    systemMicrosPerFrame: median(f.map((x) => x.cpu.systemMicrosPerFrame)),
    percent: median(f.map((x) => x.cpu.percent)),
  };
}

const cpuText = (c: CpuFigure): string =>
  `${(c.userMicrosPerFrame + c.systemMicrosPerFrame).toFixed(2)} µs (user ${c.userMicrosPerFrame.toFixed(2)} + system ${c.systemMicrosPerFrame.toFixed(2)}), ${c.percent.toFixed(0)}% of a core`;

const payload = (size: number): number => size - 14 - 20 - 8;

export function printStackTable(r: SuiteResults): void {
  const { options, stack, raw } = r;
  const busyHz = Math.round(1 / Number(options.busyPing.interval));
  const idleHz = Math.round(1 / Number(options.idlePing.interval));
  const cpuTotal = (c: CpuFigure): number => c.userMicrosPerFrame + c.systemMicrosPerFrame;
  const moreCpu = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}× the CPU` : "—");
  const rows: string[][] = [["", "direct stack", "raw TAP", "stack / raw TAP", "veth (kernel)", "stack / veth"]];
  const frames = (size: number): string => `${size} B frames (${payload(size)} B payload)`;
  for (const size of options.sizes) {
    const s = inRate(stack, size);
    rows.push([`kernel → stack, UDP datagrams/s, ${frames(size)}`, thousands(s), thousands(inRate(raw, size)), ratio(s, inRate(raw, size)), thousands(vethRate(r, size)), ratio(s, vethRate(r, size))]);
  }
  for (const size of options.sizes) {
    const s = cpuTotal(cpu(stack.in.get(size)));
    const w = cpuTotal(cpu(raw.in.get(size)));
    rows.push([`kernel → stack, CPU µs per datagram, ${size} B`, s.toFixed(2), w.toFixed(2), moreCpu(s, w), "—", "—"]);
  }
  const udpOutRate = (t: TapResults, size: number): number => median((t.outUdp.get(size) ?? []).map((f) => f.rate));
  for (const size of options.sizes) {
    const s = udpOutRate(stack, size);
    const w = udpOutRate(raw, size);
    rows.push([`stack → kernel, UDP datagrams/s, ${frames(size)}`, thousands(s), thousands(w), ratio(s, w), thousands(vethRate(r, size)), ratio(s, vethRate(r, size))]);
  }
  for (const size of options.sizes) {
    const s = cpuTotal(cpu(stack.outUdp.get(size)));
    const w = cpuTotal(cpu(raw.outUdp.get(size)));
    rows.push([`stack → kernel, CPU µs per datagram, ${size} B`, s.toFixed(2), w.toFixed(2), moreCpu(s, w), "—", "—"]);
  }
  for (const [label, pick] of [
    [`ping round trip at ${busyHz} Hz, µs (median)`, (t: { busyPing: PingRun[] }) => t.busyPing],
    [`ping round trip at ${idleHz} Hz (idle), µs (median)`, (t: { idlePing: PingRun[] }) => t.idlePing],
  ] as const) {
    const s = pingMedian(pick(stack));
    const w = pingMedian(pick(raw));
    const v = pingMedian(pick(r.veth));
    rows.push([label, micros(s), micros(w), longer(s, w), micros(v), longer(s, v)]);
  }
  console.log(
    `\nOur direct stack over a TAP, vs the raw TAP (no stack) and the kernel's veth: medians of ${options.runs} interleaved runs ` +
      `(frames: ${options.windowMs} ms windows; ping: ${options.busyPing.count} requests at ${busyHz} Hz and ${options.idlePing.count} at ${idleHz} Hz per run)\n`,
  );
  console.log(table(rows));
  console.log(`
How it is measured (bench/suite.ts, bench/stack-worker.ts, bench/tap-worker.ts):
- The stack is built as a unikernel gets it: connectTapNetif, the unix clock/time/random, createDirectStack
  with a static 10.80.0.2/24, in a Node process and a namespace of its own; the raw TAP likewise, with no stack.
- kernel → stack: the AF_PACKET generator (bench/pktgen.py) sends valid Ethernet/IPv4/UDP frames (checksums
  set) to the stack's MAC and address, port 7001; the figure is the datagrams the stack delivered to the UDP
  listener there (headers and checksums verified, the payload copied into a Datagram). Raw TAP: the same
  generator's frames read and counted, no stack. veth: the frames the peer kernel received (device only).
- stack → kernel: stack.udp.send in a tight loop (fixed ports and payload) to 10.80.0.1:7002, where a kernel
  socket is bound that never reads (bench/udp-sink.ts); the figure is the TAP's rx_packets as the kernel counts
  them. Raw TAP: the same loop writing one prebuilt frame holding the same kind of datagram to the same kind
  of socket, so the ratio is the stack's own cost (on a TAP the kernel's IPv4/UDP receive runs inside the
  sender's write(2): both pay it, as "system" time).
- CPU µs per datagram: the worker process's user + system CPU time over the window (every thread: event
  loop, GC, the kernel on its behalf) divided by the datagrams counted. It is the figure that stays
  comparable when the machine is shared: the rates depend on how much CPU the worker and the generator get.
- Ping: the kernel's ping from the TAP's namespace, answered by the stack's ICMP engine, by the raw TAP's
  hand-written echo responder (bench/echo-responder.ts), or by the peer kernel over the veth; the median
  reply of each run, then the median of the runs. The idle rate pings the three targets at once, a third
  of an interval apart, so each sees one request per interval and no two round trips overlap.`);
  const notes: string[] = [];
  for (const [label, s, w] of [
    ...options.sizes.map((size) => [`in, ${size} B`, cpu(stack.in.get(size)), cpu(raw.in.get(size))] as const),
    ...options.sizes.map((size) => [`out, ${size} B`, cpu(stack.outUdp.get(size)), cpu(raw.outUdp.get(size))] as const),
  ]) {
    notes.push(
      `- CPU per datagram ${label}: stack ${cpuText(s)}; raw TAP ${cpuText(w)}; the stack's own ≈ ${(cpuTotal(s) - cpuTotal(w)).toFixed(2)} µs ` +
        `(one core would do ≈ ${thousands(1e6 / cpuTotal(s))}/s with the stack, ${thousands(1e6 / cpuTotal(w))}/s raw).`,
    );
  }
  for (const size of options.sizes) {
    const figures = stack.in.get(size) ?? [];
    notes.push(
      `- Offered to the stack's TAP, ${size} B (median): ${thousands(median(figures.map((f) => f.offered)))} frames/s, ` +
        `${thousands(median(figures.map((f) => f.drops)))} dropped per window by the TAP's queue.`,
    );
  }
  const udpShare = (t: TapResults): string =>
    options.sizes.map((size) => `${size} B ${(100 * median((t.outUdp.get(size) ?? []).map((f) => f.udpAccepted / f.rate))).toFixed(1)}%`).join(", ");
  notes.push(`- Frames out that the kernel's UDP took in (queued, or dropped for the full socket buffer): stack ${udpShare(stack)}; raw TAP ${udpShare(raw)}.`);
  const d = stack.diagnostics;
  notes.push(
    `- Stack counters at the end: ${Object.entries(d)
      .filter(([, v]) => v !== 0)
      .map(([k, v]) => `${k} ${thousands(v)}`)
      .join(", ")}.`,
  );
  const losses = [
    ["stack", pingLoss(stack.busyPing), pingLoss(stack.idlePing)],
    ["raw TAP", pingLoss(raw.busyPing), pingLoss(raw.idlePing)],
    ["veth", pingLoss(r.veth.busyPing), pingLoss(r.veth.idlePing)],
  ] as const;
  if (losses.some(([, a, b]) => a > 0 || b > 0)) {
    notes.push(`- Ping loss (median of runs, %): ${losses.map(([n, a, b]) => `${n} ${a}/${b}`).join("; ")} (busy/idle).`);
  }
  for (const size of options.sizes) {
    notes.push(`- Runs, ${size} B: stack in ${runsOf(stack.in.get(size))}, out ${runsOf(stack.outUdp.get(size))}; raw TAP UDP out ${runsOf(raw.outUdp.get(size))}`);
  }
  notes.push(`- Runs, ping µs: stack ${busyHz} Hz ${pingList(stack.busyPing)}, ${idleHz} Hz ${pingList(stack.idlePing)}`);
  console.log(notes.join("\n"));
}

export function printRawTapTable(r: SuiteResults): void {
  const { options, raw } = r;
  const busyHz = Math.round(1 / Number(options.busyPing.interval));
  const idleHz = Math.round(1 / Number(options.idlePing.interval));
  const rows: string[][] = [["", "TAP (Node + addon)", "veth (kernel)", "TAP / veth"]];
  for (const size of options.sizes) {
    rows.push([`frames/s kernel → Node, ${size} B`, thousands(inRate(raw, size)), thousands(vethRate(r, size)), ratio(inRate(raw, size), vethRate(r, size))]);
  }
  for (const size of options.sizes) {
    rows.push([`frames/s Node → kernel, ${size} B`, thousands(outRate(raw, size)), thousands(vethRate(r, size)), ratio(outRate(raw, size), vethRate(r, size))]);
  }
  for (const [label, t, v] of [
    [`ping round trip at ${busyHz} Hz, µs (median)`, raw.busyPing, r.veth.busyPing],
    [`ping round trip at ${idleHz} Hz (idle), µs (median)`, raw.idlePing, r.veth.idlePing],
  ] as const) {
    rows.push([label, micros(pingMedian(t)), micros(pingMedian(v)), longer(pingMedian(t), pingMedian(v))]);
  }
  console.log(`\nRaw TAP (no stack) vs the kernel's veth, from the same ${options.runs} interleaved runs\n`);
  console.log(table(rows));
  console.log(`
How it is measured (bench/tap-worker.ts, bench/veth.ts):
- One frame generator for both devices: the kernel's AF_PACKET TX ring (bench/pktgen.py), faster than
  either receiver. "kernel → Node" counts the frames the Node process read from the TAP; on the veth,
  the frames the peer namespace's kernel received. A veth moves frames kernel to kernel, so its one
  rate per size is the reference for both TAP directions.
- "Node → kernel": a loop calling TapNetif.write (batched into the addon, one write(2) per frame);
  the rate is the TAP's rx_packets as the kernel counts them.
- Frames go to a MAC nobody has, so receivers count and discard them: the device path alone, no
  protocol stack. Ping: the kernel's ping answered by a hand-written echo responder on the TAP (no
  stack), or by the peer namespace's kernel over the veth.
- TAP and veth runs alternate, so background load affects both alike; compare ratios, not absolutes.`);
  const notes: string[] = [];
  const offered = options.sizes.map((size) => {
    const f = raw.in.get(size) ?? [];
    return `${size} B: ${thousands(median(f.map((x) => x.offered)))} frames/s offered, ${thousands(median(f.map((x) => x.drops)))} dropped per window by the TAP's queue`;
  });
  notes.push(`- Offered to the TAP (median): ${offered.join("; ")}.`);
  notes.push(
    `- The Node reader (median): ${options.sizes.map((size) => `${size} B: ${cpuText(cpu(raw.in.get(size)))} per frame`).join("; ")} ` +
      `(near 100% of a core: the reader is the limit; well below, with frames dropped by the TAP's queue, the reader ` +
      `was waiting for a CPU: a shared machine, where the CPU per frame is the figure to compare).`,
  );
  notes.push(`- Runs: kernel → Node ${options.sizes.map((size) => `${size} B ${runsOf(raw.in.get(size))}`).join("; ")}`);
  notes.push(`        Node → kernel ${options.sizes.map((size) => `${size} B ${runsOf(raw.out.get(size))}`).join("; ")}`);
  notes.push(`        veth ${options.sizes.map((size) => `${size} B [${(r.veth.rate.get(size) ?? []).map(thousands).join(", ")}]`).join("; ")}`);
  notes.push(`        ping µs: TAP ${busyHz} Hz ${pingList(raw.busyPing)}, ${idleHz} Hz ${pingList(raw.idlePing)}; veth ${busyHz} Hz ${pingList(r.veth.busyPing)}, ${idleHz} Hz ${pingList(r.veth.idlePing)}`);
  console.log(notes.join("\n"));
}
