import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MacAddress } from "@mirage-ts/runtime";
import { seededRandom } from "../src/prng.ts";

test("MacAddress parses the colon form and formats lower case", () => {
  const r = MacAddress.parse("02:00:00:00:00:01");
  assert.ok(r.ok);
  assert.equal(r.value.toString(), "02:00:00:00:00:01");
  assert.equal(MacAddress.of("0A:1b:C:d:EE:ff").toString(), "0a:1b:0c:0d:ee:ff");
  assert.equal(MacAddress.of("02-00-00-00-00-01").toString(), "02:00:00:00:00:01");
  for (const bad of ["", "02:00:00:00:00", "02:00:00:00:00:01:03", "02:00:00:00:00:0g", "02:00:00:00:00:123", "02:00-00:00:00:01", "::::::"]) {
    const e = MacAddress.parse(bad);
    assert.ok(!e.ok, bad);
    assert.match(e.error, /MAC address/);
  }
  assert.throws(() => MacAddress.of("nope"), TypeError);
});

test("MacAddress: format then parse is the identity; parse never throws", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (bytes) => {
      const mac = MacAddress.ofBytes(bytes);
      const again = MacAddress.parse(mac.toString());
      assert.ok(again.ok && again.value.equals(mac));
      assert.match(mac.toString(), /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      assert.deepEqual(mac.toBytes(), bytes);
      assert.equal(mac.isMulticast(), (bytes[0]! & 1) === 1);
      assert.equal(mac.isUnicast(), !mac.isMulticast());
    }),
  );
  fc.assert(fc.property(fc.string(), (text) => void MacAddress.parse(text)));
});

test("MacAddress: broadcast is multicast, ofBytes copies, matches compares in place", () => {
  assert.equal(MacAddress.broadcast.toString(), "ff:ff:ff:ff:ff:ff");
  assert.ok(MacAddress.broadcast.isBroadcast() && MacAddress.broadcast.isMulticast());
  assert.ok(MacAddress.of("01:00:5e:00:00:01").isMulticast());
  assert.ok(!MacAddress.of("01:00:5e:00:00:01").isBroadcast());
  const buffer = Uint8Array.of(9, 9, 2, 0, 0, 0, 0, 7);
  const mac = MacAddress.ofBytes(buffer, 2);
  buffer[7] = 8;
  assert.equal(mac.toString(), "02:00:00:00:00:07", "a copy, not a view");
  assert.ok(mac.matches(Uint8Array.of(2, 0, 0, 0, 0, 7)));
  assert.ok(!mac.matches(buffer, 2));
  assert.ok(!mac.matches(Uint8Array.of(2, 0, 0), 0), "short buffers do not match");
  assert.equal(mac.octet(5), 7);
});

test("MacAddress.random gives locally administered unicast addresses", () => {
  const random = seededRandom(42);
  for (let i = 0; i < 100; i++) {
    const mac = MacAddress.random((n) => random.bytes(n));
    assert.ok(mac.isUnicast() && mac.isLocallyAdministered(), mac.toString());
  }
});
