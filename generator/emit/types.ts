// Emits the type section of a generated module: for every struct/union an interface plus a
// `Struct<T>` const with straight-line decode/encode/view; for every enum a const object plus the
// union type of its values; for every kept typedef a type alias and a const alias.

import type CodeBlockWriter from "code-block-writer";
import type { BitfieldLayout, CompositeLayout, EnumLayout, FieldNode, TypedefAlias, ValueField } from "../layout/layout.js";
import { at, bitfieldDecodeExpr, bitfieldEncodeStmts, bitfieldType, decodeExpr, encodeStmts, fieldWhere, flexDecodeExpr, flexEncodeStmts, partialBitfieldDecodeExpr, partialDecodeExpr, tsType, viewGetterExpr, type WordRead, wordRead } from "./values.js";
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

function leafDecode(f: ValueField | BitfieldLayout): string {
  const off = at("o", f.offset);
  if (f.node === "bitfield") return bitfieldDecodeExpr(f, off);
  return f.flexible ? flexDecodeExpr(f.type, off, f.offset) : decodeExpr(f.type, off);
}

function leafWordRead(f: ValueField | BitfieldLayout): WordRead | undefined {
  return f.node === "value" && !f.flexible ? wordRead(f.type, f.offset) : undefined;
}

function leafEncode(f: ValueField | BitfieldLayout, x: string): string[] {
  const off = at("o", f.offset);
  if (f.node === "bitfield") return bitfieldEncodeStmts(f, x, off);
  return f.flexible ? flexEncodeStmts(f.type, x, off, f.offset, fieldWhere(f)) : encodeStmts(f.type, x, off, 0, fieldWhere(f));
}

/** A field of a record of `n` bytes that may end before the field does (see partialDecodeExpr). */
function leafPartial(f: ValueField | BitfieldLayout, view: boolean): string {
  const off = at("o", f.offset);
  if (f.node === "bitfield") return partialBitfieldDecodeExpr(f, off);
  if (f.flexible) return flexDecodeExpr(f.type, off, f.offset);
  return view ? viewGetterExpr(f.type, off, f.offset) : partialDecodeExpr(f.type, off, { k: f.offset, terms: "" });
}

function fieldDoc(c: CompositeLayout, f: ValueField | BitfieldLayout, docs: TypeDocs): string[] {
  const where =
    f.node === "bitfield"
      ? `bits ${f.bitOffset}..${f.bitOffset + f.bits - 1} of the ${f.size}-byte unit at offset ${f.offset}`
      : f.flexible
        ? `offset ${f.offset}, flexible array (the rest of the record: decode/view take its length)`
        : `offset ${f.offset}, ${f.size} byte${f.size === 1 ? "" : "s"}`;
  const lines = [`\`${f.cDecl}\` — ${where}.`];
  if (f.node === "value" && !f.flexible && f.type.kind === "string") {
    lines.push(`Decoded up to the first NUL (UTF-8); the raw bytes: \`codecs.bytes(view, offset + ${c.name}.fields.${f.name}.offset, ${f.size})\`.`);
  }
  const doc = c.cName ? docs.fields[`${c.cName}.${f.cName}`] : undefined;
  if (doc) lines.push("", ...doc.split("\n"));
  return lines;
}

function hasFlexible(c: CompositeLayout): boolean {
  return c.fields.some((n) => n.node === "value" && n.flexible === true);
}

/** True when encode writes every byte of the composite itself (no padding, groups or partial writes). */
function coversEveryByte(c: CompositeLayout): boolean {
  return c.fields.every((n) => n.node === "value" && !n.flexible && (n.type.kind !== "array" || n.type.elem.kind === "int" || n.type.elem.kind === "float" || n.type.elem.kind === "pointer"));
}

function encodeNodes(nodes: readonly FieldNode[], out: string[], guarded: boolean): void {
  for (const n of nodes) {
    if (n.node === "padding") continue;
    if (n.node === "union") {
      // Last alternative first, so where present members overlap the first one's bytes win.
      for (const alt of [...n.alternatives].reverse()) encodeNodes(alt, out, true);
      continue;
    }
    const x = `x.${n.name}`;
    const stmts = leafEncode(n, x);
    if (!guarded) out.push(...stmts);
    else out.push(`if (${x} !== undefined) {`, ...stmts.map((s) => `  ${s}`), "}");
  }
}

