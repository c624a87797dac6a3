/**
 * The smallest possible peer on a raw netif: answers ARP requests for one IPv4 address and ICMP
 * echo requests to it, by rewriting each received frame in place and writing it back (the Netif
 * contract lets a handler modify a batch's bytes during the call, and write() consumes the frame
 * before returning). No stack is involved: this measures the TAP path alone.
 */
import type { MacAddress, Netif } from "@mirage-ts/runtime";

export function echoResponder(netif: Netif, mac: MacAddress, ip: readonly [number, number, number, number]): (frame: Uint8Array) => void {
  const ours = (frame: Uint8Array, at: number): boolean =>
    frame[at] === ip[0] && frame[at + 1] === ip[1] && frame[at + 2] === ip[2] && frame[at + 3] === ip[3];
  return (frame) => {
    if (frame.length < 42) return;
    const etherType = (frame[12]! << 8) | frame[13]!;
    if (etherType === 0x0806) {
      if (frame[21] !== 1 || !ours(frame, 38)) return;
      frame[21] = 2;
      frame.copyWithin(32, 22, 32);
      mac.toBytes(frame, 22);
      frame.set(ip, 28);
    } else if (etherType === 0x0800) {
      const l4 = 14 + (frame[14]! & 0x0f) * 4;
      if (!ours(frame, 30) || frame[23] !== 1 || frame[l4] !== 8) return;
      frame[l4] = 0;
      // RFC 1624 incremental update: the type went from 8 to 0, so the sum drops by 0x0800.
      let sum = ((frame[l4 + 2]! << 8) | frame[l4 + 3]!) + 0x0800;
      sum = (sum & 0xffff) + (sum >>> 16);
      frame[l4 + 2] = sum >> 8;
      frame[l4 + 3] = sum & 0xff;
      for (let i = 0; i < 4; i++) {
        const t = frame[26 + i]!;
        frame[26 + i] = frame[30 + i]!;
        frame[30 + i] = t;
      }
    } else {
      return;
    }
    frame.copyWithin(0, 6, 12);
    mac.toBytes(frame, 6);
    netif.write(frame);
  };
}
