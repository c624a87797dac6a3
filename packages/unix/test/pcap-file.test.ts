/** The --pcap file: header and records reach the disk in order, tshark reads the result, errors name the file. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectPcapFile } from "@mirage-ts/unix";

/** A classic pcap header (little-endian, Ethernet) and one record holding `frame`. */
function header(): Uint8Array {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(65535, 16);
  b.writeUInt32LE(1, 20);
  return b;
}
function record(frame: Uint8Array, seconds: number): Uint8Array {
  const b = Buffer.alloc(16 + frame.length);
  b.writeUInt32LE(seconds, 0);
  b.writeUInt32LE(frame.length, 8);
  b.writeUInt32LE(frame.length, 12);
  b.set(frame, 16);
  return b;
}
/** A broadcast ARP request for 10.0.0.1 from 10.0.0.2. */
function arpRequest(): Uint8Array {
  return Buffer.from(
    "ffffffffffff" + "020000000002" + "0806" + "0001" + "0800" + "06" + "04" + "0001" + "020000000002" + "0a000002" + "000000000000" + "0a000001" + "00".repeat(18),
    "hex",
  );
}

test("writes the chunks in order through a stream; tshark reads the file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "pcap-file-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "capture.pcap");
  const file = await connectPcapFile({ path });
  assert.equal(file.enabled, true);
  assert.equal(file.path, path);
  file.write(header());
  for (let i = 0; i < 100; i++) file.write(record(arpRequest(), 1_700_000_000 + i));
  await file.disconnect();
  file.write(record(arpRequest(), 1)); // after disconnect: ignored
  const bytes = readFileSync(path);
  assert.equal(bytes.length, 24 + 100 * (16 + 60));
  assert.deepEqual(file.stats(), { chunks: 101, bytes: bytes.length, dropped: 0 });
  if (spawnSync("tshark", ["--version"]).status !== 0) {
    t.diagnostic("tshark is not installed: the file's bytes were checked, not tshark's reading");
    return;
  }
  const out = execFileSync("tshark", ["-r", path, "-T", "fields", "-e", "arp.dst.proto_ipv4"], { encoding: "utf8", env: { ...process.env, HOME: dir } });
  const lines = out.trim().split("\n");
  assert.equal(lines.length, 100);
  assert.ok(lines.every((l) => l === "10.0.0.1"));
});

test("drops records, never the header, while the disk is behind", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "pcap-file-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "capture.pcap");
  const file = await connectPcapFile({ path, maxBufferedBytes: 1000 });
  file.write(header());
  // Written in one synchronous burst: nothing reaches the disk meanwhile, so the bound applies.
  for (let i = 0; i < 100; i++) file.write(record(arpRequest(), i));
  await file.disconnect();
  const { chunks, dropped } = file.stats();
  assert.ok(dropped > 0, "some records were dropped");
  assert.equal(chunks + dropped, 101);
  const bytes = readFileSync(path);
  assert.equal(bytes.length, 24 + (chunks - 1) * 76, "whole records only");
  assert.equal(bytes.readUInt32LE(0), 0xa1b2c3d4);
});

test("without a path it is disabled and writes nothing; a path it cannot write is refused, naming it", async () => {
  const off = await connectPcapFile({});
  assert.equal(off.enabled, false);
  off.write(header());
  assert.deepEqual(off.stats(), { chunks: 0, bytes: 0, dropped: 0 });
  await off.disconnect();
  await assert.rejects(connectPcapFile({ path: "/nonexistent-dir/x.pcap" }), /cannot write the packet capture \/nonexistent-dir\/x\.pcap: .*ENOENT/);
});
