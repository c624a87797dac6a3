/**
 * ARP packets for Ethernet and IPv4 (RFC 826): hardware type 1, protocol type 0x0800, hardware
 * length 6, protocol length 4. Other hardware or protocol types and RARP are refused.
 */
import { Ipv4Address, MacAddress, type Result } from "@mirage-ts/runtime";
import { get16, get32, set16, set32 } from "../bytes.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";

/** The ARP packet length for Ethernet/IPv4 (what follows the Ethernet header). */
export const ARP_PACKET_LEN = 28;

export const ArpOperation = { request: 1, reply: 2 } as const;
export type ArpOperationName = "request" | "reply";

/** Field access over an ARP packet at `offset`; no validation, bounds-safe. */
export class ArpView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  hardwareType(): number {
    return get16(this.bytes, this.offset);
  }
  protocolType(): number {
    return get16(this.bytes, this.offset + 2);
  }
  hardwareLength(): number {
    return this.bytes[this.offset + 4] ?? 0;
  }
  protocolLength(): number {
    return this.bytes[this.offset + 5] ?? 0;
  }
  operation(): number {
    return get16(this.bytes, this.offset + 6);
  }
  senderMac(): MacAddress {
    return MacAddress.ofBytes(this.bytes, this.offset + 8);
  }
  /** The sender protocol address as a 32-bit integer. */
  senderIpValue(): number {
    return get32(this.bytes, this.offset + 14);
  }
  targetMac(): MacAddress {
    return MacAddress.ofBytes(this.bytes, this.offset + 18);
  }
  targetIpValue(): number {
    return get32(this.bytes, this.offset + 24);
  }
  setOperation(value: number): void {
    set16(this.bytes, this.offset + 6, value);
  }
  setSenderIpValue(value: number): void {
    set32(this.bytes, this.offset + 14, value);
  }
  setTargetIpValue(value: number): void {
    set32(this.bytes, this.offset + 24, value);
  }
}

export interface ArpPacket {
  operation: ArpOperationName;
  senderMac: MacAddress;
  senderIp: Ipv4Address;
  targetMac: MacAddress;
  targetIp: Ipv4Address;
}

/** Parses an Ethernet/IPv4 ARP request or reply; bytes after the 28 (Ethernet padding) are ignored. */
export function parseArp(bytes: Uint8Array): Result<ArpPacket, DecodeError> {
  if (bytes.length < ARP_PACKET_LEN) {
    return decodeError("arp", "truncated", `an Ethernet/IPv4 ARP packet needs ${ARP_PACKET_LEN} bytes, got ${bytes.length}`);
  }
  const view = new ArpView(bytes);
  const htype = view.hardwareType();
  const ptype = view.protocolType();
  if (htype !== 1 || ptype !== 0x0800) {
    return decodeError("arp", "unsupported", `ARP for hardware type ${htype} / protocol 0x${ptype.toString(16)}, not Ethernet/IPv4`);
  }
  if (view.hardwareLength() !== 6 || view.protocolLength() !== 4) {
    return decodeError("arp", "bad-field", `ARP address lengths ${view.hardwareLength()}/${view.protocolLength()}, expected 6/4`);
  }
  const op = view.operation();
  if (op !== ArpOperation.request && op !== ArpOperation.reply) {
    return decodeError("arp", "unsupported", `ARP operation ${op} (only request 1 and reply 2 are handled)`);
  }
  return {
    ok: true,
    value: {
      operation: op === ArpOperation.request ? "request" : "reply",
      senderMac: view.senderMac(),
      senderIp: Ipv4Address.ofInt(view.senderIpValue()),
      targetMac: view.targetMac(),
      targetIp: Ipv4Address.ofInt(view.targetIpValue()),
    },
  };
}

/** Writes the 28-byte packet at `into[offset..]` and returns 28. Throws RangeError when `into` is too small. */
export function emitArp(packet: ArpPacket, into: Uint8Array, offset = 0): number {
  if (offset + ARP_PACKET_LEN > into.length) throw new RangeError(`emitArp needs ${ARP_PACKET_LEN} bytes at offset ${offset}, buffer has ${into.length}`);
  set16(into, offset, 1);
  set16(into, offset + 2, 0x0800);
  into[offset + 4] = 6;
  into[offset + 5] = 4;
  set16(into, offset + 6, packet.operation === "request" ? ArpOperation.request : ArpOperation.reply);
  packet.senderMac.toBytes(into, offset + 8);
  set32(into, offset + 14, packet.senderIp.value);
  packet.targetMac.toBytes(into, offset + 18);
  set32(into, offset + 24, packet.targetIp.value);
  return ARP_PACKET_LEN;
}
