// In-memory BTF graphs for generator tests: each helper appends a type and returns its id, so a test
// reads like the C it stands for.
import { Kind, type Btf, type Member, type Type, type TypeId } from "@bpf2ts/runtime/object-file";

/** A BTF graph built by hand: each helper appends a type and returns its id. */
export class Graph {
  readonly types: Type[] = [{ kind: Kind.Void, id: 0, name: "" }];
  private add(t: { kind: Kind; name: string } & Record<string, unknown>): TypeId {
    const id = this.types.length;
    this.types.push({ ...t, id } as unknown as Type);
    return id;
  }
  int(name: string, size: number, signed = false, bool = false): TypeId {
    return this.add({ kind: Kind.Int, name, size, signed, char: false, bool, bitOffset: 0, bits: size * 8 });
  }
  float(name: string, size: number): TypeId {
    return this.add({ kind: Kind.Float, name, size });
  }
  ptr(type: TypeId): TypeId {
    return this.add({ kind: Kind.Ptr, name: "", type });
  }
  typedef(name: string, type: TypeId): TypeId {
    return this.add({ kind: Kind.Typedef, name, type });
  }
  konst(type: TypeId): TypeId {
    return this.add({ kind: Kind.Const, name: "", type });
  }
  array(type: TypeId, nelems: number): TypeId {
    return this.add({ kind: Kind.Array, name: "", type, indexType: 0, nelems });
  }
  struct(name: string, size: number, members: [string, TypeId, number, number?][], union = false): TypeId {
    const ms: Member[] = members.map(([n, type, bitOffset, bitSize]) => ({ name: n, type, bitOffset, bitSize: bitSize ?? 0 }));
    return this.add({ kind: union ? Kind.Union : Kind.Struct, name, size, members: ms });
  }
  enum(name: string, size: number, values: [string, bigint][], signed = false, wide = false): TypeId {
    return this.add({ kind: wide ? Kind.Enum64 : Kind.Enum, name, size, signed, values: values.map(([n, value]) => ({ name: n, value })) });
  }
  fwd(name: string): TypeId {
    return this.add({ kind: Kind.Fwd, name, union: false });
  }
  func(name: string): TypeId {
    const proto = this.add({ kind: Kind.FuncProto, name: "", returnType: 0, params: [] });
    return this.add({ kind: Kind.Func, name, type: proto, linkage: 1 });
  }
  btf(littleEndian = true): Btf {
    const types = this.types;
    return { types, littleEndian, byName: (n) => types.filter((t) => t.name === n).map((t) => t.id) };
  }
}

