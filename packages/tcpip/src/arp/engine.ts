/**
 * The ARP engine: the pure state machine of state-machine.ts wired to the Ethernet layer and to
 * one timer, re-armed at the machine's next deadline after every step.
 *
 * IPv4 output asks `resolve(nextHop, packet)`: the MAC when a fresh entry is cached (the per-packet
 * fast path: a map lookup, no allocation, no step), otherwise the packet joins the bounded queue of
 * the address being resolved and comes back through the queue handler's `resolved` (sent then) or
 * `unreachable` (dropped) once the machine decides.
 */
import { FlowError, Ipv4Address, type Log, type MacAddress, type MonotonicClock, type Time } from "@mirage-ts/runtime";
import { createDeadlineTimer } from "../deadline-timer.ts";
import type { EthernetEngine } from "../ethernet/engine.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "../ethernet/wire.ts";
import { logBug, silentLog } from "../logs.ts";
import {
  type ArpAction,
  type ArpConfig,
  type ArpEvent,
  type ArpState,
  arpLookupValue,
  arpNextDeadline,
  arpStep,
  createArpState,
} from "./state-machine.ts";
import { ARP_PACKET_LEN, emitArp, parseArp } from "./wire.ts";

export interface ArpQueueHandler<P> {
  /** `ip` is at `mac`: send the queued `packets` there, in order. */
  resolved(ip: Ipv4Address, mac: MacAddress, packets: readonly P[]): void;
  /** Resolution of `ip` failed: the queued `packets` are dropped. */
  unreachable(ip: Ipv4Address, packets: readonly P[]): void;
  /** `packets` left the queue unsent (it was full, or too many addresses were resolving). */
  dropped(ip: Ipv4Address, packets: readonly P[]): void;
}

export interface ArpStats {
  received: number;
  /** Not an Ethernet/IPv4 request or reply. */
  malformed: number;
  requestsSent: number;
  repliesSent: number;
  resolved: number;
  unreachable: number;
  /** Packets dropped from a full queue (or when too many addresses were being resolved). */
  queueDrops: number;
  conflicts: number;
}

export interface ArpEntry {
  ip: Ipv4Address;
  mac: MacAddress;
  expiresAt: number;
}

export interface ArpEngine<P> {
  readonly mac: MacAddress;
  /** Listens for ARP and announces our addresses (gratuitous ARP). */
  start(): void;
  /** Stops the timer and rejects pending queries. */
  stop(): void;
  addresses(): readonly Ipv4Address[];
  /** Our addresses changed (DHCP): new ones are announced. */
  setAddresses(addresses: readonly Ipv4Address[]): void;
  /** The MAC of `ip` (a 32-bit integer) when a fresh entry is cached: no side effect, no allocation. */
  lookup(ip: number): MacAddress | undefined;
  /**
   * The MAC of `ip` (a 32-bit integer) when known; otherwise undefined, a request goes out, and
   * `packet` (when given) waits in the bounded queue for the queue handler.
   */
  resolve(ip: number, packet?: P): MacAddress | undefined;
  /** Resolves `ip`; rejects with FlowError "unreachable" when nobody answers. */
  query(ip: Ipv4Address): Promise<MacAddress>;
  setQueueHandler(handler: ArpQueueHandler<P>): void;
  /** The cache now (fresh entries only). */
  entries(): ArpEntry[];
  stats(): ArpStats;
}

export interface ArpOptions {
  ethernet: EthernetEngine;
  clock: MonotonicClock;
  time: Time;
  addresses: readonly Ipv4Address[];
  config?: Partial<Omit<ArpConfig, "mac" | "addresses">>;
  log?: Log;
}

interface Waiter {
  resolve(mac: MacAddress): void;
  reject(error: Error): void;
}

