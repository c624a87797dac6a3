import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { IpAddress, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "../src/index.ts";

test("IPv4: strict dotted quads", () => {
  assert.equal(Ipv4Address.of("10.0.0.1").value, 0x0a000001);
  assert.equal(Ipv4Address.of("255.255.255.255").value, 0xffffffff);
  assert.equal(Ipv4Address.of("0.0.0.0").toString(), "0.0.0.0");
  for (const bad of ["10.0.0.300", "10.0.0.256", "010.0.0.1", "10.0.0.01", "10.0.0", "10.0.0.1.2", "", "10..0.1", " 10.0.0.1", "10.0.0.1 ", "+1.0.0.0", "0x1.0.0.0", "1.0.0.1e0", "１.0.0.0", "1000.0.0.0"]) {
    const r = Ipv4Address.parse(bad);
    assert.ok(!r.ok, `${JSON.stringify(bad)} must be rejected`);
    assert.ok(r.error.startsWith(`"${bad}" is not an IPv4 address`), r.error);
  }
  assert.match((Ipv4Address.parse("10.0.0.300") as { error: string }).error, /300 is above 255/);
});

test("IPv4: bytes, text and integers agree", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
      const a = Ipv4Address.ofInt(n);
      assert.equal(Ipv4Address.of(a.toString()).value, n);
      assert.equal(Ipv4Address.ofBytes(a.toBytes()).value, n);
      assert.ok(a.equals(Ipv4Address.of(a.toString())));
    }),
  );
  assert.deepEqual([...Ipv4Address.of("1.2.3.4").toBytes()], [1, 2, 3, 4]);
  assert.ok(Ipv4Address.of("224.0.0.1").isMulticast());
  assert.ok(!Ipv4Address.of("10.0.0.1").isMulticast());
  assert.ok(Ipv4Address.any.isUnspecified());
});

test("IPv6: RFC 4291 text forms in, RFC 5952 text out", () => {
  const cases: Array<[string, string]> = [
    ["::", "::"],
    ["::1", "::1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["fe80::", "fe80::"],
    ["::ffff:10.0.0.1", "::ffff:a00:1"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
  ];
  for (const [text, canonical] of cases) assert.equal(Ipv6Address.of(text).toString(), canonical, text);
  for (const bad of ["", ":", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::", "::1%eth0", "1:2:3:4:5:6:7::8", "::ffff:10.0.0.300", ":1::", "1::2:"]) {
    assert.ok(!Ipv6Address.parse(bad).ok, `${JSON.stringify(bad)} must be rejected`);
  }
});

test("IPv6: bytes and text round trip", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const a = Ipv6Address.ofBytes(bytes);
      const back = Ipv6Address.of(a.toString());
      assert.ok(back.equals(a));
      assert.equal(back.toString(), a.toString());
      assert.deepEqual([...a.toBytes()], [...bytes]);
    }),
  );
  assert.ok(Ipv6Address.of("fe80::1").isLinkLocal());
  assert.ok(Ipv6Address.of("ff02::1").isMulticast());
});

test("IpAddress picks the family", () => {
  assert.equal(IpAddress.of("10.0.0.1").family, 4);
  assert.equal(IpAddress.of("::1").family, 6);
  assert.ok(!IpAddress.parse("10.0.0.300").ok);
  assert.ok(!IpAddress.of("10.0.0.1").equals(IpAddress.of("::ffff:10.0.0.1")));
});

test("prefixes keep the host address and know their network", () => {
  const p = Ipv4Prefix.of("10.0.0.2/24");
  assert.equal(p.toString(), "10.0.0.2/24");
  assert.equal(p.network.toString(), "10.0.0.0");
  assert.equal(p.broadcast.toString(), "10.0.0.255");
  assert.ok(p.contains(Ipv4Address.of("10.0.0.200")));
  assert.ok(!p.contains(Ipv4Address.of("10.0.1.1")));
  assert.equal(Ipv4Prefix.of("0.0.0.0/0").mask, 0);
  assert.ok(Ipv4Prefix.of("0.0.0.0/0").contains(Ipv4Address.of("1.2.3.4")));
  for (const bad of ["10.0.0.2", "10.0.0.2/33", "10.0.0.2/024", "10.0.0.2/", "10.0.0.300/24", "10.0.0.2/-1", "10.0.0.2/2 "]) {
    assert.ok(!Ipv4Prefix.parse(bad).ok, `${JSON.stringify(bad)} must be rejected`);
  }
  const q = Ipv6Prefix.of("2001:db8::42/64");
  assert.equal(q.network.toString(), "2001:db8::");
  assert.ok(q.contains(Ipv6Address.of("2001:db8::1")));
  assert.ok(!q.contains(Ipv6Address.of("2001:db9::1")));
  assert.ok(!Ipv6Prefix.parse("2001:db8::/129").ok);
  assert.ok(!Ipv6Prefix.parse("2001:db8::/064").ok);
  assert.throws(() => Ipv4Prefix.make(Ipv4Address.any, 33), RangeError);
});
