/**
 * Encoding queries and decoding replies with dns-packet. The decoder never throws: dns-packet
 * does on malformed input, so its exceptions become a Result here (a reply is untrusted bytes
 * from the network).
 */
import dnsPacket, { type Answer, type DecodedPacket, type RecordType } from "dns-packet";
import { err, ok, type Result } from "@mirage-ts/runtime";

/** The RCODEs the resolver tells apart (RFC 1035 §4.1.1). */
export const RCODE_NOERROR = 0;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_REFUSED = 5;

export interface DnsReply {
  id: number;
  /** QR: set in a response. */
  isResponse: boolean;
  /** TC: the reply was cut to fit the datagram. */
  truncated: boolean;
  rcode: number;
  questions: Array<{ name: string; type: string }>;
  answers: Answer[];
}

/** A recursive query for one name and type. */
export function encodeQuery(id: number, name: string, type: RecordType): Uint8Array {
  return dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: "IN" }] });
}

export function decodeReply(bytes: Uint8Array): Result<DnsReply, string> {
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    return err(`malformed DNS message: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof packet.id !== "number" || typeof packet.flags !== "number") return err("malformed DNS message: no header");
  return ok({
    id: packet.id,
    isResponse: packet.flag_qr,
    truncated: packet.flag_tc,
    // dns-packet keeps the low 15 bits of the flags word; the RCODE is its low 4 bits.
    rcode: packet.flags & 0xf,
    questions: (packet.questions ?? []).map((q) => ({ name: String(q.name), type: String(q.type) })),
    answers: packet.answers ?? [],
  });
}

/**
 * The records of `type` for `name` in `answers`, following the CNAME chain the server put in
 * the same answer (RFC 1034 §3.6.2); at most `maxHops` aliases, so a loop cannot spin.
 */
export function followCnames(answers: readonly Answer[], name: string, type: RecordType, maxHops = 16): Answer[] {
  let current = normaliseName(name);
  for (let hop = 0; hop <= maxHops; hop++) {
    const found = answers.filter((a) => a.type === type && normaliseName(a.name) === current);
    if (found.length > 0) return found;
    const alias = answers.find((a) => a.type === "CNAME" && normaliseName(a.name) === current);
    const target = alias === undefined ? undefined : stringData(alias);
    if (target === undefined) return [];
    current = normaliseName(target);
  }
  return [];
}

/** DNS names compare case-insensitively and without the root's trailing dot. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** Why `name` cannot be asked about, or undefined when it can (RFC 1035 §2.3.4 limits). */
export function invalidName(name: string): string | undefined {
  const bare = name.replace(/\.$/, "");
  if (bare.length === 0) return "the name is empty";
  if (bare.length > 253) return `the name is ${bare.length} characters long (at most 253)`;
  for (const label of bare.split(".")) {
    if (label.length === 0) return "the name has an empty label";
    if (Buffer.byteLength(label) > 63) return `the label "${label}" is over 63 bytes`;
  }
  return undefined;
}

/** The data of a record whose data is a name or an address (A, AAAA, CNAME, PTR, NS…). */
export function stringData(answer: Answer): string | undefined {
  return "data" in answer && typeof answer.data === "string" ? answer.data : undefined;
}
