/**
 * How a Node socket error becomes a FlowError, the one error type flows reject with.
 */
import { FlowError, type FlowErrorCode } from "@mirage-ts/runtime";

const CODES: Readonly<Record<string, FlowErrorCode>> = {
  ECONNREFUSED: "refused",
  ETIMEDOUT: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EHOSTDOWN: "unreachable",
  ENETDOWN: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  EAFNOSUPPORT: "unreachable",
  ECONNRESET: "reset",
  ECONNABORTED: "reset",
  EPIPE: "reset",
  ERR_STREAM_DESTROYED: "closed",
  ERR_STREAM_WRITE_AFTER_END: "closed",
  ERR_SOCKET_CLOSED: "closed",
};

export function flowErrorOf(error: unknown): FlowError {
  if (error instanceof FlowError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return new FlowError((code !== undefined && CODES[code]) || "reset", message);
}
