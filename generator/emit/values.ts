// Straight-line code for one value layout: its TS type, the expression that decodes it at a constant
// offset, the statements that encode it, and what a lazy view returns for it. Everything the emitters
// print about a value comes from here, so decode, encode and view agree by construction.
//
// Generated code names: `v` is the DataView, `o` the base offset, `LE` the host byte order, `codecs`
// the runtime helpers (runtime/src/codec.ts). Offsets are printed as `o + 16` (or `o`).

import type { BitfieldLayout, ScalarLayout, ValueLayout } from "../layout/layout.js";
import { sizeOf } from "../layout/layout.js";

/** An offset expression: `o`, `o + 16`, `o + 16 + i0 * 4`. */
export function at(base: string, delta: number): string {
  return delta === 0 ? base : `${base} + ${delta}`;
}

const typedArrays: Record<string, string> = {
  "int1s": "Int8Array",
  "int1u": "Uint8Array",
  "int2s": "Int16Array",
  "int2u": "Uint16Array",
  "int4s": "Int32Array",
  "int4u": "Uint32Array",
  "int8s": "BigInt64Array",
  "int8u": "BigUint64Array",
  "float4": "Float32Array",
  "float8": "Float64Array",
  "pointer": "BigUint64Array",
};

/** The typed array class for an array of this element, when there is one. */
export function typedArrayOf(elem: ValueLayout): string | undefined {
  switch (elem.kind) {
    case "int":
      return typedArrays[`int${elem.size}${elem.signed ? "s" : "u"}`];
    case "float":
      return typedArrays[`float${elem.size}`];
    case "pointer":
      return typedArrays.pointer;
    default:
      return undefined;
  }
}

/** The TS type of a value. */
export function tsType(t: ValueLayout): string {
  switch (t.kind) {
    case "int":
      return t.size <= 4 ? "number" : "bigint";
    case "bool":
      return "boolean";
    case "float":
      return "number";
    case "pointer":
      return "bigint";
    case "enum":
      return t.ref.name;
    case "string":
      return "string";
    case "bytes":
      return "Uint8Array";
    case "composite":
      return t.ref.name;
    case "array": {
      const typed = typedArrayOf(t.elem);
      if (typed) return typed;
      const inner = tsType(t.elem);
      return /^[A-Za-z0-9_]+$/.test(inner) ? `${inner}[]` : `(${inner})[]`;
    }
  }
}

/** The TS type of a bitfield: number up to 32 bits, bigint beyond; bool and enum keep theirs. */
export function bitfieldType(f: BitfieldLayout): string {
  if (f.type.kind === "bool") return "boolean";
  if (f.type.kind === "enum") return f.type.ref.name;
  return f.bits <= 32 ? "number" : "bigint";
}

function dataViewAccessor(t: ScalarLayout): { get: string; set: string; endian: boolean } | undefined {
  const size = t.kind === "enum" ? t.ref.size : t.kind === "pointer" ? 8 : t.kind === "bool" ? 1 : t.size;
  if (t.kind === "float") return { get: `getFloat${size * 8}`, set: `setFloat${size * 8}`, endian: true };
  if (t.kind === "bool") return { get: "getUint8", set: "setUint8", endian: false };
  const signed = t.kind === "int" ? t.signed : t.kind === "enum" ? t.ref.signed : false;
  const big = size === 8 ? "Big" : "";
  if (size === 16) return undefined;
  const name = `${big}${signed ? "Int" : "Uint"}${size * 8}`;
  return { get: `get${name}`, set: `set${name}`, endian: size > 1 };
}

/** The plain read of a scalar (before `!== 0` for bools and the cast for enums). */
function scalarRead(t: ScalarLayout, off: string): string {
  if (t.kind === "int" && t.size === 16) return `codecs.${t.signed ? "s128" : "u128"}(v, ${off})`;
  const a = dataViewAccessor(t)!;
  return `v.${a.get}(${off}${a.endian ? ", LE" : ""})`;
}

