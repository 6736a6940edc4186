// BTF: parse a blob into the type graph (types.ts) and answer the questions every later stage asks:
// what a type resolves to, its size and alignment, and how C spells it.

import { BtfError, Kind, kindNames, type Btf, type Type, type TypeId, type Struct, type Union } from "@bpf2ts/runtime/object-file";

// The wire reader (parseBtf, the type graph, BtfError) is the runtime's, shared with its loader.
export { BtfError, parseBtf, Kind, kindNames, Linkage, type ParseBtfOptions, type ParsedBtf, type BtfHeader } from "@bpf2ts/runtime/object-file";
export type {
  TypeId, Void, Int, Ptr, Array, Member, Struct, Union, EnumValue, Enum, Enum64, Fwd, Typedef, Volatile, Const, Restrict, Func, Param, FuncProto, Var, VarSecinfo, Datasec, Float, DeclTag, TypeTag, Type, Btf,
} from "@bpf2ts/runtime/object-file";

// ---- helpers over the graph ----

/** Limit on typedef/modifier/array chains: a corrupted blob may hold a cycle (libbpf uses 32 too). */
const MAX_CHAIN = 32;

function typeAt(btf: Btf, id: TypeId): Type {
  const t = btf.types[id];
  if (!t) throw new BtfError(`BTF: type ${id} does not exist (${btf.types.length} types)`, { typeId: id });
  return t;
}

function isModifier(t: Type): t is Type & { type: TypeId } {
  return t.kind === Kind.Typedef || t.kind === Kind.Const || t.kind === Kind.Volatile || t.kind === Kind.Restrict || t.kind === Kind.TypeTag;
}

/** Follows typedef/const/volatile/restrict/type_tag to the underlying type. */
export function resolve(btf: Btf, id: TypeId): Type {
  let t = typeAt(btf, id);
  for (let depth = 0; isModifier(t); depth++) {
    if (depth >= MAX_CHAIN) throw new BtfError(`BTF: type ${id}: modifier chain too long (cycle?)`, { typeId: id });
    t = typeAt(btf, t.type);
  }
  return t;
}

/** Size in bytes of a type (pointers are 8 bytes: BPF and the 64-bit kernels BTF describes). */
export function sizeof(btf: Btf, id: TypeId): number {
  let mult = 1;
  let t = resolve(btf, id);
  for (let depth = 0; t.kind === Kind.Array; depth++) {
    if (depth >= MAX_CHAIN) throw new BtfError(`BTF: type ${id}: array chain too long`, { typeId: id });
    mult *= t.nelems;
    t = resolve(btf, t.type);
  }
  switch (t.kind) {
    case Kind.Int:
    case Kind.Struct:
    case Kind.Union:
    case Kind.Enum:
    case Kind.Enum64:
    case Kind.Float:
    case Kind.Datasec:
      return mult * t.size;
    case Kind.Ptr:
      return mult * 8;
    case Kind.Var:
      return mult * sizeof(btf, t.type);
    default:
      throw new BtfError(`BTF: type ${id}: ${kindNames[t.kind]} ${t.name ? `'${t.name}' ` : ""}has no size`, { typeId: id });
  }
}

/**
 * Natural alignment in bytes, as libbpf's btf__align_of computes it: scalars align to their size
 * (capped at 8, the pointer size, except 16-byte integers and floats: 16, as clang does for BPF and
 * x86-64); a struct aligns to its most-aligned member, except that a struct whose members or size
 * are misaligned for that is packed and aligns to 1.
 */
export function alignof(btf: Btf, id: TypeId): number {
  let memo = alignMemo.get(btf);
  if (!memo) alignMemo.set(btf, (memo = new Map()));
  return alignOf(btf, id, memo);
}

/** Per-graph memo of composite alignments (0 while being computed, to catch by-value cycles). */
const alignMemo = new WeakMap<Btf, Map<TypeId, number>>();

