/**
 * IPv6 reassembly (RFC 8200 §4.5) as a pure state machine:
 * `ipv6ReassemblyStep(state, now, event) → { state, actions }`, over the bookkeeping and limits
 * IPv4 uses (../reassembly-buffer.ts): overlapping fragments drop the datagram (RFC 5722), exact
 * duplicates are ignored, and bytes, datagrams, fragments and time (60 s, RFC 8200) are bounded.
 *
 * What is IPv6's own:
 * - datagrams are keyed by (source, destination, identification);
 * - the reassembled packet is the offset-0 fragment's fixed header and unfragmentable headers,
 *   then the fragmentable part; its first header is that fragment's Next Header;
 * - an atomic fragment (offset 0, no more fragments; RFC 6946) is handed back at once and never
 *   mixed with fragments of the same identification;
 * - the errors RFC 8200 answers with an ICMPv6 parameter problem (a middle fragment whose length
 *   is not a multiple of 8, a datagram past 65535 bytes) and RFC 7112's first fragment without
 *   the whole header chain are reported as "parameter-problem" actions about the fragment fed;
 * - on timeout the first fragment, when it arrived, is the time exceeded quote (code 1).
 */
import type { Ipv6Address } from "@mirage-ts/runtime";
import {
  DEFAULT_REASSEMBLY_CONFIG,
  type ReassemblyBuffer,
  type ReassemblyBufferStep,
  type ReassemblyConfig,
  type ReassemblyDropReason,
  addFragment,
  createReassemblyBuffer,
  expireReassemblyBuffer,
  reassemblyBufferDeadline,
} from "../reassembly-buffer.ts";
import { ParameterProblemCode, walkIpv6ExtensionHeaders } from "./extension-headers.ts";
import { type Ipv6FragmentHeader, isAtomicFragment } from "./fragment.ts";
import { IPV6_HEADER_LEN, IPV6_MAX_PAYLOAD_LEN, IPV6_MIN_MTU, type Ipv6Header, Ipv6NextHeader } from "./wire.ts";

export const DEFAULT_IPV6_REASSEMBLY_CONFIG: ReassemblyConfig = { ...DEFAULT_REASSEMBLY_CONFIG, timeoutMs: 60_000 };

/** What an ICMPv6 error message can quote: the minimum MTU less its IPv6 and ICMPv6 headers. */
const QUOTE_LIMIT = IPV6_MIN_MTU - IPV6_HEADER_LEN - 8;

export interface Ipv6FragmentArrival {
  /** The fixed header of the fragment. */
  header: Ipv6Header;
  /** The extension headers before the Fragment header (empty for none). */
  unfragmentable: Uint8Array;
  fragment: Ipv6FragmentHeader;
  /** The fragment's data: what follows the Fragment header. */
  data: Uint8Array;
  /** The whole received packet; kept (up to what an error can quote) when it is the first fragment. */
  packet: Uint8Array;
}

interface HeldIpv6Header {
  header: Ipv6Header;
  unfragmentable: Uint8Array;
  nextHeader: number;
  identification: number;
  quote: Uint8Array | undefined;
}

export type Ipv6ReassemblyState = ReassemblyBuffer<HeldIpv6Header>;

export type Ipv6ReassemblyEvent = ({ type: "fragment" } & Ipv6FragmentArrival) | { type: "tick" };

export interface Ipv6DatagramId {
  src: Ipv6Address;
  dst: Ipv6Address;
  identification: number;
}

export interface ReassembledIpv6Packet {
  /** The offset-0 fragment's fixed header, with `nextHeader` the first header after it. */
  header: Ipv6Header;
  /** The unfragmentable extension headers, as the offset-0 fragment carried them. */
  unfragmentable: Uint8Array;
  /** The type of the first header of `payload` (the Fragment header's Next Header). */
  nextHeader: number;
  /** The fragmentable part, whole. */
  payload: Uint8Array;
  /** The packet came as an atomic fragment (RFC 6946). */
  atomic: boolean;
}

export type Ipv6ReassemblyAction =
  | { type: "reassembled"; packet: ReassembledIpv6Packet }
  | { type: "dropped"; id: Ipv6DatagramId; reason: ReassemblyDropReason }
  /** `quote` is the first fragment, present only when it arrived (RFC 8200 §4.5: no message otherwise). */
  | { type: "timed-out"; id: Ipv6DatagramId; quote: Uint8Array | undefined }
  /** Answer the fragment just fed with an ICMPv6 parameter problem (pointer from the start of its IPv6 header). */
  | { type: "parameter-problem"; id: Ipv6DatagramId; code: number; pointer: number };