function paddingNote(c: CompositeLayout): string | undefined {
  const pads = c.fields.filter((n) => n.node === "padding");
  if (pads.length === 0) return undefined;
  return `Padding: ${pads.map((p) => (p.node === "padding" ? `${p.size} byte${p.size === 1 ? "" : "s"} at ${p.offset}${p.tail ? " (tail)" : ""}` : "")).join(", ")}.`;
}

export function emitComposite(w: CodeBlockWriter, c: CompositeLayout, docs: TypeDocs): void {
  const all = leaves(c.fields);
  const head = [`\`${c.cDecl}\` (BTF type id ${c.typeId}): ${c.size} bytes, aligned to ${c.align}.`];
  const typeDoc = c.cName ? docs.types[c.cName] : undefined;
  if (typeDoc) head.push("", ...typeDoc.split("\n"));
  const pad = paddingNote(c);
  if (pad) head.push("", pad);
  if (c.kind === "union") head.push("", "A union: decode reads every member over the same bytes; encode writes the members present, the first one last.");
  docComment(w, head);
  w.write(`export interface ${c.name} `).inlineBlock(() => {
    for (const { field, optional } of all) {
      docComment(w, fieldDoc(c, field, docs));
      w.writeLine(`${field.name}${optional ? "?" : ""}: ${leafType(field)};`);
    }
  });
  w.newLine();
  w.write(`export const ${c.name}: Struct<${c.name}> = `).inlineBlock(() => {
    w.writeLine(`name: ${JSON.stringify(c.label)},`);
    w.writeLine(`size: ${c.size},`);
    w.writeLine(`align: ${c.align},`);
    w.write("fields: ").inlineBlock(() => {
      for (const { field: f } of all) {
        const bits = f.node === "bitfield" ? `, bitOffset: ${f.bitOffset}, bitSize: ${f.bits}` : "";
        w.writeLine(`${f.name}: { offset: ${f.offset}, size: ${f.node === "value" && f.flexible ? 0 : f.size}${bits} },`);
      }
    });
    w.write(",").newLine();
    // `n` is the record's length: ring buffers hand out a view of the whole ring, so "to the end of
    // the view" would read past the record. Without it a struct is whole, and one ending in a flexible
    // array member takes the rest of the view.
    const len = all.length === 0 ? "" : hasFlexible(c) ? ", n = v.byteLength - o" : `, n = ${c.size}`;
    w.write(`decode(v: DataView, o = 0${len}): ${c.name} `).inlineBlock(() => {
      if (all.length === 0) {
        w.writeLine("return {};");
        return;
      }
      // The straight-line code below is for whole records; shorter ones take the partial decoder.
      w.writeLine(`if (n < ${c.size}) return ${partialName(c)}(v, o, n);`);
      // Records aligned to 8 are 8-aligned in every buffer the runtime hands out; packed ones would
      // mostly take the copying path, so they keep DataView reads.
      const reads = all.map(({ field }) => (c.align >= 8 ? leafWordRead(field) : undefined));
      const used = reads.filter((r): r is WordRead => r !== undefined);
      if (used.length > 0) {
        // Only the bytes the word reads cover are checked, as the DataView reads they replace would.
        const end = Math.max(...used.map((r) => r.end));
        const arrays = ["u", "s"].filter((k) => used.some((r) => r.words === k)).map((k) => `, ${k} = w.${k}64`);
        w.writeLine(`const w = codecs.words(v, o, ${end})${arrays.join("")}, i = w.at;`);
      }
      w.write("return ").inlineBlock(() => {
        all.forEach(({ field }, k) => w.writeLine(`${field.name}: ${reads[k]?.expr ?? leafDecode(field)},`));
      });
      w.write(";").newLine();
    });
    w.write(",").newLine();
    w.write(`encode(x: ${c.name}, v: DataView, o = 0): void `).inlineBlock(() => {
      if (!coversEveryByte(c)) w.writeLine(`codecs.zero(v, o, ${c.size});`);
      const stmts: string[] = [];
      encodeNodes(c.fields, stmts, false);
      for (const s of stmts) w.writeLine(s);
    });
    w.write(",").newLine();
    w.write(`view(v: DataView, o = 0${len}): ${c.name} `).inlineBlock(() => {
      w.writeLine(all.length === 0 ? "return {};" : `return new ${viewClassName(c)}(v, o, n);`);
    });
    w.write(",").newLine();
  });
  w.write(";").newLine();
  if (all.length > 0) {
    emitPartialDecoder(w, c, all);
    emitViewClass(w, c, all);
  }
}

