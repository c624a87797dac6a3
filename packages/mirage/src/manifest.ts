/** dist/manifest.json: what the artifact expects from its host (by name), for tooling and deployment. */
import { headerText } from "./codegen/header.ts";
import type { Plan } from "./plan.ts";

export function generateManifest(plan: Plan): string {
  const devicesOf = (type: string) => plan.graph.devices.filter((d) => d.spec.type === type);
  const manifest = {
    "//": headerText("build", plan.name).replace("(delete this line", "(delete this field"),
    name: plan.name,
    target: plan.target.name,
    bundle: `${plan.name}.mjs`,
    launcher: plan.name,
    networks: devicesOf("Netif").map((d) => ({ name: d.label })),
    blocks: devicesOf("Block").map((d) => ({ name: d.label, path: d.spec.args?.["path"] ?? null })),
    data: { read: plan.readPaths, write: plan.writePaths },
    hardening: plan.hardening,
    configure: plan.argv,
  };
  return JSON.stringify(manifest, null, 2) + "\n";
}
