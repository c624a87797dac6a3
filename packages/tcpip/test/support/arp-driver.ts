/**
 * A minimal test-only engine around the ARP state machine: frames in from a netif, actions out
 * to it, one timer at the machine's next deadline. It shows how the real engine wires the pieces.
 */
import type { Ipv4Address, Netif, Time, MonotonicClock, Timer } from "@mirage-ts/runtime";
import { MacAddress } from "@mirage-ts/runtime";
import { EtherType, emitEthernet, parseEthernet } from "../../src/ethernet/wire.ts";
import { ARP_PACKET_LEN, emitArp, parseArp } from "../../src/arp/wire.ts";
import { type ArpAction, type ArpEvent, type ArpState, arpLookup, arpNextDeadline, arpStep, createArpState } from "../../src/arp/state-machine.ts";

export interface ArpDriver {
  state(): ArpState<string>;
  /** Resolves `ip` for `packet`; outcomes are recorded in `log`. */
  send(ip: Ipv4Address, packet: string): void;
  start(): void;
  log: string[];
}

export function arpDriver(netif: Netif, addresses: Ipv4Address[], clock: MonotonicClock, time: Time, config: Partial<ArpState<string>["config"]> = {}): ArpDriver {
  let state = createArpState<string>({ mac: netif.mac, addresses, ...config });
  let timer: Timer | undefined;
  let timerAt: number | undefined;
  const log: string[] = [];
  const scratch = new Uint8Array(14 + ARP_PACKET_LEN);

  const perform = (action: ArpAction<string>): void => {
    switch (action.type) {
      case "send":
        emitArp(action.packet, scratch, 14);
        emitEthernet({ dst: action.dst, src: netif.mac, etherType: EtherType.arp, payload: scratch.subarray(14) }, scratch);
        netif.write(scratch);
        break;
      case "resolved":
        for (const p of action.packets) log.push(`${clock.now()} ${p} -> ${action.mac}`);
        break;
      default:
        for (const p of "packets" in action ? action.packets : []) log.push(`${clock.now()} ${p} ${action.type}`);
    }
  };

  const step = (event: ArpEvent<string>): void => {
    const r = arpStep(state, clock.now(), event);
    state = r.state;
    r.actions.forEach(perform);
    const deadline = arpNextDeadline(state);
    if (deadline !== timerAt) {
      timer?.cancel();
      timerAt = deadline;
      timer = deadline === undefined ? undefined : time.schedule(deadline - clock.now(), () => {
        timerAt = undefined;
        step({ type: "tick" });
      });
    }
  };

  netif.listen((frames) => {
    for (const frame of frames) {
      const eth = parseEthernet(frame);
      if (!eth.ok || eth.value.etherType !== EtherType.arp) continue;
      if (!eth.value.dst.equals(netif.mac) && !eth.value.dst.equals(MacAddress.broadcast)) continue;
      const arp = parseArp(eth.value.payload);
      if (arp.ok) step({ type: "received", packet: arp.value });
    }
  });

  return {
    state: () => state,
    start: () => step({ type: "start" }),
    send(ip, packet) {
      const mac = arpLookup(state, clock.now(), ip);
      if (mac !== undefined) log.push(`${clock.now()} ${packet} -> ${mac} (fast)`);
      else step({ type: "resolve", ip, packet });
    },
    log,
  };
}
