/**
 * The direct stack's TCP until the TCP engine exists: every segment to any port is answered as
 * RFC 9293 answers a segment for a closed port, with a reset, so a peer's connect fails at once
 * ("connection refused") instead of timing out.
 *
 * The honest contract: `listen` registers the port (so `unlisten` and double-listen checks work,
 * and a unikernel written for TCP boots) but warns that connections to it are refused; `connect`
 * rejects with an Error saying TCP is not implemented yet on the direct stack.
 */
import { Ipv4Address, type IpAddress, type Log, type Tcp, type TcpFlow, type TcpListenOptions } from "@mirage-ts/runtime";
import { get16, get32, set16, set32 } from "../bytes.ts";
import { checksumValid, internetChecksum, pseudoHeaderSumV4 } from "../checksum.ts";
import { IPV4_TX_PAYLOAD_OFFSET, type Ipv4Engine, type Ipv4Rx } from "../ipv4/engine.ts";
import { IpProtocol } from "../ipv4/wire.ts";
import { silentLog } from "../logs.ts";
import { resetForClosed } from "./reset.ts";
import { TCP_HEADER_LEN } from "./wire.ts";

export const TCP_NOT_IMPLEMENTED = "TCP is not implemented yet on the direct stack";

export interface TcpRstStats {
  rxSegments: number;
  rxTruncated: number;
  rxBadHeaderLength: number;
  rxBadChecksum: number;
  /** Segments carrying RST (never answered). */
  rxResets: number;
  txResets: number;
}

export interface TcpRstOnly extends Tcp {
  start(): void;
  stop(): void;
  /** Ports `listen` registered. */
  listening(): number[];
  stats(): TcpRstStats;
}

export function createTcpRstOnly(options: { ipv4: Ipv4Engine; log?: Log }): TcpRstOnly {
  const { ipv4 } = options;
  const log = options.log ?? silentLog;
  const tx = ipv4.txBuffer;
  const ports = new Set<number>();
  const stats: TcpRstStats = { rxSegments: 0, rxTruncated: 0, rxBadHeaderLength: 0, rxBadChecksum: 0, rxResets: 0, txResets: 0 };

  const receive = (rx: Ipv4Rx): void => {
    stats.rxSegments++;
    const { buffer, payloadOffset: off, payloadLength: length } = rx;
    if (length < TCP_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    const headerLength = (buffer[off + 12]! >> 4) * 4;
    if (headerLength < TCP_HEADER_LEN || headerLength > length) {
      stats.rxBadHeaderLength++;
      return;
    }
    if (!checksumValid(buffer, off, length, pseudoHeaderSumV4(rx.src, rx.dst, IpProtocol.tcp, length))) {
      stats.rxBadChecksum++;
      return;
    }
    const flags = buffer[off + 13]!;
    const reset = resetForClosed({ seq: get32(buffer, off + 4), ack: get32(buffer, off + 8), flags, payloadLength: length - headerLength });
    if (reset === undefined) {
      stats.rxResets++;
      return;
    }
    // No reset for a segment sent to a broadcast address (RFC 1122 §4.2.3.10).
    if (!rx.unicast) return;
    const at = IPV4_TX_PAYLOAD_OFFSET;
    set16(tx, at, get16(buffer, off + 2));
    set16(tx, at + 2, get16(buffer, off));
    set32(tx, at + 4, reset.seq);
    set32(tx, at + 8, reset.ack);
    tx[at + 12] = (TCP_HEADER_LEN / 4) << 4;
    tx[at + 13] = reset.flags;
    set16(tx, at + 14, 0);
    set16(tx, at + 16, 0);
    set16(tx, at + 18, 0);
    set16(tx, at + 16, internetChecksum(tx, at, TCP_HEADER_LEN, pseudoHeaderSumV4(rx.dst, rx.src, IpProtocol.tcp, TCP_HEADER_LEN)));
    const status = ipv4.send(rx.src, rx.dst, IpProtocol.tcp, TCP_HEADER_LEN);
    if (status === "sent" || status === "queued") stats.txResets++;
  };

  return {
    listen(port: number, _handler: (flow: TcpFlow) => void | Promise<void>, _options?: TcpListenOptions): void {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`TCP listen: port ${port} is not an integer from 1 to 65535`);
      if (ports.has(port)) throw new Error(`TCP port ${port} is already listened on by this stack`);
      ports.add(port);
      log.warn(`${TCP_NOT_IMPLEMENTED}: connections to port ${port} are refused (answered with RST)`);
    },
    unlisten(port: number): void {
      ports.delete(port);
    },
    connect(address: IpAddress, port: number): Promise<TcpFlow> {
      const where = address.family === 4 ? Ipv4Address.ofInt(address.value).toString() : `[${address}]`;
      return Promise.reject(new Error(`${TCP_NOT_IMPLEMENTED}: cannot connect to ${where}:${port}`));
    },
    listening: () => [...ports].sort((a, b) => a - b),
    start(): void {
      ipv4.setHandler(IpProtocol.tcp, receive);
    },
    stop(): void {
      ipv4.setHandler(IpProtocol.tcp, undefined);
      ports.clear();
    },
    stats: () => ({ ...stats }),
  };
}
