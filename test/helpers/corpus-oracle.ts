// A layout oracle for generated modules that trusts nothing of the generator: the struct descriptors a
// module exports (`name`, `size`, `align`, `fields`) are checked against clang, twice — against the BTF
// clang wrote into the object (read by bpftool, not by bpf2ts), and against clang's own offsetof /
// sizeof / _Alignof in a C file of _Static_asserts compiled with the program's source.

import { existsSync, writeFileSync } from "node:fs";
import { run } from "./corpus.js";

interface BtfMember {
  name: string;
  type_id: number;
  bits_offset: number;
  bitfield_size?: number;
}
interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  members?: BtfMember[];
}

/** A struct descriptor as generated modules export it. */
export interface StructDescriptor {
  name: string;
  size: number;
  align: number;
  fields: Record<string, { offset: number; size: number; bitOffset?: number; bitSize?: number }>;
}

export function isStructDescriptor(x: unknown): x is StructDescriptor {
  const s = x as StructDescriptor;
  return typeof x === "object" && x !== null && typeof s.name === "string" && typeof s.size === "number" && typeof s.align === "number" && typeof s.fields === "object" && typeof (x as { decode?: unknown }).decode === "function";
}

/** `as_u32` and `asU32` (and a reserved word escaped with `_`) compare equal. */
const normalize = (n: string): string => n.replace(/_/g, "").toLowerCase();

interface Flat {
  /** The C member path usable in offsetof (anonymous members are transparent in C11). */
  path: string;
  bits: number;
  bitfieldSize: number | undefined;
  typeId: number;
}

export class ClangBtf {
  readonly #byId = new Map<number, BtfType>();
  readonly #byName = new Map<string, BtfType[]>();

  static async read(object: string): Promise<ClangBtf> {
    const r = await run("bpftool", ["btf", "dump", "file", object, "-j"]);
    if (r.code !== 0) throw new Error(`bpftool btf dump file ${object}: ${r.stderr}`);
    return new ClangBtf((JSON.parse(r.stdout) as { types: BtfType[] }).types);
  }

  constructor(types: BtfType[]) {
    for (const t of types) {
      this.#byId.set(t.id, t);
      if (t.name && t.name !== "(anon)") this.#byName.set(t.name, [...(this.#byName.get(t.name) ?? []), t]);
    }
  }

  /** How a named type is spelled, when the BTF has it. */
  kindOf(name: string): "struct" | "union" | "typedef" | undefined {
    const named = this.#byName.get(name) ?? [];
    if (named.some((t) => t.kind === "STRUCT")) return "struct";
    if (named.some((t) => t.kind === "UNION")) return "union";
    if (named.some((t) => t.kind === "TYPEDEF")) return "typedef";
    return undefined;
  }

  /** Through typedefs, const, volatile, restrict and type tags. */
  strip(id: number): BtfType | undefined {
    let t = this.#byId.get(id);
    while (t && ["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"].includes(t.kind)) t = this.#byId.get(t.type_id!);
    return t;
  }

  flatten(t: BtfType, base = 0, out: Flat[] = []): Flat[] {
    for (const m of t.members ?? []) {
      if (!m.name || m.name === "(anon)") {
        const inner = this.strip(m.type_id);
        if (inner) this.flatten(inner, base + m.bits_offset, out);
        continue;
      }
      out.push({ path: m.name, bits: base + m.bits_offset, bitfieldSize: m.bitfield_size, typeId: m.type_id });
    }
    return out;
  }

  /** The C spelling and BTF composite of a descriptor's `name` (`event`, `event.args`, a typedef). */
  resolve(label: string): { spelling: string; type: BtfType } | string {
    const [root, ...path] = label.split(".");
    const named = this.#byName.get(root!) ?? [];
    const composite = named.find((t) => (t.kind === "STRUCT" || t.kind === "UNION") && (t.members?.length ?? 0) > 0) ?? named.find((t) => t.kind === "STRUCT" || t.kind === "UNION");
    let spelling: string;
    let type: BtfType | undefined;
    if (composite) {
      spelling = `${composite.kind === "STRUCT" ? "struct" : "union"} ${root}`;
      type = composite;
    } else {
      const td = named.find((t) => t.kind === "TYPEDEF");
      if (!td) return `no struct, union or typedef named ${root} in clang's BTF`;
      spelling = root!;
      type = this.strip(td.type_id!);
    }
    for (const part of path) {
      const m = type && this.flatten(type).find((f) => f.path === part);
      if (!m) return `${label}: no member ${part} in ${spelling}`;
      let sub = `((${spelling} *)0)->${part}`;
      let t = this.strip(m.typeId);
      while (t?.kind === "ARRAY") {
        sub += "[0]";
        t = this.strip((t as unknown as { type_id: number }).type_id);
      }
      spelling = `__typeof__(${sub})`;
      type = t;
    }
    if (!type || (type.kind !== "STRUCT" && type.kind !== "UNION")) return `${label} is not a struct or union in clang's BTF`;
    return { spelling, type };
  }
}

export interface OracleResult {
  /** Disagreements found by comparing with clang's BTF. */
  problems: string[];
  /** The _Static_assert file for clang. */
  source: string;
  checkedStructs: number;
  checkedFields: number;
}

