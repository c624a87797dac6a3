/**
 * UDP of the socket stack: node:dgram sockets, one per enabled address family and listened port.
 *
 * Sending chooses its socket as MirageOS's socket stack does: with `srcPort` the datagram leaves
 * from the socket listening on that port (so replies reach the listener), or from a socket bound
 * to that port for this one datagram when nobody listens on it; without `srcPort`, from a shared
 * socket on an ephemeral port. `src` is honoured by binding that address when the datagram does
 * not leave from a listening socket; a listening socket sends from its own bound address.
 * `ttl` is set on the chosen socket for the datagram (concurrent sends from the same port with
 * different TTLs may see each other's value).
 */
import { createSocket, type Socket as DgramSocket } from "node:dgram";
import { Ipv4Address, Ipv6Address, type Datagram, type Endpoint, type IpAddress, type Udp, type UdpSendOptions } from "@mirage-ts/runtime";
import { endpointOfNode, ipOfNode } from "./socket-address.ts";
import { checkPort, describeHost, ipv4OfMapped, isMissingFamily, routeTo, settleBinds, type FamilyBinding, type SocketStackContext } from "./socket-family.ts";

/** Linux's default unicast TTL / hop limit, restored after a send with an explicit ttl. */
const DEFAULT_TTL = 64;

interface BoundSocket {
  family: 4 | 6;
  socket: DgramSocket;
  local: Endpoint;
}

interface UdpListener {
  sockets: BoundSocket[];
  ready: Promise<Endpoint[]>;
  cancelled: boolean;
}

export class SocketUdp implements Udp {
  private readonly listeners = new Map<number, UdpListener>();
  private readonly ephemeral = new Map<4 | 6, Promise<DgramSocket>>();
  private readonly temporary = new Set<DgramSocket>();
  private disconnected = false;

  constructor(private readonly context: SocketStackContext) {}

  listen(port: number, handler: (datagram: Datagram) => void | Promise<void>): void {
    checkPort(port, "UDP listen", true);
    if (this.disconnected) throw new Error(`UDP listen on port ${port}: the stack is disconnected`);
    if (this.listeners.has(port)) throw new Error(`UDP port ${port} is already listened on by this stack`);
    const listener: UdpListener = { sockets: [], ready: Promise.resolve([]), cancelled: false };
    this.listeners.set(port, listener);
    const binds = this.context.families.map(async (binding) => {
      let bound: BoundSocket;
      try {
        bound = await bindSocket(binding, binding.host, port);
      } catch (e) {
        if (binding.wildcard && isMissingFamily(e)) {
          this.context.warn(`UDP port ${port} is not listened on over IPv${binding.family}: this host has no IPv${binding.family}`);
          return undefined;
        }
        throw new Error(`UDP port ${port}: cannot bind ${describeHost(binding)}: ${(e as Error).message}`, { cause: e });
      }
      if (listener.cancelled) {
        bound.socket.close();
        return undefined;
      }
      listener.sockets.push(bound);
      bound.socket.on("error", (e) => this.context.warn(`UDP port ${port} on ${describeHost(binding)}: ${e.message}`));
      bound.socket.on("message", (data, rinfo) => {
        const datagram: Datagram = {
          src: ipOfNode(rinfo.address) ?? (binding.family === 4 ? Ipv4Address.any : Ipv6Address.unspecified),
          srcPort: rinfo.port,
          // Node does not say which local address a datagram was sent to: the bound one stands in.
          dst: bound.local.address,
          dstPort: bound.local.port,
          data,
        };
        const failed = (e: unknown) =>
          this.context.warn(`UDP port ${port}: the datagram handler failed: ${e instanceof Error ? e.message : String(e)}`);
        try {
          const running = handler(datagram);
          if (running instanceof Promise) running.catch(failed);
        } catch (e) {
          failed(e);
        }
      });
      return bound.local;
    });
    listener.ready = settleBinds(`UDP port ${port}`, binds, listener, () => {
      if (this.listeners.get(port) === listener) this.unlisten(port);
    }, this.context);
  }

  /** The endpoints `port` is bound on, once it is. */
  whenListening(port: number): Promise<Endpoint[]> {
    return this.listeners.get(port)?.ready ?? Promise.reject(new Error(`UDP port ${port} is not listened on`));
  }