/** An expression decoding `t` at offset expression `off`; `depth` keeps loop variables distinct. */
export function decodeExpr(t: ValueLayout, off: string, depth = 0): string {
  switch (t.kind) {
    case "int":
    case "float":
    case "pointer":
    case "bool":
    case "enum": {
      const read = scalarRead(t, off);
      if (t.kind === "bool") return `${read} !== 0`;
      if (t.kind === "enum") return `${read} as ${t.ref.name}`;
      return read;
    }
    case "string":
      return `codecs.cstring(v, ${off}, ${t.length})`;
    case "bytes":
      return `codecs.bytes(v, ${off}, ${t.size})`;
    case "composite":
      return `${t.ref.name}.decode(v, ${off})`;
    case "array": {
      const typed = typedArrayOf(t.elem);
      if (typed) return `codecs.typedArray(${typed}, v, ${off}, ${t.length})`;
      const i = `i${depth}`;
      const stride = sizeOf(t.elem);
      return `Array.from({ length: ${t.length} }, (_, ${i}) => ${decodeExpr(t.elem, `${off} + ${i} * ${stride}`, depth + 1)})`;
    }
  }
}

/**
 * Decoders read 64-bit integers at offsets that are multiples of 8 as elements of whole-buffer
 * `BigUint64Array`/`BigInt64Array` views (`codecs.words`: `u`, `s` and the record's word index `i`):
 * an element load TurboFan compiles inline, where `getBigUint64` calls a builtin, and an array field
 * copies element by element into a small on-heap typed array. Other values read through `v`.
 */
export interface WordRead {
  /** The expression, over `u` (unsigned words), `s` (signed words) and `i`. */
  readonly expr: string;
  readonly words: "u" | "s";
  /** Bytes from the record start the read needs (its end). */
  readonly end: number;
}

/** The word read for a value at byte `rel` of its record, when it has one. */
export function wordRead(t: ValueLayout, rel: number): WordRead | undefined {
  if (rel % 8 !== 0) return undefined;
  const words = wordsOf(t.kind === "array" ? t.elem : t);
  if (words === undefined) return undefined;
  const index = rel === 0 ? "i" : `i + ${rel / 8}`;
  if (t.kind !== "array") return { expr: `${words}[${index}]!`, words, end: rel + 8 };
  const copy = words === "u" ? "u64Array" : "s64Array";
  return { expr: `codecs.${copy}(${words}, ${index}, ${t.length})`, words, end: rel + 8 * t.length };
}

function wordsOf(t: ValueLayout): "u" | "s" | undefined {
  if (t.kind === "pointer") return "u";
  if (t.kind === "int" && t.size === 8) return t.signed ? "s" : "u";
  return undefined;
}

/** The C type of a value for messages: `u32`, `char[16]`, `struct event`, `u8[4]`. */
export function cTypeOf(t: ValueLayout): string {
  switch (t.kind) {
    case "int":
      return `${t.signed ? "s" : "u"}${t.size * 8}`;
    case "bool":
      return "bool";
    case "float":
      return t.size === 4 ? "float" : "double";
    case "pointer":
      return "pointer";
    case "enum":
      return t.ref.cDecl;
    case "string":
      return `char[${t.length}]`;
    case "bytes":
      return `${t.size} bytes`;
    case "composite":
      return t.ref.cDecl;
    case "array":
      return `${cTypeOf(t.elem)}[${t.length}]`;
  }
}

/** What encoders name in their errors for a struct field: `field pid (__u32 pid)`. */
export function fieldWhere(f: { readonly name: string; readonly cDecl: string }): string {
  return `field ${f.name} (${f.cDecl})`;
}

/** The runtime check (codecs.checkU32, …) of an integer of `size` bytes. */
function intCheck(size: number, signed: boolean): string {
  return size === 8 ? (signed ? "checkS64" : "checkU64") : `check${signed ? "S" : "U"}${size * 8}`;
}

