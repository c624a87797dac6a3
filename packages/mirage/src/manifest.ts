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
    // The interfaces the host provides: Netifs built on no other Netif (a capture wraps one).
    networks: devicesOf("Netif")
      .filter((d) => !Object.values(d.deps).some((dep) => dep.spec.type === "Netif"))
      .map((d) => {
        const nameKey = d.spec.keys?.["name"];
        const chosen = nameKey === undefined ? undefined : plan.keys.find((k) => k.key.name === nameKey.name);
        return {
          name: d.label,
          kind: d.spec.impl,
          ...(nameKey === undefined ? {} : { key: `--${nameKey.name}`, default: chosen === undefined ? null : nameKey.converter.format(chosen.value) }),
        };
      }),
    blocks: devicesOf("Block").map((d) => ({ name: d.label, path: d.spec.args?.["path"] ?? null })),
    data: { read: plan.readPaths, write: plan.writePaths, writeKeys: plan.writePathKeys.map((k) => `--${k}`) },
    addons: plan.addons.map((a) => a.file),
    hardening: plan.hardening,
    configure: plan.argv,
  };
  return JSON.stringify(manifest, null, 2) + "\n";
}
