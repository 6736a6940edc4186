// The C declarator printer: how C spells a BTF type, alone (`char[16]`, `u32 *`) or declaring a
// name (`char comm[16]`, `int (*callback)(int, void *)`, `u32 *const x`). One printer serves TSDoc,
// error messages, `inspect`, package READMEs and `vmlinux.h`; the style says what differs.
//
// The walk goes from the declared name outwards to the base type in a loop (pointers, arrays,
// qualifiers and prototypes wrap the inner part); only prototype parameters recurse, bounded by
// MAX_DEPTH, and the total work per call is bounded too (a corrupted graph can make a prototype
// whose parameters point back to it).

import { Kind, type Btf, type Enum, type Enum64, type Struct, type Type, type TypeId, type Union } from "@bpf2ts/runtime/object-file";
import { MAX_DEPTH, follow, isQualifier, kindName, skipQualifiers, typeAt, typeError, type TypePlace } from "./query.js";

export type Anonymous = Struct | Union | Enum | Enum64;

export interface DeclaratorStyle {
  /** The name a named struct/union/enum/fwd/typedef is written with (vmlinux.h renames duplicates). */
  readonly name?: (t: Type) => string;
  /** How an anonymous struct, union or enum is written (vmlinux.h: its body); default `struct { … }`. */
  readonly anonymous?: (t: Anonymous) => string;
  /**
   * A zero-length array: `[]` reads as the flexible array member it almost always is (default);
   * a C header needs `[0]`, which is also valid in the middle of a struct.
   */
  readonly zeroLength?: "[]" | "[0]";
  /** Throw on kinds that are not types (FUNC, VAR, DATASEC, DECL_TAG) instead of printing their name. */
  readonly strict?: boolean;
  /** Shared step count, when several calls make up one output (vmlinux.h: one definition). */
  readonly budget?: { steps: number };
  /** For error messages. */
  readonly place?: TypePlace;
}

/** Declarator steps allowed per call or budget: task_struct in vmlinux.h takes a few thousand. */
export const MAX_DECLARATOR_STEPS = 1_000_000;

/** The C spelling of type `id` declaring `name` (an abstract declarator when `name` is empty). */
export function cDeclaration(btf: Btf, id: TypeId, name = "", style: DeclaratorStyle = {}): string {
  return declarator(btf, id, name, style, style.budget ?? { steps: 0 }, 0);
}

/** The anonymous spelling everywhere but in C headers. */
export function anonymousSpelling(t: Anonymous): string {
  return `${t.kind === Kind.Struct ? "struct" : t.kind === Kind.Union ? "union" : "enum"} { … }`;
}

const qualifierWord = { [Kind.Const]: "const", [Kind.Volatile]: "volatile", [Kind.Restrict]: "restrict" } as Partial<Record<Kind, string>>;

function declarator(btf: Btf, id: TypeId, inner: string, style: DeclaratorStyle, budget: { steps: number }, depth: number): string {
  const place = style.place;
  if (depth > MAX_DEPTH) throw typeError(id, `declarator nested deeper than ${MAX_DEPTH} levels (a cycle?)`, place);
  const start = id;
  let prefix = "";
  for (let hops = 0; ; hops++) {
    if (hops > MAX_DEPTH) throw typeError(start, `declarator nested deeper than ${MAX_DEPTH} levels (a cycle?)`, place);
    if (++budget.steps > MAX_DECLARATOR_STEPS) throw typeError(start, `declarator too large (more than ${MAX_DECLARATOR_STEPS} steps; a cycle?)`, place);
    const t = typeAt(btf, id, place);
    switch (t.kind) {
      case Kind.Ptr: {
        const target = skipQualifiers(btf, t.type, place);
        inner = target.kind === Kind.Array || target.kind === Kind.FuncProto ? `(*${inner})` : `*${inner}`;
        id = t.type;
        continue;
      }
      case Kind.Array:
        inner = `${inner}[${t.nelems === 0 && style.zeroLength !== "[0]" ? "" : t.nelems}]`;
        id = t.type;
        continue;
      case Kind.Const:
      case Kind.Volatile:
      case Kind.Restrict: {
        const q = qualifierWord[t.kind]!;
        // A pointer's qualifier goes after its `*`; anything else's before the base type, once
        // (a qualified array qualifies its elements, which may say so themselves).
        if (typeAt(btf, t.type, place).kind === Kind.Ptr) inner = inner ? `${q} ${inner}` : q;
        else if (!elementQualified(btf, t.type, t.kind, place)) prefix += `${q} `;
        id = t.type;
        continue;
      }
      case Kind.TypeTag:
        id = t.type;
        continue;
      case Kind.FuncProto: {
        const params = t.params.map((p, i) =>
          p.type === 0 && i === t.params.length - 1 ? "..." : declarator(btf, p.type, p.name, style, budget, depth + 1),
        );
        inner = `${inner}(${params.length ? params.join(", ") : "void"})`;
        id = t.returnType;
        continue;
      }
      default:
        return prefix + join(base(t, style), inner);
    }
  }
}

/** `base inner`, except that an abstract array declarator follows directly: `char[16]`. */
function join(base: string, inner: string): string {
  return inner === "" ? base : inner[0] === "[" ? base + inner : `${base} ${inner}`;
}

function base(t: Type, style: DeclaratorStyle): string {
  const name = (t: Type) => (style.name ? style.name(t) : t.name);
  switch (t.kind) {
    case Kind.Void:
      return "void";
    case Kind.Int:
    case Kind.Float:
      return t.name;
    case Kind.Typedef:
      return name(t);
    case Kind.Struct:
    case Kind.Union:
    case Kind.Enum:
    case Kind.Enum64:
      if (t.name === "") return (style.anonymous ?? anonymousSpelling)(t);
      return `${t.kind === Kind.Struct ? "struct" : t.kind === Kind.Union ? "union" : "enum"} ${name(t)}`;
    case Kind.Fwd:
      return `${t.union ? "union" : "struct"} ${name(t)}`;
    default:
      if (style.strict) throw typeError(t.id, `a ${kindName(t.kind)} cannot be used as a type`, style.place);
      return t.name || kindName(t.kind);
  }
}

/** Whether `id`, past arrays and other qualifiers, already carries qualifier `kind`. */
function elementQualified(btf: Btf, id: TypeId, kind: Kind, place?: TypePlace): boolean {
  let found = false;
  follow(btf, id, (t) => {
    found ||= t.kind === kind;
    return t.kind === Kind.Array || isQualifier(t) ? t.type : undefined;
  }, place);
  return found;
}
