/** `mirage query`: one thing configure decided, printed alone (for scripts). */
import { describeKeys } from "./describe.ts";
import { buildFileList, CONFIG_FILES, SAVED_CONFIG, type Plan } from "./plan.ts";

export const QUERIES = ["name", "packages", "package.json", "main.ts", "keys", "files"] as const;
export type Query = (typeof QUERIES)[number];

export function query(plan: Plan, what: Query): string {
  switch (what) {
    case "name":
      return `${plan.name}\n`;
    case "packages":
      return plan.dependencies.map((d) => `${d.name}@${d.range}\n`).join("");
    case "package.json":
    case "main.ts":
      return plan.files.get(what)!;
    case "keys":
      return describeKeys(plan);
    case "files":
      return [...CONFIG_FILES, SAVED_CONFIG, ...buildFileList(plan)].map((f) => `${f}\n`).join("");
  }
}
