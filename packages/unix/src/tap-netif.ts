/**
 * The TAP netif: runtime's Netif over a Linux TAP device, through the mirage_tap addon.
 *
 * Receive: the addon reads up to `rxBatch` frames per wake-up of the event loop into one
 * preallocated buffer and calls `onFrames(count)` once; the handler sees views into that buffer,
 * valid during the call only (as the Netif contract says).
 *
 * Send: `write` copies the frame into a slot of a preallocated send ring (so the caller may reuse
 * its buffer at once) and schedules one flush on a microtask, so that every frame a stack sends
 * while handling one batch (or one timer, one application call) goes out in one crossing into the
 * addon. A full ring is flushed at once. If the kernel would block (EAGAIN: rare, a TAP write does
 * not normally block), the unsent frames stay in the ring, new frames are appended behind them,
 * and the ring is flushed again when the fd becomes writable; frames that find the ring full then
 * are dropped and counted in txDrops. Frames the kernel refuses (interface down) count as drops.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  ETHERNET_HEADER_LENGTH,
  MacAddress,
  type FramesHandler,
  type Netif,
  type NetifStats,
  type Random,
} from "@mirage-ts/runtime";
import { loadTapAddon, type NativeTap } from "./tap-addon.ts";
import { TapError, invalidTapName, tapErrorMessage } from "./tap-error.ts";

export interface TapNetifOptions {
  /** The interface, e.g. "tap0": opened if it exists (a persistent TAP), created otherwise (needs CAP_NET_ADMIN). */
  name: string;
  /** The unikernel's own MAC address; default: a random locally administered one (from `random`). */
  mac?: MacAddress;
  /** The largest IP packet; default: the interface's MTU as the kernel has it (SIOCGIFMTU), else 1500. */
  mtu?: number;
  /** Where a default MAC comes from; default: the OS CSPRNG. */
  random?: Pick<Random, "bytes">;
  /** Bring the interface up when it is down (as MirageOS's unix netif does); default true. Needs CAP_NET_ADMIN. */
  bringUp?: boolean;
  /** Frames read per wake-up at most; default 64. */
  rxBatch?: number;
  /** Frames the send ring holds; default 256 (fewer for large MTUs, to bound memory at about 4 MiB). */
  txSlots?: number;
  /** The clone device; default /dev/net/tun. */
  device?: string;
}

const DEFAULT_RX_BATCH = 64;
const DEFAULT_TX_SLOTS = 256;
const TX_RING_BUDGET = 4 * 1024 * 1024;
/** A received frame may carry an 802.1Q tag on top of the MTU. */
const VLAN_TAG_LENGTH = 4;

/** Opens the TAP `options.name`; rejects with a TapError (or TapAddonMissingError) that says what to do. */
export async function connectTapNetif(options: TapNetifOptions): Promise<TapNetif> {
  return TapNetif.open(options);
}

export class TapNetif implements Netif {
  readonly mac: MacAddress;
  readonly mtu: number;
  /** The kernel's name of the interface. */
  readonly name: string;

  private readonly native: NativeTap;
  private readonly slotSize: number;
  private readonly maxFrame: number;
  private readonly rxBytes: Uint8Array;
  private readonly rxLengths: Uint32Array;
  private readonly txBytes: Uint8Array;
  private readonly txLengths: Uint32Array;
  private readonly txSlots: number;
  private handler: FramesHandler | undefined;
  private txHead = 0;
  private txTail = 0;
  private flushScheduled = false;
  private waitingWritable = false;
  private closed = false;
  private rxUndelivered = 0;
  private txRefused = 0;

  static open(options: TapNetifOptions): TapNetif {
    const device = options.device ?? "/dev/net/tun";
    const bad = invalidTapName(options.name);
    if (bad !== undefined) throw new TapError(`cannot open TAP: ${bad}`, "EINVALNAME", options.name, "open");
    if (options.mtu !== undefined && !(Number.isInteger(options.mtu) && options.mtu >= 68 && options.mtu <= 65535)) {
      throw new RangeError(`TAP ${options.name}: mtu must be an integer from 68 to 65535, not ${options.mtu}`);
    }
    const addon = loadTapAddon();
    // Slots must hold the largest frame the kernel may hand over: size them before opening, from
    // the MTU the interface has now if it exists (a new TAP starts at 1500).
    const mtuBefore = sysfsMtu(options.name) ?? 1500;
    const slotSize = roundUp(Math.max(mtuBefore, options.mtu ?? 0, 1500) + ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH, 64);
    const rxBatch = clampInt(options.rxBatch ?? DEFAULT_RX_BATCH, 1, 1024);
    const txSlots = clampInt(options.txSlots ?? Math.min(DEFAULT_TX_SLOTS, Math.floor(TX_RING_BUDGET / slotSize)), 2, 4096);
    const rx = new ArrayBuffer(slotSize * rxBatch);
    const tx = new ArrayBuffer(slotSize * txSlots);
    const rxLengths = new Uint32Array(rxBatch);
    const txLengths = new Uint32Array(txSlots);
    let self: TapNetif | undefined;
    let native: NativeTap;
    try {
      native = new addon.Tap({
        name: options.name,
        device,
        bringUp: options.bringUp ?? true,
        slotSize,
        rx,
        rxLengths,
        tx,
        txLengths,
        onFrames: (count) => self?.deliver(count),
        onWritable: () => self?.writable(),
      });
    } catch (e) {
      throw toTapError(e, options.name, device);
    }
    const mtu = options.mtu ?? (native.kernelMtu > 0 ? native.kernelMtu : 1500);
    const mac = options.mac ?? MacAddress.random(options.random ? (n) => options.random!.bytes(n) : (n) => randomBytes(n));
    self = new TapNetif(native, mac, mtu, slotSize, rx, rxLengths, tx, txLengths);
    return self;
  }

