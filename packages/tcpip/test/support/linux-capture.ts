/**
 * The real Linux packets of fixtures/linux.pcap (made by fixtures/capture.sh) with what tshark
 * decoded from each one (fixtures/linux-fields.tsv), for byte-exact codec tests.
 */
import { readFileSync } from "node:fs";
import { parsePcap } from "../../src/link/pcap.ts";

export const FIELD_NAMES = [
  "frame", "ethDst", "ethSrc", "ethType",
  "arpOpcode", "arpSrcMac", "arpSrcIp", "arpDstMac", "arpDstIp",
  "ipHdrLen", "ipLen", "ipId", "ipDf", "ipMf", "ipFragOffset", "ipTtl", "ipProto", "ipSrc", "ipDst", "ipChecksum",
  "icmpType", "icmpCode", "icmpChecksum", "icmpIdent", "icmpSeq",
  "udpSrcPort", "udpDstPort", "udpLength", "udpChecksum",
  "ipChecksumStatus", "icmpChecksumStatus", "udpChecksumStatus",
] as const;

export type TsharkFields = Record<(typeof FIELD_NAMES)[number], string>;

export interface CapturedFrame {
  bytes: Uint8Array;
  tshark: TsharkFields;
}

export function loadLinuxCapture(): CapturedFrame[] {
  const pcap = parsePcap(new Uint8Array(readFileSync(new URL("../fixtures/linux.pcap", import.meta.url))));
  if (!pcap.ok) throw new Error(pcap.error);
  const lines = readFileSync(new URL("../fixtures/linux-fields.tsv", import.meta.url), "utf8").trimEnd().split("\n");
  if (lines.length !== pcap.value.records.length) throw new Error(`${lines.length} tshark lines for ${pcap.value.records.length} frames`);
  return pcap.value.records.map((record, i) => {
    const cells = lines[i]!.split("\t");
    const tshark = Object.fromEntries(FIELD_NAMES.map((name, k) => [name, cells[k] ?? ""])) as TsharkFields;
    return { bytes: record.data, tshark };
  });
}

/** tshark prints numbers in decimal or 0x-hex. */
export const num = (text: string): number => Number(text);
