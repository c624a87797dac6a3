/**
 * `--help` text: man-page-like, deterministic (keys sorted by name within a section), wrapped at
 * 80 columns. Lists only the keys that can be set at boot, in three sections: the unikernel's own
 * keys, network keys and Node runtime parameters.
 */
import type { Key, KeySection, KeyType } from "./keys.ts";
import { describeType } from "./keys-conv.ts";

export interface FormatHelpOptions {
  /** One paragraph saying what the unikernel does. */
  description?: string;
}

const WIDTH = 80;
const HEAD_INDENT = 7;
const BODY_INDENT = 11;

const SECTIONS: ReadonlyArray<[KeySection, string]> = [
  ["unikernel", "UNIKERNEL KEYS"],
  ["network", "NETWORK KEYS"],
  ["runtime", "NODE RUNTIME PARAMETERS"],
];

/** Greedy word wrap; a word longer than the line stays whole. */
export function wrap(text: string, indent: number, width = WIDTH): string[] {
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    const words = paragraph.split(/\s+/).filter((w) => w.length > 0);
    if (words.length === 0) continue;
    if (lines.length > 0) lines.push("");
    let line = pad;
    for (const word of words) {
      if (line.length > indent && line.length + 1 + word.length > width) {
        lines.push(line);
        line = pad;
      }
      line += (line.length > indent ? " " : "") + word;
    }
    lines.push(line);
  }
  return lines;
}

const baseKind = (type: KeyType): KeyType["kind"] => (type.kind === "optional" ? baseKind(type.of) : type.kind);

/** Double quotes around the text as it is typed; JSON escaping only when it holds a quote or a control character. */
const quote = (text: string): string => (/["\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text) : `"${text}"`);

/** The default as --help shows it: canonical text, quoted where it could be misread, "none" when absent. */
export function displayDefault(key: Key): string {
  const type = key.converter.type;
  if (type.kind === "optional" && key.default === undefined) return "none";
  const text = key.converter.format(key.default);
  const kind = baseKind(type);
  if (kind === "string" || kind === "list" || text === "" || /\s/.test(text)) return quote(text);
  return text;
}

function keyHeader(key: Key): string {
  const long = key.converter.type.kind === "bool" ? `--${key.name}[=${key.docv}]` : `--${key.name}=${key.docv}`;
  if (key.short === undefined) return long;
  const short = key.converter.type.kind === "bool" ? `-${key.short}` : `-${key.short} ${key.docv}`;
  return `${short}, ${long}`;
}

function keyEntry(key: Key): string[] {
  const lines = [" ".repeat(HEAD_INDENT) + keyHeader(key)];
  if (key.doc.trim() !== "") lines.push(...wrap(key.doc, BODY_INDENT));
  const facts = [`type: ${describeType(key.converter.type)}`, `default: ${displayDefault(key)}`];
  if (key.env !== undefined) facts.push(`env: ${key.env}`);
  lines.push(...wrap(`(${facts.join(", ")})`, BODY_INDENT));
  return lines;
}

export function formatHelp(program: string, keys: readonly Key[], options: FormatHelpOptions = {}): string {
  const out: string[] = [`Usage: ${program} [OPTION]...`];
  if (options.description !== undefined && options.description.trim() !== "") {
    out.push("", ...wrap(options.description, HEAD_INDENT));
  }
  const seen = new Set<string>();
  const bootKeys = keys.filter((k) => {
    if (k.stage === "configure" || seen.has(k.name)) return false;
    seen.add(k.name);
    return true;
  });
  for (const [section, title] of SECTIONS) {
    const inSection = bootKeys.filter((k) => k.section === section).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (inSection.length === 0) continue;
    out.push("", title);
    inSection.forEach((k, i) => {
      if (i > 0) out.push("");
      out.push(...keyEntry(k));
    });
  }
  out.push("", "COMMON OPTIONS", " ".repeat(HEAD_INDENT) + "-h, --help", ...wrap("Show this help and exit.", BODY_INDENT));
  return out.join("\n") + "\n";
}
