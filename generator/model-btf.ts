// Lookups the model's readers share: the object being read (ELF, BTF, warnings) and questions about its
// BTF graph, each failing with a ModelError that names the file, section and type id.

import { Kind, kindNames, type Btf, type Type, type TypeId } from "@bpf2ts/runtime/object-file";
import { STB_LOCAL, STT_FUNC, type ElfFile } from "@bpf2ts/runtime/object-file";
import { ModelError } from "./errors.js";

/** The object being read. */
export interface ModelContext {
  readonly file: string;
  readonly btf: Btf;
  readonly elf: ElfFile;
  readonly warnings: string[];
}

export const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export const kindName = (t: Type): string => kindNames[t.kind] ?? `kind ${t.kind}`;

/**
 * Where a variable really is. clang leaves DATASEC offsets and sizes at 0 in objects; libbpf fills them
 * from the symbol table at open (`btf_fixup_datasec`), and so do we.
 */
export function placeOf(ctx: ModelContext, section: string, name: string, info: { offset: number; size: number }): { offset: number; size: number; local: boolean } {
  for (const sym of ctx.elf.symbols()) {
    if (sym.name === name && sym.sectionName === section && sym.type !== STT_FUNC) return { offset: sym.value, size: sym.size || info.size, local: sym.bind === STB_LOCAL };
  }
  return { ...info, local: false };
}

/** Follows typedefs and qualifiers to the underlying type. */
export function skipAliases(btf: Btf, id: TypeId, where: Where): Type {
  for (let depth = 0; depth < 64; depth++) {
    const t = typeAt(btf, id, where);
    switch (t.kind) {
      case Kind.Typedef:
      case Kind.Const:
      case Kind.Volatile:
      case Kind.Restrict:
      case Kind.TypeTag:
        id = t.type;
        continue;
      default:
        return t;
    }
  }
  throw new ModelError(`${where.file}: ${where.what}: type ${id}: qualifier chain too long (cycle?)`, { file: where.file, typeId: id, section: where.section });
}

export interface Where {
  readonly file: string;
  readonly section: string;
  /** What is being read, for messages: `map "events"`. */
  readonly what: string;
}

export function typeAt(btf: Btf, id: TypeId, where: Where): Type {
  const t = btf.types[id];
  if (!t) throw new ModelError(`${where.file}: ${where.what}: type id ${id} out of range (${btf.types.length} types)`, { file: where.file, typeId: id, section: where.section });
  return t;
}

/** sizeof() of a BTF type; 0 for void, functions and forward declarations. */
export function sizeOf(btf: Btf, id: TypeId, where: Where = { file: "BTF", section: ".BTF", what: "sizeof" }, nesting = 0): number {
  if (nesting > 64) throw new ModelError(`${where.file}: ${where.what}: type ${id}: arrays nested too deep (cycle?)`, { file: where.file, typeId: id });
  for (let depth = 0; depth < 64; depth++) {
    const t = skipAliases(btf, id, where);
    switch (t.kind) {
      case Kind.Int:
      case Kind.Enum:
      case Kind.Enum64:
      case Kind.Struct:
      case Kind.Union:
      case Kind.Float:
      case Kind.Datasec:
        return t.size;
      case Kind.Ptr:
        return 8;
      case Kind.Array:
        return t.nelems === 0 ? 0 : t.nelems * sizeOf(btf, t.type, where, nesting + 1);
      case Kind.Var:
        id = t.type;
        continue;
      default:
        return 0;
    }
  }
  throw new ModelError(`${where.file}: ${where.what}: type ${id}: nesting too deep`, { file: where.file, typeId: id });
}

/**
 * Finds a type by C spelling: `struct x`, `union x`, `enum x`, or a bare name (a typedef first, else a
 * struct/union/enum tag, as bpf2go's `-type` does). Forward declarations do not count.
 */
export function resolveTypeName(btf: Btf, spelling: string): TypeId | undefined {
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