/** The checked value expression of scalar `x`: each check returns its value (64-bit ones as bigints). */
function checkedScalar(t: ScalarLayout, x: string, w: string): string {
  switch (t.kind) {
    case "int":
      return `codecs.${intCheck(t.size, t.signed)}(${x}, ${w})`;
    case "enum":
      return `codecs.${intCheck(t.ref.size, t.ref.signed)}(${x}, ${w})`;
    case "pointer":
      return `codecs.checkU64(${x}, ${w})`;
    case "float":
      return `codecs.checkFloat(${x}, ${w})`;
    case "bool":
      return `codecs.checkBool(${x}, ${w})`;
  }
}

/**
 * Statements encoding the value expression `x` of type `t` at offset expression `off`. Every value
 * is checked (codecs.check*, or the codec helper itself) before it is written; `where` names it in
 * errors (a struct field: `fieldWhere`; default: its C type).
 */
export function encodeStmts(t: ValueLayout, x: string, off: string, depth = 0, where?: string): string[] {
  const w = JSON.stringify(where ?? cTypeOf(t));
  switch (t.kind) {
    case "int":
    case "float":
    case "pointer":
    case "bool":
    case "enum": {
      if (t.kind === "int" && t.size === 16) return [`codecs.setI128(v, ${off}, ${x}, ${w}, ${t.signed});`];
      const value = checkedScalar(t, x, w);
      // 64-bit integers are stored as words when aligned (codecs.set64), as decoders read them.
      if (wordsOf(t) !== undefined) return [`codecs.set64(v, ${off}, ${value});`];
      const a = dataViewAccessor(t)!;
      return [`v.${a.set}(${off}, ${t.kind === "bool" ? `${value} ? 1 : 0` : value}${a.endian ? ", LE" : ""});`];
    }
    case "string":
      return [`codecs.setCstring(v, ${off}, ${t.length}, ${x}, ${w});`];
    case "bytes":
      return [`codecs.setBytes(v, ${off}, ${t.size}, ${x}, ${w});`];
    case "composite":
      return [`${t.ref.name}.encode(codecs.checkObject(${x}, ${w}), v, ${off});`];
    case "array":
      return arrayEncodeStmts(t.elem, String(t.length), x, off, depth, where ?? cTypeOf(t));
  }
}

/** Encodes up to `count` (an expression) elements of the array `x`; more is an error. */
function arrayEncodeStmts(elem: ValueLayout, count: string, x: string, off: string, depth: number, where: string): string[] {
  const w = JSON.stringify(where);
  const typed = typedArrayOf(elem);
  if (typed) return [`codecs.setTypedArray(${typed}, v, ${off}, ${count}, ${x}, ${w});`];
  const i = `i${depth}`;
  const e = `e${depth}`;
  const inner = encodeStmts(elem, e, `${off} + ${i} * ${sizeOf(elem)}`, depth + 1, `${where}: element`);
  return [
    `codecs.checkArray(${x}, ${count}, ${w});`,
    `for (let ${i} = 0; ${i} < ${x}.length; ${i}++) {`,
    `  const ${e} = ${x}[${i}];`,
    `  if (${e} !== undefined) {`,
    ...inner.map((s) => `    ${s}`),
    "  }",
    "}",
  ];
}

/**
 * Flexible array member at byte `rel` of its struct: its elements are what the record holds past it.
 * Decoders of such structs take the record's length `n` (default: the rest of the view).
 */
export function flexDecodeExpr(t: ValueLayout, off: string, rel: number): string {
  if (t.kind === "string") return `codecs.cstring(v, ${off}, codecs.flexCount(n - ${rel}, 1))`;
  if (t.kind !== "array") return decodeExpr(t, off);
  const count = `codecs.flexCount(n - ${rel}, ${sizeOf(t.elem)})`;
  const typed = typedArrayOf(t.elem);
  if (typed) return `codecs.typedArray(${typed}, v, ${off}, ${count})`;
  return `Array.from({ length: ${count} }, (_, i0) => ${decodeExpr(t.elem, `${off} + i0 * ${sizeOf(t.elem)}`, 1)})`;
}

