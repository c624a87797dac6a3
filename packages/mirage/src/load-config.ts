/**
 * Evaluates config.ts with tsx's `tsImport` and returns what it registered. Errors a new user
 * hits are turned into one clear line: config.ts missing, throwing (with the user's own stack
 * frames, not tsx's or ours), importing a name the DSL does not export, not calling register().
 */
import { existsSync } from "node:fs";
import { basename, dirname, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";
import { didYouMean } from "./did-you-mean.ts";
import { MirageError } from "./errors.ts";
import { beginRegistration, endRegistration, type Registration } from "./registry.ts";

export const DSL_PACKAGE = "@mirage-ts/mirage";

/** Stack frames of the user's code: not node internals, node_modules, tsx or this package. */
export function userFrames(stack: string | undefined, cwd: string): string[] {
  if (stack === undefined) return [];
  // This package's sources (not its tests, whose scratch unikernels live under packages/mirage/test).
  const ownDir = dirname(fileURLToPath(import.meta.url)) + "/";
  return stack
    .split("\n")
    .filter((line) => /^\s+at /.test(line))
    .map((line) => line.replace(/\?tsx-namespace=[^:)\s]*/g, "").replace(/file:\/\/(\/[^:)\s]*)/g, (_, p: string) => decodeURIComponent(p)))
    .filter((line) => !/node:internal|node_modules|\(node:|at node:|\/tsx\//.test(line) && !line.includes(ownDir))
    .map((line) => line.trim().replace(/(\(|at )(\/[^:)]+)/, (_, pre: string, path: string) => pre + relativeIfInside(path, cwd)));
}

function relativeIfInside(path: string, cwd: string): string {
  const r = relative(cwd, path);
  return r.startsWith("..") ? path : r;
}

/** The names the DSL exports (for suggestions). */
async function dslExports(): Promise<string[]> {
  return Object.keys(await import("./index.ts"));
}

/** Evaluations in progress: the registry is global, so one config.ts is evaluated at a time. */
let queue: Promise<unknown> = Promise.resolve();

/** Evaluates `file` (a config.ts) and returns what it registered. */
export function loadConfig(file: string, options: { cwd?: string } = {}): Promise<Registration> {
  const next = queue.then(() => loadConfigNow(file, options));
  queue = next.catch(() => undefined);
  return next;
}

async function loadConfigNow(file: string, options: { cwd?: string }): Promise<Registration> {
  const cwd = options.cwd ?? process.cwd();
  const shown = relativeIfInside(file, cwd) || basename(file);
  if (!existsSync(file)) {
    const dir = relativeIfInside(dirname(file), cwd) || ".";
    throw new MirageError(
      basename(file) === "config.ts"
        ? `no config.ts in ${dir === "." ? "this directory" : dir}; create one (see README) or pass -f`
        : `no ${shown}: there is no such file`,
    );
  }
  beginRegistration(file);
  try {
    await tsImport(pathToFileURL(file).href, { parentURL: import.meta.url, tsconfig: false });
  } catch (e) {
    endRegistration();
    throw await explainLoadError(e, shown, cwd);
  }
  const registrations = endRegistration();
  const registration = registrations[0];
  if (registration === undefined) {
    throw new MirageError(`${shown} does not call register(): end it with register("my-unikernel", [main("./unikernel.ts", { ... })])`);
  }
  return registration;
}

async function explainLoadError(e: unknown, shown: string, cwd: string): Promise<MirageError> {
  if (!(e instanceof Error)) return new MirageError(`${shown} threw ${String(e)}`);
  const missing = /The requested module '([^']+)' does not provide an export named '([^']+)'/.exec(e.message);
  if (missing !== null) {
    const [, module, name] = missing as unknown as [string, string, string];
    if (module === DSL_PACKAGE || module.includes("packages/mirage/src/index.ts")) {
      const suggestion = didYouMean(name, await dslExports());
      return new MirageError(`${shown} imports ${name} from ${DSL_PACKAGE}, which does not exist${suggestion}`, {
        detail: `${DSL_PACKAGE} exports: ${(await dslExports()).sort().join(", ")}`,
      });
    }
    return new MirageError(`${shown} imports ${name} from ${module}, which does not export it`);
  }
  if (/Transform failed/.test(e.message)) {
    const located = e.message.replace(/^Transform failed with \d+ errors?:\n?/, "").split("\n")[0] ?? e.message;
    return new MirageError(`${shown} does not compile: ${located.replace(pathPrefix(cwd), "")}`, { detail: e.message });
  }
  if ((e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND") {
    return new MirageError(`${shown}: ${e.message.split("\n")[0]}`);
  }
  const frames = userFrames(e.stack, cwd);
  const location = frames[0]?.match(/([^\s()]+:\d+:\d+)\)?$/)?.[1];
  const where = location === undefined ? "" : ` (at ${location})`;
  return new MirageError(`${shown} failed: ${e.message}${where}`, {
    detail: frames.length > 0 ? frames.map((f) => `    ${f}`).join("\n") : (e.stack ?? e.message),
    // The user's own frames are worth showing at once; the whole stack only under -v.
    showDetail: frames.length > 0,
  });
}

function pathPrefix(cwd: string): string {
  return cwd.endsWith("/") ? cwd : `${cwd}/`;
}