export function createArp<P>(options: ArpOptions): ArpEngine<P> {
  const { ethernet, clock, time } = options;
  const log = options.log ?? silentLog;
  let state: ArpState<P> = createArpState<P>({ ...options.config, mac: ethernet.mac, addresses: [...options.addresses] });
  let handler: ArpQueueHandler<P> | undefined;
  let stopped = false;
  const waiters = new Map<number, Waiter[]>();
  const scratch = new Uint8Array(ETHERNET_HEADER_LEN + ARP_PACKET_LEN);
  const stats: ArpStats = { received: 0, malformed: 0, requestsSent: 0, repliesSent: 0, resolved: 0, unreachable: 0, queueDrops: 0, conflicts: 0 };
  const timer = createDeadlineTimer(clock, time, () => step({ type: "tick" }), logBug(log, "an ARP timer"));

  const settle = (ip: Ipv4Address, outcome: MacAddress | Error): void => {
    const list = waiters.get(ip.value);
    if (list === undefined) return;
    waiters.delete(ip.value);
    for (const w of list) outcome instanceof Error ? w.reject(outcome) : w.resolve(outcome);
  };

  const perform = (action: ArpAction<P>): void => {
    switch (action.type) {
      case "send":
        emitArp(action.packet, scratch, ETHERNET_HEADER_LEN);
        if (action.packet.operation === "request") stats.requestsSent++;
        else stats.repliesSent++;
        ethernet.transmit(scratch, 0, ARP_PACKET_LEN, action.dst, EtherType.arp);
        break;
      case "resolved":
        stats.resolved++;
        settle(action.ip, action.mac);
        if (action.packets.length > 0) handler?.resolved(action.ip, action.mac, action.packets);
        break;
      case "unreachable":
        stats.unreachable++;
        log.debug(() => `${action.ip} did not answer ARP; ${action.packets.length} packet(s) dropped`);
        settle(action.ip, new FlowError("unreachable", `${action.ip} does not answer ARP requests`));
        if (action.packets.length > 0) handler?.unreachable(action.ip, action.packets);
        break;
      case "dropped":
        stats.queueDrops += action.packets.length;
        if (action.packets.length > 0) handler?.dropped(action.ip, action.packets);
        log.debug(() => `${action.packets.length} packet(s) for ${action.ip} dropped while resolving (${action.reason})`);
        break;
      case "conflict":
        stats.conflicts++;
        log.warn(`address conflict: ${action.mac} also claims ${action.ip}`);
        break;
    }
  };

  function step(event: ArpEvent<P>): void {
    if (stopped) return;
    const r = arpStep(state, clock.now(), event);
    state = r.state;
    for (let i = 0; i < r.actions.length; i++) perform(r.actions[i]!);
    timer.arm(arpNextDeadline(state));
  }

  const receive = (frame: Uint8Array): void => {
    stats.received++;
    const parsed = parseArp(frame.subarray(ETHERNET_HEADER_LEN));
    if (!parsed.ok) {
      stats.malformed++;
      return;
    }
    step({ type: "received", packet: parsed.value });
  };

  return {
    mac: ethernet.mac,
    start(): void {
      ethernet.setHandler(EtherType.arp, receive);
      step({ type: "start" });
    },
    stop(): void {
      stopped = true;
      timer.stop();
      ethernet.setHandler(EtherType.arp, undefined);
      for (const [ip, list] of waiters) for (const w of list) w.reject(new FlowError("closed", `ARP query for ${Ipv4Address.ofInt(ip)}: the stack was disconnected`));
      waiters.clear();
    },
    addresses: () => state.config.addresses,
    setAddresses(addresses): void {
      step({ type: "set-addresses", addresses });
    },
    lookup: (ip: number): MacAddress | undefined => arpLookupValue(state, clock.now(), ip),
    resolve(ip: number, packet?: P): MacAddress | undefined {
      const mac = arpLookupValue(state, clock.now(), ip);
      if (mac !== undefined) return mac;
      if (stopped) return undefined;
      // The slow path: a step, whose "resolved" action (a cached entry due for refresh) may
      // answer at once; the queued packet then goes out through the handler.
      step(packet === undefined ? { type: "resolve", ip: Ipv4Address.ofInt(ip) } : { type: "resolve", ip: Ipv4Address.ofInt(ip), packet });
      return undefined;
    },
    query(ip: Ipv4Address): Promise<MacAddress> {
      const known = arpLookupValue(state, clock.now(), ip.value);
      if (known !== undefined) return Promise.resolve(known);
      if (stopped) return Promise.reject(new FlowError("closed", "the stack was disconnected"));
      return new Promise<MacAddress>((resolve, reject) => {
        const list = waiters.get(ip.value);
        if (list === undefined) waiters.set(ip.value, [{ resolve, reject }]);
        else list.push({ resolve, reject });
        step({ type: "resolve", ip });
        // The machine refused to start a resolution (too many pending): nothing will answer.
        if (waiters.has(ip.value) && !state.pending.has(ip.value)) {
          settle(ip, new FlowError("unreachable", `ARP query for ${ip}: too many addresses are being resolved`));
        }
      });
    },
    setQueueHandler(next): void {
      handler = next;
    },
    entries(): ArpEntry[] {
      const now = clock.now();
      const out: ArpEntry[] = [];
      for (const [ip, e] of state.cache) if (e.expiresAt > now) out.push({ ip: Ipv4Address.ofInt(ip), mac: e.mac, expiresAt: e.expiresAt });
      return out;
    },
    stats: () => ({ ...stats }),
  };
}
