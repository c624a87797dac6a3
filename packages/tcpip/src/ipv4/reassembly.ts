/**
 * IPv4 reassembly (RFC 791 §3.2, RFC 815) as a pure state machine:
 * `reassemblyStep(state, now, event) → { state, actions }`.
 *
 * Fragments are copied in (the netif reuses its buffers) and kept per datagram, keyed by
 * (source, destination, protocol, identification). Limits bound what a peer can make us hold:
 * total bytes (`maxBytes`, the oldest datagrams are evicted to make room), datagrams in progress
 * (`maxDatagrams`), fragments per datagram (`maxFragments`) and time (`timeoutMs` from the first
 * fragment). A fragment overlapping another (other than an exact duplicate, which a duplicating
 * link produces and which is ignored) drops the whole datagram, as RFC 5722 prescribes for IPv6
 * and Linux does for IPv4: overlaps are how fragment attacks evade inspection.
 *
 * Unfragmented packets never come here (check `isFragment` first).
 */
import { type Ipv4Address } from "@mirage-ts/runtime";
import { IPV4_HEADER_LEN, IPV4_MAX_PACKET_LEN, type Ipv4Packet, writeIpv4Header } from "./wire.ts";

export interface ReassemblyConfig {
  timeoutMs: number;
  maxDatagrams: number;
  maxFragments: number;
  /** Payload bytes held across all datagrams. */
  maxBytes: number;
}

export const DEFAULT_REASSEMBLY_CONFIG: ReassemblyConfig = {
  timeoutMs: 30_000,
  maxDatagrams: 64,
  maxFragments: 64,
  maxBytes: 1 << 20,
};

interface Fragment {
  /** Payload offset in bytes. */
  readonly offset: number;
  readonly data: Uint8Array;
}

export interface PartialDatagram {
  readonly key: string;
  /** Header fields of the first fragment received; those of the offset-0 fragment once it arrives. */
  readonly header: Omit<Ipv4Packet, "payload">;
  /** Sorted by offset, never overlapping. */
  readonly fragments: readonly Fragment[];
  /** The payload length, known once the last fragment (MF clear) arrived. */
  readonly totalLength: number | undefined;
  readonly bytes: number;
  readonly expiresAt: number;
  readonly hasFirst: boolean;
}

export interface ReassemblyState {
  readonly config: ReassemblyConfig;
  readonly datagrams: ReadonlyMap<string, PartialDatagram>;
  /** Payload bytes held. */
  readonly bytes: number;
}

export type ReassemblyEvent = { type: "fragment"; packet: Ipv4Packet } | { type: "tick" };

export type ReassemblyDropReason =
  | "overlap"
  | "too-many-fragments"
  | "too-many-datagrams"
  | "memory"
  /** Fragments disagree on the datagram's length, or a middle fragment is not a multiple of 8 bytes. */
  | "inconsistent";

export interface DatagramId {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  identification: number;
}

export type ReassemblyAction =
  | { type: "reassembled"; packet: Ipv4Packet }
  | { type: "dropped"; id: DatagramId; reason: ReassemblyDropReason }
  /**
   * The datagram did not complete in time. `quote` is what an ICMP time exceeded (code 1) message
   * carries, present only when fragment zero arrived (RFC 792: no message otherwise).
   */
  | { type: "timed-out"; id: DatagramId; quote: Uint8Array | undefined };

export interface ReassemblyStep {
  state: ReassemblyState;
  actions: ReassemblyAction[];
}

export function createReassemblyState(config: Partial<ReassemblyConfig> = {}): ReassemblyState {
  return { config: { ...DEFAULT_REASSEMBLY_CONFIG, ...config }, datagrams: new Map(), bytes: 0 };
}

/** When the engine must send a "tick", or undefined when nothing is in progress. */
export function reassemblyNextDeadline(state: ReassemblyState): number | undefined {
  let next = Number.POSITIVE_INFINITY;
  for (const d of state.datagrams.values()) if (d.expiresAt < next) next = d.expiresAt;
  return next === Number.POSITIVE_INFINITY ? undefined : next;
}

const keyOf = (p: Omit<Ipv4Packet, "payload">): string => `${p.src.value}/${p.dst.value}/${p.protocol}/${p.identification}`;
const idOf = (h: Omit<Ipv4Packet, "payload">): DatagramId => ({ src: h.src, dst: h.dst, protocol: h.protocol, identification: h.identification });

function headerOf(p: Ipv4Packet): Omit<Ipv4Packet, "payload"> {
  return {
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    ttl: p.ttl,
    tos: p.tos,
    identification: p.identification,
    dontFragment: p.dontFragment,
    moreFragments: p.moreFragments,
    fragmentOffset: p.fragmentOffset,
  };
}

export function reassemblyStep(state: ReassemblyState, now: number, event: ReassemblyEvent): ReassemblyStep {
  return event.type === "tick" ? tick(state, now) : fragment(state, now, event.packet);
}

function without(state: ReassemblyState, keys: readonly string[]): ReassemblyState {
  if (keys.length === 0) return state;
  const datagrams = new Map(state.datagrams);
  let bytes = state.bytes;
  for (const k of keys) {
    const d = datagrams.get(k);
    if (d === undefined) continue;
    bytes -= d.bytes;
    datagrams.delete(k);
  }
  return { ...state, datagrams, bytes };
}

