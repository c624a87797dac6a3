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
 * - Files named at boot (`--pcap=FILE`: ImplSpec.writePathKeys): the launcher scans the arguments
 *   for those keys as it does for the runtime parameters, and allows writing the file given
 *   (made absolute against the current directory, as Node resolves it).
 * - Native addons (the TAP device's mirage_tap.node, copied beside the bundle): `--allow-addons`
 *   and a read permission for each addon file only. Node then prints a SecurityWarning on every
 *   start ("--allow-addons ... could invalidate the permission model"); the launcher silences it,
 *   since the addon is the artifact's own, built from this repository, and the warning would only
 *   teach users to ignore the console.
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
  /** Boot keys whose value is a file the unikernel writes (e.g. "pcap"). */
  writePathKeys?: readonly string[];
  /** Native addon files beside the bundle (e.g. "mirage_tap.node"). */
  addons?: readonly string[];
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
const writeVariable = (name: string): string => `write_${variable(name)}`;

export function generateLauncher(options: LauncherOptions): string {
  const { name } = options;
  const writeKeys = options.hardening ? (options.writePathKeys ?? []) : [];
  const addons = options.addons ?? [];
  const bundle = `"$DIR/${name}.mjs"`;
  const lines = [
    "#!/bin/sh",
    `# ${headerText("build", name)}`,
    `# Starts the ${name} unikernel: Node with the runtime parameters${options.hardening ? " and the hardening flags" : ""}, then ${name}.mjs.`,
    "# MIRAGE_NODE names the node binary to use (default: node from PATH).",
    `DIR=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P) || exit 1`,
  ];
  for (const p of options.runtimeParameters) lines.push(`${variable(p.name)}=${p.value === undefined ? "''" : shQuote(String(p.value))}`);
  for (const k of writeKeys) lines.push(`${writeVariable(k)}=`);
  lines.push(
    "pending=",
    'for arg in "$@"; do',
    '  if [ -n "$pending" ]; then',
    '    case $pending in',
    ...options.runtimeParameters.map((p) => `      ${p.name}) ${variable(p.name)}=$arg ;;`),
    ...writeKeys.map((k) => `      ${k}) ${writeVariable(k)}=$arg ;;`),
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
    ...writeKeys.flatMap((k) => [`    --${k}=*) ${writeVariable(k)}=\${arg#*=} ;;`, `    --${k}) pending=${k} ;;`]),
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
      '"$PERMISSION_FLAG"',
      `"--allow-fs-read=$DIR/${name}.mjs"`,
      `"--allow-fs-read=$DIR/${name}.mjs.map"`,
      ...[...new Set(options.readPaths.flatMap(withRealPath))].map((p) => shQuote(`--allow-fs-read=${p}`)),
      ...[...new Set(options.writePaths.flatMap(withRealPath))].map((p) => shQuote(`--allow-fs-write=${p}`)),
      ...(addons.length > 0 ? ["--allow-addons", ...addons.map((a) => `"--allow-fs-read=$DIR/${a}"`)] : []),
      "--disable-warning=ExperimentalWarning",
      ...(addons.length > 0 ? ["--disable-warning=SecurityWarning"] : []),
    ];
    // Node 20 and 21 call the permission model --experimental-permission; later Node releases
    // made it --permission and then dropped the old name.
    lines.push(
      `case $("\${MIRAGE_NODE:-node}" --version) in v20.*|v21.*) PERMISSION_FLAG=--experimental-permission ;; *) PERMISSION_FLAG=--permission ;; esac`,
    );
    lines.push(`set -- ${flags.join(" ")} "$@"`);
    for (const k of writeKeys) {
      const v = writeVariable(k);
      lines.push(
        `if [ -n "$${v}" ]; then`,
        `  case $${v} in /*) ;; *) ${v}="$PWD/$${v}" ;; esac`,
        `  set -- "--allow-fs-write=$${v}" "$@"`,
        "fi",
      );
    }
  }
  lines.push(`exec "\${MIRAGE_NODE:-node}" "$@"`);
  return lines.join("\n") + "\n";
}
