// Straight-line code for one value layout: its TS type, the expression that decodes it at a constant
// offset (the generated decoders of whole records), and its field type as the runtime reads it
// (runtime/src/contract/fields.ts), from which the runtime builds encoders, views and short-record
// decoders.
//
// Generated code names: `v` is the DataView, `o` the base offset; the runtime's `LE` (host byte
// order) and `codecs` (runtime/src/codec.ts) are named through `Runtime`, which records the import.
// Offsets are printed as `o + 16` (or `o`).

import type { BitfieldLayout, ScalarLayout, ValueLayout } from "../layout/layout.js";
import { sizeOf } from "../layout/layout.js";

/** The runtime's names as decoders use them; reading one records its import. */
export interface Runtime {
  readonly codecs: string;
  readonly LE: string;
}

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
function scalarRead(t: ScalarLayout, off: string, rt: Runtime): string {
  if (t.kind === "int" && t.size === 16) return `${rt.codecs}.${t.signed ? "s128" : "u128"}(v, ${off})`;
  const a = dataViewAccessor(t)!;
  return `v.${a.get}(${off}${a.endian ? `, ${rt.LE}` : ""})`;
}

/** An expression decoding `t` at offset expression `off`; `depth` keeps loop variables distinct. */
export function decodeExpr(t: ValueLayout, off: string, rt: Runtime, depth = 0): string {
  switch (t.kind) {
    case "int":
    case "float":
    case "pointer":
    case "bool":
    case "enum": {
      const read = scalarRead(t, off, rt);
      if (t.kind === "bool") return `${read} !== 0`;
      if (t.kind === "enum") return `${read} as ${t.ref.name}`;
      return read;
    }
    case "string":
      return `${rt.codecs}.cstring(v, ${off}, ${t.length})`;
    case "bytes":
      return `${rt.codecs}.bytes(v, ${off}, ${t.size})`;
    case "composite":
      return `${t.ref.name}.decode(v, ${off})`;
    case "array": {
      const typed = typedArrayOf(t.elem);
      if (typed) return `${rt.codecs}.typedArray(${typed}, v, ${off}, ${t.length})`;
      const i = `i${depth}`;
      const stride = sizeOf(t.elem);
      return `Array.from({ length: ${t.length} }, (_, ${i}) => ${decodeExpr(t.elem, `${off} + ${i} * ${stride}`, rt, depth + 1)})`;
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
export function wordRead(t: ValueLayout, rel: number, rt: Runtime): WordRead | undefined {
  if (rel % 8 !== 0) return undefined;
  const words = wordsOf(t.kind === "array" ? t.elem : t);
  if (words === undefined) return undefined;
  const index = rel === 0 ? "i" : `i + ${rel / 8}`;
  if (t.kind !== "array") return { expr: `${words}[${index}]!`, words, end: rel + 8 };
  const copy = words === "u" ? "u64Array" : "s64Array";
  return { expr: `${rt.codecs}.${copy}(${words}, ${index}, ${t.length})`, words, end: rel + 8 * t.length };
}

function wordsOf(t: ValueLayout): "u" | "s" | undefined {
  if (t.kind === "pointer") return "u";
  if (t.kind === "int" && t.size === 8) return t.signed ? "s" : "u";
  return undefined;
}

/**
 * Flexible array member at byte `rel` of its struct: its elements are what the record holds past it.
 * Decoders of such structs take the record's length `n` (default: the rest of the view).
 */
export function flexDecodeExpr(t: ValueLayout, off: string, rel: number, rt: Runtime): string {
  if (t.kind === "string") return `${rt.codecs}.cstring(v, ${off}, ${rt.codecs}.flexCount(n - ${rel}, 1))`;
  if (t.kind !== "array") return decodeExpr(t, off, rt);
  const count = `${rt.codecs}.flexCount(n - ${rel}, ${sizeOf(t.elem)})`;
  const typed = typedArrayOf(t.elem);
  if (typed) return `${rt.codecs}.typedArray(${typed}, v, ${off}, ${count})`;
  return `Array.from({ length: ${count} }, (_, i0) => ${decodeExpr(t.elem, `${off} + i0 * ${sizeOf(t.elem)}`, rt, 1)})`;
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
export function bitfieldDecodeExpr(f: BitfieldLayout, off: string, rt: Runtime): string {
  const signed = f.signed ? "true" : "false";
  let raw = bitfieldNeedsBigint(f)
    ? `${rt.codecs}.getBits(v, ${off}, ${f.size}, ${f.bitOffset}, ${f.bits}, ${signed})`
    : `${rt.codecs}.getBitsN(v, ${off}, ${f.size}, ${f.bitOffset}, ${f.bits}, ${signed})`;
  if (bitfieldNeedsBigint(f) && !bitfieldIsBig(f)) raw = `Number(${raw})`;
  if (f.type.kind === "bool") return `${raw} !== 0`;
  if (f.type.kind === "enum") return `${raw} as ${f.type.ref.name}`;
  return raw;
}


/**
 * A value's field type as the runtime reads it (runtime/src/contract/fields.ts): `"u32"`,
 * `"char[16]"`, `"u32[2][3]"`, `"u8[]"` (a flexible array member), a struct's name, `[Point, 2]`.
 */
export function fieldTypeExpr(t: ValueLayout, flexible = false): string {
  const spelled = fieldTypeOf(t, flexible);
  return typeof spelled === "string" ? spelled : JSON.stringify(`${spelled.base}${spelled.dims.map((d) => `[${d}]`).join("")}`);
}

/** A scalar-based type as its base and dimensions (`u32`, [2, 3]), else the expression. */
function fieldTypeOf(t: ValueLayout, flexible: boolean): string | { base: string; dims: string[] } {
  const n = (len: number): string => (flexible ? "" : String(len));
  switch (t.kind) {
    case "int":
      return { base: `${t.signed ? "s" : "u"}${t.size * 8}`, dims: [] };
    case "enum":
      return { base: `${t.ref.signed ? "s" : "u"}${t.ref.size * 8}`, dims: [] };
    case "bool":
      return { base: "bool", dims: [] };
    case "float":
      return { base: `f${t.size * 8}`, dims: [] };
    case "pointer":
      return { base: "ptr", dims: [] };
    case "string":
      return { base: "char", dims: [n(t.length)] };
    case "bytes":
      return { base: "u8", dims: [n(t.size)] };
    case "composite":
      return t.ref.name;
    case "array": {
      const elem = fieldTypeOf(t.elem, false);
      if (typeof elem === "string") return flexible ? `[${elem}]` : `[${elem}, ${t.length}]`;
      return { base: elem.base, dims: [n(t.length), ...elem.dims] };
    }
  }
}
