// Adding types from a second BTF graph (the types-only compile) to an object's graph.
//
// The object's types keep their ids; the wanted types, and whatever they refer to that the object
// lacks, are appended with fresh ids. A named struct, union, enum, typedef, int or float the object
// already has is reused rather than copied: both graphs come from the same source, so a name names
// the same definition.

import { Kind, type Btf, type Type, type TypeId } from "@bpf2ts/runtime/object-file";

const REUSABLE = new Set<Kind>([Kind.Struct, Kind.Union, Kind.Enum, Kind.Enum64, Kind.Typedef, Kind.Int, Kind.Float]);

/** Ids a type refers to. */
function references(t: Type): TypeId[] {
  switch (t.kind) {
    case Kind.Ptr:
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
    case Kind.TypeTag:
    case Kind.Func:
    case Kind.Var:
    case Kind.DeclTag:
      return [t.type];
    case Kind.Array:
      return [t.type, t.indexType];
    case Kind.Struct:
    case Kind.Union:
      return t.members.map((m) => m.type);
    case Kind.FuncProto:
      return [t.returnType, ...t.params.map((p) => p.type)];
    case Kind.Datasec:
      return t.vars.map((v) => v.type);
    default:
      return [];
  }
}

/** Copies `t` with every reference mapped and its own id set to `id`. */
function remap(t: Type, id: TypeId, map: (id: TypeId) => TypeId): Type {
  switch (t.kind) {
    case Kind.Ptr:
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
    case Kind.TypeTag:
    case Kind.Func:
    case Kind.Var:
    case Kind.DeclTag:
      return { ...t, id, type: map(t.type) };
    case Kind.Array:
      return { ...t, id, type: map(t.type), indexType: map(t.indexType) };
    case Kind.Struct:
    case Kind.Union:
      return { ...t, id, members: t.members.map((m) => ({ ...m, type: map(m.type) })) };
    case Kind.FuncProto:
      return { ...t, id, returnType: map(t.returnType), params: t.params.map((p) => ({ ...p, type: map(p.type) })) };
    case Kind.Datasec:
      return { ...t, id, vars: t.vars.map((v) => ({ ...v, type: map(v.type) })) };
    default:
      return { ...t, id };
  }
}

export interface MergeResult {
  readonly btf: Btf;
  /** Where each requested `extra` id ended up in the merged graph. */
  readonly ids: ReadonlyMap<TypeId, TypeId>;
}

/** A graph holding all of `base` (same ids) plus `roots` of `extra` and their dependencies. */
export function mergeTypes(base: Btf, extra: Btf, roots: readonly TypeId[]): MergeResult {
  const mapping = new Map<TypeId, TypeId>([[0, 0]]);
  const appended: Type[] = [];
  const pending: TypeId[] = [];
  const existing = (t: Type): TypeId | undefined =>
    t.name && REUSABLE.has(t.kind) ? base.byName(t.name).find((id) => base.types[id]?.kind === t.kind) : undefined;

  // First give every reachable type its id (reused or fresh), so cycles through pointers resolve.
  const visit = (id: TypeId) => {
    if (mapping.has(id)) return;
    const t = extra.types[id];
    if (!t) throw new RangeError(`mergeTypes: type id ${id} out of range`);
    const reuse = existing(t);
    if (reuse !== undefined) {
      mapping.set(id, reuse);
      return;
    }
    mapping.set(id, base.types.length + appended.length);
    appended.push(t);
    pending.push(id);
  };
  for (const root of roots) visit(root);
  for (let i = 0; i < pending.length; i++) for (const ref of references(extra.types[pending[i]!]!)) visit(ref);

  const map = (id: TypeId) => mapping.get(id)!;
  const types = [...base.types, ...appended.map((t) => remap(t, map(t.id), map))];
  const byName = new Map<string, TypeId[]>();
  for (const t of types) {
    if (!t.name) continue;
    const list = byName.get(t.name);
    if (list) list.push(t.id);
    else byName.set(t.name, [t.id]);
  }
  const btf: Btf = { types, littleEndian: base.littleEndian, byName: (name) => byName.get(name) ?? [] };
  return { btf, ids: new Map(roots.map((r) => [r, map(r)])) };
}
