// Source scan of the user's `.bpf.c` with tree-sitter-c: event types of ring buffers and perf event
// arrays, doc comments, and the type names the source declares.
//
// The scan reads the file as written, without the preprocessor. libbpf's map macros (`__uint`,
// `__type`, `__array`) and `SEC("…")` are not C that a parser can place, so they are blanked to
// spaces first (keeping every offset and line), with each SEC's string remembered by position.

import type Parser from "tree-sitter";
import { SourceError } from "../errors.js";
import { inferEvents, type UnfollowedCall } from "./events.js";
import { declaratorName, getParser, type Node } from "./syntax.js";

/** Doc comments without comment markers, keyed by C name. */
export interface SourceDocs {
  /** struct/union/enum tag or typedef name → doc. */
  readonly types: Readonly<Record<string, string>>;
  /** `<type name>.<field>` (members of nested anonymous types by their path: `event.u.x`; enum values as `<enum>.<VALUE>`) → doc. */
  readonly fields: Readonly<Record<string, string>>;
  /** Map variable name → doc. */
  readonly maps: Readonly<Record<string, string>>;
  /** Program function name → doc. */
  readonly programs: Readonly<Record<string, string>>;
  /** Global variable name → doc. */
  readonly variables: Readonly<Record<string, string>>;
}

export interface SourceScan {
  readonly file: string;
  /** Map name → C spelling of the records written into it (`struct event`, `event_t`). */
  readonly events: Readonly<Record<string, string>>;
  readonly docs: SourceDocs;
  /** Types the source defines, spelled as C would (`struct event`, `enum kind`, a typedef's name). */
  readonly declaredTypes: readonly string[];
  /** Map variables (declared in SEC(".maps")) and program functions (with a SEC), by name → section. */
  readonly sections: Readonly<Record<string, string>>;
  /** Ambiguities the scan noticed (a map written with two different record types, …). */
  readonly warnings: readonly string[];
  /** Calls into ring buffers / perf event arrays whose record type the scan could not follow. */
  readonly unfollowed: readonly UnfollowedCall[];
}

export const emptyDocs: SourceDocs = { types: {}, fields: {}, maps: {}, programs: {}, variables: {} };

// ---------------------------------------------------------------------------------------------------
// Blanking libbpf's macros

interface SecMark {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

const BLANKED_MACROS = new Set(["__uint", "__type", "__array", "__ulong", "SEC"]);

/** Attribute-like macros of libbpf and kernel headers that, unexpanded, derail the C grammar. */
const BLANKED_WORDS = new Set([
  "__always_inline", "__noinline", "__weak", "__hidden", "__inline", "__unused", "__maybe_unused",
  "__ksym", "__kconfig", "__kptr", "__kptr_untrusted", "__percpu_kptr", "__rcu", "__user", "__iomem",
  "__arg_ctx", "__arg_nonnull", "__arg_nullable", "__arg_trusted", "__arg_arena", "__noreturn",
]);

/** Replaces the macros with spaces (newlines kept); returns the new text and where each SEC was. */
export function blankMacros(text: string): { text: string; secs: SecMark[] } {
  const out = text.split("");
  const secs: SecMark[] = [];
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "/" && text[i + 1] === "/") i = lineEnd(text, i);
    else if (c === "/" && text[i + 1] === "*") i = blockEnd(text, i);
    else if (c === '"' || c === "'") i = quoteEnd(text, i);
    else if (c === "#" && atLineStart(text, i)) i = lineEnd(text, i);
    else if (/[A-Za-z_]/.test(c) && (i === 0 || !/\w/.test(text[i - 1]!))) {
      const m = /^\w+/.exec(text.slice(i, i + 64))!;
      const word = m[0];
      let j = i + word.length;
      while (j < text.length && (text[j] === " " || text[j] === "\t")) j++;
      if (BLANKED_WORDS.has(word)) {
        blank(i, i + word.length);
        i += word.length;
      } else if (BLANKED_MACROS.has(word) && text[j] === "(") {
        const close = matchParen(text, j);
        if (close < 0) break;
        let end = close + 1;
        if (word === "SEC") {
          const arg = /^\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(text.slice(j + 1, close));
          if (arg) secs.push({ start: i, end, name: arg[1]! });
        } else {
          let k = end;
          while (k < text.length && /\s/.test(text[k]!)) k++;
          if (text[k] === ";") end = k + 1;
        }
        blank(i, end);
        i = end;
      } else {
        i += word.length;
      }
    } else i++;
  }
  return { text: out.join(""), secs };
}

