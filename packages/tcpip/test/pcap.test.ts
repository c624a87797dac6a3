import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MacAddress } from "@mirage-ts/runtime";
import { parsePcap, pcapGlobalHeader, pcapRecord, withPcap } from "../src/link/pcap.ts";
import { createSwitch } from "../src/link/switch.ts";
import { createVirtualTime } from "../src/testing/virtual-time.ts";
import { frameOf, recorder, tagOf } from "./support/frames.ts";

test("the file header and a record are byte-exact classic libpcap", () => {
  assert.deepEqual(
    [...pcapGlobalHeader()],
    // magic a1b2c3d4 (little-endian), version 2.4, thiszone 0, sigfigs 0, snaplen 65535, linktype 1
    [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0],
  );
  const record = pcapRecord(Uint8Array.of(1, 2, 3), 1_700_000_000_123.456);
  assert.deepEqual(
    [...record],
    // seconds 1700000000 = 0x6553f100, microseconds 123456 = 0x1e240, captured 3, original 3, data
    [0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00, 3, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3],
  );
  const cut = pcapRecord(new Uint8Array(100), 0, 64);
  assert.equal(cut.length, 16 + 64);
  assert.deepEqual([...cut.subarray(8, 16)], [64, 0, 0, 0, 100, 0, 0, 0]);
});

/** Two ports, A wrapped by withPcap: A sends 3 frames, B sends 2 (one broadcast). */
async function captureExchange() {
  const vt = createVirtualTime({ epochMs: 1_700_000_000_000 });
  const sw = createSwitch({ time: vt.time });
  const chunks: Uint8Array[] = [];
  const a = withPcap(sw.connect(), (c) => chunks.push(c), vt.posixClock);
  const b = sw.connect();
  assert.equal(chunks.length, 1, "the header is written at once");
  const seenA = recorder(a);
  recorder(b);
  for (let i = 1; i <= 3; i++) {
    a.write(frameOf(b.mac, a.mac, i, 46 + i));
    await vt.advance(1.5);
  }
  b.write(frameOf(a.mac, b.mac, 4));
  b.write(frameOf(MacAddress.broadcast, b.mac, 5, 1486));
  await vt.advance(1);
  assert.deepEqual(seenA.frames.map(tagOf), [4, 5], "frames still reach the listener");
  const file = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) file.set(c, (at += c.length) - c.length);
  return { file, a, b };
}

test("withPcap records both directions in order with their times", async () => {
  const { file, a, b } = await captureExchange();
  const pcap = parsePcap(file);
  assert.ok(pcap.ok, pcap.ok ? "" : pcap.error);
  assert.equal(pcap.value.linktype, 1);
  const records = pcap.value.records;
  assert.deepEqual(records.map((r) => tagOf(r.data)), [1, 2, 3, 4, 5]);
  assert.deepEqual(records.map((r) => r.timestampMs - 1_700_000_000_000), [0, 1.5, 3, 4.5, 4.5]);
  assert.ok(MacAddress.ofBytes(records[0]!.data, 6).equals(a.mac));
  assert.ok(MacAddress.ofBytes(records[3]!.data, 6).equals(b.mac));
  assert.equal(records[4]!.originalLength, 1500);
});

test("tshark reads what withPcap writes", async (t) => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
  } catch {
    t.skip("tshark is not installed (apt-get install tshark); the byte-exact test above still runs");
    return;
  }
  const { file, a, b } = await captureExchange();
  const dir = mkdtempSync(join(tmpdir(), "tcpip-pcap-"));
  try {
    const path = join(dir, "exchange.pcap");
    writeFileSync(path, file);
    const out = execFileSync("tshark", ["-r", path, "-T", "fields", "-E", "separator=,", "-e", "frame.len", "-e", "eth.src", "-e", "eth.dst", "-e", "frame.time_epoch"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const rows = out.trim().split("\n").map((l) => l.split(","));
    assert.deepEqual(
      rows.map(([len, src, dst]) => [len, src, dst]),
      [
        ["61", a.mac.toString(), b.mac.toString()],
        ["62", a.mac.toString(), b.mac.toString()],
        ["63", a.mac.toString(), b.mac.toString()],
        ["60", b.mac.toString(), a.mac.toString()],
        ["1500", b.mac.toString(), "ff:ff:ff:ff:ff:ff"],
      ],
    );
    assert.deepEqual(rows.map((r) => r[3]), ["1700000000.000000000", "1700000000.001500000", "1700000000.003000000", "1700000000.004500000", "1700000000.004500000"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
