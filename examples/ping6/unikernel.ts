import { FlowError, createLogSource, type Ipv6Address, type MonotonicClock, type StackV4V6, type Time } from "@mirage-ts/runtime";

const log = createLogSource("ping6", "pings an IPv6 address with ICMPv6 echo requests");

/** What ping6 needs of the stack: the direct stack's ICMPv6 echo and its IPv6 addresses. */
export interface Ping6Stack extends StackV4V6 {
  readonly icmp6: {
    ping(
      dst: Ipv6Address,
      options?: { size?: number; timeoutMs?: number; sequence?: number },
    ): Promise<{ src: Ipv6Address; sequence: number; data: Uint8Array; rttMs: number; hopLimit?: number }>;
  };
  readonly ipv6: { addresses(): ReadonlyArray<{ address: Ipv6Address; state: string }> };
}

export interface Ping6Keys {
  target: Ipv6Address | undefined;
  count: number;
  interval: number;
  size: number;
  timeout: number;
}

const ICMPV6_ECHO_HEADER = 8;

/** An address the stack can send from: not one still under duplicate address detection, nor one found a duplicate. */
const usable = (state: string): boolean => !/tentative|duplicate|invalid/i.test(state);

/**
 * Sends --count echo requests to --target, --interval ms apart, logs each reply as ping does
 * ("64 bytes from fe80::1: icmp_seq=1 time=0.210 ms") and a summary, then returns. With no reply
 * at all it fails (exit 1), as ping exits non-zero.
 */
export async function start({ stack, mclock, time }: { stack: Ping6Stack; mclock: MonotonicClock; time: Time }, keys: Ping6Keys): Promise<void> {
  const { target, count, interval, size, timeout } = keys;
  if (target === undefined) throw new Error("ping6: give the address to ping with --target=IPV6 (e.g. --target=fe80::1)");
  if (count < 1) throw new Error(`ping6: --count=${count}: send at least one echo request`);

  // The link-local address is tentative for the first second (duplicate address detection): wait
  // for an address to send from rather than count the first requests as lost.
  const ready = mclock.now() + 5000;
  while (!stack.ipv6.addresses().some((a) => usable(a.state)) && mclock.now() < ready) await time.sleep(50);
  const sources = stack.ipv6.addresses().map((a) => `${a.address} (${a.state})`);
  log.info(`PING ${target}: ${size} data bytes, from ${sources.join(", ") || "no IPv6 address"}`);

  const rtts: number[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const sentAt = mclock.now();
    try {
      const reply = await stack.icmp6.ping(target, { size, timeoutMs: timeout, sequence: seq });
      rtts.push(reply.rttMs);
      const hops = reply.hopLimit === undefined ? "" : ` hlim=${reply.hopLimit}`;
      log.info(`${ICMPV6_ECHO_HEADER + reply.data.length} bytes from ${reply.src}: icmp_seq=${reply.sequence}${hops} time=${reply.rttMs.toFixed(3)} ms`);
    } catch (e) {
      if (e instanceof FlowError && e.code === "timeout") log.warn(`no reply from ${target}: icmp_seq=${seq}`);
      else log.warn(`icmp_seq=${seq}: ${(e as Error).message}`);
    }
    if (seq < count) await time.sleep(Math.max(0, interval - (mclock.now() - sentAt)));
  }

  const loss = Math.round((100 * (count - rtts.length)) / count);
  log.info(`--- ${target} ping statistics ---`);
  log.info(`${count} packets transmitted, ${rtts.length} received, ${loss}% packet loss`);
  if (rtts.length === 0) throw new Error(`ping6: no reply from ${target}`);
  const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  log.info(`rtt min/avg/max = ${Math.min(...rtts).toFixed(3)}/${avg.toFixed(3)}/${Math.max(...rtts).toFixed(3)} ms`);
}