/** Encoding writes the elements into the view's room past the fixed part; more than fit is an error. */
export function flexEncodeStmts(t: ValueLayout, x: string, off: string, rel: number, where?: string): string[] {
  const room = `v.byteLength - o - ${rel}`;
  const label = where ?? cTypeOf(t);
  if (t.kind === "string") return [`codecs.setCstring(v, ${off}, codecs.flexCount(${room}, 1), ${x}, ${JSON.stringify(label)});`];
  if (t.kind !== "array") return encodeStmts(t, x, off, 0, where);
  return arrayEncodeStmts(t.elem, `codecs.flexCount(${room}, ${sizeOf(t.elem)})`, x, off, 0, label);
}

/** Bitfields of 64-bit enums are bigints whatever their width; other bitfields are numbers up to 32 bits. */
function bitfieldIsBig(f: BitfieldLayout): boolean {
  return f.type.kind === "enum" ? f.type.ref.wide : f.bits > 32;
}

/** The number-only codec path needs a 1/2/4-byte unit and a number value. */
function bitfieldNeedsBigint(f: BitfieldLayout): boolean {
  return bitfieldIsBig(f) || f.size > 4 || ![1, 2, 4].includes(f.size);
}

/** Decode expression of a bitfield. */
export function bitfieldDecodeExpr(f: BitfieldLayout, off: string): string {
  const signed = f.signed ? "true" : "false";
  let raw = bitfieldNeedsBigint(f)
    ? `codecs.getBits(v, ${off}, ${f.size}, ${f.bitOffset}, ${f.bits}, ${signed})`
    : `codecs.getBitsN(v, ${off}, ${f.size}, ${f.bitOffset}, ${f.bits}, ${signed})`;
  if (bitfieldNeedsBigint(f) && !bitfieldIsBig(f)) raw = `Number(${raw})`;
  if (f.type.kind === "bool") return `${raw} !== 0`;
  if (f.type.kind === "enum") return `${raw} as ${f.type.ref.name}`;
  return raw;
}

/** A bitfield's value is checked against its width (and signedness) before it is stored. */
export function bitfieldEncodeStmts(f: BitfieldLayout, x: string, off: string): string[] {
  const w = JSON.stringify(fieldWhere(f));
  const signed = f.signed ? "true" : "false";
  const value =
    f.type.kind === "bool"
      ? `codecs.checkBool(${x}, ${w}) ? 1 : 0`
      : bitfieldNeedsBigint(f)
        ? `codecs.checkBigBits(${x}, ${f.bits}, ${signed}, ${w})`
        : `codecs.checkBits(${x}, ${f.bits}, ${signed}, ${w})`;
  return [
    bitfieldNeedsBigint(f)
      ? `codecs.setBits(v, ${off}, ${f.size}, ${f.bitOffset}, ${f.bits}, ${value});`
      : `codecs.setBitsN(v, ${off}, ${f.size}, ${f.bitOffset}, ${f.bits}, ${value});`,
  ];
}

/**
 * A value's byte offset from the start of its record: a constant plus, inside arrays, index terms
 * (`" + i0 * 4"`). Partial decoders compare it with the record's length `n`.
 */
export interface RecordOffset {
  readonly k: number;
  readonly terms: string;
}

/** Bytes of the record from the value on (negative past its end): `n - 16`, `n - (16 + i0 * 4)`. */
function bytesFrom(rel: RecordOffset): string {
  if (rel.terms === "") return rel.k === 0 ? "n" : `n - ${rel.k}`;
  return `n - (${rel.k}${rel.terms})`;
}

/** Whether the record holds the `size` bytes of the value: `n >= 20`. */
function holds(rel: RecordOffset, size: number): string {
  return `n >= ${rel.k + size}${rel.terms}`;
}

/** The bytes an element needs for it to count as present: a number whole, a string or struct its first byte. */
function leastBytes(t: ValueLayout): number {
  switch (t.kind) {
    case "string":
    case "bytes":
    case "composite":
      return 1;
    case "array":
      return leastBytes(t.elem);
    default:
      return sizeOf(t);
  }
}

/** `0`, `0n`, `false`, `0 as Color`: what a value the record does not hold decodes to. */
function zeroOf(t: ScalarLayout): string {
  switch (t.kind) {
    case "bool":
      return "false";
    case "enum":
      return t.ref.wide ? "0n" : "0";
    case "int":
      return t.size > 4 ? "0n" : "0";
    case "pointer":
      return "0n";
    case "float":
      return "0";
  }
}