export interface Ipv6ReassemblyStep {
  state: Ipv6ReassemblyState;
  actions: Ipv6ReassemblyAction[];
}

export function createIpv6ReassemblyState(config: Partial<ReassemblyConfig> = {}): Ipv6ReassemblyState {
  return createReassemblyBuffer(config, DEFAULT_IPV6_REASSEMBLY_CONFIG);
}

/** When the engine must send a "tick", or undefined when nothing is in progress. */
export function ipv6ReassemblyNextDeadline(state: Ipv6ReassemblyState): number | undefined {
  return reassemblyBufferDeadline(state);
}

const idOf = (h: HeldIpv6Header): Ipv6DatagramId => ({ src: h.header.src, dst: h.header.dst, identification: h.identification });

/** The shortest upper-layer header RFC 7112 requires in a first fragment, for the protocols this stack knows. */
function upperLayerMinimum(nextHeader: number): number {
  switch (nextHeader) {
    case Ipv6NextHeader.tcp:
      return 20;
    case Ipv6NextHeader.udp:
      return 8;
    case Ipv6NextHeader.icmpv6:
      return 4;
    default:
      return 0;
  }
}

export function ipv6ReassemblyStep(state: Ipv6ReassemblyState, now: number, event: Ipv6ReassemblyEvent): Ipv6ReassemblyStep {
  if (event.type === "tick") return translate(expireReassemblyBuffer(state, now));
  const { header, unfragmentable, fragment, data, packet } = event;
  const id: Ipv6DatagramId = { src: header.src, dst: header.dst, identification: fragment.identification };
  if (isAtomicFragment(fragment)) {
    return {
      state,
      actions: [{ type: "reassembled", packet: { header, unfragmentable: unfragmentable.slice(), nextHeader: fragment.nextHeader, payload: data.slice(), atomic: true } }],
    };
  }
  const problem = (code: number, pointer: number): Ipv6ReassemblyStep => ({ state, actions: [{ type: "parameter-problem", id, code, pointer }] });
  if (fragment.moreFragments && (data.length === 0 || data.length % 8 !== 0)) {
    return problem(ParameterProblemCode.erroneousHeaderField, 4); // the payload length field
  }
  // The reassembled payload (unfragmentable headers + fragmentable part) must fit 16 bits.
  const maxEnd = IPV6_MAX_PAYLOAD_LEN - unfragmentable.length;
  if (fragment.fragmentOffset + data.length > maxEnd) {
    return problem(ParameterProblemCode.erroneousHeaderField, IPV6_HEADER_LEN + unfragmentable.length + 2); // the fragment offset
  }
  if (fragment.fragmentOffset === 0) {
    const chain = walkIpv6ExtensionHeaders(data, fragment.nextHeader, { afterFragment: true });
    const complete = chain.ok ? chain.value.offset + upperLayerMinimum(chain.value.nextHeader) <= data.length : chain.error.code !== "truncated";
    if (!complete) return problem(ParameterProblemCode.incompleteHeaderChain, 0);
  }
  const key = `${hex(header.src.bytes)}/${hex(header.dst.bytes)}/${fragment.identification}`;
  const held: HeldIpv6Header = {
    header,
    unfragmentable: unfragmentable.slice(),
    nextHeader: fragment.nextHeader,
    identification: fragment.identification,
    quote: fragment.fragmentOffset === 0 ? packet.slice(0, QUOTE_LIMIT) : undefined,
  };
  return translate(addFragment(state, now, { key, header: held, offset: fragment.fragmentOffset, last: !fragment.moreFragments, data, maxEnd }));
}

function translate(step: ReassemblyBufferStep<HeldIpv6Header>): Ipv6ReassemblyStep {
  return {
    state: step.buffer,
    actions: step.actions.map((a): Ipv6ReassemblyAction => {
      switch (a.type) {
        case "reassembled":
          return {
            type: "reassembled",
            packet: { header: a.header.header, unfragmentable: a.header.unfragmentable, nextHeader: a.header.nextHeader, payload: a.payload, atomic: false },
          };
        case "dropped":
          return { type: "dropped", id: idOf(a.header), reason: a.reason };
        case "timed-out":
          return { type: "timed-out", id: idOf(a.datagram.header), quote: a.datagram.hasFirst ? a.datagram.header.quote : undefined };
      }
    }),
  };
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}
