/**
 * The DNS resolver device: a stub resolver (RFC 1035 §7) that asks one recursive server over the
 * stack's UDP, as MirageOS's dns-client does.
 *
 * Each attempt sends from a fresh random source port with a fresh random 16-bit id, both from
 * node:crypto, and accepts only a response from the server's address and port that carries that
 * id and echoes the question (RFC 5452): a blind spoofer has to guess ~2^30 values. Anything else
 * reaching the port is dropped. An attempt that gets no valid reply within `timeoutMs` is
 * repeated `retries` times, each time with a new port and id.
 *
 * Not done: TCP fallback for truncated replies (the answers that did fit are used), EDNS(0),
 * caching, search domains.
 */
import { getRandomValues, randomInt } from "node:crypto";
import type { Answer, RecordType } from "dns-packet";
import { IpAddress, createLogSource, type Datagram, type Device, type StackV4V6 } from "@mirage-ts/runtime";
import { DnsError } from "./dns-error.ts";
import {
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  decodeReply,
  encodeQuery,
  followCnames,
  invalidName,
  normaliseName,
  stringData,
  type DnsReply,
} from "./dns-message.ts";

const log = createLogSource("dns", "the DNS resolver device");

/** The IANA ephemeral range (RFC 6335), where source ports are drawn. */
const EPHEMERAL_PORT_MIN = 49152;
const EPHEMERAL_PORT_MAX = 65535;
/** Draws of a source port before giving up on an attempt (a port may be taken). */
const PORT_DRAWS = 8;

export interface ResolverOptions {
  stack: StackV4V6;
  /** The recursive server asked (`--resolver`). */
  resolver: IpAddress;
  /** Its UDP port (`--resolver-port`, 53). */
  port: number;
  /** How long one attempt waits for a reply; default 2000 ms. */
  timeoutMs?: number;
  /** Attempts after the first one; default 2. */
  retries?: number;
}

export interface Resolver extends Device {
  /**
   * The addresses of `name` (A records for family 4, the default; AAAA for 6), CNAMEs followed.
   * An IP literal of that family resolves to itself. Rejects with DnsError.
   */
  getHostByName(name: string, family?: 4 | 6): Promise<IpAddress[]>;
  /** The answer section of the reply to a query for `name` and `type`; rejects with DnsError on a non-zero RCODE or a timeout. */
  query(name: string, type: RecordType): Promise<Answer[]>;
}

/** Something UDP listens on asynchronously (the socket stack binds sockets): when it is ready. */
interface AsyncListen {
  whenListening(port: number): Promise<unknown>;
}

function hasAsyncListen(udp: object): udp is AsyncListen {
  return typeof (udp as Partial<AsyncListen>).whenListening === "function";
}

