/**
 * Network devices: MAC addresses and the Netif interface (an Ethernet device moving whole frames).
 *
 * A Netif is what a platform provides (a TAP device in packages/unix, an in-memory switch port or
 * a link-fault wrapper in packages/tcpip) and what the direct stack's Ethernet layer consumes.
 * Its shape follows the fast path the platform can offer: frames are received in batches (a TAP
 * addon reads N frames per wake-up into one preallocated buffer and hands them over in one call)
 * and a written frame is consumed before `write` returns, so the stack can build every outgoing
 * frame in one reusable scratch buffer and the platform can copy it into its own batch buffer.
 */
import type { Device } from "./devices.ts";
import { type Result, ok, err } from "./result.ts";

const HEX = "0123456789abcdef";

/** A 48-bit IEEE 802 MAC address. Immutable. */
export class MacAddress {
  private constructor(private readonly octets: Uint8Array) {}

  /** Reads 6 bytes at `offset` (copied, so the address outlives the buffer). */
  static ofBytes(bytes: Uint8Array, offset = 0): MacAddress {
    const octets = new Uint8Array(6);
    for (let i = 0; i < 6; i++) octets[i] = bytes[offset + i] ?? 0;
    return new MacAddress(octets);
  }

  /**
   * Parses the colon (or dash) separated form: six groups of one or two hex digits,
   * e.g. "02:00:00:00:00:01". Never throws.
   */
  static parse(text: string): Result<MacAddress, string> {
    const parts = text.split(/[:-]/);
    if (parts.length !== 6) {
      return err(`"${text}" is not a MAC address (expected six hex bytes joined by colons, e.g. 02:00:00:00:00:01)`);
    }
    if (text.includes(":") && text.includes("-")) return err(`"${text}" is not a MAC address: it mixes ':' and '-'`);
    const octets = new Uint8Array(6);
    for (let i = 0; i < 6; i++) {
      const part = parts[i]!;
      if (!/^[0-9a-fA-F]{1,2}$/.test(part)) return err(`"${text}" is not a MAC address: "${part}" is not one or two hex digits`);
      octets[i] = parseInt(part, 16);
    }
    return ok(new MacAddress(octets));
  }

  /** Parses or throws a TypeError; for literals in code, not for input. */
  static of(text: string): MacAddress {
    const r = MacAddress.parse(text);
    if (!r.ok) throw new TypeError(r.error);
    return r.value;
  }

  /**
   * A random locally administered unicast address (02:xx:...): what a platform assigns when the
   * user gives none. `randomBytes` is the platform's Random device (`bytes(6)`).
   */
  static random(randomBytes: (length: number) => Uint8Array): MacAddress {
    const octets = Uint8Array.from(randomBytes(6).subarray(0, 6));
    octets[0] = (octets[0]! & 0xfc) | 0x02;
    return new MacAddress(octets);
  }

  static readonly broadcast = new MacAddress(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  static readonly zero = new MacAddress(new Uint8Array(6));

  /** Octet `i` (0..5). */
  octet(i: number): number {
    return this.octets[i] ?? 0;
  }

  /** Writes the 6 bytes at `offset` of `into` (a new array when absent). */
  toBytes(into: Uint8Array = new Uint8Array(6), offset = 0): Uint8Array {
    into.set(this.octets, offset);
    return into;
  }

  /** True when `bytes[offset..offset+6]` hold this address: compares without allocating. */
  matches(bytes: Uint8Array, offset = 0): boolean {
    const o = this.octets;
    return (
      bytes[offset] === o[0] &&
      bytes[offset + 1] === o[1] &&
      bytes[offset + 2] === o[2] &&
      bytes[offset + 3] === o[3] &&
      bytes[offset + 4] === o[4] &&
      bytes[offset + 5] === o[5]
    );
  }

  equals(other: MacAddress): boolean {
    return this.matches(other.octets, 0);
  }

  /** The group bit (I/G) is set: multicast, which includes broadcast. */
  isMulticast(): boolean {
    return (this.octets[0]! & 0x01) !== 0;
  }

  isBroadcast(): boolean {
    return this.matches(MacAddress.broadcast.octets, 0);
  }

  /** Neither multicast nor broadcast. */
  isUnicast(): boolean {
    return !this.isMulticast();
  }

  /** The U/L bit is set: a locally administered address. */
  isLocallyAdministered(): boolean {
    return (this.octets[0]! & 0x02) !== 0;
  }

  /** Lower case, colon separated, two digits per byte: "02:00:00:00:00:01". */
  toString(): string {
    let s = "";
    for (let i = 0; i < 6; i++) {
      const b = this.octets[i]!;
      if (i > 0) s += ":";
      s += HEX[b >> 4]! + HEX[b & 0xf]!;
    }
    return s;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Counters a netif keeps since it was created. */
export interface NetifStats {
  readonly rxFrames: number;
  readonly rxBytes: number;
  readonly txFrames: number;
  readonly txBytes: number;
  /** Frames received but not delivered (no listener, a full queue, a malformed frame at the device). */
  readonly rxDrops: number;
  /** Frames given to `write` but not sent (queue full, too big, device down). */
  readonly txDrops: number;
}

/**
 * Called with a batch of received frames. Each frame is a whole Ethernet frame (no preamble, no
 * FCS). The array and the frames' bytes are only valid during the call: the platform reuses its
 * buffer for the next batch, so a consumer that keeps anything (a reassembly fragment, a queued
 * datagram) copies it. The consumer may modify the bytes in place during the call.
 */
export type FramesHandler = (frames: readonly Uint8Array[]) => void;

/**
 * An Ethernet network interface.
 *
 * Ownership: `write` and `writeBatch` consume the frame's bytes before returning (they send it,
 * or copy it into the device's own queue), so the caller may reuse its buffer immediately. The
 * stack therefore builds every frame in place in one scratch buffer, with no allocation per
 * packet, and a platform that batches (one syscall or one addon crossing per batch) copies each
 * frame once into its preallocated batch buffer.
 */
export interface Netif extends Device {
  readonly mac: MacAddress;
  /** The largest Ethernet payload (IP packet) the link carries; a frame is at most `mtu + 14` bytes. */
  readonly mtu: number;
  /**
   * Starts delivery of received frames to `onFrames`; a second call replaces the handler. Frames
   * are delivered from the netif's own event (the fd became readable, a scheduled task), never
   * synchronously from inside `write`, so a stack is not re-entered while it sends.
   */
  listen(onFrames: FramesHandler): void;
  /** Sends one frame; false when it was dropped (queue full, above the MTU, disconnected). */
  write(frame: Uint8Array): boolean;
  /** Sends frames in order and returns how many were accepted; frames after the first refused one are not sent. */
  writeBatch(frames: readonly Uint8Array[]): number;
  stats(): NetifStats;
}

/** A mutable NetifStats for implementations; hand out copies with `snapshotStats`. */
export interface NetifCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  rxDrops: number;
  txDrops: number;
}

export function createNetifCounters(): NetifCounters {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDrops: 0, txDrops: 0 };
}

export function snapshotStats(counters: NetifCounters): NetifStats {
  return { ...counters };
}

/** The Ethernet header length: destination and source MAC, EtherType. */
export const ETHERNET_HEADER_LENGTH = 14;
