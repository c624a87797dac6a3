import { MacAddress, type Netif } from "@mirage-ts/runtime";
import { emitEthernet } from "../../src/ethernet/wire.ts";

/** An Ethernet frame (EtherType 0x88b5, the "local experimental" one) whose payload starts with `tag`. */
export function frameOf(dst: MacAddress, src: MacAddress, tag: number, payloadLength = 46): Uint8Array {
  const payload = new Uint8Array(payloadLength);
  new DataView(payload.buffer).setUint32(0, tag >>> 0);
  const out = new Uint8Array(14 + payloadLength);
  emitEthernet({ dst, src, etherType: 0x88b5, payload }, out);
  return out;
}

export const tagOf = (frame: Uint8Array): number => new DataView(frame.buffer, frame.byteOffset + 14, 4).getUint32(0);

/** Listens on `netif` and records every frame (copied) and every batch size. */
export function recorder(netif: Netif): { frames: Uint8Array[]; batches: number[] } {
  const seen = { frames: [] as Uint8Array[], batches: [] as number[] };
  netif.listen((frames) => {
    seen.batches.push(frames.length);
    for (const f of frames) seen.frames.push(f.slice());
  });
  return seen;
}

export const mac = (n: number): MacAddress => MacAddress.ofBytes(Uint8Array.of(2, 0, 0, 0, 0xaa, n));
