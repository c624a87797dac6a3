/**
 * The part of IP reassembly that IPv4 (RFC 791/815) and IPv6 (RFC 8200 §4.5) share, as a pure
 * function over an immutable state: fragments are copied in (the netif reuses its buffers) and
 * kept per datagram under a key the caller derives (IPv4: source, destination, protocol,
 * identification; IPv6: source, destination, identification). Limits bound what a peer can make
 * us hold: total bytes (`maxBytes`, the oldest datagrams are evicted to make room), datagrams in
 * progress (`maxDatagrams`), fragments per datagram (`maxFragments`) and time (`timeoutMs` from
 * the first fragment). A fragment overlapping another (other than an exact duplicate, which a
 * duplicating link produces and which is ignored) drops the whole datagram, as RFC 5722
 * prescribes for IPv6 and Linux does for IPv4: overlaps are how fragment attacks evade inspection.
 *
 * `H` is the per-datagram header the caller keeps (the offset-0 fragment's once it arrives).
 */

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

export interface HeldFragment {
  /** Payload offset in bytes. */
  readonly offset: number;
  readonly data: Uint8Array;
}

export interface HeldDatagram<H> {
  readonly key: string;
  /** The header of the first fragment received; that of the offset-0 fragment once it arrives. */
  readonly header: H;
  /** Sorted by offset, never overlapping. */
  readonly fragments: readonly HeldFragment[];
  /** The payload length, known once the last fragment (no more fragments) arrived. */
  readonly totalLength: number | undefined;
  readonly bytes: number;
  readonly expiresAt: number;
  readonly hasFirst: boolean;
}

export interface ReassemblyBuffer<H> {
  readonly config: ReassemblyConfig;
  readonly datagrams: ReadonlyMap<string, HeldDatagram<H>>;
  /** Payload bytes held. */
  readonly bytes: number;
}

export type ReassemblyDropReason =
  | "overlap"
  | "too-many-fragments"
  | "too-many-datagrams"
  | "memory"
  /** Fragments disagree on the datagram's length, or a middle fragment is not a multiple of 8 bytes. */
  | "inconsistent";

export type ReassemblyBufferAction<H> =
  | { type: "reassembled"; header: H; payload: Uint8Array }
  | { type: "dropped"; header: H; reason: ReassemblyDropReason }
  | { type: "timed-out"; datagram: HeldDatagram<H> };

export interface ReassemblyBufferStep<H> {
  buffer: ReassemblyBuffer<H>;
  actions: ReassemblyBufferAction<H>[];
}

export interface IncomingFragment<H> {
  key: string;
  header: H;
  /** Payload offset in bytes. */
  offset: number;
  /** No more fragments follow this one. */
  last: boolean;
  data: Uint8Array;
  /** The largest payload end the protocol allows (IPv4: 65515, so the datagram fits 65535). */
  maxEnd: number;
}

export function createReassemblyBuffer<H>(config: Partial<ReassemblyConfig> = {}, defaults: ReassemblyConfig = DEFAULT_REASSEMBLY_CONFIG): ReassemblyBuffer<H> {
  return { config: { ...defaults, ...config }, datagrams: new Map(), bytes: 0 };
}

/** When the next datagram expires, or undefined when nothing is in progress. */
export function reassemblyBufferDeadline<H>(buffer: ReassemblyBuffer<H>): number | undefined {
  let next = Number.POSITIVE_INFINITY;
  for (const d of buffer.datagrams.values()) if (d.expiresAt < next) next = d.expiresAt;
  return next === Number.POSITIVE_INFINITY ? undefined : next;
}

function without<H>(buffer: ReassemblyBuffer<H>, keys: readonly string[]): ReassemblyBuffer<H> {
  if (keys.length === 0) return buffer;
  const datagrams = new Map(buffer.datagrams);
  let bytes = buffer.bytes;
  for (const k of keys) {
    const d = datagrams.get(k);
    if (d === undefined) continue;
    bytes -= d.bytes;
    datagrams.delete(k);
  }
  return { ...buffer, datagrams, bytes };
}

/** Removes the datagrams expired at `now`, reported as "timed-out". */
export function expireReassemblyBuffer<H>(buffer: ReassemblyBuffer<H>, now: number): ReassemblyBufferStep<H> {
  const expired = [...buffer.datagrams.values()].filter((d) => d.expiresAt <= now);
  return { buffer: without(buffer, expired.map((d) => d.key)), actions: expired.map((datagram) => ({ type: "timed-out", datagram })) };
}

