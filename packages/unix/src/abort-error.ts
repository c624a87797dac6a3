/**
 * The error a cancelled wait rejects with: shaped like the one Node's own timers/promises use
 * (name "AbortError", code "ABORT_ERR"), so `err.name === "AbortError"` checks work everywhere.
 */
export class AbortError extends Error {
  override readonly name = "AbortError";
  readonly code = "ABORT_ERR";
  constructor(message = "The operation was aborted", options?: { cause?: unknown }) {
    super(message, options);
  }
}
