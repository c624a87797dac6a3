/**
 * IPv4 reassembly (RFC 791 §3.2, RFC 815) as a pure state machine:
 * `reassemblyStep(state, now, event) → { state, actions }`.
 *
 * The fragment bookkeeping and its limits are shared with IPv6 (../reassembly-buffer.ts):
 * datagrams are keyed by (source, destination, protocol, identification), overlaps drop the
 * datagram, exact duplicates are ignored, and bytes, datagrams, fragments and time are bounded.
 * What is IPv4's own: the key, the 65535-byte limit with a 20-byte header, and the time exceeded
 * quote (the first fragment's header and 8 bytes).
 *
 * Unfragmented packets never come here (check `isFragment` first).
 */
import { type Ipv4Address } from "@mirage-ts/runtime";
import {
  type HeldDatagram,
  type ReassemblyBuffer,
  type ReassemblyBufferStep,
  type ReassemblyConfig,
  type ReassemblyDropReason,
  addFragment,
  createReassemblyBuffer,
  expireReassemblyBuffer,
  reassemblyBufferDeadline,
} from "../reassembly-buffer.ts";
import { IPV4_HEADER_LEN, IPV4_MAX_PACKET_LEN, type Ipv4Packet, writeIpv4Header } from "./wire.ts";

export { type ReassemblyConfig, type ReassemblyDropReason, DEFAULT_REASSEMBLY_CONFIG } from "../reassembly-buffer.ts";

type Ipv4FragmentFields = Omit<Ipv4Packet, "payload">;

export type PartialDatagram = HeldDatagram<Ipv4FragmentFields>;

export type ReassemblyState = ReassemblyBuffer<Ipv4FragmentFields>;

export type ReassemblyEvent = { type: "fragment"; packet: Ipv4Packet } | { type: "tick" };

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
  return createReassemblyBuffer(config);
}

/** When the engine must send a "tick", or undefined when nothing is in progress. */
export function reassemblyNextDeadline(state: ReassemblyState): number | undefined {
  return reassemblyBufferDeadline(state);
}

const keyOf = (p: Ipv4FragmentFields): string => `${p.src.value}/${p.dst.value}/${p.protocol}/${p.identification}`;
const idOf = (h: Ipv4FragmentFields): DatagramId => ({ src: h.src, dst: h.dst, protocol: h.protocol, identification: h.identification });

function headerOf(p: Ipv4Packet): Ipv4FragmentFields {
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
  const step: ReassemblyBufferStep<Ipv4FragmentFields> =
    event.type === "tick"
      ? expireReassemblyBuffer(state, now)
      : addFragment(state, now, {
          key: keyOf(event.packet),
          header: headerOf(event.packet),
          offset: event.packet.fragmentOffset,
          last: !event.packet.moreFragments,
          data: event.packet.payload,
          maxEnd: IPV4_MAX_PACKET_LEN - IPV4_HEADER_LEN,
        });
  return {
    state: step.buffer,
    actions: step.actions.map((a): ReassemblyAction => {
      switch (a.type) {
        case "reassembled":
          return { type: "reassembled", packet: { ...a.header, moreFragments: false, fragmentOffset: 0, payload: a.payload } };
        case "dropped":
          return { type: "dropped", id: idOf(a.header), reason: a.reason };
        case "timed-out":
          return { type: "timed-out", id: idOf(a.datagram.header), quote: a.datagram.hasFirst ? quoteOf(a.datagram) : undefined };
      }
    }),
  };
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
