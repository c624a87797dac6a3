/**
 * Native addons beside the bundle: esbuild cannot put a `.node` file into dist/<name>.mjs, so
 * `mirage build` copies each addon a device declares (ImplSpec.addons) to dist/, where the
 * device's code finds it relative to the bundle (`new URL("./FILE", import.meta.url)`).
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { NativeAddon } from "./device.ts";
import { MirageError } from "./errors.ts";
import { addonFile, type Plan } from "./plan.ts";
import { importFrom } from "./resolve-package.ts";

/** Where `addon` was built, as its package says. */
export async function locateAddon(dir: string, addon: NativeAddon): Promise<string> {
  let located: unknown;
  try {
    const module = (await importFrom(dir, addon.module)) as Record<string, unknown>;
    const locate = module[addon.locate];
    if (typeof locate !== "function") throw new Error(`${addon.module} exports no function ${addon.locate}`);
    located = (locate as () => unknown)();
  } catch (e) {
    throw new MirageError(`cannot find the native addon ${addon.file}: ${(e as Error).message}`);
  }
  if (typeof located !== "string") throw new MirageError(`${addon.module}'s ${addon.locate}() did not return a path for ${addon.file}`);
  return located;
}

/** Copies every addon of the plan into dist/; returns the files written, relative to the config.ts directory. */
export async function copyAddons(plan: Plan, verbose: (line: string) => void): Promise<string[]> {
  const written: string[] = [];
  for (const addon of plan.addons) {
    const source = await locateAddon(plan.dir, addon);
    if (!existsSync(source)) {
      throw new MirageError(`the native addon ${addon.file} is not built (expected at ${source})`, {
        detail:
          `${addon.module} builds it during \`npm ci\` (it needs make, g++ and Python 3);` +
          ` build it again with \`npm rebuild ${addon.module}\`, or configure with --net=socket`,
        showDetail: true,
      });
    }
    const target = addonFile(addon);
    mkdirSync(dirname(join(plan.dir, target)), { recursive: true });
    copyFileSync(source, join(plan.dir, target));
    verbose(`addon ${source} → ${target}`);
    written.push(target);
  }
  return written;
}