/**
 * Decodes `t` at `off` from a record of `n` bytes that may end inside or before it: a scalar wholly
 * inside reads as usual and is zero otherwise; a string keeps the bytes present (NUL-trimmed); a
 * numeric array the whole elements present; other arrays the elements that begin inside, the last
 * one itself partial; a struct decodes partially (its decode takes the bytes left). With `view` (lazy
 * views' getters), structs and aligned typed arrays are live views over the bytes instead of copies.
 */
export function partialDecodeExpr(t: ValueLayout, off: string, rel: RecordOffset, depth = 0, view = false): string {
  switch (t.kind) {
    case "int":
    case "float":
    case "pointer":
    case "bool":
    case "enum": {
      const read = scalarRead(t, off);
      if (t.kind === "bool") return `${holds(rel, 1)} && ${read} !== 0`;
      const guarded = `${holds(rel, sizeOf(t))} ? ${read} : ${zeroOf(t)}`;
      return t.kind === "enum" ? `(${guarded}) as ${t.ref.name}` : guarded;
    }
    case "string":
      return `codecs.cstring(v, ${off}, codecs.present(${bytesFrom(rel)}, 1, ${t.length}))`;
    case "bytes":
      return `codecs.bytes(v, ${off}, codecs.present(${bytesFrom(rel)}, 1, ${t.size}))`;
    case "composite":
      return `${t.ref.name}.${view ? "view" : "decode"}(v, ${off}, ${bytesFrom(rel)})`;
    case "array": {
      const stride = sizeOf(t.elem);
      const typed = typedArrayOf(t.elem);
      if (typed) return `codecs.${view ? "typedArrayView" : "typedArray"}(${typed}, v, ${off}, codecs.present(${bytesFrom(rel)}, ${stride}, ${t.length}))`;
      const least = leastBytes(t.elem);
      const count = `codecs.present(${bytesFrom(rel)}, ${stride}, ${t.length}${least === stride ? "" : `, ${least}`})`;
      const i = `i${depth}`;
      const step = stride === 1 ? ` + ${i}` : ` + ${i} * ${stride}`;
      const elem = partialDecodeExpr(t.elem, `${off}${step}`, { k: rel.k, terms: `${rel.terms}${step}` }, depth + 1);
      return `Array.from({ length: ${count} }, (_, ${i}) => ${elem})`;
    }
  }
}

/**
 * What a lazy view's getter returns for the value at byte `rel` of a record of `n` bytes: live
 * sub-views for structs and aligned typed arrays. One comparison picks the whole value's plain read
 * (what views of whole records, the common case, run) or its partial form.
 */
export function viewGetterExpr(t: ValueLayout, off: string, rel: number): string {
  const here: RecordOffset = { k: rel, terms: "" };
  if (t.kind === "composite") return `${t.ref.name}.view(v, ${off}, ${bytesFrom(here)})`;
  const partial = partialDecodeExpr(t, off, here, 0, true);
  if (t.kind !== "string" && t.kind !== "bytes" && t.kind !== "array") return partial;
  const typed = t.kind === "array" ? typedArrayOf(t.elem) : undefined;
  const whole = typed && t.kind === "array" ? `codecs.typedArrayView(${typed}, v, ${off}, ${t.length})` : decodeExpr(t, off);
  return `${holds(here, sizeOf(t))} ? ${whole} : ${partial}`;
}

/** A bitfield counts as present when the record holds its whole storage unit. */
export function partialBitfieldDecodeExpr(f: BitfieldLayout, off: string): string {
  const zero = f.type.kind === "bool" ? "false" : bitfieldIsBig(f) ? "0n" : "0";
  const typedZero = f.type.kind === "enum" ? `${zero} as ${f.type.ref.name}` : zero;
  return `${holds({ k: f.offset, terms: "" }, f.size)} ? ${bitfieldDecodeExpr(f, off)} : ${typedZero}`;
}