/** Adds a fragment; the datagram is reported "reassembled" once its pieces are all there. */
export function addFragment<H>(buffer: ReassemblyBuffer<H>, now: number, incoming: IncomingFragment<H>): ReassemblyBufferStep<H> {
  const { config } = buffer;
  const { key, header, offset, last } = incoming;
  const length = incoming.data.length;
  const end = offset + length;
  const existing = buffer.datagrams.get(key);
  const drop = (reason: ReassemblyDropReason, dropped: ReassemblyBuffer<H> = without(buffer, [key])): ReassemblyBufferStep<H> => ({
    buffer: dropped,
    actions: [{ type: "dropped", header, reason }],
  });

  // Every fragment but the last carries a multiple of 8 bytes; an empty middle fragment says
  // nothing; and the whole datagram must fit what its length field can say (ping of death).
  if ((!last && (length === 0 || length % 8 !== 0)) || end > incoming.maxEnd) return drop("inconsistent");
  const fragments = existing?.fragments ?? [];
  let totalLength = existing?.totalLength;
  if (last) {
    if (totalLength !== undefined && totalLength !== end) return drop("inconsistent");
    const tail = fragments[fragments.length - 1];
    if (tail !== undefined && tail.offset + tail.data.length > end) return drop("inconsistent");
    totalLength = end;
  } else if (totalLength !== undefined && end > totalLength) {
    return drop("inconsistent");
  }

  // Where the fragment goes, and whether it overlaps a neighbour.
  let at = 0;
  while (at < fragments.length && fragments[at]!.offset < offset) at++;
  const same = fragments[at];
  if (same !== undefined && same.offset === offset && same.data.length === length) {
    return { buffer, actions: [] }; // an exact duplicate
  }
  const prev = fragments[at - 1];
  if ((prev !== undefined && prev.offset + prev.data.length > offset) || (same !== undefined && same.offset < end)) return drop("overlap");
  if (fragments.length + 1 > config.maxFragments) return drop("too-many-fragments");

  const actions: ReassemblyBufferAction<H>[] = [];
  let base = buffer;
  // Room for a new datagram and for the bytes: the oldest datagrams go first.
  if (existing === undefined && base.datagrams.size >= config.maxDatagrams) {
    const oldest = [...base.datagrams.values()].sort((x, y) => x.expiresAt - y.expiresAt)[0];
    if (oldest === undefined) return drop("too-many-datagrams");
    actions.push({ type: "dropped", header: oldest.header, reason: "too-many-datagrams" });
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
      actions.push({ type: "dropped", header: d.header, reason: "memory" });
    }
    base = without(base, evicted);
    if (base.bytes + length > config.maxBytes) {
      const r = drop("memory", without(base, [key]));
      return { buffer: r.buffer, actions: [...actions, ...r.actions] };
    }
  }

  const nextFragments = [...fragments.slice(0, at), { offset, data: incoming.data.slice() }, ...fragments.slice(at)];
  const held: HeldDatagram<H> = {
    key,
    header: offset === 0 || existing === undefined ? header : existing.header,
    fragments: nextFragments,
    totalLength,
    bytes: (existing?.bytes ?? 0) + length,
    expiresAt: existing?.expiresAt ?? now + config.timeoutMs,
    hasFirst: (existing?.hasFirst ?? false) || offset === 0,
  };

  if (held.hasFirst && totalLength !== undefined && contiguous(nextFragments, totalLength)) {
    const payload = new Uint8Array(totalLength);
    for (const f of nextFragments) payload.set(f.data, f.offset);
    actions.push({ type: "reassembled", header: held.header, payload });
    return { buffer: without(base, [key]), actions };
  }
  const datagrams = new Map(base.datagrams);
  datagrams.set(key, held);
  return { buffer: { ...base, datagrams, bytes: base.bytes + length }, actions };
}

function contiguous(fragments: readonly HeldFragment[], totalLength: number): boolean {
  let next = 0;
  for (const f of fragments) {
    if (f.offset !== next) return false;
    next += f.data.length;
  }
  return next === totalLength;
}