const lineEnd = (t: string, i: number) => {
  // Preprocessor lines continue across backslash-newlines.
  let j = i;
  for (;;) {
    const nl = t.indexOf("\n", j);
    if (nl < 0) return t.length;
    if (t[nl - 1] === "\\") j = nl + 1;
    else return nl;
  }
};
const blockEnd = (t: string, i: number) => {
  const e = t.indexOf("*/", i + 2);
  return e < 0 ? t.length : e + 2;
};
function quoteEnd(t: string, i: number): number {
  const q = t[i];
  for (let j = i + 1; j < t.length; j++) {
    if (t[j] === "\\") j++;
    else if (t[j] === q || t[j] === "\n") return j + 1;
  }
  return t.length;
}
function atLineStart(t: string, i: number): boolean {
  for (let j = i - 1; j >= 0; j--) {
    if (t[j] === "\n") return true;
    if (t[j] !== " " && t[j] !== "\t") return false;
  }
  return true;
}
function matchParen(t: string, open: number): number {
  let depth = 0;
  for (let j = open; j < t.length; j++) {
    const c = t[j];
    if (c === '"' || c === "'") j = quoteEnd(t, j) - 1;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return j;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------------
// The scan

/** Scans C source text. `file` is only used in messages. */
export function scanSource(text: string, file: string): SourceScan {
  return scanSources([{ text, file }])[0]!;
}

/**
 * Scans a source and the headers it includes, one scan per file (in order). Event inference sees all
 * of them at once: a helper or macro defined in a header that wraps `bpf_ringbuf_reserve` is
 * followed where the source calls it.
 */
export function scanSources(files: ReadonlyArray<{ readonly text: string; readonly file: string }>): SourceScan[] {
  const parser = getParser();
  const scanners = files.map(({ text, file }) => {
    const { text: blanked, secs } = blankMacros(text);
    let tree: Parser.Tree;
    try {
      // The default 32 KiB buffer makes tree-sitter fail on larger inputs; give it the whole file.
      tree = parser.parse(blanked, undefined, { bufferSize: Math.max(32 * 1024, blanked.length * 2 + 1024) });
    } catch (e) {
      throw new SourceError(`${file}: tree-sitter could not parse the source: ${(e as Error).message}`, { file, cause: e });
    }
    const scan = new Scanner(text, blanked, secs);
    scan.walk(tree.rootNode);
    return { file, scan, root: tree.rootNode };
  });
  const declared = new Set(scanners.flatMap((s) => [...s.scan.declared]));
  const found = inferEvents(scanners.map((s) => ({ file: s.file, root: s.root })), declared);
  return scanners.map(({ file, scan }, i) => ({
    file,
    events: found.events[i]!,
    docs: scan.docs,
    declaredTypes: [...scan.declared].sort(),
    sections: scan.sections,
    warnings: found.warnings[i]!,
    unfollowed: found.unfollowed[i]!,
  }));
}

/** The wrapper macros libbpf (bpf_tracing.h) uses for program signatures: the first argument is the name. */
const PROGRAM_MACROS = new Set(["BPF_PROG", "BPF_PROG2", "BPF_KPROBE", "BPF_KRETPROBE", "BPF_UPROBE", "BPF_URETPROBE", "BPF_KSYSCALL", "BPF_KPROBE_SYSCALL", "BPF_USDT"]);

class Scanner {
  readonly docs = { types: {}, fields: {}, maps: {}, programs: {}, variables: {} } as {
    types: Record<string, string>; fields: Record<string, string>; maps: Record<string, string>; programs: Record<string, string>; variables: Record<string, string>;
  };
  readonly sections: Record<string, string> = {};
  readonly declared = new Set<string>();

  constructor(
    private readonly original: string,
    private readonly blanked: string,
    private readonly secs: readonly SecMark[],
  ) {}

  // ---- declarations and doc comments

  walk(node: Node): void {
    for (const child of node.namedChildren) {
      switch (child.type) {
        case "function_definition":
          this.program(child);
          break;
        case "declaration":
          this.declaration(child);
          break;
        case "type_definition":
          this.typedef(child);
          break;
        case "struct_specifier":
        case "union_specifier":
        case "enum_specifier":
          this.typeSpecifier(child, this.docOf(child));
          break;
        case "expression_statement":
          // `struct x { … };` sometimes parses as an expression statement around a specifier.
          for (const s of child.namedChildren) if (/_specifier$/.test(s.type)) this.typeSpecifier(s, this.docOf(child));
          break;
        case "preproc_if":
        case "preproc_ifdef":
        case "preproc_else":
        case "preproc_elif":
        case "linkage_specification":
        case "declaration_list":
          this.walk(child);
          break;
      }
    }
  }

  private program(fn: Node): void {
    const name = functionName(fn);
    if (!name) return;
    const sec = this.secWithin(fn.startIndex - 1, fn.endIndex, true);
    const doc = this.docOf(fn);
    if (sec !== undefined) {
      this.sections[name] = sec;
      if (doc) this.docs.programs[name] = doc;
    }
  }

  private declaration(decl: Node): void {
    const type = decl.childForFieldName("type");
    const doc = this.docOf(decl);
    const declarators = decl.childrenForFieldName("declarator");
    // `struct x { … } __attribute__((packed));` is a declaration without declarators: the doc is the type's.
    if (type && /_specifier$/.test(type.type)) this.typeSpecifier(type, declarators.length === 0 ? doc : undefined);
    const sec = this.secWithin(decl.startIndex, decl.endIndex, false);
    for (const d of declarators) {
      const name = declaratorName(d);
      if (!name || d.type === "function_declarator") continue;
      if (sec === ".maps") {
        this.sections[name] = sec;
        if (doc) this.docs.maps[name] = doc;
      } else if (doc) {
        this.docs.variables[name] = doc;
      }
    }
  }

  private typedef(def: Node): void {
    const doc = this.docOf(def);
    const type = def.childForFieldName("type");
    const names = def.childrenForFieldName("declarator").map(declaratorName).filter((n): n is string => !!n);
    for (const n of names) {
      this.declared.add(n);
      if (doc) this.docs.types[n] = doc;
    }
    if (type && /_specifier$/.test(type.type)) this.typeSpecifier(type, doc, names[0]);
  }

  /** Records a struct/union/enum definition, its doc, and its members' docs. */
  private typeSpecifier(spec: Node, doc: string | undefined, typedefName?: string): void {
    const body = spec.childForFieldName("body");
    const tag = spec.childForFieldName("name")?.text;
    if (!body) return;
    const keyword = spec.type.replace(/_specifier$/, "");
    // Not data of the program's own, so not API types (something that uses them still pulls them in):
    // a map definition (`struct inner { __uint(type, …); … } inner_map SEC(".maps")`) describes a map
    // to libbpf (bpftool's skeleton leaves it out); a CO-RE view of a kernel type (`struct
    // task_struct___o { … } __attribute__((preserve_access_index))`) has the running kernel's layout,
    // not the one written.
    if (tag && !this.isMapDefinition(body) && !this.isKernelView(spec, body, tag)) {
      this.declared.add(`${keyword} ${tag}`);
      if (doc) this.docs.types[tag] = doc;
    }
    const owner = tag ?? typedefName;
    if (owner) this.members(body, owner);
    else this.members(body, undefined);
  }

  /** A `___flavour` of a kernel type, or a type marked `preserve_access_index` (itself or by a `#pragma clang attribute` region). */
  private isKernelView(spec: Node, body: Node, tag: string): boolean {
    if (tag.includes("___")) return true;
    const after = this.original.slice(body.endIndex, body.endIndex + 200);
    if (/^[^;{}]*\bpreserve_access_index\b/.test(after)) return true;
    return (this.accessIndexRegions ??= pragmaRegions(this.original)).some(([from, to]) => spec.startIndex >= from && spec.startIndex < to);
  }

  private accessIndexRegions?: Array<[number, number]>;

  /** A struct body made only of libbpf's map macros (blanked before parsing, so no fields are left). */
  private isMapDefinition(body: Node): boolean {
    return !body.namedChildren.some((m) => m.type === "field_declaration") && /\b__(?:uint|type|array|ulong)\s*\(/.test(this.original.slice(body.startIndex, body.endIndex));
  }

  private members(body: Node, path: string | undefined): void {
    for (const m of body.namedChildren) {
      if (m.type === "enumerator") {
        const name = m.childForFieldName("name")?.text;
        const doc = this.docOf(m) ?? this.trailingDoc(m);
        if (path && name && doc) this.docs.fields[`${path}.${name}`] = doc;
        continue;
      }
      if (m.type !== "field_declaration") continue;
      const doc = this.docOf(m) ?? this.trailingDoc(m);
      const names = m.childrenForFieldName("declarator").map(declaratorName).filter((n): n is string => !!n);
      const type = m.childForFieldName("type");
      if (path && doc) for (const n of names) this.docs.fields[`${path}.${n}`] = doc;
      if (type && /_specifier$/.test(type.type) && type.childForFieldName("body")) {
        const tag = type.childForFieldName("name")?.text;
        if (tag) this.typeSpecifier(type, undefined);
        // Anonymous members are reached through the parent's path; anonymous unnamed ones are flattened.
        else this.members(type.childForFieldName("body")!, path && names.length ? `${path}.${names[0]}` : path);
      }
    }
  }

  /** The SEC() name inside [from, to), or — for functions — directly before `to`'s node. */
  private secWithin(from: number, to: number, before: boolean): string | undefined {
    if (before) {
      // SEC("x") precedes the function: take the last SEC that ends before the function starts,
      // with only whitespace between.
      const start = from + 1;
      const best = this.secJustBefore(start);
      if (best) return best.name;
      // Or between the declarator and the body (`int f(void) SEC("x") { … }` is rare but legal).
      return this.secs.find((s) => s.start >= start && s.end <= to)?.name;
    }
    return this.secs.find((s) => s.start >= from && s.end <= to)?.name;
  }

  /** The SEC() that ends right before `pos`, with only blanks between (SEC marks are in text order). */
  private secJustBefore(pos: number): SecMark | undefined {
    let lo = 0;
    let hi = this.secs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.secs[mid]!.end <= pos) lo = mid + 1;
      else hi = mid;
    }
    const s = this.secs[lo - 1];
    return s && /^\s*$/.test(this.blanked.slice(s.end, pos)) ? s : undefined;
  }

  /** The doc comment directly above `node` (`/** … *\/` or consecutive `//` lines), if any. */
  private docOf(node: Node): string | undefined {
    let start = node.startIndex;
    // A SEC() line between the comment and a function belongs to the function.
    start = this.secJustBefore(start)?.start ?? start;
    const lines: string[] = [];
    let prev = node.previousSibling;
    let boundary = start;
    while (prev && prev.type === "comment") {
      // Directly above: only blanks between, no empty line, and the comment alone on its line.
      if (/\S/.test(this.blanked.slice(prev.endIndex, boundary))) break;
      const gap = this.original.slice(prev.endIndex, boundary);
      const text = prev.text;
      // `/** doc */ A,` on one line documents A; otherwise the comment must stand alone on its line.
      const inline = !gap.includes("\n") && text.startsWith("/**") && lines.length === 0;
      if (/\n[ \t\r]*\n/.test(gap) || (!inline && !this.ownsLine(prev))) break;
      if (text.startsWith("/**")) {
        if (lines.length === 0) return cleanBlock(text) || undefined;
        break;
      }
      if (!text.startsWith("//")) break;
      lines.unshift(text.replace(/^\/\/\/?!?[ \t]?/, "").replace(/\s+$/, ""));
      boundary = prev.startIndex;
      prev = prev.previousSibling;
    }
    const doc = lines.join("\n").trim();
    return doc || undefined;
  }

  /** A comment on the same line after a member (`int pid; // the pid`). */
  private trailingDoc(node: Node): string | undefined {
    let next = node.nextSibling;
    while (next && (next.type === "," || next.type === ";")) next = next.nextSibling;
    if (!next || next.type !== "comment") return undefined;
    if (this.original.slice(node.endIndex, next.startIndex).includes("\n")) return undefined;
    const t = next.text;
    const doc = t.startsWith("//") ? t.replace(/^\/\/\/?!?<?[ \t]?/, "") : cleanBlock(t);
    return doc.trim() || undefined;
  }

  /** True when nothing but blanks precedes the comment on its line. */
  private ownsLine(comment: Node): boolean {
    const lineStart = this.original.lastIndexOf("\n", comment.startIndex - 1) + 1;
    return /^[ \t]*$/.test(this.original.slice(lineStart, comment.startIndex));
  }

}

/** `#pragma clang attribute push (__attribute__((preserve_access_index)), …)` … `pop` spans of `text` (vmlinux.h style). */
function pragmaRegions(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const stack: Array<number | undefined> = [];
  for (const m of text.matchAll(/^[ \t]*#[ \t]*pragma[ \t]+clang[ \t]+attribute[ \t]+(push|pop)\b(.*)$/gm)) {
    if (m[1] === "push") stack.push(/preserve_access_index/.test(m[2]!) ? m.index! : undefined);
    else {
      const start = stack.pop();
      if (start !== undefined) out.push([start, m.index!]);
    }
  }
  for (const start of stack) if (start !== undefined) out.push([start, text.length]);
  return out;
}

/** A function's C name; for libbpf's `BPF_PROG(name, …)` style wrappers, the macro's first argument. */
function functionName(fn: Node): string | undefined {
  let d = fn.childForFieldName("declarator");
  while (d && d.type === "pointer_declarator") d = d.childForFieldName("declarator");
  if (!d || d.type !== "function_declarator") return undefined;
  const name = declaratorName(d.childForFieldName("declarator")!);
  if (name && PROGRAM_MACROS.has(name)) {
    const first = d.childForFieldName("parameters")?.namedChildren[0];
    return first ? first.text.trim() : undefined;
  }
  return name;
}

/** `/** … *\/` → its text without the markers and leading `*`s. */
function cleanBlock(text: string): string {
  const body = text.replace(/^\/\*\*?!?<?/, "").replace(/\*\/$/, "");
  const lines = body.split("\n").map((l) => l.replace(/^[ \t]*\*(?!\/)[ \t]?/, "").replace(/\s+$/, ""));
  while (lines.length && !lines[0]!.trim()) lines.shift();
  // Text on the opening line (`/** Doc.`) does not share the indentation of the lines below it.
  if (lines.length && !body.startsWith("\n") && !/^\s*\n/.test(body)) lines[0] = lines[0]!.trimStart();
  while (lines.length && !lines[lines.length - 1]!.trim()) lines.pop();
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^[ \t]*/.exec(l)![0].length));
  return lines.map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join("\n");
}
