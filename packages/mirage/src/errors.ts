/**
 * Errors the mirage tool reports to its user: one clear line (`message`), optional `detail` shown
 * under -v, and the process exit code (1 for a failure, 2 for a usage error).
 */
export class MirageError extends Error {
  override readonly name = "MirageError";
  constructor(
    message: string,
    readonly options: { exitCode?: 1 | 2; detail?: string; showDetail?: boolean } = {},
  ) {
    super(message);
  }

  get exitCode(): 1 | 2 {
    return this.options.exitCode ?? 1;
  }
}

/** A mistake in how the tool was called (unknown target, unknown key, bad flag): exit code 2. */
export function usageError(message: string, detail?: string): MirageError {
  return new MirageError(message, { exitCode: 2, ...(detail === undefined ? {} : { detail }) });
}

export function isMirageError(e: unknown): e is MirageError {
  return e instanceof Error && e.name === "MirageError" && "exitCode" in e;
}
