/**
 * The device interfaces every mirage-ts unikernel is written against.
 *
 * Implementations live elsewhere (packages/unix for the Node.js platform, packages/tcpip for the
 * direct stack) and take their own dependencies as arguments: the TypeScript form of a MirageOS
 * functor. A unikernel's `start` names these interfaces in its parameter types, so that
 * `mirage build` checks that config.ts provides what unikernel.ts expects.
 */
import type { IpAddress, Ipv4Address, Ipv4Prefix, Ipv6Address, Ipv6Prefix } from "./ip.ts";

/** Every device can be disconnected; the runtime does it in reverse dependency order at exit. */
export interface Device {
  disconnect(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Console, clocks, time, randomness

export interface Console extends Device {
  /** Writes one line (a newline is added). */
  log(line: string): void;
  /** Writes bytes or text as they are. */
  write(data: string | Uint8Array): Promise<void>;
}

/** A clock that never goes backwards; its origin is arbitrary. */
export interface MonotonicClock extends Device {
  /** Milliseconds since an arbitrary origin, with sub-millisecond fraction. */
  now(): number;
  /** Nanoseconds since the same origin, rounded to an integer (exact up to ~104 days of uptime). */
  elapsedNs(): number;
}

/** Wall-clock (POSIX) time. */
export interface PosixClock extends Device {
  /** Milliseconds since 1970-01-01T00:00:00Z. */
  now(): number;
  /** The host's current offset from UTC, in seconds (east positive), or undefined when unknown. */
  currentTzOffsetSeconds(): number | undefined;
}

/** A scheduled callback that can be cancelled. */
export interface Timer {
  cancel(): void;
}

/** Waiting. Protocol code receives this instead of calling setTimeout, so tests run in virtual time. */
export interface Time extends Device {
  /** Resolves after `ms` milliseconds (or rejects with an AbortError when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms` milliseconds unless cancelled first. */
  schedule(ms: number, fn: () => void): Timer;
}

export interface Random extends Device {
  /** Fills `into` with random bytes and returns it. */
  fill(into: Uint8Array): Uint8Array;
  /** `length` fresh random bytes. */
  bytes(length: number): Uint8Array;
  /** A uniformly distributed unsigned 32-bit integer. */
  uint32(): number;
}

// ---------------------------------------------------------------------------------------------
// Storage

/** What a KV path names. */
export type KvEntryKind = "value" | "dictionary";

export type KvErrorCode = "not-found" | "dictionary-expected" | "value-expected" | "invalid-key" | "io" | "read-only";

export class KvError extends Error {
  override readonly name = "KvError";
  constructor(readonly code: KvErrorCode, readonly key: string, message?: string) {
    super(message ?? `${code}: ${key}`);
  }
}

/**
 * A read-only key-value store. Keys are '/'-separated paths ("/index.html", "css/site.css"); a
 * leading '/' is optional. A path that would leave the store ("..") is rejected with "invalid-key".
 */
export interface KvRo extends Device {
  /** What `key` names, or null when nothing is there. */
  exists(key: string): Promise<KvEntryKind | null>;
  /** The whole value; rejects with KvError "not-found" or "value-expected" (a dictionary). */
  get(key: string): Promise<Uint8Array>;
  /** `length` bytes from `offset` (fewer at the end of the value). */
  getPartial(key: string, offset: number, length: number): Promise<Uint8Array>;
  /** The entries directly under a dictionary, sorted by name. */
  list(key: string): Promise<Array<{ name: string; kind: KvEntryKind }>>;
  /** Milliseconds since the epoch. */
  lastModified(key: string): Promise<number>;
  /** A content digest (hex SHA-256), stable across runs. */
  digest(key: string): Promise<string>;
  size(key: string): Promise<number>;
}

export interface KvRw extends KvRo {
  set(key: string, value: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
  rename(source: string, destination: string): Promise<void>;
}

export type BlockErrorCode = "out-of-bounds" | "unaligned" | "read-only" | "io" | "disconnected";

export class BlockError extends Error {
  override readonly name = "BlockError";
  constructor(readonly code: BlockErrorCode, message: string) {
    super(message);
  }
}

export interface BlockInfo {
  readWrite: boolean;
  /** Bytes per sector. */
  sectorSize: number;
  /** The device's size in sectors. */
  sizeSectors: number;
}

/** A block device: whole sectors at sector offsets. Every buffer's length must be a multiple of the sector size. */
export interface Block extends Device {
  info(): BlockInfo;
  /** Reads consecutive sectors starting at `startSector` into `buffers`, in order. */
  read(startSector: number, buffers: Uint8Array[]): Promise<void>;
  /** Writes `buffers` to consecutive sectors starting at `startSector`. */
  write(startSector: number, buffers: Uint8Array[]): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Flows and the network stack

export type FlowErrorCode = "closed" | "reset" | "timeout" | "refused" | "unreachable";

export class FlowError extends Error {
  override readonly name = "FlowError";
  constructor(readonly code: FlowErrorCode, message?: string) {
    super(message ?? code);
  }
}

export interface Endpoint {
  address: IpAddress;
  port: number;
}

/**
 * A reliable, ordered byte stream (a TCP connection), promise-based with back-pressure.
 * Use `asSocket(flow)` from @mirage-ts/runtime to get a `net.Socket`-compatible Duplex.
 */
export interface Flow {
  /** The next bytes, or null at end of stream (the peer shut down its side). */
  read(): Promise<Uint8Array | null>;
  /** Resolves once the bytes are accepted into the bounded send buffer; rejects with FlowError when closed or reset. */
  write(data: Uint8Array): Promise<void>;
  writev(data: readonly Uint8Array[]): Promise<void>;
  /** Half-close: "write" sends FIN once buffered data is sent; "read" discards further input. */
  shutdown(mode?: "read" | "write" | "both"): Promise<void>;
  /** Closes both directions and frees the flow. */
  close(): Promise<void>;
  readonly local: Endpoint;
  readonly remote: Endpoint;
}

export interface TcpFlow extends Flow {
  /** Disables (true) or enables (false) Nagle's algorithm. */
  setNoDelay(noDelay: boolean): void;
  /** Enables keepalive probes after `idleMs` of silence, or disables them with false. */
  setKeepAlive(enable: boolean, idleMs?: number): void;
}

export interface TcpListenOptions {
  /** Keepalive applied to every accepted flow. */
  keepAlive?: { idleMs: number; intervalMs?: number; probes?: number };
}

export interface Tcp {
  /** Accepts connections on `port` of every address of the stack; `handler` runs once per flow. */
  listen(port: number, handler: (flow: TcpFlow) => void | Promise<void>, options?: TcpListenOptions): void;
  unlisten(port: number): void;
  /** Opens a connection; rejects with FlowError ("refused", "timeout", "unreachable"). */
  connect(address: IpAddress, port: number): Promise<TcpFlow>;
}

export interface Datagram {
  src: IpAddress;
  srcPort: number;
  dst: IpAddress;
  dstPort: number;
  data: Uint8Array;
}

export interface UdpSendOptions {
  dst: IpAddress;
  dstPort: number;
  data: Uint8Array;
  /** Source port; an ephemeral one is chosen when absent. */
  srcPort?: number;
  /** Source address; chosen by the stack when absent. */
  src?: IpAddress;
  ttl?: number;
}

export interface Udp {
  listen(port: number, handler: (datagram: Datagram) => void | Promise<void>): void;
  unlisten(port: number): void;
  send(options: UdpSendOptions): Promise<void>;
}

/** What the stack's IP layer knows about itself. */
export interface IpConfig {
  ipv4: { address: Ipv4Address; prefix: Ipv4Prefix; gateway: Ipv4Address | undefined } | undefined;
  ipv6: { addresses: Ipv6Prefix[]; gateway: Ipv6Address | undefined } | undefined;
}

export interface Ip {
  /** The addresses in use now (they may change with DHCP and SLAAC). */
  config(): IpConfig;
  /** The stack's addresses, every family. */
  addresses(): IpAddress[];
}

/** A dual IPv4/IPv6 stack, as MirageOS 3.9's Tcpip.Stack.V4V6. */
export interface StackV4V6 extends Device {
  readonly tcp: Tcp;
  readonly udp: Udp;
  readonly ip: Ip;
  /** Resolves when the stack is disconnected: a server's `start` awaits it. */
  listen(): Promise<void>;
}
