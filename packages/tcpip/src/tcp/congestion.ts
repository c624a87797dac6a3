/**
 * Congestion control behind a small interface, so CUBIC (RFC 9438) can replace NewReno without
 * touching the connection: the connection calls these hooks and reads `cwnd`/`ssthresh` back.
 */
export interface CongestionState {
  cwnd: number;
  ssthresh: number;
  /** The sender MSS in use. */
  readonly sndMss: number;
  /** Bytes sent and not yet acknowledged (SND.MAX - SND.UNA). */
  readonly flight: number;
}

export interface CongestionControl {
  readonly name: string;
  /** Initial window (RFC 5681 §3.1 / RFC 6928-style IW). */
  init(c: CongestionState): void;
  /** New data acknowledged outside loss recovery. */
  onAck(c: CongestionState, acked: number, now: number): void;
  /** Third duplicate ACK: fast retransmit starts. */
  onEnterRecovery(c: CongestionState): void;
  /** Another duplicate ACK during recovery (window inflation). */
  onDupAck(c: CongestionState): void;
  /** An ACK below the recovery point (RFC 6582 partial ACK). */
  onPartialAck(c: CongestionState, acked: number): void;
  /** The recovery point is acknowledged. */
  onExitRecovery(c: CongestionState): void;
  /** The retransmission timer fired. */
  onTimeout(c: CongestionState): void;
}

/** RFC 5681 slow start and congestion avoidance with RFC 6582 NewReno fast recovery. */
export const newReno: CongestionControl = {
  name: "newreno",
  init(c) {
    c.cwnd = Math.min(10 * c.sndMss, Math.max(2 * c.sndMss, 14600));
    c.ssthresh = 0x7fffffff;
  },
  onAck(c, acked) {
    if (c.cwnd < c.ssthresh) c.cwnd += Math.min(acked, c.sndMss);
    else c.cwnd += Math.max(1, Math.floor((c.sndMss * c.sndMss) / c.cwnd));
  },
  onEnterRecovery(c) {
    c.ssthresh = Math.max(Math.floor(c.flight / 2), 2 * c.sndMss);
    c.cwnd = c.ssthresh + 3 * c.sndMss;
  },
  onDupAck(c) {
    c.cwnd += c.sndMss;
  },
  onPartialAck(c, acked) {
    c.cwnd = Math.max(c.sndMss, c.cwnd - acked + c.sndMss);
  },
  // RFC 6582 §3.2 step 3, option 2. Option 1 (min(ssthresh, FlightSize + SMSS)) leaves an
  // application-limited sender (an echo, a request-response) with one segment of window, and a
  // single loss of that segment then waits for the retransmission timer instead of three dupacks.
  onExitRecovery(c) {
    c.cwnd = c.ssthresh;
  },
  onTimeout(c) {
    c.ssthresh = Math.max(Math.floor(c.flight / 2), 2 * c.sndMss);
    c.cwnd = c.sndMss;
  },
};
