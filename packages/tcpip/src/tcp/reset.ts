/**
 * The reset a segment deserves when no connection exists for it (RFC 9293 §3.10.7.1, the CLOSED
 * state; also §3.5.2 case 1). Pure, so the same rule serves the RST-only stack now and the TCP
 * engine's closed ports later.
 */
import { TcpFlag } from "./wire.ts";

export interface TcpResetFields {
  seq: number;
  ack: number;
  /** RST, or RST|ACK. */
  flags: number;
}

export interface TcpSegmentSummary {
  seq: number;
  ack: number;
  flags: number;
  /** Data bytes (SYN and FIN are counted here, not in this). */
  payloadLength: number;
}

/**
 * "If the state is CLOSED ... An incoming segment containing a RST is discarded. An incoming
 * segment not containing a RST causes a RST to be sent in response. ... If the ACK bit is off,
 * sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is on,
 * <SEQ=SEG.ACK><CTL=RST>." SEG.LEN counts SYN and FIN.
 */
export function resetForClosed(segment: TcpSegmentSummary): TcpResetFields | undefined {
  if ((segment.flags & TcpFlag.rst) !== 0) return undefined;
  if ((segment.flags & TcpFlag.ack) !== 0) return { seq: segment.ack >>> 0, ack: 0, flags: TcpFlag.rst };
  const length = segment.payloadLength + ((segment.flags & TcpFlag.syn) !== 0 ? 1 : 0) + ((segment.flags & TcpFlag.fin) !== 0 ? 1 : 0);
  return { seq: 0, ack: (segment.seq + length) >>> 0, flags: TcpFlag.rst | TcpFlag.ack };
}
