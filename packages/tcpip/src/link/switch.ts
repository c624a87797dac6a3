/**
 * An in-memory Ethernet switch: several stacks (or a stack and a test) talk in one process.
 *
 * It learns which port each source MAC is behind, forwards known unicast to that port only and
 * floods broadcast, multicast and unknown unicast to every other port, as a real learning switch
 * does (so a stack also sees frames that are not for it and must drop them). Delivery is
 * asynchronous through the injected Time (`schedule(0, ...)`): in virtual time nothing moves until
 * the test advances the clock, and a stack is never re-entered from its own `write`. Frames
 * queued for a port while a delivery is pending go out together as one batch.
 */
import {
  ETHERNET_HEADER_LENGTH,
  type FramesHandler,
  MacAddress,
  type Netif,
  type NetifCounters,
  type NetifStats,
  type Time,
  createNetifCounters,
  snapshotStats,
} from "@mirage-ts/runtime";

export interface SwitchOptions {
  /** Schedules deliveries; the virtual-time harness's Time in tests. */
  time: Time;
  /** The MTU of ports that do not give their own (default 1500). */
  mtu?: number;
  /** Frames waiting for delivery per port beyond which frames are dropped (default 1000, a TAP's txqueuelen). */
  queueLimit?: number;
}

export interface SwitchPortOptions {
  /** Default: 02:00:00:00:xx:yy, numbered from 1 in connection order. */
  mac?: MacAddress;
  mtu?: number;
}

export interface Switch {
  /** A new port; its Netif's `disconnect` unplugs it. */
  connect(options?: SwitchPortOptions | MacAddress): Netif;
  /** Ports currently plugged in. */
  portCount(): number;
  /** The learned MAC table: address (text form) → port number. */
  macTable(): ReadonlyMap<string, number>;
}

interface Port {
  readonly id: number;
  readonly netif: Netif;
  readonly mtu: number;
  handler: FramesHandler | undefined;
  queue: Uint8Array[];
  deliveryScheduled: boolean;
  connected: boolean;
  readonly counters: NetifCounters;
}

/** A MAC table key without allocating a string: the 48 bits as one number. */
function macKey(bytes: Uint8Array, offset: number): number {
  return (
    bytes[offset]! * 0x10000000000 +
    bytes[offset + 1]! * 0x100000000 +
    (((bytes[offset + 2]! << 24) | (bytes[offset + 3]! << 16) | (bytes[offset + 4]! << 8) | bytes[offset + 5]!) >>> 0)
  );
}

export function createSwitch(options: SwitchOptions): Switch {
  const { time } = options;
  const defaultMtu = options.mtu ?? 1500;
  const queueLimit = options.queueLimit ?? 1000;
  const ports = new Map<number, Port>();
  const table = new Map<number, Port>();
  let nextPortId = 1;

  const deliverQueued = (port: Port): void => {
    port.deliveryScheduled = false;
    const batch = port.queue;
    if (batch.length === 0 || !port.connected) return;
    port.queue = [];
    if (port.handler === undefined) {
      port.counters.rxDrops += batch.length;
      return;
    }
    for (const frame of batch) {
      port.counters.rxFrames++;
      port.counters.rxBytes += frame.length;
    }
    port.handler(batch);
  };

  const enqueue = (port: Port, frame: Uint8Array): void => {
    if (!port.connected) return;
    if (port.handler === undefined || port.queue.length >= queueLimit || frame.length > port.mtu + ETHERNET_HEADER_LENGTH) {
      port.counters.rxDrops++;
      return;
    }
    // A copy per receiver: the sender may reuse its buffer and receivers may modify theirs.
    port.queue.push(frame.slice());
    if (!port.deliveryScheduled) {
      port.deliveryScheduled = true;
      time.schedule(0, () => deliverQueued(port));
    }
  };

  const forward = (from: Port, frame: Uint8Array): void => {
    const srcIsUnicast = (frame[6]! & 1) === 0;
    if (srcIsUnicast) table.set(macKey(frame, 6), from);
    const dstIsUnicast = (frame[0]! & 1) === 0;
    if (dstIsUnicast) {
      const to = table.get(macKey(frame, 0));
      if (to !== undefined && to.connected) {
        if (to !== from) enqueue(to, frame);
        return;
      }
    }
    for (const port of ports.values()) if (port !== from) enqueue(port, frame);
  };

  const connect = (given?: SwitchPortOptions | MacAddress): Netif => {
    const portOptions: SwitchPortOptions = given instanceof MacAddress ? { mac: given } : (given ?? {});
    const id = nextPortId++;
    const mac = portOptions.mac ?? MacAddress.ofBytes(new Uint8Array([0x02, 0, 0, 0, (id >> 8) & 0xff, id & 0xff]));
    const mtu = portOptions.mtu ?? defaultMtu;
    const counters = createNetifCounters();
    const write = (frame: Uint8Array): boolean => {
      if (!port.connected || frame.length < ETHERNET_HEADER_LENGTH || frame.length > mtu + ETHERNET_HEADER_LENGTH) {
        counters.txDrops++;
        return false;
      }
      counters.txFrames++;
      counters.txBytes += frame.length;
      forward(port, frame);
      return true;
    };
    const netif: Netif = {
      mac,
      mtu,
      listen(onFrames: FramesHandler): void {
        port.handler = onFrames;
      },
      write,
      writeBatch(frames: readonly Uint8Array[]): number {
        let sent = 0;
        for (; sent < frames.length; sent++) if (!write(frames[sent]!)) break;
        return sent;
      },
      stats(): NetifStats {
        return snapshotStats(counters);
      },
      async disconnect(): Promise<void> {
        if (!port.connected) return;
        port.connected = false;
        port.queue = [];
        ports.delete(id);
        for (const [key, p] of table) if (p === port) table.delete(key);
      },
    };
    const port: Port = { id, netif, mtu, handler: undefined, queue: [], deliveryScheduled: false, connected: true, counters };
    ports.set(id, port);
    return netif;
  };

  return {
    connect,
    portCount: () => ports.size,
    macTable(): ReadonlyMap<string, number> {
      const out = new Map<string, number>();
      for (const [key, port] of table) {
        const bytes = new Uint8Array(6);
        let k = key;
        for (let i = 5; i >= 0; i--) {
          bytes[i] = k % 256;
          k = Math.floor(k / 256);
        }
        out.set(MacAddress.ofBytes(bytes).toString(), port.id);
      }
      return out;
    },
  };
}
