// How generated modules spell the C type of a field, map key/value, variable or constant: the
// grammar both sides share. A string names a scalar or an array of scalars in C's order
// (`u32`, `char[16]` — a string —, `u16[3]`, `u32[2][3]`, `char[3][8]`, `u8[]` for a flexible array
// member); structs are their `Struct` objects, arrays of them `[Struct, 2]` (`[Struct]`: flexible).

/** Scalars: integers by sign and width, floats, `bool`, pointers (`ptr`, read as u64). */
export const scalarTypes = {
  u8: { size: 1, signed: false },
  s8: { size: 1, signed: true },
  u16: { size: 2, signed: false },
  s16: { size: 2, signed: true },
  u32: { size: 4, signed: false },
  s32: { size: 4, signed: true },
  u64: { size: 8, signed: false },
  s64: { size: 8, signed: true },
  u128: { size: 16, signed: false },
  s128: { size: 16, signed: true },
  f32: { size: 4, signed: true },
  f64: { size: 8, signed: true },
  bool: { size: 1, signed: false },
  ptr: { size: 8, signed: false },
} as const satisfies Record<string, { size: number; signed: boolean }>;

export type ScalarName = keyof typeof scalarTypes;

/** What a struct reference must offer (the runtime's `Struct<T>`); kept structural so this module imports nothing. */
export interface StructRef {
  readonly name: string;
  readonly size: number;
  readonly align: number;
}

/** A field type as generated code writes it. */
export type FieldType = string | StructRef | readonly [element: FieldType, length?: number];

export type ParsedFieldType<S extends StructRef = StructRef> =
  | { readonly kind: "scalar"; readonly name: ScalarName }
  | { readonly kind: "string"; readonly length: number }
  | { readonly kind: "struct"; readonly struct: S }
  /** `length` undefined: a flexible array member. */
  | { readonly kind: "array"; readonly elem: FieldType; readonly length: number | undefined };

const parsed = new Map<string, ParsedFieldType>();

/** Reads a field type; throws a TypeError naming it when it is not one. */
export function parseFieldType<S extends StructRef>(t: FieldType): ParsedFieldType<S> {
  if (Array.isArray(t)) {
    const [elem, length] = t as readonly [FieldType, number?];
    return { kind: "array", elem, length };
  }
  if (typeof t !== "string") return { kind: "struct", struct: t as S };
  let p = parsed.get(t);
  if (!p) {
    p = parseString(t);
    parsed.set(t, p);
  }
  return p as ParsedFieldType<S>;
}

function parseString(t: string): ParsedFieldType {
  const m = /^([a-z0-9]+)((?:\[\d*\])*)$/.exec(t);
  const dims = m ? [...m[2]!.matchAll(/\[(\d*)\]/g)].map((d) => (d[1] === "" ? undefined : Number(d[1]))) : [];
  const base = m?.[1];
  const known = base === "char" || (base !== undefined && Object.hasOwn(scalarTypes, base));
  // Only the outermost dimension may be flexible; `char` needs one (it is a string).
  if (!m || !known || dims.slice(1).includes(undefined) || (base === "char" && dims.length === 0)) {
    throw new TypeError(`not a field type: ${JSON.stringify(t)} (a scalar such as u32, char[N], or either with [N] dimensions)`);
  }
  if (dims.length === 0) return { kind: "scalar", name: base as ScalarName };
  if (base === "char" && dims.length === 1 && dims[0] !== undefined) return { kind: "string", length: dims[0] };
  // `u32[2][3]` is 2 of `u32[3]`.
  const inner = `${base}${dims.slice(1).map((d) => `[${d}]`).join("")}`;
  return { kind: "array", elem: inner, length: dims[0] };
}