  unlisten(port: number): void {
    const listener = this.listeners.get(port);
    if (!listener) return;
    this.listeners.delete(port);
    listener.cancelled = true;
    for (const { socket } of listener.sockets) socket.close();
    listener.sockets = [];
  }

  async send(options: UdpSendOptions): Promise<void> {
    const { dstPort, data, srcPort, ttl } = options;
    checkPort(dstPort, "UDP send (dstPort)", false);
    if (srcPort !== undefined) checkPort(srcPort, "UDP send (srcPort)", true);
    if (this.disconnected) throw new Error("UDP send: the stack is disconnected");
    const route = routeTo(this.context, options.dst);
    if ("disabled" in route) throw new Error(`UDP send to ${options.dst}: ${route.disabled}`);
    const { binding, address: dst } = route;
    const src = options.src === undefined ? undefined : (ipv4OfMapped(options.src) ?? options.src);
    if (src !== undefined && src.family !== dst.family) throw new Error(`UDP send: the source ${options.src} and destination ${options.dst} are of different families`);

    let socket = srcPort ? this.listeningSocket(srcPort, dst.family, src) : undefined;
    let temporary = false;
    if (!socket && (srcPort !== undefined || src !== undefined)) {
      socket = (await bindSocket(binding, src?.toString() ?? binding.host, srcPort ?? 0)).socket;
      temporary = true;
      this.temporary.add(socket);
    }
    socket ??= await this.ephemeralSocket(binding);
    try {
      if (ttl !== undefined) socket.setTTL(ttl);
      await sendOn(socket, data, dstPort, dst);
    } finally {
      if (temporary) {
        this.temporary.delete(socket);
        socket.close();
      } else if (ttl !== undefined) {
        socket.setTTL(DEFAULT_TTL);
      }
    }
  }

  async disconnect(): Promise<void> {
    this.disconnected = true;
    for (const port of [...this.listeners.keys()]) this.unlisten(port);
    for (const socket of this.temporary) socket.close();
    this.temporary.clear();
    const ephemeral = [...this.ephemeral.values()];
    this.ephemeral.clear();
    for (const result of await Promise.allSettled(ephemeral)) if (result.status === "fulfilled") result.value.close();
  }

  private listeningSocket(port: number, family: 4 | 6, src: IpAddress | undefined): DgramSocket | undefined {
    // By bound port, not by the port asked for: a listener on port 0 got an ephemeral one per family.
    let bound: BoundSocket | undefined;
    for (const listener of this.listeners.values()) {
      bound ??= listener.sockets.find((s) => s.family === family && s.local.port === port);
    }
    if (!bound) return undefined;
    if (src !== undefined && !bound.local.address.isUnspecified() && !bound.local.address.equals(src)) return undefined;
    return bound.socket;
  }

  private ephemeralSocket(binding: FamilyBinding): Promise<DgramSocket> {
    let socket = this.ephemeral.get(binding.family);
    if (!socket) {
      socket = bindSocket(binding, binding.host, 0).then(({ socket }) => {
        // Nothing listens on it: it must not keep the process alive.
        socket.unref();
        socket.on("error", (e) => this.context.warn(`UDP: ${e.message}`));
        return socket;
      });
      socket.catch(() => this.ephemeral.delete(binding.family));
      this.ephemeral.set(binding.family, socket);
    }
    return socket;
  }
}

function bindSocket(binding: FamilyBinding, host: string, port: number): Promise<BoundSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: binding.family === 4 ? "udp4" : "udp6", ipv6Only: binding.family === 6 });
    const onError = (e: Error) => {
      try {
        socket.close();
      } catch {
        // Already closed by the failed bind.
      }
      reject(e);
    };
    socket.once("error", onError);
    socket.bind({ port, address: host }, () => {
      socket.off("error", onError);
      const local = socket.address();
      resolve({ family: binding.family, socket, local: endpointOfNode(local.address, local.port, binding.family) });
    });
  });
}

function sendOn(socket: DgramSocket, data: Uint8Array, port: number, address: IpAddress): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(data, port, address.toString(), (e) =>
      e ? reject(new Error(`UDP send to ${address.family === 6 ? `[${address}]` : address}:${port}: ${e.message}`, { cause: e })) : resolve(),
    ),
  );
}