/** Compares every struct descriptor with clang's BTF and writes the _Static_asserts for clang. */
export function layoutChecks(tool: string, sourcePath: string, structs: Record<string, StructDescriptor>, btf: ClangBtf): OracleResult {
  const problems: string[] = [];
  const lines = [`#include "${sourcePath}"`, ""];
  let checkedStructs = 0;
  let checkedFields = 0;
  for (const [exportName, s] of Object.entries(structs)) {
    const where = `${tool}: ${exportName} (${s.name})`;
    const r = btf.resolve(s.name);
    if (typeof r === "string") {
      problems.push(`${where}: ${r}`);
      continue;
    }
    checkedStructs++;
    const T = r.spelling;
    const tag = (what: string) => JSON.stringify(`${exportName}${what}`);
    if (r.type.size !== s.size) problems.push(`${where}: size ${s.size}, clang's BTF says ${r.type.size}`);
    lines.push(`_Static_assert(sizeof(${T}) == ${s.size}, ${tag(": sizeof")});`);
    lines.push(`_Static_assert(_Alignof(${T}) == ${s.align}, ${tag(": _Alignof")});`);
    const members = btf.flatten(r.type);
    const seen = new Set<string>();
    for (const [field, info] of Object.entries(s.fields)) {
      const m = members.find((x) => normalize(x.path) === normalize(field));
      if (!m) {
        problems.push(`${where}.${field}: no such member in clang's BTF (members: ${members.map((x) => x.path).join(", ")})`);
        continue;
      }
      seen.add(m.path);
      checkedFields++;
      if (info.bitSize !== undefined || m.bitfieldSize) {
        const at = info.offset * 8 + (info.bitOffset ?? 0);
        if (at !== m.bits || info.bitSize !== m.bitfieldSize) {
          problems.push(`${where}.${field}: bitfield at bit ${at} width ${info.bitSize}, clang's BTF says bit ${m.bits} width ${m.bitfieldSize}`);
        }
        continue;
      }
      if (m.bits !== info.offset * 8) problems.push(`${where}.${field}: offset ${info.offset}, clang's BTF says ${m.bits / 8}`);
      lines.push(`_Static_assert(__builtin_offsetof(${T}, ${m.path}) == ${info.offset}, ${tag(`.${field}: offset`)});`);
      if (info.size > 0) lines.push(`_Static_assert(sizeof(((${T} *)0)->${m.path}) == ${info.size}, ${tag(`.${field}: sizeof`)});`);
    }
    const missing = members.filter((m) => !seen.has(m.path)).map((m) => m.path);
    if (missing.length > 0) problems.push(`${where}: members missing from the descriptor: ${missing.join(", ")}`);
  }
  return { problems, source: `${lines.join("\n")}\n`, checkedStructs, checkedFields };
}

// As bpf2ts compiles (generator/compile/clang.ts): the host's multiarch directory last, for <asm/types.h>
// under the <linux/*.h> headers that libbpf-bootstrap style programs include instead of vmlinux.h.
const multiarch = [`/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`].filter((d) => existsSync(d));
const clangArgs = (includes: string[]) => ["-target", "bpfel", "-D__TARGET_ARCH_x86", "-O2", "-g", ...includes.flatMap((i) => ["-I", i]), ...multiarch.flatMap((d) => ["-idirafter", d]), "-Wno-unused-variable", "-Wno-unused-function"];

/** Compiles the assertions with the program's flags; returns clang's errors (empty when it agrees). */
export async function clangAgrees(file: string, source: string, includes: string[]): Promise<string[]> {
  writeFileSync(file, source);
  const r = await run("clang-19", [...clangArgs(includes), "-fsyntax-only", file]);
  if (r.code === 0) return [];
  return r.stderr.split("\n").filter((l) => /error:/.test(l));
}

/**
 * Clang's BTF for every struct a module exports: the program's source compiled again with one global
 * of each exported root type, so that types the object's BTF lacks (a ring-buffer record only ever
 * used through a pointer) are there too, as clang lays them out. `kindOf` says how to spell a root.
 */
export async function clangBtfOf(file: string, sourcePath: string, roots: Map<string, "struct" | "union" | "typedef">, includes: string[]): Promise<ClangBtf> {
  const lines = [`#include "${sourcePath}"`, ""];
  let i = 0;
  for (const [name, kind] of roots) lines.push(`${kind === "typedef" ? "" : `${kind} `}${name} __corpus_oracle_${i++};`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  const object = file.replace(/\.c$/, ".o");
  const r = await run("clang-19", [...clangArgs(includes), "-c", file, "-o", object]);
  if (r.code !== 0) throw new Error(`clang could not compile the types of ${sourcePath}:\n${r.stderr}`);
  return ClangBtf.read(object);
}

/** How C names each root (`event` of `event.args`): from the object's BTF, else from the sources' text. */
export function rootKinds(labels: string[], objectBtf: ClangBtf, texts: string[]): Map<string, "struct" | "union" | "typedef"> {
  const out = new Map<string, "struct" | "union" | "typedef">();
  for (const label of labels) {
    const root = label.split(".")[0]!;
    if (out.has(root)) continue;
    const known = objectBtf.kindOf(root);
    if (known) out.set(root, known);
    else if (texts.some((t) => new RegExp(`\\bunion\\s+${root}\\s*\\{`).test(t))) out.set(root, "union");
    else if (texts.some((t) => new RegExp(`\\bstruct\\s+${root}\\s*\\{`).test(t))) out.set(root, "struct");
    else out.set(root, "typedef");
  }
  return out;
}

