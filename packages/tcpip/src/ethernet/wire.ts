/**
 * Ethernet II frames (IEEE 802.3 with an EtherType): destination, source, EtherType, payload.
 * The frame carries no preamble and no FCS (a TAP and our links give neither).
 */
import { MacAddress, type Result } from "@mirage-ts/runtime";
import { get16, placePayload, set16 } from "../bytes.ts";
import { type DecodeError, decodeError } from "../decode-error.ts";

export const ETHERNET_HEADER_LEN = 14;

export const EtherType = {
  ipv4: 0x0800,
  arp: 0x0806,
  ipv6: 0x86dd,
  /** 802.1Q VLAN tag. */
  vlan: 0x8100,
  /** 802.1ad (QinQ) service tag. */
  qinq: 0x88a8,
  /** The pre-standard QinQ tag some switches still use. */
  qinqLegacy: 0x9100,
} as const;

/** Field access over a frame at `offset`; no validation, bounds-safe (reads past the end give 0). */
export class EthernetView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  dst(): MacAddress {
    return MacAddress.ofBytes(this.bytes, this.offset);
  }
  src(): MacAddress {
    return MacAddress.ofBytes(this.bytes, this.offset + 6);
  }
  etherType(): number {
    return get16(this.bytes, this.offset + 12);
  }
  payload(): Uint8Array {
    return this.bytes.subarray(Math.min(this.offset + ETHERNET_HEADER_LEN, this.bytes.length));
  }
  setDst(mac: MacAddress): void {
    if (this.offset + 6 <= this.bytes.length) mac.toBytes(this.bytes, this.offset);
  }
  setSrc(mac: MacAddress): void {
    if (this.offset + 12 <= this.bytes.length) mac.toBytes(this.bytes, this.offset + 6);
  }
  setEtherType(value: number): void {
    set16(this.bytes, this.offset + 12, value);
  }
}

export interface EthernetFrame {
  dst: MacAddress;
  src: MacAddress;
  etherType: number;
  /** The bytes after the header (a subarray: no copy). May include padding to the 60-byte minimum. */
  payload: Uint8Array;
}

/**
 * Parses an Ethernet II frame. VLAN-tagged frames are refused with "vlan-tagged", 802.3 frames
 * (a length where the EtherType would be) with "unsupported".
 */
export function parseEthernet(bytes: Uint8Array): Result<EthernetFrame, DecodeError> {
  if (bytes.length < ETHERNET_HEADER_LEN) {
    return decodeError("ethernet", "truncated", `an Ethernet frame needs ${ETHERNET_HEADER_LEN} bytes, got ${bytes.length}`);
  }
  const etherType = get16(bytes, 12);
  if (etherType === EtherType.vlan || etherType === EtherType.qinq || etherType === EtherType.qinqLegacy) {
    return decodeError("ethernet", "vlan-tagged", `VLAN-tagged frame (TPID 0x${etherType.toString(16)}) dropped`);
  }
  if (etherType < 0x0600) {
    return decodeError("ethernet", "unsupported", `802.3 frame with length field ${etherType}, not Ethernet II`);
  }
  return {
    ok: true,
    value: {
      dst: MacAddress.ofBytes(bytes, 0),
      src: MacAddress.ofBytes(bytes, 6),
      etherType,
      payload: bytes.subarray(ETHERNET_HEADER_LEN),
    },
  };
}

/** The length `emitEthernet` writes. */
export function ethernetLength(frame: EthernetFrame): number {
  return ETHERNET_HEADER_LEN + frame.payload.length;
}

/**
 * Writes the frame at `into[offset..]` and returns its length. The payload is copied unless it
 * already sits right after the header in `into` (built in place). No padding to 60 bytes is added:
 * TAP devices and our links do not need it. Throws RangeError when `into` is too small
 * (a programming error, not an input error).
 */
export function emitEthernet(frame: EthernetFrame, into: Uint8Array, offset = 0): number {
  const length = ethernetLength(frame);
  if (offset + length > into.length) throw new RangeError(`emitEthernet needs ${length} bytes at offset ${offset}, buffer has ${into.length}`);
  frame.dst.toBytes(into, offset);
  frame.src.toBytes(into, offset + 6);
  set16(into, offset + 12, frame.etherType);
  placePayload(into, offset + ETHERNET_HEADER_LEN, frame.payload);
  return length;
}
