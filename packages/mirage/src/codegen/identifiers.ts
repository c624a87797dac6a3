/** Unique JavaScript identifiers for generated code. */

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for function if import in " +
    "instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface " +
    "package private protected public await arguments eval undefined"
  ).split(" "),
);

export class Identifiers {
  private readonly taken = new Set<string>(RESERVED);

  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.taken.add(r);
  }

  /** `preferred` made a valid identifier, with `_` appended until it is unused. */
  allocate(preferred: string): string {
    let name = preferred.replace(/[^A-Za-z0-9_$]/g, "_");
    if (!/^[A-Za-z_$]/.test(name)) name = `_${name}`;
    while (this.taken.has(name)) name += "_";
    this.taken.add(name);
    return name;
  }
}
