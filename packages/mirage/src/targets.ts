/**
 * Targets: where a unikernel runs. Each contributes what `mirage build` writes beside the bundle
 * (for unix, the launcher script). Adding a target is adding an entry here.
 */
import { didYouMean } from "./did-you-mean.ts";
import { usageError } from "./errors.ts";
import type { Plan } from "./plan.ts";
import { unixTarget } from "./targets/unix.ts";

/** A file a target writes, relative to the config.ts directory. */
export interface TargetFile {
  path: string;
  content: string;
  mode?: number;
}

export interface Target {
  readonly name: string;
  readonly description: string;
  /** npm packages every unikernel of this target needs. */
  readonly packages: readonly string[];
  /** Files written after the bundle `dist/<name>.mjs` exists (e.g. a launcher). */
  artifactFiles(plan: Plan): TargetFile[];
}

export const targets: ReadonlyMap<string, Target> = new Map([[unixTarget.name, unixTarget]]);

export const defaultTarget = "unix";

export function findTarget(name: string): Target {
  const target = targets.get(name);
  if (target === undefined) {
    const names = [...targets.keys()];
    throw usageError(`unknown target "${name}"${didYouMean(name, names)} (valid targets: ${names.join(", ")})`);
  }
  return target;
}
