/**
 * The DHCPv4 client (RFC 2131 §4.4) as a pure state machine:
 * `dhcpStep(state, now, event) → { state, actions }`, with `dhcpNextDeadline(state)` telling the
 * engine when to send the next "tick".
 *
 *   INIT ──DISCOVER──▶ SELECTING ──OFFER/REQUEST──▶ REQUESTING ──ACK──▶ BOUND
 *     ▲                                  │ NAK or no answer               │ T1
 *     └──────────────────────────────────┘                                ▼
 *     ▲          NAK / lease expiry                                    RENEWING (REQUEST unicast to the server)
 *     └───────────────────────────── REBINDING ◀──T2── (REQUEST broadcast)   ── ACK ──▶ BOUND
 *
 * Retransmissions back off exponentially (4 s, 8 s, ... 64 s) with ±1 s of jitter (§4.1);
 * in RENEWING and REBINDING the client waits half the time left until T2 (resp. expiry), at least
 * 60 s (§4.4.5). Repeated NAKs delay the restart exponentially so a confused server cannot make
 * the client loop at wire speed. Randomness (transaction ids, jitter) comes in with each event
 * as `entropy` (a fresh 32-bit number from the injected Random), so the machine stays a pure
 * function and a seeded test replays exactly.
 *
 * Not done: ARP probing of the offered address before use (RFC 2131 §4.4.1 SHOULD, with DECLINE),
 * INIT-REBOOT from a stored lease (the client asks for its previous address in DISCOVER instead),
 * and RELEASE on shutdown (MirageOS's client does not release either).
 */
import { Ipv4Address, Ipv4Prefix, type MacAddress } from "@mirage-ts/runtime";
import { type DhcpMessage, type DhcpMessageType, type DhcpOptions, DhcpOptionCode, netmaskLength } from "./wire.ts";

export interface DhcpClientConfig {
  mac: MacAddress;
  /** Option 61; default: hardware type 1 followed by the MAC (what most clients send). */
  clientId?: Uint8Array;
  /** Option 55. */
  parameterRequestList: readonly number[];
  /** The first retransmission delay (RFC 2131: 4 s), doubled each time up to `maxRetransmitMs`. */
  initialRetransmitMs: number;
  maxRetransmitMs: number;
  /** Each delay is moved by a uniform amount in [-jitterMs, +jitterMs]. */
  jitterMs: number;
  /** REQUESTs sent in REQUESTING before starting over from INIT. */
  requestAttempts: number;
  /** The shortest wait between REQUESTs in RENEWING and REBINDING (RFC 2131 §4.4.5: 60 s). */
  minRenewRetransmitMs: number;
  /** Option 57: the largest message we accept. */
  maxMessageSize: number;
}

export const DEFAULT_DHCP_CLIENT_CONFIG: Omit<DhcpClientConfig, "mac"> = {
  parameterRequestList: [DhcpOptionCode.subnetMask, DhcpOptionCode.router, DhcpOptionCode.dnsServers, DhcpOptionCode.leaseTime, DhcpOptionCode.renewalTime, DhcpOptionCode.rebindingTime],
  initialRetransmitMs: 4_000,
  maxRetransmitMs: 64_000,
  jitterMs: 1_000,
  requestAttempts: 4,
  minRenewRetransmitMs: 60_000,
  maxMessageSize: 1500,
};

export type DhcpStateName = "init" | "selecting" | "requesting" | "bound" | "renewing" | "rebinding";

/** What the client holds once bound: what the unikernel sees. */
export interface DhcpLease {
  /** Our address and the network's prefix (from the subnet mask option, else the address class). */
  address: Ipv4Prefix;
  /** The first router (option 3), the gateway. */
  router: Ipv4Address | undefined;
  routers: readonly Ipv4Address[];
  dnsServers: readonly Ipv4Address[];
  /** The server that granted it (option 54). */
  server: Ipv4Address;
  /** Seconds; Infinity for an infinite lease (0xffffffff). */
  leaseSeconds: number;
  /** T1 and T2 in seconds from `obtainedAt` (Infinity for an infinite lease). */
  renewalSeconds: number;
  rebindingSeconds: number;
  /** Clock ms when the REQUEST that obtained it was sent: the lease runs from then (§4.4.1). */
  obtainedAt: number;
}

export interface DhcpState {
  readonly config: DhcpClientConfig;
  readonly name: DhcpStateName;
  /** False until "start" (and after "stop"). */
  readonly active: boolean;
  readonly xid: number;
  /** When the current exchange began (the `secs` field counts from it). */
  readonly exchangeStartedAt: number;
  /** Messages sent in the current state. */
  readonly attempts: number;
  /** When to retransmit (or, in INIT, to start over); undefined when nothing is due. */
  readonly retransmitAt: number | undefined;
  /** The offer being requested (REQUESTING). */
  readonly offer: { address: Ipv4Address; server: Ipv4Address } | undefined;
  /** When the first REQUEST of the current exchange went out. */
  readonly requestSentAt: number;
  readonly lease: DhcpLease | undefined;
  /** NAKs since the last lease. */
  readonly naks: number;
}

