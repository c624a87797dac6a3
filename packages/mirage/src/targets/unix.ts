/** The unix target: the bundle runs on the host's Node, started by a launcher script. */
import { join } from "node:path";
import { runtimeParameterKeys } from "@mirage-ts/runtime";
import { generateLauncher } from "../launcher.ts";
import type { Plan } from "../plan.ts";
import type { Target, TargetFile } from "../targets.ts";

export const unixTarget: Target = {
  name: "unix",
  description: "Node.js on the host (Linux, macOS): a bundle and a launcher script",
  packages: [],
  artifactFiles(plan: Plan): TargetFile[] {
    const runtimeParameters = runtimeParameterKeys.map((k) => {
      const planned = plan.keys.find((p) => p.key.name === k.name);
      const value = planned?.value;
      return { name: k.name, value: typeof value === "number" ? value : undefined, unit: k.docv };
    });
    const content = generateLauncher({
      name: plan.name,
      runtimeParameters,
      hardening: plan.hardening,
      readPaths: plan.readPaths,
      writePaths: plan.writePaths,
      writePathKeys: plan.writePathKeys,
      addons: plan.addons.map((a) => a.file),
    });
    return [{ path: join("dist", plan.name), content, mode: 0o755 }];
  },
};
