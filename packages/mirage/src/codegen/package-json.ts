/**
 * package.json of the unikernel: named `mirage-unikernel-<name>-<target>`, with the dependencies
 * its devices need and the repository of the enclosing git checkout.
 */
import { execFileSync } from "node:child_process";
import { headerText } from "./header.ts";

export interface PackageDependency {
  name: string;
  /** A semver range. */
  range: string;
}

/** `git remote get-url origin` in `dir`, or undefined outside a git checkout or without an origin. */
export function gitOrigin(dir: string): string | undefined {
  try {
    const url = execFileSync("git", ["remote", "get-url", "origin"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return url === "" ? undefined : url;
  } catch {
    return undefined;
  }
}

export function packageJsonName(name: string, target: string): string {
  return `mirage-unikernel-${name}-${target}`;
}

export function generatePackageJson(options: {
  name: string;
  target: string;
  dependencies: readonly PackageDependency[];
  devDependencies: readonly PackageDependency[];
  repository: string | undefined;
}): string {
  const record = (deps: readonly PackageDependency[]) => Object.fromEntries(deps.map((d) => [d.name, d.range]));
  const json = {
    "//": headerText("configure", options.name).replace("(delete this line", "(delete this field"),
    name: packageJsonName(options.name, options.target),
    version: "0.0.0",
    private: true,
    description: `The ${options.name} unikernel for the ${options.target} target, configured by mirage`,
    type: "module",
    ...(options.repository === undefined ? {} : { repository: { type: "git", url: options.repository } }),
    scripts: { build: "mirage build", clean: "mirage clean" },
    dependencies: record(options.dependencies),
    devDependencies: record(options.devDependencies),
    engines: { node: ">=20.11" },
  };
  return JSON.stringify(json, null, 2) + "\n";
}