function alignOf(btf: Btf, id: TypeId, memo: Map<TypeId, number>): number {
  let t = resolve(btf, id);
  for (let depth = 0; t.kind === Kind.Array; depth++) {
    if (depth >= MAX_CHAIN) throw new BtfError(`BTF: type ${id}: array chain too long`, { typeId: id });
    t = resolve(btf, t.type);
  }
  switch (t.kind) {
    case Kind.Int:
    case Kind.Float:
      // clang aligns __int128 (and x86-64's long double) to 16, where libbpf says 8.
      return t.size >= 16 ? 16 : Math.min(8, t.size);
    case Kind.Enum:
    case Kind.Enum64:
      return Math.min(8, t.size);
    case Kind.Ptr:
      return 8;
    case Kind.Struct:
    case Kind.Union: {
      const known = memo.get(t.id);
      if (known === 0) throw new BtfError(`BTF: type ${t.id}: ${kindNames[t.kind]} contains itself`, { typeId: t.id });
      if (known !== undefined) return known;
      memo.set(t.id, 0);
      let max = 1;
      let packed = false;
      for (const m of t.members) {
        const a = alignOf(btf, m.type, memo);
        if (a > max) max = a;
        if (m.bitSize === 0 && m.bitOffset % (8 * a) !== 0) packed = true;
      }
      const align = packed || t.size % max !== 0 ? 1 : max;
      memo.set(t.id, align);
      return align;
    }
    default:
      throw new BtfError(`BTF: type ${id}: ${kindNames[t.kind]} has no alignment`, { typeId: id });
  }
}

/** True when a struct/union cannot be laid out naturally: it needs `__attribute__((packed))`. */
export function isPacked(btf: Btf, id: TypeId): boolean {
  const t = resolve(btf, id) as Struct | Union;
  if (t.kind !== Kind.Struct && t.kind !== Kind.Union) return false;
  let max = 1;
  for (const m of t.members) {
    const a = alignof(btf, m.type);
    if (a > max) max = a;
    if (m.bitSize === 0 && m.bitOffset % (8 * a) !== 0) return true;
  }
  return t.size % max !== 0;
}

/**
 * The C spelling of a type: `struct event`, `unsigned int`, `char[16]`, `u32 *`,
 * `int (*)(int, const char *)`. With `declName`, a full declarator: `char comm[16]`.
 */
export function typeName(btf: Btf, id: TypeId, declName = ""): string {
  return declare(btf, id, declName, 0, { steps: 0 });
}

/** Bounds the work on corrupted graphs (a prototype whose parameters point back to it, etc.). */
const MAX_DECLARATOR_STEPS = 10_000;

function declare(btf: Btf, id: TypeId, inner: string, depth: number, budget: { steps: number }): string {
  if (depth > MAX_CHAIN * 4 || ++budget.steps > MAX_DECLARATOR_STEPS)
    throw new BtfError(`BTF: type ${id}: declarator too deep or too large (cycle?)`, { typeId: id });
  const t = typeAt(btf, id);
  const join = (base: string) => (inner === "" ? base : inner[0] === "[" ? base + inner : `${base} ${inner}`);
  switch (t.kind) {
    case Kind.Void:
      return join("void");
    case Kind.Int:
    case Kind.Float:
    case Kind.Typedef:
      return join(t.name);
    case Kind.Struct:
      return join(t.name ? `struct ${t.name}` : "struct {...}");
    case Kind.Union:
      return join(t.name ? `union ${t.name}` : "union {...}");
    case Kind.Enum:
    case Kind.Enum64:
      return join(t.name ? `enum ${t.name}` : "enum {...}");
    case Kind.Fwd:
      return join(`${t.union ? "union" : "struct"} ${t.name}`);
    case Kind.Ptr: {
      const target = typeAt(btf, t.type);
      const wrap = target.kind === Kind.Array || target.kind === Kind.FuncProto;
      return declare(btf, t.type, wrap ? `(*${inner})` : `*${inner}`, depth + 1, budget);
    }
    case Kind.Array:
      return declare(btf, t.type, `${inner}[${t.nelems}]`, depth + 1, budget);
    case Kind.FuncProto: {
      const params = t.params.map((p) => (p.type === 0 && p.name === "" ? "..." : declare(btf, p.type, "", depth + 1, budget)));
      return declare(btf, t.returnType, `${inner}(${params.length ? params.join(", ") : "void"})`, depth + 1, budget);
    }
    case Kind.Const:
    case Kind.Volatile:
    case Kind.Restrict: {
      const q = t.kind === Kind.Const ? "const" : t.kind === Kind.Volatile ? "volatile" : "restrict";
      // A qualified pointer puts the qualifier after the `*`; anything else before the base type.
      const target = typeAt(btf, t.type);
      if (target.kind === Kind.Ptr) return declare(btf, t.type, inner ? `${q} ${inner}` : q, depth + 1, budget);
      return `${q} ${declare(btf, t.type, inner, depth + 1, budget)}`;
    }
    case Kind.TypeTag:
      return declare(btf, t.type, inner, depth + 1, budget);
    case Kind.Func:
    case Kind.Var:
    case Kind.Datasec:
    case Kind.DeclTag:
      return join(`${kindNames[t.kind].toLowerCase()} ${t.name}`);
  }
}
