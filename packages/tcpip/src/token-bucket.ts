/**
 * A token bucket for rate limits (ICMP errors and echo replies): `ratePerSecond` tokens flow in,
 * at most `burst` are kept, each message takes one. Mutable and allocation-free because it is
 * consulted per packet; time comes from the caller (the injected clock), never from Date.
 */
export interface TokenBucketConfig {
  ratePerSecond: number;
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(readonly config: TokenBucketConfig, now: number) {
    this.tokens = config.burst;
    this.last = now;
  }

  /** Takes one token at clock time `now` (ms); false when the bucket is empty (rate exceeded). */
  take(now: number): boolean {
    const { ratePerSecond, burst } = this.config;
    if (now > this.last) {
      this.tokens = Math.min(burst, this.tokens + ((now - this.last) * ratePerSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Tokens available now (fractional). */
  available(now: number): number {
    const { ratePerSecond, burst } = this.config;
    return now > this.last ? Math.min(burst, this.tokens + ((now - this.last) * ratePerSecond) / 1000) : this.tokens;
  }
}
