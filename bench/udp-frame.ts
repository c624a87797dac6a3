/** One whole Ethernet II / IPv4 / UDP frame, checksums set, built once for the raw TAP to write again and again. */
import { Ipv4Address, type MacAddress } from "@mirage-ts/runtime";

export interface UdpFrameOptions {
  /** Frame length, Ethernet header included (at least 42). */
  size: number;
  srcMac: MacAddress;
  dstMac: MacAddress;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
}

function sum16(bytes: Uint8Array, from: number, to: number, initial: number): number {
  let sum = initial;
  for (let i = from; i < to; i += 2) sum += (bytes[i]! << 8) | (i + 1 < to ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

export function udpIpv4Frame(o: UdpFrameOptions): Uint8Array {
  const frame = new Uint8Array(o.size);
  const view = new DataView(frame.buffer);
  o.dstMac.toBytes(frame, 0);
  o.srcMac.toBytes(frame, 6);
  view.setUint16(12, 0x0800);
  const ipLength = o.size - 14;
  const udpLength = ipLength - 20;
  const src = Ipv4Address.of(o.src).value;
  const dst = Ipv4Address.of(o.dst).value;
  frame.set([0x45, 0], 14);
  view.setUint16(16, ipLength);
  view.setUint16(18, 1); // identification
  view.setUint16(20, 0x4000); // DF
  frame[22] = 64;
  frame[23] = 17;
  view.setUint32(26, src);
  view.setUint32(30, dst);
  view.setUint16(24, ~sum16(frame, 14, 34, 0) & 0xffff);
  view.setUint16(34, o.srcPort);
  view.setUint16(36, o.dstPort);
  view.setUint16(38, udpLength);
  frame.fill(0x5a, 42);
  const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + udpLength;
  const checksum = ~sum16(frame, 34, o.size, pseudo) & 0xffff;
  view.setUint16(40, checksum === 0 ? 0xffff : checksum);
  return frame;
}
