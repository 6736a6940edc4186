// Every question later stages ask about a BTF type graph, answered once: the type at an id, what a
// type is under its qualifiers and typedefs (both from the runtime's reader), its size and
// alignment, whether it is packed, and which type a C spelling names.
//
// The graph comes from untrusted input: it may hold cycles (a typedef naming itself, an array of
// itself) and arbitrarily deep chains. Every walk here is a loop, or a recursion bounded by
// MAX_DEPTH, and stops with a BtfError that names the type id.

import { Kind, type Btf, type Type, type TypeId, type Struct, type Union, type Member } from "@bpf2ts/runtime/object-file";
import { MAX_DEPTH, MAX_SIZE, follow, isQualifier, kindName, resolve, typeError, type TypePlace } from "@bpf2ts/runtime/object-file";

// The walks (the type at an id, under qualifiers and typedefs) and the bounds are the runtime
// reader's, shared with its check; the questions below build on them.
export { MAX_DEPTH, MAX_SIZE, typeError, kindName, typeAt, isQualifier, follow, skipQualifiers, resolve, type TypePlace } from "@bpf2ts/runtime/object-file";

/** The element type under every array dimension (and qualifiers and typedefs), and the dimensions. */
function innermost(btf: Btf, id: TypeId, place?: TypePlace): { t: Type; dims: number[] } {
  const dims: number[] = [];
  const t = follow(btf, id, (t) => {
    if (isQualifier(t) || t.kind === Kind.Typedef || t.kind === Kind.Var) return t.type;
    if (t.kind !== Kind.Array) return undefined;
    dims.push(t.nelems);
    return t.type;
  }, place);
  return { t, dims };
}

/**
 * sizeof() in bytes (pointers are 8 bytes: BPF and the 64-bit kernels BTF describes). A BtfError
 * for types without a size (void, functions, forward declarations) and for sizes past MAX_SIZE.
 */
export function sizeof(btf: Btf, id: TypeId, place?: TypePlace): number {
  const { t, dims } = innermost(btf, id, place);
  let size: number;
  switch (t.kind) {
    case Kind.Int:
    case Kind.Struct:
    case Kind.Union:
    case Kind.Enum:
    case Kind.Enum64:
    case Kind.Float:
    case Kind.Datasec:
      size = t.size;
      break;
    case Kind.Ptr:
      size = 8;
      break;
    case Kind.Fwd:
      // clang writes only a FWD for a struct the object uses solely through pointers (an inner
      // map's `__type(value, struct x)` among them); libbpf refuses such a map too.
      throw typeError(id, `FWD '${t.name}' has no size: clang recorded only a forward declaration, as the object uses it only through pointers; use the type by value where BTF records it (a map's __type, a global variable, a program argument)`, place);
    default:
      throw typeError(id, `${kindName(t.kind)} ${t.name ? `'${t.name}' ` : ""}has no size`, place);
  }
  // Inside out, as the kernel checks arrays: every dimension's size must fit.
  for (let i = dims.length - 1; i >= 0; i--) {
    size *= dims[i]!;
    if (size > MAX_SIZE) throw typeError(id, `is more than ${MAX_SIZE} bytes, the most BTF can describe`, place);
  }
  return size;
}

/**
 * Natural alignment in bytes, as libbpf's btf__align_of computes it: scalars align to their size
 * (capped at 8, the pointer size, except 16-byte integers and floats: 16, as clang does for BPF and
 * x86-64); a struct aligns to its most-aligned member, except a packed one (see isPacked): 1.
 */
export function alignof(btf: Btf, id: TypeId, place?: TypePlace): number {
  return alignAt(btf, id, 0, place);
}

/**
 * True when a struct/union cannot be laid out naturally, so C needs `__attribute__((packed))`: a
 * member lies off its alignment, or the size is not a multiple of the largest member alignment.
 */
export function isPacked(btf: Btf, id: TypeId, place?: TypePlace): boolean {
  const t = resolve(btf, id, place);
  return (t.kind === Kind.Struct || t.kind === Kind.Union) && composite(btf, t, 0, place).packed;
}

interface CompositeAlign {
  readonly align: number;
  readonly packed: boolean;
}

/** Per graph, the alignment of each composite (undefined while being computed: a by-value cycle). */
const composites = new WeakMap<Btf, Map<TypeId, CompositeAlign | undefined>>();

function alignAt(btf: Btf, id: TypeId, depth: number, place?: TypePlace): number {
  const { t } = innermost(btf, id, place);
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
    case Kind.Union:
      return composite(btf, t, depth, place).align;
    default:
      throw typeError(id, `${kindName(t.kind)} has no alignment`, place);
  }
}

function composite(btf: Btf, t: Struct | Union, depth: number, place?: TypePlace): CompositeAlign {
  let memo = composites.get(btf);
  if (!memo) composites.set(btf, (memo = new Map()));
  if (memo.has(t.id)) {
    const known = memo.get(t.id);
    if (!known) throw typeError(t.id, `${kindName(t.kind)} contains itself by value`, place);
    return known;
  }
  if (depth >= MAX_DEPTH) throw typeError(t.id, `types nested deeper than ${MAX_DEPTH} levels`, place);
  memo.set(t.id, undefined);
  let max = 1;
  let packed = false;
  try {
    for (const m of t.members) {
      const a = alignAt(btf, m.type, depth + 1, place);
      if (a > max) max = a;
      if (m.bitSize === 0 ? m.bitOffset % (8 * a) !== 0 : crossesUnit(btf, m, place)) packed = true;
    }
  } catch (e) {
    memo.delete(t.id);
    throw e;
  }
  packed ||= t.size % max !== 0;
  const result = { align: packed ? 1 : max, packed };
  memo.set(t.id, result);
  return result;
}

/** A bitfield reaching past its declared type's natural unit: only a packed struct places it so. */
function crossesUnit(btf: Btf, m: Member, place?: TypePlace): boolean {
  const t = resolve(btf, m.type, place);
  const unit = 8 * (t.kind === Kind.Int || t.kind === Kind.Enum || t.kind === Kind.Enum64 ? t.size : 1);
  return Math.floor(m.bitOffset / unit) !== Math.floor((m.bitOffset + m.bitSize - 1) / unit);
}

/**
 * The type a C spelling names: `struct x`, `union x`, `enum x`, or a bare name (a typedef first,
 * else a struct/union/enum tag, as bpf2go's `-type` does). Forward declarations do not count.
 */
export function lookupType(btf: Btf, spelling: string): TypeId | undefined {
  const m = /^\s*(?:(struct|union|enum)\s+)?([A-Za-z_]\w*)\s*$/.exec(spelling);
  if (!m) return undefined;
  const [, keyword, name] = m;
  const kinds: readonly Kind[] =
    keyword === "struct" ? [Kind.Struct]
    : keyword === "union" ? [Kind.Union]
    : keyword === "enum" ? [Kind.Enum, Kind.Enum64]
    : [Kind.Typedef, Kind.Struct, Kind.Union, Kind.Enum, Kind.Enum64];
  const ids = btf.byName(name!);
  for (const kind of kinds) {
    const id = ids.find((i) => btf.types[i]?.kind === kind);
    if (id !== undefined) return id;
  }
  return undefined;
}