/** Not exported; `_` never appears inside a generated type name, so it cannot clash with one. */
function viewClassName(c: CompositeLayout): string {
  return `${c.name}_View`;
}

function partialName(c: CompositeLayout): string {
  return `${c.name}_partial`;
}

/**
 * The decoder of records shorter than the struct (a program that submits only the bytes it filled):
 * apart from `decode` so that the straight-line code for whole records stays small enough to inline.
 */
function emitPartialDecoder(w: CodeBlockWriter, c: CompositeLayout, all: readonly Leaf[]): void {
  w.blankLine();
  docComment(w, [`\`${c.name}.decode\` of a record of \`n\` < ${c.size} bytes: the fields it holds as usual, a string or array it ends in cut to what is present, the rest zero.`]);
  w.write(`function ${partialName(c)}(v: DataView, o: number, n: number): ${c.name} `).block(() => {
    w.write("return ").inlineBlock(() => {
      for (const { field } of all) w.writeLine(`${field.name}: ${leafPartial(field, false)},`);
    });
    w.write(";").newLine();
  });
}

/**
 * The lazy view: a class with accessors on its prototype over (view, offset, record length), so
 * making one costs one small object (an object literal with accessors costs a closure per accessor:
 * measured 20× slower). Private fields keep the view's own state out of the members' names. Getters
 * read what the record holds, as decode does.
 */
function emitViewClass(w: CodeBlockWriter, c: CompositeLayout, all: readonly Leaf[]): void {
  w.blankLine();
  w.write(`class ${viewClassName(c)} implements ${c.name} `).block(() => {
    w.writeLine("readonly #v: DataView;");
    w.writeLine("readonly #o: number;");
    w.writeLine("readonly #n: number;");
    w.write("constructor(v: DataView, o: number, n: number) ").block(() => {
      w.writeLine("this.#v = v;");
      w.writeLine("this.#o = o;");
      w.writeLine("this.#n = n;");
    });
    for (const { field } of all) {
      const type = leafType(field);
      w.write(`get ${field.name}(): ${type} `).block(() => {
        w.writeLine("const v = this.#v, o = this.#o, n = this.#n;");
        w.writeLine(`return ${leafPartial(field, true)};`);
      });
      w.write(`set ${field.name}(x: ${type}) `).block(() => {
        w.writeLine("const v = this.#v, o = this.#o;");
        for (const st of leafEncode(field, "x")) w.writeLine(st);
      });
    }
    w.write(`[Symbol.for("nodejs.util.inspect.custom")](): ${c.name} `).block(() => {
      w.writeLine(`return ${c.name}.decode(this.#v, this.#o, this.#n);`);
    });
  });
}

function enumLiteral(e: EnumLayout, value: bigint): string {
  return e.wide ? `${value}n` : String(value);
}

export function emitEnum(w: CodeBlockWriter, e: EnumLayout, docs: TypeDocs): void {
  const head = [`\`${e.cDecl}\` (BTF type id ${e.typeId}): ${e.size} bytes, ${e.signed ? "signed" : "unsigned"}${e.wide ? ", values are bigints" : ""}.`];
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

export function emitAlias(w: CodeBlockWriter, a: TypedefAlias, isStruct: boolean): void {
  if (a.value) {
    docComment(w, [`\`${a.cDecl}\` (BTF type id ${a.typeId}).`]);
    w.writeLine(`export type ${a.name} = ${tsType(a.value)};`);
    return;
  }
  docComment(w, [`\`${a.cDecl}\` (BTF type id ${a.typeId}): the same type as {@link ${a.target}}.`]);
  w.writeLine(`export type ${a.name} = ${a.target};`);
  if (isStruct) w.writeLine(`export const ${a.name}: Struct<${a.target}> = ${a.target};`);
  else w.writeLine(`export const ${a.name} = ${a.target};`);
}
