/** What every command is given: where it runs and where it prints (injectable, for in-process tests). */
import { dirname, relative, resolve } from "node:path";

export interface CommandContext {
  readonly cwd: string;
  readonly verbose: boolean;
  /** Prints a line (or lines) to stdout. */
  out(text: string): void;
  /** Prints a line (or lines) to stderr. */
  err(text: string): void;
  /** Whether stderr is a terminal (for colours). */
  readonly color: boolean;
}

export const DEFAULT_CONFIG = "config.ts";

/** The absolute config.ts of `-f` (default config.ts in cwd). */
export function configPath(ctx: CommandContext, file: string | undefined): string {
  return resolve(ctx.cwd, file ?? DEFAULT_CONFIG);
}

/** The directory of the configuration: that of config.ts. */
export function configDirOf(ctx: CommandContext, file: string | undefined): string {
  return dirname(configPath(ctx, file));
}

/** A path as the user should see it: relative to cwd when inside it. */
export function shownPath(ctx: CommandContext, path: string): string {
  const r = relative(ctx.cwd, path);
  return r === "" ? "." : r.startsWith("..") ? path : r;
}
