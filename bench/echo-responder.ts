/**
 * The smallest possible peer on a raw netif: answers ARP requests for one IPv4 address and ICMP
 * echo requests to it, by rewriting each received frame in place and writing it back (the Netif
 * contract lets a handler modify a batch's bytes during the call, and write() consumes the frame
 * before returning). With an IPv6 address too, it answers neighbour solicitations for it (a
 * neighbour advertisement built in one scratch frame) and ICMPv6 echo requests to it (rewritten
 * in place). No stack is involved: this measures the TAP path alone.
 */
import type { MacAddress, Netif } from "@mirage-ts/runtime";

const ICMPV6 = 58;
const ICMPV6_AT = 14 + 40;

/** One's-complement sum of `bytes[from..to)` added to `sum`, not folded. */
function sum16(bytes: Uint8Array, from: number, to: number, sum: number): number {
  for (let i = from; i < to; i += 2) sum += (bytes[i]! << 8) | (i + 1 < to ? bytes[i + 1]! : 0);
  return sum;
}

const fold = (sum: number): number => {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
};

/** RFC 1624 eqn. 3: the checksum after one 16-bit word of the summed data went from `was` to `now`. */
const updatedChecksum = (checksum: number, was: number, now: number): number => ~fold((~checksum & 0xffff) + (~was & 0xffff) + now) & 0xffff;

export function echoResponder(
  netif: Netif,
  mac: MacAddress,
  ip: readonly [number, number, number, number],
  ip6?: Uint8Array,
): (frame: Uint8Array) => void {
  const ours = (frame: Uint8Array, at: number): boolean =>
    frame[at] === ip[0] && frame[at + 1] === ip[1] && frame[at + 2] === ip[2] && frame[at + 3] === ip[3];
  const ours6 = (frame: Uint8Array, at: number): boolean => {
    if (ip6 === undefined) return false;
    for (let i = 0; i < 16; i++) if (frame[at + i] !== ip6[i]) return false;
    return true;
  };
  const macBytes = new Uint8Array(6);
  mac.toBytes(macBytes, 0);
  /** A neighbour advertisement (solicited, override) with our link-layer address: only the destination changes. */
  const advert = new Uint8Array(14 + 40 + 32);
  if (ip6 !== undefined) {
    mac.toBytes(advert, 6);
    advert[12] = 0x86;
    advert[13] = 0xdd;
    advert[14] = 0x60;
    advert[19] = 32; // payload length
    advert[20] = ICMPV6;
    advert[21] = 255; // hop limit: neighbour discovery must arrive with 255
    advert.set(ip6, 22);
    advert[ICMPV6_AT] = 136;
    advert[ICMPV6_AT + 4] = 0x60; // solicited, override
    advert.set(ip6, ICMPV6_AT + 8);
    advert[ICMPV6_AT + 24] = 2; // target link-layer address option, 8 bytes
    advert[ICMPV6_AT + 25] = 1;
    advert.set(macBytes, ICMPV6_AT + 26);
  }
  const unspecified = (frame: Uint8Array, at: number): boolean => {
    for (let i = 0; i < 16; i++) if (frame[at + i] !== 0) return false;
    return true;
  };

  const answerIpv6 = (frame: Uint8Array): void => {
    if (frame.length < ICMPV6_AT + 8 || frame[20] !== ICMPV6) return;
    const type = frame[ICMPV6_AT];
    if (type === 128 && ours6(frame, 38)) {
      frame[ICMPV6_AT] = 129;
      const checksum = (frame[ICMPV6_AT + 2]! << 8) | frame[ICMPV6_AT + 3]!;
      // Swapping source and destination leaves the pseudo-header's sum as it was: only the type changed.
      const now = updatedChecksum(checksum, (128 << 8) | frame[ICMPV6_AT + 1]!, (129 << 8) | frame[ICMPV6_AT + 1]!);
      frame[ICMPV6_AT + 2] = now >> 8;
      frame[ICMPV6_AT + 3] = now & 0xff;
      for (let i = 0; i < 16; i++) {
        const t = frame[22 + i]!;
        frame[22 + i] = frame[38 + i]!;
        frame[38 + i] = t;
      }
      frame[21] = 64;
      frame.copyWithin(0, 6, 12);
      frame.set(macBytes, 6);
      netif.write(frame);
    } else if (type === 135 && frame.length >= ICMPV6_AT + 24 && frame[21] === 255 && ours6(frame, ICMPV6_AT + 8) && !unspecified(frame, 22)) {
      // A solicitation from an address (not DAD's ::): advertise to it, on its own MAC.
      advert.set(frame.subarray(6, 12), 0);
      advert.set(frame.subarray(22, 38), 38);
      advert[ICMPV6_AT + 2] = 0;
      advert[ICMPV6_AT + 3] = 0;
      const pseudo = sum16(advert, 22, 54, 32 + ICMPV6);
      const checksum = ~fold(sum16(advert, ICMPV6_AT, advert.length, pseudo)) & 0xffff;
      advert[ICMPV6_AT + 2] = checksum >> 8;
      advert[ICMPV6_AT + 3] = checksum & 0xff;
      netif.write(advert);
    }
  };

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
    } else if (etherType === 0x86dd) {
      if (ip6 !== undefined) answerIpv6(frame);
      return;
    } else {
      return;
    }
    frame.copyWithin(0, 6, 12);
    mac.toBytes(frame, 6);
    netif.write(frame);
  };
}
