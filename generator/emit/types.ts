// Emits the type section of a generated module: for every struct/union an interface plus a
// `Struct<T>` made by the runtime's `struct()` from its field descriptors and the straight-line
// decoder of whole records; for every enum a const object plus the union type of its values; for
// every kept typedef a type alias and a const alias.

import type CodeBlockWriter from "code-block-writer";
import type { BitfieldLayout, CompositeLayout, EnumLayout, FieldNode, TypedefAlias, ValueField, ValueLayout } from "../layout/layout.js";
import { at, bitfieldDecodeExpr, bitfieldType, decodeExpr, fieldTypeExpr, flexDecodeExpr, tsType, type Runtime, type WordRead, wordRead } from "./values.js";
import { checkIdentifier } from "../layout/names.js";
import { docComment } from "./writer.js";

/** Doc comments from the source scan, keyed by C names. */
export interface TypeDocs {
  /** Type C name → doc. */
  readonly types: Readonly<Record<string, string>>;
  /** `<type C name>.<field C path>` → doc. */
  readonly fields: Readonly<Record<string, string>>;
}

interface Leaf {
  readonly field: ValueField | BitfieldLayout;
  /** Inside a union group: optional in the interface, guarded in encode. */
  readonly optional: boolean;
}

function leaves(nodes: readonly FieldNode[], optional = false, out: Leaf[] = []): Leaf[] {
  for (const n of nodes) {
    if (n.node === "padding") continue;
    if (n.node === "union") for (const alt of n.alternatives) leaves(alt, true, out);
    else out.push({ field: n, optional });
  }
  return out;
}

function leafType(f: ValueField | BitfieldLayout): string {
  return f.node === "bitfield" ? bitfieldType(f) : tsType(f.type);
}

function leafDecode(f: ValueField | BitfieldLayout, rt: Runtime): string {
  const off = at("o", f.offset);
  if (f.node === "bitfield") return bitfieldDecodeExpr(f, off, rt);
  return f.flexible ? flexDecodeExpr(f.type, off, f.offset, rt) : decodeExpr(f.type, off, rt);
}

function leafWordRead(f: ValueField | BitfieldLayout, rt: Runtime): WordRead | undefined {
  return f.node === "value" && !f.flexible ? wordRead(f.type, f.offset, rt) : undefined;
}

function hasFlexible(c: CompositeLayout): boolean {
  return c.fields.some((n) => n.node === "value" && n.flexible === true);
}

/** A leaf with where it sits in anonymous unions: `[group, alternative]` pairs from the struct down. */
interface PlacedLeaf extends Leaf {
  readonly union: readonly (readonly [number, number])[];
}

function placedLeaves(nodes: readonly FieldNode[], path: readonly (readonly [number, number])[] = [], out: PlacedLeaf[] = []): PlacedLeaf[] {
  let group = 0;
  for (const n of nodes) {
    if (n.node === "padding") continue;
    if (n.node === "union") {
      n.alternatives.forEach((alt, a) => placedLeaves(alt, [...path, [group, a]], out));
      group++;
    } else out.push({ field: n, optional: path.length > 0, union: path });
  }
  return out;
}

/** The struct names a composite's field descriptors refer to (they must be defined before it). */
export function compositeDeps(c: CompositeLayout): string[] {
  const out: string[] = [];
  const visit = (t: ValueLayout): void => {
    if (t.kind === "composite") out.push(t.ref.name);
    else if (t.kind === "array") visit(t.elem);
  };
  for (const { field } of leaves(c.fields)) if (field.node === "value") visit(field.type);
  return out;
}

function fieldDoc(c: CompositeLayout, f: ValueField | BitfieldLayout, docs: TypeDocs): string[] {
  const lines = [`\`${f.cDecl}\``];
  const doc = c.cName ? docs.fields[`${c.cName}.${f.cName}`] : undefined;
  if (doc) lines.push("", ...doc.split("\n"));
  return lines;
}

/** A field's descriptor entry: offset, type (runtime/src/contract/fields.ts), C declaration, bits, union place. */
function fieldEntry(f: ValueField | BitfieldLayout, union: PlacedLeaf["union"]): string {
  const parts = [`offset: ${f.offset}`];
  if (f.node === "bitfield") {
    // The storage unit's integer type gives its size; an odd-sized unit (packed) says it.
    const standard = f.type.kind === "bool" ? f.size === 1 : [1, 2, 4, 8, 16].includes(f.size);
    const type = f.type.kind === "bool" ? "bool" : `${f.signed ? "s" : "u"}${standard ? f.size * 8 : 8}`;
    parts.push(`type: ${JSON.stringify(type)}`, ...(standard ? [] : [`size: ${f.size}`]), `bitOffset: ${f.bitOffset}`, `bitSize: ${f.bits}`);
    if (f.type.kind === "enum" && f.type.ref.wide && f.bits <= 32) parts.push("bigint: true");
  } else {
    parts.push(`type: ${fieldTypeExpr(f.type, f.flexible === true)}`);
  }
  parts.push(`decl: ${JSON.stringify(f.cDecl)}`);
  if (union.length > 0) parts.push(`union: [${union.map(([g, a]) => `[${g}, ${a}]`).join(", ")}]`);
  return `{ ${parts.join(", ")} }`;
}

