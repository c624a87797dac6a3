/**
 * A small authoritative-looking DNS server for tests: dns-packet over node:dgram on 127.0.0.1,
 * an ephemeral port. It answers from a zone given as a record, and can be told to misbehave.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { once } from "node:events";
import dnsPacket, { type Answer, type DecodedPacket } from "dns-packet";

export interface Zone {
  /** name → A addresses, AAAA addresses and/or a CNAME target. */
  [name: string]: { A?: string[]; AAAA?: string[]; CNAME?: string; rcode?: "NXDOMAIN" | "SERVFAIL" | "REFUSED" };
}

export interface ReceivedQuery {
  id: number;
  name: string;
  type: string;
  port: number;
}

export class FakeDnsServer {
  readonly queries: ReceivedQuery[] = [];
  /** Queries left to ignore (timeouts). */
  dropNext = 0;
  /** Before each real reply, send one with a wrong id (and one from another port would need another socket). */
  sendWrongIdFirst = false;
  /** Before each real reply, send garbage bytes. */
  sendGarbageFirst = false;

  private constructor(
    private readonly socket: Socket,
    readonly zone: Zone,
  ) {
    socket.on("message", (msg, rinfo) => this.answer(msg, rinfo));
  }

  static async start(zone: Zone): Promise<FakeDnsServer> {
    const socket = createSocket("udp4");
    socket.bind(0, "127.0.0.1");
    await once(socket, "listening");
    return new FakeDnsServer(socket, zone);
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): void {
    this.socket.close();
  }

  private answer(msg: Buffer, rinfo: RemoteInfo): void {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question || query.id === undefined) return;
    this.queries.push({ id: query.id, name: question.name, type: question.type, port: rinfo.port });
    if (this.dropNext > 0) {
      this.dropNext--;
      return;
    }
    const { answers, rcode } = this.lookup(question.name, question.type);
    // RCODE in the low 4 bits of the flags word; QR and RA set, RD echoed.
    const flags = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode;
    const reply = (id: number) =>
      dnsPacket.encode({ type: "response", id, flags, questions: [question], answers });
    if (this.sendGarbageFirst) this.socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3]), rinfo.port, rinfo.address);
    if (this.sendWrongIdFirst) {
      const spoofed = dnsPacket.encode({
        type: "response", id: (query.id + 1) & 0xffff, flags: dnsPacket.RECURSION_AVAILABLE, questions: [question],
        answers: [{ type: "A", name: question.name, ttl: 60, data: "192.0.2.66" }],
      });
      this.socket.send(spoofed, rinfo.port, rinfo.address);
    }
    this.socket.send(reply(query.id), rinfo.port, rinfo.address);
  }

  private lookup(name: string, type: string): { answers: Answer[]; rcode: number } {
    const answers: Answer[] = [];
    let current = name.toLowerCase();
    for (let hop = 0; hop < 10; hop++) {
      const entry = this.zone[current];
      if (!entry) return hop === 0 ? { answers, rcode: 3 } : { answers, rcode: 0 };
      if (entry.rcode) return { answers, rcode: { NXDOMAIN: 3, SERVFAIL: 2, REFUSED: 5 }[entry.rcode] };
      if (entry.CNAME && type !== "CNAME") {
        answers.push({ type: "CNAME", name: current, ttl: 60, data: entry.CNAME });
        current = entry.CNAME.toLowerCase();
        continue;
      }
      for (const data of (type === "A" ? entry.A : type === "AAAA" ? entry.AAAA : undefined) ?? []) {
        answers.push({ type: type as "A" | "AAAA", name: current, ttl: 60, data });
      }
      return { answers, rcode: 0 };
    }
    return { answers, rcode: 2 };
  }
}
