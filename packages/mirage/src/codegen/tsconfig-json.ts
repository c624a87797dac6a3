/** tsconfig.json for `mirage build`'s type-check of main.ts and everything it imports. */
import { headerComment } from "./header.ts";

export function generateTsconfigJson(options: { name: string }): string {
  const json = {
    compilerOptions: {
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "Bundler",
      lib: ["ES2022"],
      types: ["node"],
      strict: true,
      allowImportingTsExtensions: true,
      noEmit: true,
      isolatedModules: true,
      skipLibCheck: true,
      esModuleInterop: true,
      resolveJsonModule: true,
      forceConsistentCasingInFileNames: true,
    },
    files: ["main.ts"],
  };
  return headerComment("configure", options.name) + JSON.stringify(json, null, 2) + "\n";
}
