/**
 * Finding and loading the TAP addon (mirage_tap.node, built from packages/unix/native by
 * `npm ci`).
 *
 * Two layouts must work:
 * - from source (tests, tsx): this file is packages/unix/src/tap-addon.ts and the addon is
 *   packages/unix/build/Release/mirage_tap.node;
 * - from a unikernel bundle: esbuild inlines this file into dist/<name>.mjs, so `import.meta.url`
 *   is the bundle's URL, and `mirage build` copies the addon beside it as dist/mirage_tap.node.
 * `MIRAGE_TAP_ADDON=/path/to/mirage_tap.node` overrides both. The addon is loaded with a
 * `require` made by `createRequire`, which esbuild leaves alone (it cannot bundle a .node file).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** The file name of the addon, beside a bundle or in the package's build/Release. */
export const TAP_ADDON_FILE = "mirage_tap.node";

/**
 * Where `npm ci` builds the addon: what `mirage build` copies beside dist/<name>.mjs.
 * Meaningful from source only (in a bundle it points nowhere useful).
 */
export function tapAddonBuildPath(): string {
  return fileURLToPath(new URL(`../build/Release/${TAP_ADDON_FILE}`, import.meta.url));
}

/** The options the native constructor takes. */
export interface NativeTapOptions {
  name: string;
  device: string;
  bringUp: boolean;
  slotSize: number;
  rx: ArrayBuffer;
  rxLengths: Uint32Array;
  tx: ArrayBuffer;
  txLengths: Uint32Array;
  /** Called once per wake-up with the number of frames now in the rx slots. */
  onFrames: (count: number) => void;
  /** Called when the device accepts writes again after a write would have blocked. */
  onWritable: () => void;
}

export interface NativeTapStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Reads that failed, and frames longer than a slot (the kernel truncated them). */
  rxErrors: number;
  /** Frames the kernel refused (interface down, malformed). */
  txErrors: number;
  pollErrors: number;
}

export interface NativeTap {
  /** The kernel's name for the interface (as given, unless the name was a pattern like "tap%d"). */
  readonly name: string;
  /** The interface's MTU as the kernel has it (SIOCGIFMTU), 0 when it could not be read. */
  readonly kernelMtu: number;
  /** Whether the interface is administratively up (it is brought up when `bringUp` and permitted). */
  readonly up: boolean;
  /** Writes tx slots start..start+count-1; returns how many were consumed (sent or refused). */
  flush(start: number, count: number): number;
  stats(): NativeTapStats;
  close(): void;
  setRef(ref: boolean): void;
}

export interface TapAddon {
  Tap: new (options: NativeTapOptions) => NativeTap;
}

/** Raised when the addon cannot be found or loaded; says how to build it. */
export class TapAddonMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TapAddonMissingError";
  }
}

let loaded: TapAddon | undefined;

/** The candidate paths, most specific first. */
export function tapAddonCandidates(): string[] {
  const candidates: string[] = [];
  const fromEnv = process.env["MIRAGE_TAP_ADDON"];
  if (fromEnv !== undefined && fromEnv !== "") candidates.push(fromEnv);
  candidates.push(fileURLToPath(new URL(`./${TAP_ADDON_FILE}`, import.meta.url)));
  candidates.push(tapAddonBuildPath());
  return candidates;
}

/** Loads the addon once; throws TapAddonMissingError when it is not there. */
export function loadTapAddon(): TapAddon {
  if (loaded !== undefined) return loaded;
  if (process.platform !== "linux") {
    throw new TapAddonMissingError(`TAP devices are supported on Linux only (this is ${process.platform})`);
  }
  const candidates = tapAddonCandidates();
  const file = candidates.find((path) => existsSync(path));
  if (file === undefined) {
    throw new TapAddonMissingError(
      `the TAP addon ${TAP_ADDON_FILE} was not found (looked at ${candidates.join(", ")}): ` +
        "build it with `npm run build:tap -w packages/unix` (it needs make, g++ and Python 3), " +
        "or set MIRAGE_TAP_ADDON to its path",
    );
  }
  const require = createRequire(import.meta.url);
  try {
    loaded = require(file) as TapAddon;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new TapAddonMissingError(
      `the TAP addon ${file} could not be loaded (${reason}); if Node.js was upgraded, rebuild it with ` +
        "`npm run build:tap -w packages/unix`; under Node's permission model, start node with --allow-addons",
    );
  }
  return loaded;
}
