/**
 * The launcher `dist/<name>` (DESIGN.md §5): a POSIX sh script that starts Node with the runtime
 * parameters and, unless configured with --hardening=false, the hardening flags, then the bundle.
 *
 * - Node is `${MIRAGE_NODE:-node}`: the artifact may be copied to another host, where the node
 *   that ran `mirage build` need not exist; MIRAGE_NODE picks another one.
 * - The runtime parameters (--max-old-space-size, --max-semi-space-size, --stack-size) are V8
 *   flags, so they must reach Node before the script: the launcher scans the arguments for them
 *   (defaults: the values given at configure time) and passes them on to the unikernel too, whose
 *   runtime validates and lists them in --help.
 * - Hardening: --disallow-code-generation-from-strings, and Node's permission model reading only
 *   the bundle (and its source map) and the declared read paths, writing only the declared write
 *   paths. Node 20's permission model does not gate the network, so the socket stack works.
 *   Node 20.20 takes one path per --allow-fs-read flag (a comma-separated list is refused).
 */
import { realpathSync } from "node:fs";
import { headerText } from "./codegen/header.ts";

export interface LauncherOptions {
  name: string;
  /** Runtime parameters by key name (e.g. "max-old-space-size") and their configure-time value. */
  runtimeParameters: ReadonlyArray<{ name: string; value: number | undefined; unit: string }>;
  hardening: boolean;
  readPaths: readonly string[];
  writePaths: readonly string[];
}

/** Single-quoted for sh. */
export function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A path and, when it differs, its real path: Node's permission model checks the path it opens. */
function withRealPath(path: string): string[] {
  try {
    const real = realpathSync(path);
    return real === path ? [path] : [path, real];
  } catch {
    return [path];
  }
}

const variable = (name: string): string => name.replaceAll("-", "_");

export function generateLauncher(options: LauncherOptions): string {
  const { name } = options;
  const bundle = `"$DIR/${name}.mjs"`;
  const lines = [
    "#!/bin/sh",
    `# ${headerText("build", name)}`,
    `# Starts the ${name} unikernel: Node with the runtime parameters${options.hardening ? " and the hardening flags" : ""}, then ${name}.mjs.`,
    "# MIRAGE_NODE names the node binary to use (default: node from PATH).",
    `DIR=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P) || exit 1`,
  ];
  for (const p of options.runtimeParameters) lines.push(`${variable(p.name)}=${p.value === undefined ? "''" : shQuote(String(p.value))}`);
  lines.push(
    "pending=",
    'for arg in "$@"; do',
    '  if [ -n "$pending" ]; then',
    '    case $pending in',
    ...options.runtimeParameters.map((p) => `      ${p.name}) ${variable(p.name)}=$arg ;;`),
    "    esac",
    "    pending=",
    "    continue",
    "  fi",
    "  case $arg in",
    "    --) break ;;",
    ...options.runtimeParameters.flatMap((p) => [
      `    --${p.name}=*) ${variable(p.name)}=\${arg#*=} ;;`,
      `    --${p.name}) pending=${p.name} ;;`,
    ]),
    "  esac",
    "done",
    "check() {",
    '  case $2 in',
    "    '') return 0 ;;",
    "    *[!0-9]*) ;;",
    "    *[1-9]*) return 0 ;;",
    "  esac",
    `  printf '%s: --%s: "%s" is not a positive integer (expected %s)\\n' ${shQuote(name)} "$1" "$2" "$3" >&2`,
    "  exit 2",
    "}",
    ...options.runtimeParameters.map((p) => `check ${p.name} "$${variable(p.name)}" ${p.unit}`),
    `set -- ${bundle} "$@"`,
  );
  // Prepended in reverse, so Node sees them in the order listed.
  for (const p of [...options.runtimeParameters].reverse()) {
    lines.push(`if [ -n "$${variable(p.name)}" ]; then set -- "--${p.name}=$${variable(p.name)}" "$@"; fi`);
  }
  if (options.hardening) {
    const flags = [
      "--disallow-code-generation-from-strings",
      "--experimental-permission",
      `"--allow-fs-read=$DIR/${name}.mjs"`,
      `"--allow-fs-read=$DIR/${name}.mjs.map"`,
      ...[...new Set(options.readPaths.flatMap(withRealPath))].map((p) => shQuote(`--allow-fs-read=${p}`)),
      ...[...new Set(options.writePaths.flatMap(withRealPath))].map((p) => shQuote(`--allow-fs-write=${p}`)),
      "--disable-warning=ExperimentalWarning",
    ];
    lines.push(`set -- ${flags.join(" ")} "$@"`);
  }
  lines.push(`exec "\${MIRAGE_NODE:-node}" "$@"`);
  return lines.join("\n") + "\n";
}
