/**
 * The kernel's side of "connections per second": `concurrency` loops, each connecting to
 * HOST:PORT (an echo, bench/tcp-worker.ts), writing `MESSAGE` bytes, reading them back, then
 * closing (the client's FIN first, so TIME_WAIT stays on the kernel's side) and starting again.
 * Counts the connections that completed the whole cycle during the window, after a warm-up.
 *
 * `node --import tsx bench/connect-client.ts HOST PORT CONCURRENCY WARMUP_MS WINDOW_MS`, run in the
 * kernel's namespace; prints one JSON line: { rate, errors }.
 */
import { connect } from "node:net";

const [host, portText, concurrencyText, warmupText, windowText] = process.argv.slice(2);
const port = Number(portText);
const concurrency = Number(concurrencyText);
const warmupMs = Number(warmupText);
const windowMs = Number(windowText);
const MESSAGE = Buffer.alloc(32, 0x61);

let completed = 0;
let errors = 0;
let running = true;

function cycle(): void {
  if (!running) return;
  let received = 0;
  const socket = connect({ host: host!, port, noDelay: true });
  socket.on("connect", () => socket.write(MESSAGE));
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received >= MESSAGE.length) socket.end();
  });
  socket.on("error", () => {
    errors++;
  });
  socket.on("close", (hadError) => {
    if (!hadError && received >= MESSAGE.length) completed++;
    // A failed connection is retried after a pause, so that a refusing peer is not spun on.
    if (hadError) setTimeout(cycle, 10);
    else cycle();
  });
}

for (let i = 0; i < concurrency; i++) cycle();
await new Promise((resolve) => setTimeout(resolve, warmupMs));
const c0 = completed;
const e0 = errors;
const t0 = performance.now();
await new Promise((resolve) => setTimeout(resolve, windowMs));
const rate = ((completed - c0) * 1000) / (performance.now() - t0);
running = false;
process.stdout.write(`${JSON.stringify({ rate, errors: errors - e0 })}\n`);
process.exit(0);
