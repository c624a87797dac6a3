import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MacAddress } from "@mirage-ts/runtime";
import { createSwitch } from "../src/link/switch.ts";
import { createVirtualTime } from "../src/testing/virtual-time.ts";
import { frameOf, mac, recorder, tagOf } from "./support/frames.ts";

test("broadcast floods, learned unicast goes to one port, unknown unicast floods", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const [a, b, c] = [sw.connect(), sw.connect(), sw.connect()];
  assert.equal(a.mac.toString(), "02:00:00:00:00:01");
  assert.equal(c.mac.toString(), "02:00:00:00:00:03");
  const [ra, rb, rc] = [recorder(a), recorder(b), recorder(c)];

  assert.ok(a.write(frameOf(MacAddress.broadcast, a.mac, 1)));
  assert.equal(rb.frames.length, 0, "delivery is asynchronous");
  await vt.flush();
  assert.deepEqual([ra.frames.length, rb.frames.length, rc.frames.length], [0, 1, 1]);

  b.write(frameOf(a.mac, b.mac, 2)); // a was learned from its broadcast
  await vt.flush();
  assert.deepEqual(ra.frames.map(tagOf), [2]);
  assert.deepEqual(rc.frames.map(tagOf), [1], "c did not see b's unicast to a");

  a.write(frameOf(mac(99), a.mac, 3)); // nobody has that address
  await vt.flush();
  assert.deepEqual(rb.frames.map(tagOf), [1, 3]);
  assert.deepEqual(rc.frames.map(tagOf), [1, 3]);
  assert.deepEqual(
    [...sw.macTable()].sort(),
    [
      ["02:00:00:00:00:01", 1],
      ["02:00:00:00:00:02", 2],
    ],
  );
});

test("frames written before a delivery arrive as one batch, in order, as copies", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const a = sw.connect(mac(1));
  const b = sw.connect({ mac: mac(2) });
  const rb = recorder(b);
  const scratch = frameOf(b.mac, a.mac, 0);
  for (let i = 1; i <= 5; i++) {
    new DataView(scratch.buffer).setUint32(14, i);
    assert.ok(a.write(scratch)); // the sender reuses one buffer
  }
  await vt.flush();
  assert.deepEqual(rb.batches, [5]);
  assert.deepEqual(rb.frames.map(tagOf), [1, 2, 3, 4, 5]);
  const s = a.stats();
  assert.equal(s.txFrames, 5);
  assert.equal(s.txBytes, 5 * scratch.length);
  assert.equal(b.stats().rxFrames, 5);
});

test("too big or too short frames are refused; a port that does not listen drops; full queues drop", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time, queueLimit: 3 });
  const a = sw.connect({ mtu: 1500 });
  const small = sw.connect({ mtu: 500 });
  const deaf = sw.connect();
  const rs = recorder(small);
  assert.equal(a.write(frameOf(MacAddress.broadcast, a.mac, 1, 1501)), false);
  assert.equal(a.write(new Uint8Array(13)), false);
  assert.equal(a.stats().txDrops, 2);
  assert.ok(a.write(frameOf(MacAddress.broadcast, a.mac, 2, 1500)));
  for (let i = 0; i < 5; i++) a.write(frameOf(MacAddress.broadcast, a.mac, 10 + i));
  await vt.flush();
  assert.deepEqual(rs.frames.map(tagOf), [10, 11, 12], "above its MTU, then beyond the queue limit, dropped");
  assert.equal(small.stats().rxDrops, 3);
  assert.equal(deaf.stats().rxDrops, 6);
  assert.equal(deaf.stats().rxFrames, 0);
});

test("a disconnected port neither sends nor receives, and is forgotten by the table", async () => {
  const vt = createVirtualTime();
  const sw = createSwitch({ time: vt.time });
  const [a, b] = [sw.connect(), sw.connect()];
  const rb = recorder(b);
  a.write(frameOf(b.mac, a.mac, 1));
  await b.disconnect();
  await vt.flush();
  assert.equal(rb.frames.length, 0);
  assert.equal(sw.portCount(), 1);
  assert.equal(b.write(frameOf(a.mac, b.mac, 2)), false);
  assert.ok(!sw.macTable().has(b.mac.toString()));
});

test("model: every frame reaches exactly the ports a learning switch would send it to", async () => {
  const action = fc.record({ from: fc.nat(3), to: fc.oneof(fc.nat(3), fc.constant(-1), fc.constant(-2)) });
  await fc.assert(
    fc.asyncProperty(fc.array(action, { maxLength: 40 }), async (actions) => {
      const vt = createVirtualTime();
      const sw = createSwitch({ time: vt.time });
      const ports = [0, 1, 2, 3].map((i) => sw.connect(mac(i + 1)));
      const seen = ports.map(recorder);
      const learned = new Set<number>();
      const expected: number[][] = ports.map(() => []);
      actions.forEach(({ from, to }, tag) => {
        const dst = to === -1 ? MacAddress.broadcast : to === -2 ? mac(200) : ports[to]!.mac;
        ports[from]!.write(frameOf(dst, ports[from]!.mac, tag));
        learned.add(from);
        if (to >= 0 && learned.has(to)) {
          if (to !== from) expected[to]!.push(tag);
        } else {
          for (let p = 0; p < ports.length; p++) if (p !== from) expected[p]!.push(tag);
        }
      });
      await vt.flush();
      assert.deepEqual(
        seen.map((s) => s.frames.map(tagOf)),
        expected,
      );
    }),
  );
});
