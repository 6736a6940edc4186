// The walks every reader of a BTF graph needs, once: the type at an id and what a type is under its
// qualifiers and typedefs. The generator's type questions (generator/btf/query.ts) build on these;
// the runtime's check and decoder use them too.
//
// The graph comes from untrusted input: it may hold cycles (a typedef naming itself) and arbitrarily
// deep chains. Every walk here is a loop bounded by MAX_DEPTH and stops with a BtfError that names
// the type id.

import { BtfError } from "./wire.js";
import { Kind, kindNames, type Btf, type Type, type TypeId } from "./types.js";

/**
 * How deep types may nest: qualifier/typedef/array chains, by-value members, declarators. clang
 * refuses more than 256 nested brackets or parentheses by default (`-fbracket-depth`), so no C
 * source nests deeper; only a corrupted or synthetic graph reaches it.
 */
export const MAX_DEPTH = 256;

/** The largest object BTF can describe: sizes are u32, and the kernel rejects arrays past it. */
export const MAX_SIZE = 0xffff_ffff;

/** The graph a walk reads: its types by id (a Btf, or the list a decoder is filling). */
export type TypeGraph = Pick<Btf, "types">;

/** Where a question is asked from, for error messages: the file and section, and what is read. */
export interface TypePlace {
  readonly file?: string;
  readonly section?: string;
  /** `map "events"`, `vmlinux.h`. */
  readonly what?: string;
}

/** A BtfError about type `id`: "file: section: what: BTF type id N: detail". */
export function typeError(id: TypeId, detail: string, place: TypePlace = {}): BtfError {
  const prefix = [place.file, place.section, place.what].filter((s) => s).join(": ");
  return new BtfError(`${prefix ? `${prefix}: ` : ""}BTF type id ${id}: ${detail}`, { file: place.file, section: place.section, typeId: id });
}

/** bpftool's name of a BTF kind (`STRUCT`, `FUNC_PROTO`). */
export function kindName(kind: Kind): string {
  return kindNames[kind] ?? `kind ${kind as number}`;
}

/** The type with id `id`; a BtfError when there is none. */
export function typeAt(btf: TypeGraph, id: TypeId, place?: TypePlace): Type {
  const t = btf.types[id];
  if (!t) throw typeError(id, `does not exist (the BTF has ${btf.types.length} types)`, place);
  return t;
}

type Qualifier = Type & { kind: Kind.Const | Kind.Volatile | Kind.Restrict | Kind.TypeTag };

/** const, volatile, restrict and type tags: they change neither layout nor meaning for TypeScript. */
export function isQualifier(t: Type): t is Qualifier {
  return t.kind === Kind.Const || t.kind === Kind.Volatile || t.kind === Kind.Restrict || t.kind === Kind.TypeTag;
}

/**
 * Follows `next` from `id` while it returns an id: the one chain walk every question uses. Stops
 * after MAX_DEPTH steps with an error that says whether the chain loops or is only too long.
 */
export function follow(btf: TypeGraph, id: TypeId, next: (t: Type) => TypeId | undefined, place?: TypePlace): Type {
  let t = typeAt(btf, id, place);
  for (let steps = 0; ; steps++) {
    const to = next(t);
    if (to === undefined) return t;
    if (steps >= MAX_DEPTH) throw chainError(btf, id, next, place);
    t = typeAt(btf, to, place);
  }
}

/** The error for a chain past MAX_DEPTH: a cycle when it comes back to a type, else too deep. */
function chainError(btf: TypeGraph, id: TypeId, next: (t: Type) => TypeId | undefined, place?: TypePlace): BtfError {
  const seen = new Set<TypeId>();
  for (let at: TypeId | undefined = id; at !== undefined && seen.size <= MAX_DEPTH + 1; at = next(typeAt(btf, at, place))) {
    if (seen.has(at)) return typeError(id, `refers to itself (a cycle through type ${at})`, place);
    seen.add(at);
  }
  return typeError(id, `types nested deeper than ${MAX_DEPTH} levels`, place);
}

/** The type under const/volatile/restrict/type tags (typedefs kept). */
export function skipQualifiers(btf: TypeGraph, id: TypeId, place?: TypePlace): Type {
  return follow(btf, id, (t) => (isQualifier(t) ? t.type : undefined), place);
}

/** The type under qualifiers and typedefs: what the value really is. */
export function resolve(btf: TypeGraph, id: TypeId, place?: TypePlace): Type {
  return follow(btf, id, (t) => (isQualifier(t) || t.kind === Kind.Typedef ? t.type : undefined), place);
}
