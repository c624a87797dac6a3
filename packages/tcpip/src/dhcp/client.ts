/**
 * The DHCPv4 client engine: the pure machine of state-machine.ts wired to UDP port 68, to one
 * timer at the machine's next deadline, and to the IPv4 engine, whose address and gateway it sets
 * when a lease is bound and clears when it is lost.
 *
 * Before an address exists the client sends from 0.0.0.0:68 to 255.255.255.255:67 (the IPv4
 * engine allows exactly that without an address) and asks for broadcast replies; IPv4 also
 * accepts UDP to any address until then, for servers that unicast their offer anyway.
 */
import { type Datagram, Ipv4Address, type Log, type MonotonicClock, type Random, type Time, type Udp } from "@mirage-ts/runtime";
import { createDeadlineTimer } from "../deadline-timer.ts";
import type { Ipv4Engine } from "../ipv4/engine.ts";
import { logBug, silentLog } from "../logs.ts";
import {
  type DhcpAction,
  type DhcpClientConfig,
  type DhcpEvent,
  type DhcpLease,
  type DhcpState,
  type DhcpStateName,
  createDhcpState,
  dhcpNextDeadline,
  dhcpStep,
} from "./state-machine.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, encodeDhcp, parseDhcp } from "./wire.ts";

/** What a unikernel sees of the DHCP client (the `dhcp` field of a direct stack configured by DHCP). */
export interface DhcpLeaseAccess {
  /** The lease in force, or undefined while there is none. */
  lease(): DhcpLease | undefined;
  /** The machine's state: "init", "selecting", "requesting", "bound", "renewing" or "rebinding". */
  state(): DhcpStateName;
  /**
   * Calls `listener` with each new or renewed lease, and with undefined when the lease is lost
   * (NAK, expiry). Returns a function that unsubscribes.
   */
  onLease(listener: (lease: DhcpLease | undefined) => void): () => void;
  /** Resolves with the current lease, or the next one (rejects when `signal` aborts or the stack stops). */
  waitForLease(signal?: AbortSignal): Promise<DhcpLease>;
}

export interface DhcpClient extends DhcpLeaseAccess {
  start(): void;
  stop(): void;
  stats(): DhcpClientStats;
}

export interface DhcpClientStats {
  sent: number;
  received: number;
  /** Not a DHCP message, or not from port 67. */
  malformed: number;
  leases: number;
  renewals: number;
  naks: number;
  expiries: number;
}

export interface DhcpClientOptions {
  udp: Udp;
  ipv4: Ipv4Engine;
  clock: MonotonicClock;
  time: Time;
  random: Random;
  config: Partial<DhcpClientConfig> & Pick<DhcpClientConfig, "mac">;
  log?: Log;
}

/** "DHCP lease 10.0.0.57/24 from 10.0.0.1, router 10.0.0.1, dns 10.0.0.1, lease 120 s". */
export function describeLease(lease: DhcpLease): string {
  const router = lease.router === undefined ? "none" : lease.router.toString();
  const dns = lease.dnsServers.length === 0 ? "none" : lease.dnsServers.join(" ");
  const time = Number.isFinite(lease.leaseSeconds) ? `${lease.leaseSeconds} s` : "infinite";
  return `DHCP lease ${lease.address} from ${lease.server}, router ${router}, dns ${dns}, lease ${time}`;
}

