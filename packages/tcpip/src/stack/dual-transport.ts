/**
 * The dual stack's transports (MirageOS 3.9's StackV4V6): one TCP and one UDP engine per IP
 * family, and in front of them the runtime's single `Tcp` and `Udp`. A `listen` serves every
 * family the stack has; `connect` and `send` go to the engine of the destination's family. A
 * family that is absent (`--ipv4-only=true` / `--ipv6-only=true`) has no engine, and reaching for
 * it fails with a FlowError("unreachable") that says so.
 *
 * Each engine keeps its own ephemeral ports: a connection is named by its family's 4-tuple, so
 * the same local port may serve one connection per family.
 */
import { FlowError, type IpAddress, type Tcp, type TcpFlow, type TcpListenOptions, type Udp, type UdpSendOptions } from "@mirage-ts/runtime";
import type { TcpEngine } from "../tcp/engine.ts";
import type { UdpEngine } from "../udp/engine.ts";

export interface DualTcp extends Tcp {
  /** Ports listened on (in every family present), ascending. */
  listening(): number[];
}

/** Why a family is absent, for the error (default: the boot key that turns it off). */
export interface AbsentFamilyReasons {
  v4?: string;
  v6?: string;
}

const DEFAULT_REASONS: Required<AbsentFamilyReasons> = {
  v4: "IPv4 is turned off (--ipv6-only=true)",
  v6: "IPv6 is turned off (--ipv4-only=true)",
};

const describe = (address: IpAddress, port: number | undefined): string => {
  const host = address.family === 6 ? `[${address}]` : String(address);
  return port === undefined ? host : `${host}:${port}`;
};

/** Registers on every engine or on none: a clash on any family undoes the others and throws. */
function listenEverywhere<E>(engines: readonly E[], listen: (engine: E) => void, unlisten: (engine: E) => void): void {
  let done = 0;
  try {
    for (; done < engines.length; done++) listen(engines[done]!);
  } catch (e) {
    for (let i = 0; i < done; i++) unlisten(engines[i]!);
    throw e;
  }
}

function engineFor<E>(v4: E | undefined, v6: E | undefined, address: IpAddress, reasons: Required<AbsentFamilyReasons>): E | string {
  if (address.family === 4) return v4 ?? reasons.v4;
  return v6 ?? reasons.v6;
}

export function createDualTcp(v4: TcpEngine | undefined, v6: TcpEngine | undefined, reasons: AbsentFamilyReasons = {}): DualTcp {
  const why = { ...DEFAULT_REASONS, ...reasons };
  const engines = [v4, v6].filter((e): e is TcpEngine => e !== undefined);
  return {
    listen(port: number, handler: (flow: TcpFlow) => void | Promise<void>, options?: TcpListenOptions): void {
      listenEverywhere(
        engines,
        (engine) => engine.listen(port, handler, options),
        (engine) => engine.unlisten(port),
      );
    },
    unlisten(port: number): void {
      for (const engine of engines) engine.unlisten(port);
    },
    connect(address: IpAddress, port: number): Promise<TcpFlow> {
      const engine = engineFor(v4, v6, address, why);
      if (typeof engine === "string") return Promise.reject(new FlowError("unreachable", `TCP connect to ${describe(address, port)}: ${engine}`));
      return engine.connect(address, port);
    },
    listening(): number[] {
      const ports = new Set<number>();
      for (const engine of engines) for (const port of engine.listening()) ports.add(port);
      return [...ports].sort((a, b) => a - b);
    },
  };
}

export function createDualUdp(v4: UdpEngine | undefined, v6: UdpEngine | undefined, reasons: AbsentFamilyReasons = {}): Udp {
  const why = { ...DEFAULT_REASONS, ...reasons };
  const engines = [v4, v6].filter((e): e is UdpEngine => e !== undefined);
  return {
    listen(port, handler): void {
      listenEverywhere(
        engines,
        (engine) => engine.listen(port, handler),
        (engine) => engine.unlisten(port),
      );
    },
    unlisten(port: number): void {
      for (const engine of engines) engine.unlisten(port);
    },
    send(options: UdpSendOptions): Promise<void> {
      const engine = engineFor(v4, v6, options.dst, why);
      if (typeof engine === "string") return Promise.reject(new FlowError("unreachable", `UDP send to ${describe(options.dst, options.dstPort)}: ${engine}`));
      return engine.send(options);
    },
  };
}