/**
 * A struct: its interface, and `struct()` given the field descriptors and the straight-line decoder
 * of whole records; the runtime builds encode, views and short-record decoding from the fields.
 * `rt` names the runtime's symbols (reading one records its import).
 */
export function emitComposite(w: CodeBlockWriter, c: CompositeLayout, docs: TypeDocs, rt: Runtime & { readonly struct: string }): void {
  const all = placedLeaves(c.fields);
  const head = [`\`${c.cDecl}\`: ${c.size} bytes, aligned to ${c.align}.`];
  const typeDoc = c.cName ? docs.types[c.cName] : undefined;
  if (typeDoc) head.push("", ...typeDoc.split("\n"));
  if (c.kind === "union") head.push("", "A union: decode reads every member; encode writes those present, the first one last.");
  docComment(w, head);
  w.write(`export interface ${c.name} `).inlineBlock(() => {
    for (const { field, optional } of all) {
      docComment(w, fieldDoc(c, field, docs));
      w.writeLine(`${field.name}${optional ? "?" : ""}: ${leafType(field)};`);
    }
  });
  w.newLine();
  w.write(`export const ${c.name} = ${rt.struct}<${c.name}>(`).inlineBlock(() => {
    w.writeLine(`name: ${JSON.stringify(c.label)},`);
    w.writeLine(`size: ${c.size},`);
    w.writeLine(`align: ${c.align},`);
    if (all.length === 0) w.writeLine("fields: {},");
    else {
      w.write("fields: ").inlineBlock(() => {
        for (const { field, union } of all) w.writeLine(`${field.name}: ${fieldEntry(field, union)},`);
      });
      w.write(",").newLine();
    }
    emitDecode(w, c, all, rt);
  });
  w.write(");").newLine();
}

/**
 * The decoder of whole records. Records aligned to 8 read their 64-bit integers as words
 * (`codecs.words`); packed ones would mostly take its copying path, so they keep DataView reads.
 */
function emitDecode(w: CodeBlockWriter, c: CompositeLayout, all: readonly Leaf[], rt: Runtime): void {
  if (all.length === 0) {
    w.writeLine("decode: () => ({}),");
    return;
  }
  const params = hasFlexible(c) ? "v, o, n" : "v, o";
  w.write(`decode(${params}) `).inlineBlock(() => {
    const reads = all.map(({ field }) => (c.align >= 8 ? leafWordRead(field, rt) : undefined));
    const used = reads.filter((r): r is WordRead => r !== undefined);
    if (used.length > 0) {
      // Only the bytes the word reads cover are checked, as the DataView reads they replace would.
      const end = Math.max(...used.map((r) => r.end));
      const arrays = ["u", "s"].filter((k) => used.some((r) => r.words === k)).map((k) => `, ${k} = w.${k}64`);
      w.writeLine(`const w = ${rt.codecs}.words(v, o, ${end})${arrays.join("")}, i = w.at;`);
    }
    w.write("return ").inlineBlock(() => {
      all.forEach(({ field }, k) => w.writeLine(`${field.name}: ${reads[k]?.expr ?? leafDecode(field, rt)},`));
    });
    w.write(";").newLine();
  });
  w.write(",").newLine();
}

function enumLiteral(e: EnumLayout, value: bigint): string {
  return e.wide ? `${value}n` : String(value);
}

export function emitEnum(w: CodeBlockWriter, e: EnumLayout, docs: TypeDocs): void {
  const head = [`\`${e.cDecl}\` ${e.size} bytes, ${e.signed ? "signed" : "unsigned"}${e.wide ? ", values are bigints" : ""}.`];
  const typeDoc = e.cName ? docs.types[e.cName] : undefined;
  if (typeDoc) head.push("", ...typeDoc.split("\n"));
  docComment(w, head);
  if (e.values.length === 0) {
    w.writeLine(`export const ${e.name} = {} as const;`);
    w.writeLine(`export type ${e.name} = ${e.wide ? "bigint" : "number"};`);
    return;
  }
  w.write(`export const ${e.name} = `).inlineBlock(() => {
    for (const v of e.values) w.writeLine(`${checkIdentifier(v.name, v.name, `values of ${e.cDecl}`)}: ${enumLiteral(e, v.value)},`);
  });
  w.write(" as const;").newLine();
  w.writeLine(`export type ${e.name} = (typeof ${e.name})[keyof typeof ${e.name}];`);
}

export function emitAlias(w: CodeBlockWriter, a: TypedefAlias): void {
  if (a.value) {
    docComment(w, [`\`${a.cDecl}\`.`]);
    w.writeLine(`export type ${a.name} = ${tsType(a.value)};`);
    return;
  }
  docComment(w, [`\`${a.cDecl}\`: the same type as {@link ${a.target}}.`]);
  w.writeLine(`export type ${a.name} = ${a.target};`);
  w.writeLine(`export const ${a.name} = ${a.target};`);
}
