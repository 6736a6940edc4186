// Structs from their field descriptors: a generated module gives, per C struct, its fields (offset,
// C type, declaration) and the straight-line decoder of whole records — what makes decoding fast.
// Everything else a `Struct<T>` does is built here once per struct, from the descriptor: encoders
// that check every value, the decoder of short records, lazy views, and the codecs of values that
// are neither structs nor plain numbers (`char[16]`, `u32[4]`). Generated code stays small and
// reads like a hand-written module; the rules live in one place (the contract's field types).

import { codecs, LE, type Codec, type FieldInfo, type Struct } from "./codec.js";
import { parseFieldType, scalarTypes, type FieldType, type ScalarName } from "./contract/fields.js";
import { fieldsEncoder, type EncodeStep } from "./struct-encode.js";

/** A struct field as a generated module describes it. */
export interface FieldSpec {
  readonly offset: number;
  /** `u32`, `char[16]`, `u16[3]`, `u32[2][3]`, `u8[]` (flexible), a struct, `[Struct, 2]`, `[Struct]`. */
  readonly type: FieldType;
  /** The C declaration (`__u32 pid`, `__u32 a : 3`): errors name the field by it. */
  readonly decl: string;
  /** Bitfields: the storage unit's size in bytes (default: its type's), the bit offset in it and the width. */
  readonly size?: number;
  readonly bitOffset?: number;
  readonly bitSize?: number;
  /** A bitfield of a 64-bit enum: a bigint whatever its width. */
  readonly bigint?: boolean;
  /**
   * Members of anonymous unions: the path of `[group, alternative]` from the struct down. They are
   * optional in the interface; encode writes those present, the last alternative first (so where
   * present members overlap, the first one's bytes win).
   */
  readonly union?: readonly (readonly [number, number])[];
}