  private constructor(
    native: NativeTap,
    mac: MacAddress,
    mtu: number,
    slotSize: number,
    rx: ArrayBuffer,
    rxLengths: Uint32Array,
    tx: ArrayBuffer,
    txLengths: Uint32Array,
  ) {
    this.native = native;
    this.name = native.name;
    this.mac = mac;
    this.mtu = mtu;
    this.slotSize = slotSize;
    this.maxFrame = Math.min(mtu + ETHERNET_HEADER_LENGTH, slotSize);
    this.rxBytes = new Uint8Array(rx);
    this.rxLengths = rxLengths;
    this.txBytes = new Uint8Array(tx);
    this.txLengths = txLengths;
    this.txSlots = txLengths.length;
  }

  /** Whether the interface was up once opened (it is brought up unless `bringUp: false` or not permitted). */
  get up(): boolean {
    return this.native.up;
  }

  listen(onFrames: FramesHandler): void {
    this.handler = onFrames;
  }

  write(frame: Uint8Array): boolean {
    const length = frame.length;
    if (this.closed || length < ETHERNET_HEADER_LENGTH || length > this.maxFrame) {
      this.txRefused++;
      return false;
    }
    if (this.txTail === this.txSlots && !this.makeRoom()) {
      this.txRefused++;
      return false;
    }
    const slot = this.txTail++;
    this.txBytes.set(frame, slot * this.slotSize);
    this.txLengths[slot] = length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
    return true;
  }

  writeBatch(frames: readonly Uint8Array[]): number {
    for (let i = 0; i < frames.length; i++) {
      if (!this.write(frames[i]!)) return i;
    }
    return frames.length;
  }

  stats(): NetifStats {
    const n = this.native.stats();
    return {
      rxFrames: n.rxFrames,
      rxBytes: n.rxBytes,
      txFrames: n.txFrames,
      txBytes: n.txBytes,
      rxDrops: n.rxErrors + this.rxUndelivered,
      txDrops: n.txErrors + this.txRefused,
    };
  }

  /** Whether an open TAP keeps the process alive (it does by default, like a listening socket). */
  setRef(ref: boolean): void {
    if (!this.closed) this.native.setRef(ref);
  }

  /** Sends what is queued (unless the device would block), then closes the device. */
  async disconnect(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.handler = undefined;
    // Frames still queued behind EAGAIN are lost with the device.
    this.txRefused += this.txTail - this.txHead;
    this.txHead = this.txTail = 0;
    this.native.close();
  }

  /** Sends the queued frames now rather than at the end of the current task. */
  flush(): void {
    if (this.closed || this.waitingWritable || this.txHead === this.txTail) return;
    const consumed = this.native.flush(this.txHead, this.txTail - this.txHead);
    this.txHead += consumed;
    if (this.txHead === this.txTail) {
      this.txHead = this.txTail = 0;
    } else {
      this.waitingWritable = true;
    }
  }

  /** One bound function for every microtask flush: no closure per frame. */
  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Frees slots in a full ring: flush it, or, while waiting for writability, move the waiting frames to the front. */
  private makeRoom(): boolean {
    if (!this.waitingWritable) this.flush();
    if (this.txTail < this.txSlots) return true;
    if (this.txHead === 0) return false;
    this.txBytes.copyWithin(0, this.txHead * this.slotSize, this.txTail * this.slotSize);
    this.txLengths.copyWithin(0, this.txHead, this.txTail);
    this.txTail -= this.txHead;
    this.txHead = 0;
    return true;
  }

  private writable(): void {
    this.waitingWritable = false;
    this.flush();
  }

  private deliver(count: number): void {
    const handler = this.handler;
    if (handler === undefined || this.closed) {
      this.rxUndelivered += count;
      return;
    }
    const frames = new Array<Uint8Array>(count);
    const buffer = this.rxBytes.buffer;
    for (let i = 0; i < count; i++) {
      frames[i] = new Uint8Array(buffer, i * this.slotSize, this.rxLengths[i]!);
    }
    handler(frames);
  }
}

function toTapError(e: unknown, name: string, device: string): Error {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    const syscall = (e as NodeJS.ErrnoException).syscall;
    if (typeof code === "string" && typeof syscall === "string") {
      const error = new TapError(tapErrorMessage(name, device, syscall, code), code, name, syscall);
      error.cause = e;
      return error;
    }
    return e;
  }
  return new Error(String(e));
}

function sysfsMtu(name: string): number | undefined {
  try {
    const mtu = Number.parseInt(readFileSync(`/sys/class/net/${name}/mtu`, "utf8"), 10);
    return Number.isInteger(mtu) && mtu > 0 ? mtu : undefined;
  } catch {
    return undefined;
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function clampInt(n: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(n)));
}
