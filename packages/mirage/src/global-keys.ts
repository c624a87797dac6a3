/** Keys every unikernel has, whatever its devices: logs, Node runtime parameters, hardening. */
import { Arg, key, logsKey, runtimeParameterKeys, type Key } from "@mirage-ts/runtime";

export const hardeningKey: Key<boolean> = key(
  "hardening",
  Arg.bool({
    default: true,
    doc: "Start Node with the hardening flags: no code generation from strings, and the permission model limiting the file system to the artifact and the data the unikernel declares.",
    stage: "configure",
    section: "runtime",
  }),
);

export function globalKeys(): Key[] {
  return [logsKey as Key, ...(runtimeParameterKeys as readonly Key[]), hardeningKey as Key];
}
