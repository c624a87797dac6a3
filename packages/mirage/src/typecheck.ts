/**
 * The type-check of `mirage build`: tsc over the generated tsconfig.json (main.ts and everything it
 * imports). This is MirageOS's functor application check: a `start` whose parameter types do not
 * match what config.ts provides is a tsc error on main.ts's call of `start`.
 */
import { join } from "node:path";
import ts from "typescript";
import type { Plan } from "./plan.ts";

export interface TypecheckResult {
  ok: boolean;
  /** tsc's diagnostics, formatted with file:line:col and the source line. */
  text: string;
  /** Our explanation when an error is on a `start` call. */
  hints: string[];
  fileCount: number;
}

const ANSI = /\u001b\[[0-9;]*m/g;

export function typecheck(plan: Plan, options: { color: boolean }): TypecheckResult {
  const configFile = join(plan.dir, "tsconfig.json");
  const configDiagnostics: ts.Diagnostic[] = [];
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configFile,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => configDiagnostics.push(d),
    },
  );
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => plan.dir,
    getNewLine: () => "\n",
  };
  const format = (diagnostics: readonly ts.Diagnostic[]): string => {
    const text = ts.formatDiagnosticsWithColorAndContext(diagnostics, host);
    return options.color ? text : text.replace(ANSI, "");
  };
  if (parsed === undefined || configDiagnostics.length > 0 || parsed.errors.length > 0) {
    return { ok: false, text: format([...configDiagnostics, ...(parsed?.errors ?? [])]), hints: [], fileCount: 0 };
  }
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  const mainFile = join(plan.dir, "main.ts");
  const hints: string[] = [];
  for (const call of plan.mainTs.startCalls) {
    const onCall = errors.some((d) => {
      if (d.file === undefined || d.start === undefined || d.file.fileName !== mainFile) return false;
      return d.file.getLineAndCharacterOfPosition(d.start).line + 1 === call.line;
    });
    if (onCall) {
      hints.push(`config.ts gives start() ${call.gives} and the keys of keys.ts; the start in ${call.file.replace(/^\.\//, "")} expects a different type (see above)`);
    }
  }
  return { ok: errors.length === 0, text: errors.length === 0 ? "" : format(errors), hints, fileCount: program.getSourceFiles().length };
}
