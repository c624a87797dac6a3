/** Transfers over a faulty link (loss, reordering, duplication, corruption), in virtual time. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LinkFaults } from "../src/link/faults.ts";
import { exchangeBothWays, pair, pattern } from "./support/tcp.ts";


async function transfer(faults: LinkFaults, size: number, seed: number) {
  const { a, b, settle, netif } = pair({}, 64, { seed, ...faults });
  const up = pattern(size, seed);
  const down = pattern(size, seed + 1);
  const { client: flow, server: serverFlow } = await exchangeBothWays({ a, b, settle }, up, down);
  const ipv4 = [a.stats().ipv4, b.stats().ipv4];
  return { client: flow.info(), server: serverFlow.info(), faults: netif!.faultStats(), ipv4 };
}

for (const [name, faults] of [
  ["1% loss", { loss: 0.01 }],
  ["5% loss", { loss: 0.05 }],
  ["1% reordering", { reorder: 0.01, reorderMs: 2 }],
  ["1% duplication", { duplicate: 0.01 }],
  ["1% corruption", { corrupt: 0.01 }],
  ["everything at once", { loss: 0.01, reorder: 0.01, duplicate: 0.01, corrupt: 0.01, delayMs: 1 }],
] as Array<[string, LinkFaults]>) {
  // 16 MiB each way: about 11,600 data segments each way through the faults; the six runs take
  // about 25 s of real time on the 2-core CI machine (64 MiB would take 100 s).
  test(`16 MiB each way under ${name} completes with matching hashes`, async (t) => {
    const r = await transfer(faults, 16 << 20, 7);
    if (faults.loss !== undefined) assert.ok(r.client.retransmits + r.server.retransmits > 0, "losses were repaired by retransmission");
    if (faults.corrupt !== undefined) assert.ok(r.faults.corrupted > 0, "frames were corrupted");
    t.diagnostic(`${name}: retransmits client ${r.client.retransmits} server ${r.server.retransmits}, faults ${JSON.stringify(r.faults)}`);
  });
}

// Both ways at once under reordering, each side holds out-of-order data while it sends, so its
// data segments carry SACK blocks: they must still fit the MTU (the data shrinks by the blocks),
// or IPv4 fragments them, and a segment split over two frames is lost with either.
test("data segments that carry SACK blocks still fit the MTU (no IPv4 fragments)", async () => {
  const r = await transfer({ reorder: 0.05, reorderMs: 2 }, 2 << 20, 3);
  assert.ok(r.client.outOfOrderSegments > 0 && r.server.outOfOrderSegments > 0, "both sides held out-of-order data (and SACKed it)");
  assert.deepEqual(r.ipv4.map((s) => s.rxFragments), [0, 0]);
});
