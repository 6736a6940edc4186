// C declarations of BTF types as a reader would write them (`char comm[16]`, `u64 (*fn)(int)`,
// `const volatile u32 x`), for the TSDoc of generated code and for error messages.

import { Kind, kindNames, type Btf, type TypeId } from "@bpf2ts/runtime/object-file";

/** bpftool's name of a BTF kind (`STRUCT`, `FUNC_PROTO`). */
export function kindName(kind: Kind): string {
  return kindNames[kind] ?? `#${kind}`;
}

/** The C declaration of `name` with type `id` (an abstract declarator when `name` is empty). */
export function cDeclaration(btf: Btf, id: TypeId, name: string): string {
  return declare(btf, id, name, 0);
}

/** A small C declarator printer for TSDoc (`u64 (*fn)(int)`, `char comm[16]`, `const volatile u32 x`). */
function declare(btf: Btf, id: TypeId, inner: string, depth: number): string {
  const t = btf.types[id];
  if (t === undefined || depth > 32) return `<type ${id}> ${inner}`.trim();
  const withName = (base: string): string => (inner ? `${base} ${inner}` : base);
  switch (t.kind) {
    case Kind.Void:
      return withName("void");
    case Kind.Int:
    case Kind.Float:
    case Kind.Typedef:
      return withName(t.name);
    case Kind.Struct:
      return withName(t.name ? `struct ${t.name}` : "struct { … }");
    case Kind.Union:
      return withName(t.name ? `union ${t.name}` : "union { … }");
    case Kind.Enum:
    case Kind.Enum64:
      return withName(t.name ? `enum ${t.name}` : "enum { … }");
    case Kind.Fwd:
      return withName(`${t.union ? "union" : "struct"} ${t.name}`);
    case Kind.Const:
    case Kind.Volatile:
    case Kind.Restrict: {
      const q = t.kind === Kind.Const ? "const" : t.kind === Kind.Volatile ? "volatile" : "restrict";
      const target = btf.types[t.type];
      // Qualifiers of a pointer go after the star; of anything else, before the type.
      if (target?.kind === Kind.Ptr) return declare(btf, t.type, `${q} ${inner}`.trim(), depth + 1);
      return `${q} ${declare(btf, t.type, inner, depth + 1)}`;
    }
    case Kind.TypeTag:
      return declare(btf, t.type, inner, depth + 1);
    case Kind.Ptr: {
      const target = btf.types[t.type];
      const needsParens = target?.kind === Kind.Array || target?.kind === Kind.FuncProto;
      return declare(btf, t.type, needsParens ? `(*${inner})` : `*${inner}`, depth + 1);
    }
    case Kind.Array:
      return declare(btf, t.type, `${inner}[${t.nelems === 0 ? "" : t.nelems}]`, depth + 1);
    case Kind.FuncProto: {
      const params = t.params.map((p) => (p.type === 0 ? "..." : declare(btf, p.type, p.name, depth + 1))).join(", ");
      return declare(btf, t.returnType, `${inner}(${params || "void"})`, depth + 1);
    }
    default:
      return withName(t.name || kindName(t.kind));
  }
}