export type DhcpEvent =
  | { type: "start"; entropy: number }
  | { type: "received"; message: DhcpMessage; entropy: number }
  | { type: "tick"; entropy: number }
  | { type: "stop" };

export type DhcpAction =
  /** Send `message` to the server (unicast) or to 255.255.255.255, from our address or 0.0.0.0. */
  | { type: "send"; message: DhcpMessage; to: Ipv4Address | "broadcast" }
  /**
   * A lease was obtained, or extended (`renewed`: same address). A renewal may also bring a new
   * address (`renewed` false while a lease was held): configure the interface from it either way.
   */
  | { type: "bound"; lease: DhcpLease; renewed: boolean }
  /** The lease is gone: stop using its address. */
  | { type: "unbound"; lease: DhcpLease; reason: "nak" | "expired" };

export interface DhcpStep {
  state: DhcpState;
  actions: DhcpAction[];
}

export function createDhcpState(config: Partial<DhcpClientConfig> & Pick<DhcpClientConfig, "mac">): DhcpState {
  return {
    config: { ...DEFAULT_DHCP_CLIENT_CONFIG, ...config },
    name: "init",
    active: false,
    xid: 0,
    exchangeStartedAt: 0,
    attempts: 0,
    retransmitAt: undefined,
    offer: undefined,
    requestSentAt: 0,
    lease: undefined,
    naks: 0,
  };
}

/** When T1, T2 and the expiry fall, in clock ms. */
export function leaseTimes(lease: DhcpLease): { renewAt: number; rebindAt: number; expiresAt: number } {
  const at = (seconds: number): number => (Number.isFinite(seconds) ? lease.obtainedAt + seconds * 1000 : Number.POSITIVE_INFINITY);
  return { renewAt: at(lease.renewalSeconds), rebindAt: at(lease.rebindingSeconds), expiresAt: at(lease.leaseSeconds) };
}

/** When the engine must send a "tick", or undefined when nothing is due. */
export function dhcpNextDeadline(state: DhcpState): number | undefined {
  if (!state.active) return undefined;
  let next = state.retransmitAt ?? Number.POSITIVE_INFINITY;
  if (state.lease !== undefined) {
    const t = leaseTimes(state.lease);
    if (state.name === "bound") next = Math.min(next, t.renewAt);
    else if (state.name === "renewing") next = Math.min(next, t.rebindAt);
    else if (state.name === "rebinding") next = Math.min(next, t.expiresAt);
  }
  return Number.isFinite(next) ? next : undefined;
}