export function connectResolver(opts: ResolverOptions): Resolver {
  const { stack, resolver: server, port: serverPort } = opts;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const retries = opts.retries ?? 2;
  if (!Number.isInteger(serverPort) || serverPort < 1 || serverPort > 65535)
    throw new RangeError(`DNS resolver port ${serverPort} is not an integer from 1 to 65535`);
  const serverText = server.family === 6 ? `[${server}]:${serverPort}` : `${server}:${serverPort}`;
  /** Attempts in flight, ended by disconnect. */
  const inFlight = new Set<(error: DnsError) => void>();
  let disconnected = false;

  /** Listens on a random free ephemeral port with `handler`; returns it. */
  const listenOnRandomPort = async (handler: (d: Datagram) => void): Promise<number> => {
    let lastError: unknown;
    for (let draw = 0; draw < PORT_DRAWS; draw++) {
      const port = randomInt(EPHEMERAL_PORT_MIN, EPHEMERAL_PORT_MAX + 1);
      try {
        stack.udp.listen(port, handler);
        if (hasAsyncListen(stack.udp)) await stack.udp.whenListening(port);
        return port;
      } catch (e) {
        stack.udp.unlisten(port);
        lastError = e;
      }
    }
    throw new Error(`DNS: no free UDP source port after ${PORT_DRAWS} draws`, { cause: lastError });
  };

  /** One query and its reply, or undefined when none came in time. */
  const attempt = (name: string, type: RecordType): Promise<DnsReply | undefined> =>
    new Promise<DnsReply | undefined>((resolve, reject) => {
      const id = getRandomValues(new Uint16Array(1))[0]!;
      const wanted = normaliseName(name);
      let port: number | undefined;
      let done = false;
      const finish = (outcome: { reply: DnsReply | undefined } | { error: unknown }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        inFlight.delete(abort);
        if (port !== undefined) stack.udp.unlisten(port);
        if ("error" in outcome) reject(outcome.error);
        else resolve(outcome.reply);
      };
      const abort = (error: DnsError) => finish({ error });
      inFlight.add(abort);
      const timer = setTimeout(() => finish({ reply: undefined }), timeoutMs);

      const onDatagram = (d: Datagram) => {
        if (!matchesServer(d, server, serverPort)) return;
        const decoded = decodeReply(d.data);
        if (!decoded.ok) {
          log.debug(`dropped a reply from ${serverText}: ${decoded.error}`);
          return;
        }
        const reply = decoded.value;
        if (!reply.isResponse || reply.id !== id) return;
        const q = reply.questions[0];
        // A reply must echo the question (RFC 5452 §4.2); FORMERR replies may carry none.
        if (q !== undefined && (normaliseName(q.name) !== wanted || q.type !== type)) return;
        finish({ reply });
      };

      listenOnRandomPort(onDatagram)
        .then(async (p) => {
          if (done) {
            stack.udp.unlisten(p);
            return;
          }
          port = p;
          await stack.udp.send({ dst: server, dstPort: serverPort, srcPort: p, data: encodeQuery(id, name, type) });
        })
        .catch((e: unknown) => finish({ error: e }));
    });

  const exchange = async (name: string, type: RecordType): Promise<DnsReply> => {
    if (disconnected) throw new DnsError("disconnected", name, `${name}: the resolver is disconnected`);
    const problem = invalidName(name);
    if (problem !== undefined) throw new DnsError("invalid-name", name, `${JSON.stringify(name)} is not a DNS name: ${problem}`);
    for (let tries = 0; tries <= retries; tries++) {
      const reply = await attempt(name, type);
      if (reply !== undefined) return reply;
      log.debug(`${name} ${type}: no reply from ${serverText} within ${timeoutMs} ms (attempt ${tries + 1} of ${retries + 1})`);
    }
    throw new DnsError("timeout", name, `${name} ${type}: no reply from ${serverText} after ${retries + 1} attempts of ${timeoutMs} ms`);
  };

  const query = async (name: string, type: RecordType): Promise<Answer[]> => {
    const reply = await exchange(name, type);
    switch (reply.rcode) {
      case RCODE_NOERROR:
        return reply.answers;
      case RCODE_NXDOMAIN:
        throw new DnsError("nxdomain", name, `${name}: no such name (NXDOMAIN from ${serverText})`);
      case RCODE_SERVFAIL:
        throw new DnsError("servfail", name, `${name}: the server failed (SERVFAIL from ${serverText})`);
      case RCODE_REFUSED:
        throw new DnsError("refused", name, `${name}: the server refused (REFUSED from ${serverText})`);
      default:
        throw new DnsError("server-error", name, `${name}: RCODE ${reply.rcode} from ${serverText}`);
    }
  };

  return {
    query,
    async getHostByName(name, family = 4) {
      const literal = IpAddress.parse(name.replace(/^\[(.*)\]$/, "$1"));
      if (literal.ok && literal.value.family === family) return [literal.value];
      const type: RecordType = family === 4 ? "A" : "AAAA";
      const records = followCnames(await query(name, type), name, type);
      const addresses: IpAddress[] = [];
      for (const record of records) {
        const data = stringData(record);
        const parsed = data === undefined ? undefined : IpAddress.parse(data);
        if (parsed?.ok && parsed.value.family === family) addresses.push(parsed.value);
      }
      if (addresses.length === 0) throw new DnsError("no-data", name, `${name}: no ${type} record`);
      log.debug(`${name} ${type}: ${addresses.join(", ")}`);
      return addresses;
    },
    async disconnect() {
      disconnected = true;
      for (const abort of [...inFlight]) abort(new DnsError("disconnected", "", "the resolver was disconnected"));
    },
  };
}

function matchesServer(d: Datagram, server: IpAddress, port: number): boolean {
  return d.srcPort === port && sameAddress(d.src, server);
}

/** An IPv4 server may answer a dual-stack socket as ::ffff:a.b.c.d. */
function sameAddress(a: IpAddress, b: IpAddress): boolean {
  if (a.equals(b)) return true;
  const v6 = a.family === 6 ? a : b.family === 6 ? b : undefined;
  const v4 = a.family === 4 ? a : b.family === 4 ? b : undefined;
  if (v6 === undefined || v4 === undefined) return false;
  return v6.toString() === `::ffff:${v4.toString()}`;
}

