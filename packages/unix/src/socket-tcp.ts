/**
 * TCP of the socket stack: node:net servers and sockets, one server per enabled address family.
 */
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from "node:net";
import { FlowError, type Endpoint, type IpAddress, type Tcp, type TcpFlow, type TcpListenOptions } from "@mirage-ts/runtime";
import { flowErrorOf } from "./flow-error.ts";
import { endpointOfNode } from "./socket-address.ts";
import { SocketFlow } from "./socket-flow.ts";
import { checkPort, describeHost, isMissingFamily, routeTo, settleBinds, type FamilyBinding, type SocketStackContext } from "./socket-family.ts";

interface TcpListener {
  servers: Server[];
  /** Resolves with the bound endpoints once every family is bound (or skipped). */
  ready: Promise<Endpoint[]>;
  cancelled: boolean;
}

export class SocketTcp implements Tcp {
  private readonly listeners = new Map<number, TcpListener>();
  private readonly flows = new Set<SocketFlow>();
  private readonly connecting = new Set<Socket>();
  private disconnected = false;

  constructor(private readonly context: SocketStackContext) {}

  listen(port: number, handler: (flow: TcpFlow) => void | Promise<void>, options: TcpListenOptions = {}): void {
    checkPort(port, "TCP listen", true);
    if (this.disconnected) throw new Error(`TCP listen on port ${port}: the stack is disconnected`);
    if (this.listeners.has(port)) throw new Error(`TCP port ${port} is already listened on by this stack`);
    const listener: TcpListener = { servers: [], ready: Promise.resolve([]), cancelled: false };
    this.listeners.set(port, listener);
    const binds = this.context.families.map((binding) => this.bind(binding, port, listener, handler, options));
    listener.ready = settleBinds(`TCP port ${port}`, binds, listener, () => {
      if (this.listeners.get(port) === listener) this.unlisten(port);
    }, this.context);
  }

  /** The endpoints `port` is bound on, once it is (tests; and port 0, whose real ports differ per family). */
  whenListening(port: number): Promise<Endpoint[]> {
    return this.listeners.get(port)?.ready ?? Promise.reject(new Error(`TCP port ${port} is not listened on`));
  }

  unlisten(port: number): void {
    const listener = this.listeners.get(port);
    if (!listener) return;
    this.listeners.delete(port);
    listener.cancelled = true;
    for (const server of listener.servers) if (server.listening) server.close();
  }

  async connect(address: IpAddress, port: number): Promise<TcpFlow> {
    checkPort(port, "TCP connect", false);
    if (this.disconnected) throw new FlowError("closed", "the stack is disconnected");
    const route = routeTo(this.context, address);
    if ("disabled" in route) throw new FlowError("unreachable", `cannot connect to ${address}: ${route.disabled}`);
    const { binding } = route;
    const socket = netConnect({
      host: route.address.toString(),
      port,
      family: route.address.family,
      allowHalfOpen: true,
      // MirageOS binds outgoing connections to the stack's own address when it has one.
      ...(binding.wildcard ? {} : { localAddress: binding.host }),
    });
    this.connecting.add(socket);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", (e) => reject(flowErrorOf(e)));
        socket.once("close", () => reject(new FlowError("closed", "the stack was disconnected while connecting")));
      });
    } catch (e) {
      socket.destroy();
      throw e;
    } finally {
      this.connecting.delete(socket);
    }
    return this.adopt(socket);
  }

  async disconnect(): Promise<void> {
    this.disconnected = true;
    const closing: Array<Promise<void>> = [];
    for (const [port, listener] of this.listeners) {
      closing.push(...listener.servers.filter((s) => s.listening).map((s) => new Promise<void>((r) => s.close(() => r()))));
      this.unlisten(port);
    }
    for (const socket of this.connecting) socket.destroy();
    for (const flow of this.flows) flow.abort();
    await Promise.allSettled(closing);
  }

  private bind(
    binding: FamilyBinding,
    port: number,
    listener: TcpListener,
    handler: (flow: TcpFlow) => void | Promise<void>,
    options: TcpListenOptions,
  ): Promise<Endpoint | undefined> {
    return new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket, port, handler, options));
      listener.servers.push(server);
      const onError = (e: NodeJS.ErrnoException) => {
        listener.servers = listener.servers.filter((s) => s !== server);
        if (binding.wildcard && isMissingFamily(e)) {
          this.context.warn(`TCP port ${port} is not listened on over IPv${binding.family}: this host has no IPv${binding.family} (${e.code})`);
          resolve(undefined);
        } else {
          reject(new Error(`TCP port ${port}: cannot listen on ${describeHost(binding)}: ${e.message}`, { cause: e }));
        }
      };
      server.once("error", onError);
      server.listen({ host: binding.host, port, ipv6Only: binding.family === 6 }, () => {
        server.off("error", onError);
        server.on("error", (e) => this.context.warn(`TCP port ${port} on ${describeHost(binding)}: ${e.message}`));
        if (listener.cancelled) {
          // unlisten (or disconnect) came while the bind was in progress.
          server.close();
          return resolve(undefined);
        }
        const bound = server.address() as AddressInfo;
        resolve(endpointOfNode(bound.address, bound.port, binding.family));
      });
    });
  }

  private accept(socket: Socket, port: number, handler: (flow: TcpFlow) => void | Promise<void>, options: TcpListenOptions): void {
    if (this.disconnected) {
      socket.destroy();
      return;
    }
    const flow = this.adopt(socket);
    if (options.keepAlive) socket.setKeepAlive(true, options.keepAlive.idleMs);
    const failed = (e: unknown) => {
      this.context.warn(`TCP port ${port}: the connection handler failed: ${e instanceof Error ? e.message : String(e)}`);
      void flow.close().catch(() => undefined);
    };
    try {
      const running = handler(flow);
      if (running instanceof Promise) running.catch(failed);
    } catch (e) {
      failed(e);
    }
  }

  private adopt(socket: Socket): SocketFlow {
    const flow = new SocketFlow(socket);
    this.flows.add(flow);
    socket.once("close", () => this.flows.delete(flow));
    return flow;
  }
}
