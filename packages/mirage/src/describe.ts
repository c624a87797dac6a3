/** `mirage describe`: what the configured unikernel is, in words or as a Graphviz graph. */
import { keyField } from "@mirage-ts/runtime";
import type { ResolvedDevice } from "./graph.ts";
import type { Plan, PlannedKey } from "./plan.ts";

function formatValue(k: PlannedKey): string {
  if (k.value === undefined) return "(none)";
  const text = k.key.converter.format(k.value);
  return text === "" ? '""' : text;
}

function deviceKeys(d: ResolvedDevice): string[] {
  return Object.values(d.spec.keys ?? {}).map((k) => `--${k.name}`);
}

const STAGES = { configure: "configure only", boot: "boot only", both: "configure and boot" } as const;

/** The plain description; `configShown` is config.ts's path as the user sees it. */
export function describePlain(plan: Plan, configShown: string = plan.file): string {
  const lines: string[] = [];
  lines.push(`name      ${plan.name}`, `target    ${plan.target.name}`, `config    ${configShown}`);
  if (plan.argv.length > 0) lines.push(`args      ${plan.argv.join(" ")}`);
  lines.push("keys");
  const texts = plan.keys.map((k) => `--${k.key.name}=${formatValue(k)}${k.given ? "" : " (default)"}`);
  const width = Math.max(...texts.map((t) => t.length));
  plan.keys.forEach((k, i) => {
    lines.push(`  ${texts[i]!.padEnd(width)}  ${k.key.section} key, ${STAGES[k.key.stage]}`);
  });
  lines.push("packages");
  for (const d of plan.dependencies) lines.push(`  ${d.name} ${d.range}`);
  lines.push("devices");
  for (const d of plan.graph.devices) {
    const deps = Object.entries(d.deps).map(([f, dep]) => `${f}=${dep.label}`);
    const parts = [`${d.spec.type} (${d.spec.impl})`, `${d.spec.module} ${d.spec.connect}`];
    if (deps.length > 0) parts.push(`deps ${deps.join(", ")}`);
    const keys = deviceKeys(d);
    if (keys.length > 0) parts.push(`keys ${keys.join(" ")}`);
    lines.push(`  ${d.label}: ${parts.join("; ")}`);
  }
  lines.push("jobs");
  for (const j of plan.graph.jobs) {
    const record = Object.entries(j.devices).map(([f, d]) => `${f}: ${d.label}`);
    lines.push(`  ${j.job.file} ${j.job.start}({ ${record.join(", ")} }, keys)${j.job.keys.length ? ` with ${j.job.keys.map((k) => `--${k.name}`).join(" ")}` : ""}`);
  }
  if (plan.graph.choices.length > 0) {
    lines.push("choices");
    for (const c of plan.graph.choices) lines.push(`  --${c.key.name}=${c.value} chose ${c.impl}`);
  }
  return lines.join("\n") + "\n";
}

/** A Graphviz string literal. */
function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Graphviz: devices as boxes (label, implementation, keys), the jobs as ellipses, one edge per dependency. */
export function describeDot(plan: Plan): string {
  const lines = [`digraph ${dotString(plan.name)} {`, `  rankdir=BT;`, `  node [shape=box, fontname="Helvetica"];`, `  edge [fontname="Helvetica", fontsize=10];`];
  const node = (d: ResolvedDevice) => dotString(`device:${d.label}`);
  for (const d of plan.graph.devices) {
    const keys = deviceKeys(d);
    const label = [d.label, `${d.spec.type}: ${d.spec.impl}`, ...(keys.length > 0 ? [keys.join(" ")] : [])].join("\n");
    lines.push(`  ${node(d)} [label=${dotString(label)}];`);
  }
  plan.graph.jobs.forEach((j, i) => {
    const id = dotString(`job:${i}`);
    const keys = j.job.keys.map((k) => `--${k.name}`);
    const label = [`main ${plan.name}`, `${j.job.file} ${j.job.start}()`, ...(keys.length > 0 ? [keys.join(" ")] : [])].join("\n");
    lines.push(`  ${id} [shape=ellipse, label=${dotString(label)}];`);
    for (const [field, d] of Object.entries(j.devices)) lines.push(`  ${id} -> ${node(d)} [label=${dotString(field)}];`);
  });
  for (const d of plan.graph.devices) {
    for (const [field, dep] of Object.entries(d.deps)) lines.push(`  ${node(d)} -> ${node(dep)} [label=${dotString(field)}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** `keys.<field>` for each key, as the unikernel reads them (for query keys). */
export function describeKeys(plan: Plan): string {
  return (
    plan.keys
      .map((k) => `--${k.key.name}=${formatValue(k)}\t${k.key.stage}\tkeys.${keyField(k.key.name)}: ${k.key.converter.tsType}${k.given ? "" : "\t(default)"}`)
      .join("\n") + "\n"
  );
}