function tick(state: ReassemblyState, now: number): ReassemblyStep {
  const expired = [...state.datagrams.values()].filter((d) => d.expiresAt <= now);
  const actions: ReassemblyAction[] = expired.map((d) => ({ type: "timed-out", id: idOf(d.header), quote: d.hasFirst ? quoteOf(d) : undefined }));
  return { state: without(state, expired.map((d) => d.key)), actions };
}

/** The first fragment's header (rebuilt, 20 bytes) and first 8 payload bytes. */
function quoteOf(d: PartialDatagram): Uint8Array {
  const first = d.fragments[0]!;
  const data = first.data.subarray(0, 8);
  const quote = new Uint8Array(IPV4_HEADER_LEN + data.length);
  writeIpv4Header({ ...d.header, moreFragments: true, fragmentOffset: 0 }, IPV4_HEADER_LEN + first.data.length, quote, 0);
  quote.set(data, IPV4_HEADER_LEN);
  return quote;
}

function fragment(state: ReassemblyState, now: number, packet: Ipv4Packet): ReassemblyStep {
  const { config } = state;
  const header = headerOf(packet);
  const key = keyOf(header);
  const id = idOf(header);
  const offset = packet.fragmentOffset;
  const length = packet.payload.length;
  const end = offset + length;
  const last = !packet.moreFragments;
  const existing = state.datagrams.get(key);
  const drop = (reason: ReassemblyDropReason, dropped: ReassemblyState = without(state, [key])): ReassemblyStep => ({
    state: dropped,
    actions: [{ type: "dropped", id, reason }],
  });

  // Every fragment but the last carries a multiple of 8 bytes; an empty middle fragment says
  // nothing; and the whole datagram, header included, must fit in 65535 bytes (ping of death).
  if ((!last && (length === 0 || length % 8 !== 0)) || end > IPV4_MAX_PACKET_LEN - IPV4_HEADER_LEN) {
    return drop("inconsistent");
  }
  const fragments = existing?.fragments ?? [];
  let totalLength = existing?.totalLength;
  if (last) {
    if (totalLength !== undefined && totalLength !== end) return drop("inconsistent");
    if (fragments.length > 0 && fragments[fragments.length - 1]!.offset + fragments[fragments.length - 1]!.data.length > end) return drop("inconsistent");
    totalLength = end;
  } else if (totalLength !== undefined && end > totalLength) {
    return drop("inconsistent");
  }

  // Where the fragment goes, and whether it overlaps a neighbour.
  let at = 0;
  while (at < fragments.length && fragments[at]!.offset < offset) at++;
  const same = fragments[at];
  if (same !== undefined && same.offset === offset && same.data.length === length) {
    return { state, actions: [] }; // an exact duplicate
  }
  const prev = fragments[at - 1];
  if ((prev !== undefined && prev.offset + prev.data.length > offset) || (same !== undefined && same.offset < end)) return drop("overlap");
  if (fragments.length + 1 > config.maxFragments) return drop("too-many-fragments");

  const actions: ReassemblyAction[] = [];
  let base = state;
  // Room for a new datagram and for the bytes: the oldest datagrams go first.
  if (existing === undefined && base.datagrams.size >= config.maxDatagrams) {
    const oldest = [...base.datagrams.values()].sort((x, y) => x.expiresAt - y.expiresAt)[0]!;
    actions.push({ type: "dropped", id: idOf(oldest.header), reason: "too-many-datagrams" });
    base = without(base, [oldest.key]);
  }
  if (base.bytes + length > config.maxBytes) {
    const candidates = [...base.datagrams.values()].filter((d) => d.key !== key).sort((x, y) => x.expiresAt - y.expiresAt);
    const evicted: string[] = [];
    let bytes = base.bytes;
    for (const d of candidates) {
      if (bytes + length <= config.maxBytes) break;
      bytes -= d.bytes;
      evicted.push(d.key);
      actions.push({ type: "dropped", id: idOf(d.header), reason: "memory" });
    }
    base = without(base, evicted);
    if (base.bytes + length > config.maxBytes) {
      const r = drop("memory", without(base, [key]));
      return { state: r.state, actions: [...actions, ...r.actions] };
    }
  }

  const nextFragments = [...fragments.slice(0, at), { offset, data: packet.payload.slice() }, ...fragments.slice(at)];
  const partial: PartialDatagram = {
    key,
    header: offset === 0 || existing === undefined ? header : existing.header,
    fragments: nextFragments,
    totalLength,
    bytes: (existing?.bytes ?? 0) + length,
    expiresAt: existing?.expiresAt ?? now + config.timeoutMs,
    hasFirst: (existing?.hasFirst ?? false) || offset === 0,
  };

  if (partial.hasFirst && totalLength !== undefined && contiguous(nextFragments, totalLength)) {
    const payload = new Uint8Array(totalLength);
    for (const f of nextFragments) payload.set(f.data, f.offset);
    actions.push({ type: "reassembled", packet: { ...partial.header, moreFragments: false, fragmentOffset: 0, payload } });
    return { state: without(base, [key]), actions };
  }
  const datagrams = new Map(base.datagrams);
  datagrams.set(key, partial);
  return { state: { ...base, datagrams, bytes: base.bytes + length }, actions };
}

function contiguous(fragments: readonly Fragment[], totalLength: number): boolean {
  let next = 0;
  for (const f of fragments) {
    if (f.offset !== next) return false;
    next += f.data.length;
  }
  return next === totalLength;
}