export function createDhcpClient(options: DhcpClientOptions): DhcpClient {
  const { udp, ipv4, clock, time, random } = options;
  const log = options.log ?? silentLog;
  let state: DhcpState = createDhcpState(options.config);
  const listeners = new Set<(lease: DhcpLease | undefined) => void>();
  const waiters = new Set<{ resolve(lease: DhcpLease): void; reject(error: Error): void }>();
  const stats: DhcpClientStats = { sent: 0, received: 0, malformed: 0, leases: 0, renewals: 0, naks: 0, expiries: 0 };
  const timer = createDeadlineTimer(clock, time, () => step({ type: "tick", entropy: random.uint32() }), logBug(log, "a DHCP timer"));
  let stopped = false;

  const notify = (lease: DhcpLease | undefined): void => {
    for (const listener of [...listeners]) {
      try {
        listener(lease);
      } catch (e) {
        log.warn(`a DHCP lease listener failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (lease !== undefined) {
      for (const w of waiters) w.resolve(lease);
      waiters.clear();
    }
  };

  const perform = (action: DhcpAction): void => {
    switch (action.type) {
      case "send": {
        stats.sent++;
        const dst = action.to === "broadcast" ? Ipv4Address.broadcast : action.to;
        log.debug(() => `DHCP ${action.message.options.messageType} to ${dst} (xid 0x${action.message.xid.toString(16)})`);
        udp
          .send({ srcPort: DHCP_CLIENT_PORT, dst, dstPort: DHCP_SERVER_PORT, data: encodeDhcp(action.message) })
          .catch((e: unknown) => log.debug(`DHCP ${action.message.options.messageType} to ${dst} not sent: ${e instanceof Error ? e.message : String(e)}`));
        break;
      }
      case "bound": {
        const { lease } = action;
        if (action.renewed) {
          stats.renewals++;
          log.info(`DHCP lease ${lease.address} renewed by ${lease.server}, lease ${Number.isFinite(lease.leaseSeconds) ? `${lease.leaseSeconds} s` : "infinite"}`);
        } else {
          stats.leases++;
          log.info(describeLease(lease));
        }
        ipv4.setConfig({ address: lease.address, gateway: lease.router });
        notify(lease);
        break;
      }
      case "unbound":
        if (action.reason === "nak") stats.naks++;
        else stats.expiries++;
        log.warn(`DHCP lease ${action.lease.address} ${action.reason === "nak" ? "refused by the server (NAK)" : "expired"}: the address is no longer used`);
        ipv4.setConfig({ address: undefined, gateway: undefined });
        notify(undefined);
        break;
    }
  };

  function step(event: DhcpEvent): void {
    if (stopped && event.type !== "stop") return;
    const before = state.name;
    const r = dhcpStep(state, clock.now(), event);
    state = r.state;
    for (const action of r.actions) perform(action);
    if (state.name !== before) log.debug(() => `DHCP ${before} → ${state.name}`);
    timer.arm(dhcpNextDeadline(state));
  }

  const receive = (datagram: Datagram): void => {
    stats.received++;
    const parsed = datagram.srcPort === DHCP_SERVER_PORT ? parseDhcp(datagram.data) : undefined;
    if (parsed === undefined || !parsed.ok) {
      stats.malformed++;
      return;
    }
    if (parsed.value.options.messageType === "nak" && parsed.value.options.message !== undefined) {
      log.debug(`DHCP NAK from ${datagram.src}: ${parsed.value.options.message}`);
    }
    step({ type: "received", message: parsed.value, entropy: random.uint32() });
  };

  return {
    start(): void {
      udp.listen(DHCP_CLIENT_PORT, receive);
      step({ type: "start", entropy: random.uint32() });
    },
    stop(): void {
      if (stopped) return;
      step({ type: "stop" });
      stopped = true;
      timer.stop();
      udp.unlisten(DHCP_CLIENT_PORT);
      for (const w of waiters) w.reject(new Error("DHCP: the stack was disconnected before a lease was obtained"));
      waiters.clear();
      listeners.clear();
    },
    lease: () => state.lease,
    state: () => state.name,
    onLease(listener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitForLease(signal?: AbortSignal): Promise<DhcpLease> {
      if (state.lease !== undefined) return Promise.resolve(state.lease);
      if (stopped) return Promise.reject(new Error("DHCP: the stack is disconnected"));
      return new Promise<DhcpLease>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        const waiter = {
          resolve: (lease: DhcpLease) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(lease);
          },
          reject: (error: Error) => {
            signal?.removeEventListener("abort", onAbort);
            reject(error);
          },
        };
        const onAbort = (): void => {
          waiters.delete(waiter);
          reject(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        waiters.add(waiter);
      });
    },
    stats: () => ({ ...stats }),
  };
}