/** A second, independent-looking number from the same entropy (jitter must not mirror the xid). */
function mix(x: number): number {
  let h = Math.imul(x ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function backoff(config: DhcpClientConfig, attempt: number, entropy: number): number {
  const base = Math.min(config.maxRetransmitMs, config.initialRetransmitMs * 2 ** Math.max(0, attempt - 1));
  const jitter = ((mix(entropy) / 0x100000000) * 2 - 1) * config.jitterMs;
  return Math.max(0, base + jitter);
}

function clientIdOf(config: DhcpClientConfig): Uint8Array {
  if (config.clientId !== undefined) return config.clientId;
  const id = new Uint8Array(7);
  id[0] = 1;
  config.mac.toBytes(id, 1);
  return id;
}

function message(state: DhcpState, now: number, type: DhcpMessageType, fields: { ciaddr?: Ipv4Address; broadcast: boolean; options?: Partial<DhcpOptions> }): DhcpMessage {
  const { config } = state;
  return {
    op: "request",
    xid: state.xid,
    secs: Math.min(0xffff, Math.max(0, Math.floor((now - state.exchangeStartedAt) / 1000))),
    broadcast: fields.broadcast,
    ciaddr: fields.ciaddr ?? Ipv4Address.any,
    yiaddr: Ipv4Address.any,
    siaddr: Ipv4Address.any,
    giaddr: Ipv4Address.any,
    chaddr: config.mac,
    options: {
      messageType: type,
      clientId: clientIdOf(config),
      maxMessageSize: config.maxMessageSize,
      parameterRequestList: [...config.parameterRequestList],
      ...fields.options,
    },
  };
}

/** The shortest lease the client accepts as given; shorter ones are taken as this long. */
export const MIN_LEASE_SECONDS = 20;

/** The classful prefix length (RFC 950's defaults) when a server sends no subnet mask. */
function classfulLength(address: Ipv4Address): number {
  const top = address.value >>> 24;
  return top < 128 ? 8 : top < 192 ? 16 : 24;
}

function leaseOf(ack: DhcpMessage, server: Ipv4Address, obtainedAt: number): DhcpLease | undefined {
  const o = ack.options;
  if (o.leaseTime === undefined || ack.yiaddr.isUnspecified()) return undefined;
  const infinite = o.leaseTime === 0xffffffff;
  // A lease of a few seconds (or 0, from a broken or rogue server) would make renewal, rebinding
  // and expiry fall due at once and the client storm the link: like dhcpcd, take at least 20 s.
  const leaseSeconds = infinite ? Number.POSITIVE_INFINITY : Math.max(o.leaseTime, MIN_LEASE_SECONDS);
  // T1 <= T2 <= lease, defaults 0.5 and 0.875 of the lease (§4.4.5).
  let rebindingSeconds = infinite ? leaseSeconds : Math.min(o.rebindingTime ?? leaseSeconds * 0.875, leaseSeconds);
  let renewalSeconds = infinite ? leaseSeconds : Math.min(o.renewalTime ?? leaseSeconds * 0.5, rebindingSeconds);
  if (o.renewalTime === 0xffffffff) renewalSeconds = rebindingSeconds;
  if (o.rebindingTime === 0xffffffff) rebindingSeconds = leaseSeconds;
  const length = (o.subnetMask !== undefined ? netmaskLength(o.subnetMask) : undefined) ?? classfulLength(ack.yiaddr);
  const routers = o.routers ?? [];
  return {
    address: Ipv4Prefix.make(ack.yiaddr, length),
    router: routers[0],
    routers,
    dnsServers: o.dnsServers ?? [],
    server,
    leaseSeconds,
    renewalSeconds,
    rebindingSeconds,
    obtainedAt,
  };
}

/** A fresh DISCOVER (new transaction) from `state`, now. */
function discover(state: DhcpState, now: number, entropy: number): DhcpStep {
  const next: DhcpState = {
    ...state,
    name: "selecting",
    xid: entropy >>> 0,
    exchangeStartedAt: now,
    attempts: 1,
    retransmitAt: now + backoff(state.config, 1, entropy),
    offer: undefined,
  };
  // Asking for the address we had helps a server give it back (the INIT-REBOOT idea, cheaply).
  const previous = state.lease?.address.address;
  const options: Partial<DhcpOptions> = previous !== undefined ? { requestedIp: previous } : {};
  return { state: next, actions: [{ type: "send", message: message(next, now, "discover", { broadcast: true, options }), to: "broadcast" }] };
}

/** INIT after a failure: start over now, or after a delay that doubles with each NAK. */
function restart(state: DhcpState, now: number, entropy: number, actions: DhcpAction[]): DhcpStep {
  const naks = state.naks;
  if (naks <= 1) {
    const r = discover(state, now, entropy);
    return { state: r.state, actions: [...actions, ...r.actions] };
  }
  const delay = Math.min(state.config.maxRetransmitMs, state.config.initialRetransmitMs * 2 ** (naks - 2));
  return { state: { ...state, name: "init", attempts: 0, retransmitAt: now + delay, offer: undefined }, actions };
}

function sendRequest(state: DhcpState, now: number): DhcpAction {
  const lease = state.lease;
  switch (state.name) {
    case "requesting":
      return {
        type: "send",
        message: message(state, now, "request", { broadcast: true, options: { requestedIp: state.offer!.address, serverId: state.offer!.server } }),
        to: "broadcast",
      };
    case "renewing":
      return { type: "send", message: message(state, now, "request", { broadcast: false, ciaddr: lease!.address.address }), to: lease!.server };
    default:
      return { type: "send", message: message(state, now, "request", { broadcast: false, ciaddr: lease!.address.address }), to: "broadcast" };
  }
}

/** The wait before the next REQUEST in RENEWING/REBINDING: half the time left until `until`, at least the minimum. */
function renewWait(state: DhcpState, now: number, until: number): number {
  return Math.max(state.config.minRenewRetransmitMs, (until - now) / 2);
}

export function dhcpStep(state: DhcpState, now: number, event: DhcpEvent): DhcpStep {
  switch (event.type) {
    case "start":
      if (state.active) return { state, actions: [] };
      return discover({ ...state, active: true }, now, event.entropy);
    case "stop":
      return { state: { ...state, active: false, retransmitAt: undefined }, actions: [] };
    case "tick":
      return state.active ? tick(state, now, event.entropy) : { state, actions: [] };
    case "received":
      return state.active ? received(state, now, event.message, event.entropy) : { state, actions: [] };
  }
}

function tick(state: DhcpState, now: number, entropy: number): DhcpStep {
  const due = (at: number | undefined): boolean => at !== undefined && at <= now;
  switch (state.name) {
    case "init":
      return due(state.retransmitAt) ? discover(state, now, entropy) : { state, actions: [] };
    case "selecting": {
      if (!due(state.retransmitAt)) return { state, actions: [] };
      const attempts = state.attempts + 1;
      const next = { ...state, attempts, retransmitAt: now + backoff(state.config, attempts, entropy) };
      return { state: next, actions: [{ type: "send", message: message(next, now, "discover", { broadcast: true, options: state.lease ? { requestedIp: state.lease.address.address } : {} }), to: "broadcast" }] };
    }
    case "requesting": {
      if (!due(state.retransmitAt)) return { state, actions: [] };
      if (state.attempts >= state.config.requestAttempts) return discover(state, now, entropy);
      const attempts = state.attempts + 1;
      const next = { ...state, attempts, retransmitAt: now + backoff(state.config, attempts, entropy) };
      return { state: next, actions: [sendRequest(next, now)] };
    }
    case "bound": {
      const t = leaseTimes(state.lease!);
      if (now < t.renewAt) return { state, actions: [] };
      const next: DhcpState = { ...state, name: "renewing", xid: entropy >>> 0, exchangeStartedAt: now, attempts: 1, requestSentAt: now, retransmitAt: now + renewWait(state, now, t.rebindAt) };
      return { state: next, actions: [sendRequest(next, now)] };
    }
    case "renewing": {
      const t = leaseTimes(state.lease!);
      if (now >= t.rebindAt) {
        const next: DhcpState = { ...state, name: "rebinding", attempts: 1, requestSentAt: now, retransmitAt: now + renewWait(state, now, t.expiresAt) };
        return { state: next, actions: [sendRequest(next, now)] };
      }
      if (!due(state.retransmitAt)) return { state, actions: [] };
      const next: DhcpState = { ...state, attempts: state.attempts + 1, requestSentAt: now, retransmitAt: now + renewWait(state, now, t.rebindAt) };
      return { state: next, actions: [sendRequest(next, now)] };
    }
    case "rebinding": {
      const lease = state.lease!;
      const t = leaseTimes(lease);
      if (now >= t.expiresAt) {
        return restart({ ...state, lease: undefined, naks: 0 }, now, entropy, [{ type: "unbound", lease, reason: "expired" }]);
      }
      if (!due(state.retransmitAt)) return { state, actions: [] };
      const next: DhcpState = { ...state, attempts: state.attempts + 1, requestSentAt: now, retransmitAt: now + renewWait(state, now, t.expiresAt) };
      return { state: next, actions: [sendRequest(next, now)] };
    }
  }
}

function received(state: DhcpState, now: number, msg: DhcpMessage, entropy: number): DhcpStep {
  const none: DhcpStep = { state, actions: [] };
  if (msg.op !== "reply" || msg.xid !== state.xid || !msg.chaddr.equals(state.config.mac)) return none;
  const type = msg.options.messageType;
  const server = msg.options.serverId;
  switch (state.name) {
    case "selecting": {
      if (type !== "offer" || server === undefined || msg.yiaddr.isUnspecified()) return none;
      const next: DhcpState = {
        ...state,
        name: "requesting",
        offer: { address: msg.yiaddr, server },
        attempts: 1,
        requestSentAt: now,
        retransmitAt: now + backoff(state.config, 1, entropy),
      };
      return { state: next, actions: [sendRequest(next, now)] };
    }
    case "requesting":
    case "renewing":
    case "rebinding": {
      // In REQUESTING only the chosen server's answer counts; in REBINDING any server may answer.
      const expected = state.name === "requesting" ? state.offer!.server : state.name === "renewing" ? state.lease!.server : undefined;
      if (expected !== undefined && server !== undefined && !server.equals(expected)) return none;
      if (type === "nak") {
        // RFC 2131 §4.3.2: a NAK carries the server identifier; one without cannot be attributed.
        if (server === undefined) return none;
        const actions: DhcpAction[] = state.lease !== undefined ? [{ type: "unbound", lease: state.lease, reason: "nak" }] : [];
        return restart({ ...state, lease: undefined, naks: state.naks + 1 }, now, entropy, actions);
      }
      if (type !== "ack") return none;
      const lease = leaseOf(msg, server ?? expected ?? state.lease?.server ?? Ipv4Address.any, state.requestSentAt);
      if (lease === undefined) return none;
      const renewed = state.lease !== undefined && state.lease.address.equals(lease.address);
      const next: DhcpState = { ...state, name: "bound", lease, offer: undefined, attempts: 0, retransmitAt: undefined, naks: 0 };
      return { state: next, actions: [{ type: "bound", lease, renewed }] };
    }
    default:
      return none;
  }
}

