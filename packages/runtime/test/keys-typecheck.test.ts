/**
 * Generated code must type-check, not only evaluate: a keys module declares each key as
 * `Key<keyTsType(key)>` initialised with `serializeKey(key)`. This compiles such a module with the
 * TypeScript compiler (strict, as `mirage build` does) for a key of every type.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import {
  Arg,
  Conv,
  IpAddress,
  Ipv4Address,
  Ipv4Prefix,
  Ipv6Address,
  Ipv6Prefix,
  key,
  keyField,
  keyTsType,
  serializeKey,
  type Key,
} from "../src/index.ts";

const runtimeIndex = fileURLToPath(new URL("../src/index.ts", import.meta.url));
const typeRoots = [fileURLToPath(new URL("../../../node_modules/@types", import.meta.url))];

const modes = ["socket", "direct"] as const;
const everyType: Key[] = [
  key("a-string", Arg.string({ default: 'quote " backslash \\ newline \n unicode \u2028 é', doc: "d\n\"" })),
  key("an-int", Arg.int({ default: -42, doc: "" })),
  key("a-bool", Arg.bool({ default: true, doc: "" })),
  key("an-enum", Arg.enum(modes, { default: "direct", doc: "", stage: "configure" })),
  key("int-list", Arg.list(Conv.int, { default: [1, -2], doc: "" })),
  key("empty-list", Arg.list(Conv.string, { default: [], doc: "" })),
  key("enum-list", Arg.list(Conv.enum(modes), { default: ["socket"], doc: "", separator: ";" })),
  key("optional-absent", Arg.optional(Conv.ipv6Address, { doc: "", section: "network" })),
  key("optional-present", Arg.optional(Conv.ipv4Address, { default: Ipv4Address.of("10.0.0.1"), doc: "", env: "GW", short: "g" })),
  key("optional-list", Arg.optional(Conv.list(Conv.ipv4Prefix), { default: [Ipv4Prefix.of("10.0.0.2/24")], doc: "" })),
  key("v4", Arg.ipv4Address({ default: Ipv4Address.of("192.168.0.1"), doc: "" })),
  key("v6", Arg.ipv6Address({ default: Ipv6Address.of("2001:db8::1"), doc: "" })),
  key("v4-prefix", Arg.ipv4Prefix({ default: Ipv4Prefix.of("10.0.0.2/24"), doc: "" })),
  key("v6-prefix", Arg.ipv6Prefix({ default: Ipv6Prefix.of("fe80::1/64"), doc: "" })),
  key("ip", Arg.ipAddress({ default: IpAddress.of("::1"), doc: "" })),
];

test("a generated keys module type-checks under strict TypeScript", () => {
  const lines = [
    'import { Arg, Conv, key, Ipv4Address, Ipv6Address, Ipv4Prefix, Ipv6Prefix, IpAddress, type Key } from "@mirage-ts/runtime";',
    "void Conv; void Ipv4Address; void Ipv6Address; void Ipv4Prefix; void Ipv6Prefix; void IpAddress;",
  ];
  for (const k of everyType) {
    const field = keyField(k.name);
    lines.push(`export const ${field}: Key<${keyTsType(k)}> = ${serializeKey(k)};`);
    lines.push(`export const ${field}Default: ${keyTsType(k)} = ${field}.default;`);
  }
  // The types are precise: an enum key's value is the union, not string.
  lines.push('// @ts-expect-error "tap" is not a mode');
  lines.push('export const wrong: typeof anEnumDefault = "tap";');

  const dir = mkdtempSync(join(tmpdir(), "mirage-keys-"));
  try {
    const file = join(dir, "keys.ts");
    writeFileSync(file, lines.join("\n") + "\n");
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      lib: ["lib.es2022.d.ts"],
      types: ["node"],
      typeRoots,
      paths: { "@mirage-ts/runtime": [runtimeIndex] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : "";
      return where + ts.flattenDiagnosticMessageText(d.messageText, "\n");
    });
    assert.deepEqual(diagnostics, [], `generated source:\n${lines.join("\n")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