export interface StructSpec<T> {
  /** The C name (`event`), or the generated path name for anonymous types. */
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly fields: { readonly [K in keyof T]-?: FieldSpec };
  /**
   * Decodes a whole record (`n` ≥ size: for a struct ending in a flexible array member, `n` is the
   * record's length). Shorter records are decoded from `fields`.
   */
  decode(v: DataView, o: number, n: number): T;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Get = (v: DataView, o: number, n: number) => any;
type Set = (x: any, v: DataView, o: number) => void;

const typedArrays: Readonly<Partial<Record<ScalarName, TypedCtor>>> = {
  u8: Uint8Array, s8: Int8Array, u16: Uint16Array, s16: Int16Array, u32: Uint32Array, s32: Int32Array,
  u64: BigUint64Array, s64: BigInt64Array, ptr: BigUint64Array, f32: Float32Array, f64: Float64Array,
};
type TypedCtor = { new (length: number): any; new (buffer: ArrayBufferLike, byteOffset: number, length: number): any; BYTES_PER_ELEMENT: number };

/** A field type resolved once: its size and how to read, cut and write it. */
interface Value {
  readonly size: number;
  readonly align: number;
  /** Bytes an element needs to count as present in a short record: a number whole, a string or struct its first. */
  readonly least: number;
  /** The value of a record with `left` bytes from it on (≥ size: the whole value; less: what is present; ≤ 0: zero). */
  readonly partial: (v: DataView, o: number, left: number) => any;
  /** What a lazy view's getter returns: live views for structs and aligned typed arrays. */
  readonly view: (v: DataView, o: number, left: number) => any;
  readonly encode: (x: any, v: DataView, o: number, where: string) => void;
  /** Elements of a flexible array member: `count` is computed from the record. */
  readonly elem?: Value;
  readonly typed?: TypedCtor;
}

function scalar(name: ScalarName): Value {
  const { size, signed } = scalarTypes[name];
  const read = scalarRead(name);
  const zero = name === "bool" ? false : size >= 8 && name !== "f64" ? 0n : 0;
  const partial = (v: DataView, o: number, left: number): unknown => (left >= size ? read(v, o) : zero);
  return { size, align: size, least: size, partial, view: partial, encode: scalarWrite(name, signed) };
}

function scalarRead(name: ScalarName): (v: DataView, o: number) => unknown {
  switch (name) {
    case "u8": return (v, o) => v.getUint8(o);
    case "s8": return (v, o) => v.getInt8(o);
    case "u16": return (v, o) => v.getUint16(o, LE);
    case "s16": return (v, o) => v.getInt16(o, LE);
    case "u32": return (v, o) => v.getUint32(o, LE);
    case "s32": return (v, o) => v.getInt32(o, LE);
    case "u64": case "ptr": return (v, o) => v.getBigUint64(o, LE);
    case "s64": return (v, o) => v.getBigInt64(o, LE);
    case "u128": return codecs.u128;
    case "s128": return codecs.s128;
    case "f32": return (v, o) => v.getFloat32(o, LE);
    case "f64": return (v, o) => v.getFloat64(o, LE);
    case "bool": return (v, o) => v.getUint8(o) !== 0;
  }
}

function scalarWrite(name: ScalarName, signed: boolean): Value["encode"] {
  const c = codecs;
  switch (name) {
    case "u8": return (x, v, o, w) => v.setUint8(o, c.checkU8(x, w));
    case "s8": return (x, v, o, w) => v.setInt8(o, c.checkS8(x, w));
    case "u16": return (x, v, o, w) => v.setUint16(o, c.checkU16(x, w), LE);
    case "s16": return (x, v, o, w) => v.setInt16(o, c.checkS16(x, w), LE);
    case "u32": return (x, v, o, w) => v.setUint32(o, c.checkU32(x, w), LE);
    case "s32": return (x, v, o, w) => v.setInt32(o, c.checkS32(x, w), LE);
    case "u64": case "ptr": return (x, v, o, w) => c.set64(v, o, c.checkU64(x, w));
    case "s64": return (x, v, o, w) => c.set64(v, o, c.checkS64(x, w));
    case "u128": case "s128": return (x, v, o, w) => c.setI128(v, o, x, w, signed);
    case "f32": return (x, v, o, w) => v.setFloat32(o, c.checkFloat(x, w), LE);
    case "f64": return (x, v, o, w) => v.setFloat64(o, c.checkFloat(x, w), LE);
    case "bool": return (x, v, o, w) => v.setUint8(o, c.checkBool(x, w) ? 1 : 0);
  }
}

function cstring(length: number): Value {
  const partial = (v: DataView, o: number, left: number): string => codecs.cstring(v, o, codecs.present(left, 1, length));
  return { size: length, align: 1, least: 1, partial, view: partial, encode: (x, v, o, w) => codecs.setCstring(v, o, length, x, w) };
}

function nested(s: Struct<any>): Value {
  return {
    size: s.size,
    align: s.align,
    least: 1,
    partial: (v, o, left) => s.decode(v, o, left),
    view: (v, o, left) => s.view(v, o, left),
    encode: (x, v, o, w) => s.encode(codecs.checkObject(x, w), v, o),
  };
}

function array(elem: Value, length: number, elemName: ScalarName | undefined): Value {
  const stride = elem.size;
  const size = stride * length;
  const typed = elemName !== undefined ? typedArrays[elemName] : undefined;
  if (typed) {
    return {
      size, align: elem.align, least: stride, elem, typed,
      partial: (v, o, left) => codecs.typedArray(typed, v, o, codecs.present(left, stride, length)),
      view: (v, o, left) => codecs.typedArrayView(typed, v, o, codecs.present(left, stride, length)),
      encode: (x, v, o, w) => codecs.setTypedArray(typed, v, o, length, x, w),
    };
  }
  const least = elem.least;
  const partial = (v: DataView, o: number, left: number): unknown[] => {
    const count = codecs.present(left, stride, length, least);
    const out = new Array<unknown>(count);
    for (let i = 0; i < count; i++) out[i] = elem.partial(v, o + i * stride, left - i * stride);
    return out;
  };
  return {
    size, align: elem.align, least, elem, partial, view: partial,
    encode: (x, v, o, w) => encodeElements(elem, length, x, v, o, w),
  };
}

function encodeElements(elem: Value, count: number, x: any, v: DataView, o: number, where: string): void {
  codecs.checkArray(x, count, where);
  for (let i = 0; i < x.length; i++) {
    const e = x[i];
    if (e !== undefined) elem.encode(e, v, o + i * elem.size, `${where}: element`);
  }
}

/** A field type as a value: resolved once per struct (and per value codec). */
export function valueOf(type: FieldType): Value {
  const t = parseFieldType<Struct<any>>(type);
  switch (t.kind) {
    case "scalar":
      return scalar(t.name);
    case "string":
      return cstring(t.length);
    case "struct":
      return nested(t.struct);
    case "array": {
      // `char[]` (a flexible string) has bytes as elements.
      const elemType = t.elem === "char" ? parseFieldType("u8") : parseFieldType(t.elem);
      const elem = valueOf(t.elem === "char" ? "u8" : t.elem);
      return array(elem, t.length ?? 0, elemType.kind === "scalar" ? elemType.name : undefined);
    }
  }
}

/** Read, cut and write of one field at its offset from the struct's start `o`, for a record of `n` bytes. */
interface FieldOps {
  readonly name: string;
  readonly info: FieldInfo;
  readonly spec: FieldSpec;
  readonly partial: Get;
  readonly view: Get;
  readonly encode: Set;
}

function fieldOps(name: string, spec: FieldSpec): FieldOps {
  const at = spec.offset;
  const where = `field ${name} (${spec.decl})`;
  if (spec.bitSize !== undefined) return bitfieldOps(name, spec, where);
  const t = parseFieldType(spec.type);
  const value = valueOf(spec.type);
  if (t.kind === "array" && t.length === undefined) {
    // A flexible array member: its elements are what the record holds past it.
    const elem = value.elem!;
    const count = (bytes: number): number => codecs.flexCount(bytes, elem.size);
    const read: Get = t.elem === "char"
      ? (v, o, n) => codecs.cstring(v, o + at, count(n - at))
      : value.typed
        ? (v, o, n) => codecs.typedArray(value.typed!, v, o + at, count(n - at))
        : (v, o, n) => Array.from({ length: count(n - at) }, (_, i) => elem.partial(v, o + at + i * elem.size, elem.size));
    const encode: Set = t.elem === "char"
      ? (x, v, o) => codecs.setCstring(v, o + at, count(v.byteLength - o - at), x, where)
      : value.typed
      ? (x, v, o) => codecs.setTypedArray(value.typed!, v, o + at, count(v.byteLength - o - at), x, where)
      : (x, v, o) => encodeElements(elem, count(v.byteLength - o - at), x, v, o + at, where);
    return { name, spec, info: { offset: at, size: 0 }, partial: read, view: read, encode };
  }
  return {
    name,
    spec,
    info: { offset: at, size: value.size },
    partial: (v, o, n) => value.partial(v, o + at, n - at),
    view: (v, o, n) => value.view(v, o + at, n - at),
    encode: (x, v, o) => value.encode(x, v, o + at, where),
  };
}

function bitfieldOps(name: string, spec: FieldSpec, where: string): FieldOps {
  const at = spec.offset;
  const t = parseFieldType(spec.type);
  const kind = t.kind === "scalar" ? t.name : "u32";
  const size = spec.size ?? scalarTypes[kind].size;
  const bitOffset = spec.bitOffset ?? 0;
  const bits = spec.bitSize!;
  const signed = scalarTypes[kind].signed;
  const isBool = kind === "bool";
  const big = spec.bigint === true || bits > 32;
  // The number-only path needs a 1/2/4-byte unit and a number value.
  const wide = big || ![1, 2, 4].includes(size);
  const raw = wide
    ? (v: DataView, o: number): bigint | number => (big ? codecs.getBits(v, o + at, size, bitOffset, bits, signed) : Number(codecs.getBits(v, o + at, size, bitOffset, bits, signed)))
    : (v: DataView, o: number): number => codecs.getBitsN(v, o + at, size, bitOffset, bits, signed);
  const zero = isBool ? false : big ? 0n : 0;
  const read: Get = isBool ? (v, o, n) => n - at >= size && raw(v, o) !== 0 : (v, o, n) => (n - at >= size ? raw(v, o) : zero);
  const check = isBool
    ? (x: unknown): number => (codecs.checkBool(x as boolean, where) ? 1 : 0)
    : wide
      ? (x: unknown): bigint | number => codecs.checkBigBits(x as bigint, bits, signed, where)
      : (x: unknown): number => codecs.checkBits(x as number, bits, signed, where);
  const encode: Set = wide
    ? (x, v, o) => codecs.setBits(v, o + at, size, bitOffset, bits, check(x))
    : (x, v, o) => codecs.setBitsN(v, o + at, size, bitOffset, bits, check(x) as number);
  return { name, spec, info: { offset: at, size, bitOffset, bitSize: bits }, partial: read, view: read, encode };
}

/** The fields, with each anonymous union's members grouped by alternative (struct-encode.ts writes them). */
function encodeOrder(fields: readonly FieldOps[]): EncodeStep[] {
  const top: EncodeStep[] = [];
  const groups = new Map<string, { alternatives: EncodeStep[][] }>();
  for (const f of fields) {
    let into = top;
    let key = "";
    for (const [g, a] of f.spec.union ?? []) {
      key += `/${g}`;
      let group = groups.get(key);
      if (!group) {
        group = { alternatives: [] };
        groups.set(key, group);
        into.push(group);
      }
      into = group.alternatives[a] ??= [];
      key += `.${a}`;
    }
    into.push(f);
  }
  return top;
}

/** True when the fields write every byte of the struct themselves (no padding, unions, bits or partial writes). */
function coversEveryByte(size: number, fields: readonly FieldOps[]): boolean {
  let covered = 0;
  for (const f of fields) {
    if (f.spec.union || f.spec.bitSize !== undefined || f.info.size === 0) return false;
    const t = parseFieldType(f.spec.type);
    if (t.kind === "array" && valueOf(f.spec.type).typed === undefined) return false;
    covered += f.info.size;
  }
  return covered === size;
}

/**
 * Lazy views share this base: accessors on each struct's prototype over (view, offset, record
 * length), so making one costs one small object. Private fields keep the view's own state out of
 * the members' names.
 */
class StructView {
  readonly #v: DataView;
  readonly #o: number;
  readonly #n: number;
  constructor(v: DataView, o: number, n: number) {
    this.#v = v;
    this.#o = o;
    this.#n = n;
  }
  static accessor(f: FieldOps): PropertyDescriptor {
    return {
      get(this: StructView) {
        return f.view(this.#v, this.#o, this.#n);
      },
      set(this: StructView, x: unknown) {
        f.encode(x, this.#v, this.#o);
      },
      enumerable: false,
      configurable: false,
    };
  }
  static decoded(this: void, view: StructView, s: Struct<unknown>): unknown {
    return s.decode(view.#v, view.#o, view.#n);
  }
}

/** A `Struct<T>`: the generated decoder for whole records, the rest built from the fields. */
export function struct<T>(spec: StructSpec<T>): Struct<T> {
  const { name, size, align } = spec;
  const ops = Object.entries<FieldSpec>(spec.fields).map(([k, f]) => fieldOps(k, f));
  const fields: Record<string, FieldInfo> = Object.fromEntries(ops.map((f) => [f.name, f.info]));
  const flexible = ops.some((f) => f.info.size === 0 && f.spec.bitSize === undefined);
  // Compiled on the first encode: most structs are only ever decoded (events).
  let encodeFields = (x: T, v: DataView, o: number): void => {
    encodeFields = fieldsEncoder(encodeOrder(ops));
    encodeFields(x, v, o);
  };
  const zeroFirst = !coversEveryByte(size, ops);
  const whole = spec.decode;

  // Short records: the fields they hold as usual, a string or array they end in cut to what is
  // present, the rest zero. Built as an object literal per field list, so every decoded object of
  // a struct has one shape.
  const partial = (v: DataView, o: number, n: number): T => {
    const out: Record<string, unknown> = {};
    for (const f of ops) out[f.name] = f.partial(v, o, n);
    return out as T;
  };

  const View = class extends StructView {};
  for (const f of ops) Object.defineProperty(View.prototype, f.name, StructView.accessor(f));

  const s: Struct<T> = {
    name,
    size,
    align,
    fields,
    decode: flexible
      ? (v: DataView, o = 0, n = v.byteLength - o): T => (n < size ? partial(v, o, n) : whole(v, o, n))
      : (v: DataView, o = 0, n = size): T => (n < size ? partial(v, o, n) : whole(v, o, n)),
    encode(x: T, v: DataView, o = 0): void {
      // A number or null where the struct goes would otherwise be blamed on its first field.
      if (typeof x !== "object" || x === null) codecs.checkObject(x, `struct ${name}`);
      if (zeroFirst) codecs.zero(v, o, size);
      encodeFields(x, v, o);
    },
    view: (v: DataView, o = 0, n = flexible ? v.byteLength - o : size): T => new View(v, o, n) as unknown as T,
  };
  Object.defineProperty(View.prototype, Symbol.for("nodejs.util.inspect.custom"), {
    value(this: StructView) {
      return StructView.decoded(this, s);
    },
  });
  return s;
}

/**
 * The codec of a map key or value, variable or constant of a field type (`char[16]`, `u32[4]`):
 * what the record holds decodes (a short one partially), encoders check and name the C type.
 */
export function codecOf<T>(type: FieldType): Codec<T> {
  const value = valueOf(type);
  const where = typeof type === "string" ? type : "";
  const size = value.size;
  return {
    size,
    align: value.align,
    decode: (v, o = 0, n = size) => value.partial(v, o, n) as T,
    encode: (x, v, o = 0) => value.encode(x, v, o, where),
  };
}
