/** Why a name did not resolve. */
export type DnsErrorCode =
  /** The name does not exist (RCODE 3). */
  | "nxdomain"
  /** The server failed (RCODE 2). */
  | "servfail"
  /** The server refused to answer (RCODE 5). */
  | "refused"
  /** Any other non-zero RCODE (FORMERR, NOTIMP, …). */
  | "server-error"
  /** The name exists but has no record of the type asked for. */
  | "no-data"
  /** No valid reply came within the timeout, after every retry. */
  | "timeout"
  /** The name is not a valid DNS name (empty label, label over 63 bytes, over 253 bytes). */
  | "invalid-name"
  /** The resolver was disconnected. */
  | "disconnected";

export class DnsError extends Error {
  override readonly name = "DnsError";
  constructor(
    readonly code: DnsErrorCode,
    readonly query: string,
    message?: string,
  ) {
    super(message ?? `${query}: ${code}`);
  }
}
