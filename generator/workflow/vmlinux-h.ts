// vmlinux.h from BTF, like `bpftool btf dump file … format c`, in TypeScript.
//
// Every struct, union, enum and typedef is written in id order, each preceded on demand by what it
// needs: types used by value are defined first, types reached through a pointer only declared
// (`struct foo;`), so pointer cycles are fine. Anonymous structs, unions and enums are written
// inline where they are used. Layout is reproduced exactly: where C's natural layout would place a
// member before its BTF offset, unnamed bit-fields (`long: 64;`) fill the gap, and a struct whose
// members C could not place naturally is marked `__attribute__((packed))`. Names that BTF holds
// twice for different types (it happens in vmlinux) get a `___N` suffix, as bpftool does.
// Output depends only on the BTF: same input, same bytes. Declarators come from the one printer
// (btf/declarator.ts) in its C-header style; nesting (definitions needing definitions, anonymous
// types inside anonymous types) is bounded by MAX_DEPTH, and every error names the type id.

import {
  Kind, MAX_DEPTH, alignof, cDeclaration, isPacked, sizeof, skipQualifiers, typeAt, typeError,
  type Anonymous, type Btf, type DeclaratorStyle, type Type, type TypeId, type TypePlace, type Struct, type Union, type Enum, type Enum64,
} from "../btf/index.js";

export interface CHeaderOptions {
  /** Include guard macro (default `__VMLINUX_H__`). */
  guard?: string;
}

/** Writes a C header declaring every type of `btf`. */
export function formatCHeader(btf: Btf, opts: CHeaderOptions = {}): string {
  return new CHeaderWriter(btf).write(opts.guard ?? "__VMLINUX_H__");
}

const enum State {
  None = 0,
  InProgress = 1,
  Done = 2,
}

type Composite = Struct | Union;
type Enumeration = Enum | Enum64;

const place: TypePlace = { what: "vmlinux.h" };

class CHeaderWriter {
  private readonly out: string[] = [];
  private readonly state: Uint8Array;
  /** Resolved C names: tags (struct/union/enum/fwd) and typedefs. */
  private readonly names: string[] = [];
  /** Resolved enumerator names, per enum id. */
  private readonly enumerators = new Map<TypeId, string[]>();
  /**
   * How many types use each anonymous enum (saturating at 2): one user writes it inline; with none
   * or several it is written on its own once, and users see its integer type.
   */
  private readonly referenced: Uint8Array;
  /** Declarator steps for the current top-level definition (MAX_DECLARATOR_STEPS bounds them). */
  private budget = { steps: 0 };
  /** Definitions being written inside one another, and anonymous bodies inside one another. */
  private nesting = 0;
  /** Tags (`struct foo`) already declared or defined at file scope in the output. */
  private readonly tagsOut = new Set<string>();

  constructor(private readonly btf: Btf) {
    this.state = new Uint8Array(btf.types.length);
    this.referenced = new Uint8Array(btf.types.length);
  }

  write(guard: string): string {
    this.resolveNames();
    this.markReferenced();
    this.out.push(
      `#ifndef ${guard}`,
      `#define ${guard}`,
      "",
      "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX",
      "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)",
      "#endif",
      "",
    );
    for (const t of this.btf.types) {
      switch (t.kind) {
        case Kind.Struct:
        case Kind.Union:
        case Kind.Typedef:
          if (t.name !== "") this.define(t.id);
          break;
        case Kind.Enum:
        case Kind.Enum64:
          if (t.name !== "" || this.referenced[t.id] !== 1) this.define(t.id);
          break;
        case Kind.Fwd:
          this.declare(t.id);
          break;
      }
    }
    this.out.push(
      "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX",
      "#pragma clang attribute pop",
      "#endif",
      "",
      `#endif /* ${guard} */`,
      "",
    );
    return this.out.join("\n");
  }

  // ---- names ----

  /**
   * C has one namespace for tags and one for ordinary identifiers (typedefs, enumerators). The
   * first type in id order keeps a name; later, different types with the same name get `___2`, … .
   * A FWD takes the name of the struct/union it declares when there is exactly one.
   */
  private resolveNames(): void {
    const tags = new Map<string, number>();
    const idents = new Map<string, number>();
    const unique = (map: Map<string, number>, name: string) => {
      const n = (map.get(name) ?? 0) + 1;
      map.set(name, n);
      return n === 1 ? name : `${name}___${n}`;
    };
    const defs = new Map<string, TypeId[]>();
    for (const t of this.btf.types)
      if ((t.kind === Kind.Struct || t.kind === Kind.Union) && t.name !== "") {
        const key = `${t.kind === Kind.Union ? "union" : "struct"} ${t.name}`;
        const ids = defs.get(key);
        if (ids) ids.push(t.id);
        else defs.set(key, [t.id]);
      }
    const fwds: Type[] = [];
    for (const t of this.btf.types) {
      if (t.name === "") continue;
      switch (t.kind) {
        case Kind.Struct:
        case Kind.Union:
        case Kind.Enum:
        case Kind.Enum64:
          this.names[t.id] = unique(tags, t.name);
          break;
        case Kind.Fwd:
          fwds.push(t);
          break;
        case Kind.Typedef:
          this.names[t.id] = unique(idents, t.name);
          break;
      }
      if (t.kind === Kind.Enum || t.kind === Kind.Enum64)
        this.enumerators.set(t.id, t.values.map((v) => unique(idents, v.name)));
    }
    for (const t of this.btf.types)
      if ((t.kind === Kind.Enum || t.kind === Kind.Enum64) && t.name === "")
        this.enumerators.set(t.id, t.values.map((v) => unique(idents, v.name)));
    // After the definitions, so a definition keeps the plain name.
    for (const t of fwds) {
      if (t.kind !== Kind.Fwd) continue;
      const same = defs.get(`${t.union ? "union" : "struct"} ${t.name}`);
      this.names[t.id] = same?.length === 1 ? this.names[same[0]!]! : unique(tags, t.name);
    }
  }

  /** Anonymous enums reached from another type (a member, a typedef, …). */
  private markReferenced(): void {
    const mark = (id: TypeId) => {
      const t = this.btf.types[id];
      if (t && (t.kind === Kind.Enum || t.kind === Kind.Enum64) && this.referenced[id]! < 2) this.referenced[id]!++;
    };
    for (const t of this.btf.types) {
      switch (t.kind) {
        case Kind.Struct:
        case Kind.Union:
          for (const m of t.members) mark(this.skipQualifiers(m.type));
          break;
        case Kind.Typedef:
        case Kind.Ptr:
        case Kind.Const:
        case Kind.Volatile:
        case Kind.Restrict:
        case Kind.TypeTag:
        case Kind.Array:
          mark(t.type);
          break;
        case Kind.FuncProto:
          mark(this.skipQualifiers(t.returnType));
          for (const p of t.params) mark(this.skipQualifiers(p.type));
          break;
        case Kind.Var:
          mark(this.skipQualifiers(t.type));
          break;
      }
    }
  }

  private skipQualifiers(id: TypeId): TypeId {
    return skipQualifiers(this.btf, id, place).id;
  }

  private type(id: TypeId): Type {
    return typeAt(this.btf, id, place);
  }

  /** Runs `f` one level deeper: definitions inside definitions, bodies inside bodies. */
  private nested<T>(id: TypeId, f: () => T): T {
    if (this.nesting >= MAX_DEPTH) throw typeError(id, `types nested deeper than ${MAX_DEPTH} levels`, place);
    this.nesting++;
    try {
      return f();
    } finally {
      this.nesting--;
    }
  }

  private name(id: TypeId): string {
    return this.names[id] ?? this.type(id).name;
  }

  // ---- ordering ----

  /** Writes the definition of a named struct/union/enum/typedef (or a top-level anonymous enum) after its dependencies. */
  private define(id: TypeId): void {
    const st = this.state[id]!;
    if (st === State.Done) return;
    const t = this.type(id);
    if (st === State.InProgress) {
      // Only a by-value cycle gets here (pointers need declarations, not definitions): not C.
      throw typeError(id, `'${t.name}' contains itself`, place);
    }
    this.state[id] = State.InProgress;
    this.nested(id, () => this.definition(t));
    this.state[id] = State.Done;
  }

  private definition(t: Type): void {
    const id = t.id;
    switch (t.kind) {
      case Kind.Struct:
      case Kind.Union:
        for (const m of t.members) this.need(m.type, true, 0);
        this.budget = { steps: 0 };
        this.tagsOut.add(`${t.kind === Kind.Union ? "union" : "struct"} ${this.name(id)}`);
        this.out.push(`${this.composite(t, "")};`, "");
        break;
      case Kind.Enum:
      case Kind.Enum64:
        this.out.push(`${this.enumeration(t, "")};`, "");
        break;
      case Kind.Typedef:
        // A compiler built-in: redefining it is an error, and every compiler has it.
        if (t.name === "__builtin_va_list") break;
        this.need(t.type, false, 0);
        this.budget = { steps: 0 };
        this.out.push(`typedef ${this.declarator(t.type, this.name(id), "")};`, "");
        break;
      default:
        break;
    }
  }

  /** `struct foo;` before a use that needs no definition (once per tag). */
  private declare(id: TypeId): void {
    const t = this.type(id);
    let kw: string;
    if (t.kind === Kind.Fwd) kw = t.union ? "union" : "struct";
    else if (t.kind === Kind.Struct) kw = "struct";
    else if (t.kind === Kind.Union) kw = "union";
    else return;
    const tag = `${kw} ${this.name(id)}`;
    if (this.tagsOut.has(tag)) return;
    this.tagsOut.add(tag);
    this.out.push(`${tag};`, "");
  }

  /**
   * Makes sure everything `id` mentions exists before it is written: a definition when `complete`
   * (used by value), a declaration otherwise.
   */
  private need(id: TypeId, complete: boolean, depth: number): void {
    if (depth > MAX_DEPTH) throw typeError(id, `types nested deeper than ${MAX_DEPTH} levels (a cycle?)`, place);
    const t = this.type(id);
    switch (t.kind) {
      case Kind.Ptr:
        return this.need(t.type, false, depth + 1);
      case Kind.Array:
        return this.need(t.type, true, depth + 1);
      case Kind.Const:
      case Kind.Volatile:
      case Kind.Restrict:
      case Kind.TypeTag:
        return this.need(t.type, complete, depth + 1);
      case Kind.Typedef:
        this.define(id);
        if (complete) this.need(t.type, true, depth + 1);
        return;
      case Kind.Struct:
      case Kind.Union:
        if (t.name === "") this.once(id, () => { for (const m of t.members) this.need(m.type, true, depth + 1); });
        else if (complete) this.define(id);
        else this.declare(id);
        return;
      case Kind.Enum:
      case Kind.Enum64:
        if (t.name !== "") this.define(id);
        return;
      case Kind.Fwd:
        // A FWD used by value is not valid C; declare it and let the compiler say so.
        this.declare(id);
        return;
      case Kind.FuncProto:
        this.once(id, () => {
          this.need(t.returnType, false, depth + 1);
          for (const p of t.params) if (p.type !== 0) this.need(p.type, false, depth + 1);
        });
        return;
      default:
        return;
    }
  }

  /**
   * Runs `visit` for an anonymous composite or a prototype once: what it needs does not change, and
   * on a corrupted graph revisiting could take exponential time. Meeting it again inside itself
   * is a cycle C cannot express.
   */
  private once(id: TypeId, visit: () => void): void {
    const st = this.state[id];
    if (st === State.Done) return;
    if (st === State.InProgress) throw typeError(id, "contains itself", place);
    this.state[id] = State.InProgress;
    visit();
    this.state[id] = State.Done;
  }

  // ---- printing ----

  /** A declarator in C-header style: duplicate names renamed, anonymous types written out inline. */
  private declarator(id: TypeId, inner: string, indent: string): string {
    const style: DeclaratorStyle = {
      name: (t) => this.name(t.id),
      anonymous: (t) => this.nested(t.id, () => this.anonymous(t, indent)),
      zeroLength: "[0]",
      strict: true,
      budget: this.budget,
      place,
    };
    return cDeclaration(this.btf, id, inner, style);
  }

  /** An anonymous struct/union/enum where it is used: its body, or for a shared enum its integer type. */
  private anonymous(t: Anonymous, indent: string): string {
    if (t.kind === Kind.Struct || t.kind === Kind.Union) return this.composite(t, indent);
    return this.referenced[t.id] === 1 ? this.enumeration(t, indent) : integerType(t.size, t.signed);
  }

  private enumeration(t: Enumeration, indent: string): string {
    const head = t.name === "" ? "enum" : `enum ${this.name(t.id)}`;
    if (t.values.length === 0) return head;
    const names = this.enumerators.get(t.id)!;
    const suffix = t.kind === Kind.Enum64 ? (t.signed ? "LL" : "ULL") : "";
    const lines = t.values.map((v, i) => `${indent}\t${names[i]} = ${v.value}${suffix},`);
    // C sizes an enum by its values (int, or 8 bytes past 32 bits); say the size when BTF differs.
    const natural = t.values.some((v) => v.value > 0xffffffffn || v.value < -0x80000000n) ? 8 : 4;
    const mode = t.size === natural ? "" : ({ 1: " __attribute__((mode(byte)))", 2: " __attribute__((mode(HI)))", 4: " __attribute__((mode(SI)))", 8: " __attribute__((mode(DI)))" } as Record<number, string>)[t.size] ?? "";
    return `${head} {\n${lines.join("\n")}\n${indent}}${mode}`;
  }

  /** A struct/union body with its members laid out at their BTF offsets. */
  private composite(t: Composite, indent: string): string {
    const kw = t.kind === Kind.Union ? "union" : "struct";
    const head = t.name === "" ? kw : `${kw} ${this.name(t.id)}`;
    const inner = indent + "\t";
    let packed = isPacked(this.btf, t.id, place);
    let lines = this.members(t, inner, packed);
    if (lines === undefined) {
      packed = true;
      lines = this.members(t, inner, true)!;
    }
    const body = lines.length ? `{\n${lines.join("\n")}\n${indent}}` : "{}";
    return `${head} ${body}${packed ? " __attribute__((packed))" : ""}`;
  }

  /** alignof (memoised per graph for composites). */
  private align(id: TypeId): number {
    return alignof(this.btf, id, place);
  }

  /**
   * Member lines, with unnamed bit-fields where C would otherwise place a member before its BTF
   * offset. Undefined when C cannot reach an offset without `packed` (a member lies before where
   * natural layout puts it).
   */
  private members(t: Composite, indent: string, packed: boolean): string[] | undefined {
    const lines: string[] = [];
    let cur = 0; // bits
    const union = t.kind === Kind.Union;
    for (const m of t.members) {
      const decl = this.declarator(m.type, m.name, indent);
      if (union) {
        lines.push(`${indent}${decl}${m.bitSize ? `: ${m.bitSize}` : ""};`);
        cur = Math.max(cur, m.bitSize || this.memberBits(m.type));
        continue;
      }
      const target = m.bitOffset;
      let natural: number;
      let size: number;
      if (m.bitSize > 0) {
        const unit = this.memberBits(m.type);
        natural = packed || Math.floor(cur / unit) === Math.floor((cur + m.bitSize - 1) / unit) ? cur : roundUp(cur, unit);
        size = m.bitSize;
      } else {
        natural = packed ? cur : roundUp(cur, this.align(m.type) * 8);
        size = this.memberBits(m.type);
      }
      if (natural > target) {
        if (!packed) return undefined;
        throw typeError(t.id, `'${t.name}': member '${m.name}' at bit ${target} overlaps the previous member (ends at bit ${cur})`, place);
      }
      if (natural < target) padding(lines, indent, cur, target, t);
      lines.push(`${indent}${decl}${m.bitSize ? `: ${m.bitSize}` : ""};`);
      cur = target + size;
    }
    const end = t.size * 8;
    const align = packed ? 1 : this.align(t.id);
    if (roundUp(cur, align * 8) > end) {
      if (!packed) return undefined;
      throw typeError(t.id, `'${t.name}': members end at bit ${cur}, past its size ${t.size}`, place);
    }
    if (roundUp(cur, align * 8) < end) {
      if (!union) padding(lines, indent, cur, end, t);
      // Every union member starts at 0: one unnamed bit-field, or an anonymous struct of them, sets the size.
      else if (end <= 64) lines.push(`${indent}${end <= 8 ? "char" : end <= 16 ? "short" : end <= 32 ? "int" : "long"}: ${end};`);
      else {
        lines.push(`${indent}struct {`);
        padding(lines, indent + "\t", 0, end, t);
        lines.push(`${indent}};`);
      }
    }
    return lines;
  }

  /** sizeof in bits. */
  private memberBits(id: TypeId): number {
    return sizeof(this.btf, id, place) * 8;
  }
}

/** The C integer type of a size and signedness (what an anonymous enum shared by several users becomes). */
function integerType(size: number, signed: boolean): string {
  const base = size === 1 ? "char" : size === 2 ? "short" : size === 8 ? "long long" : "int";
  return `${signed ? "signed" : "unsigned"} ${base}`;
}

function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

/** Padding lines allowed per gap: 64 KiB of `long: 64;`, far past any real struct's hole. */
const MAX_PADDING_LINES = 8192;

/** Unnamed bit-fields covering bits [from, to): each aligned to its own type, so C puts it exactly there. */
function padding(lines: string[], indent: string, from: number, to: number, t: Composite): void {
  if (to - from > MAX_PADDING_LINES * 64)
    throw typeError(t.id, `'${t.name}': a gap of ${to - from} bits is too large to pad (corrupted offsets?)`, place);
  while (from < to) {
    let bits: number;
    let type: string;
    if (from % 8 !== 0 || to - from < 8) {
      bits = Math.min(8 - (from % 8), to - from);
      type = "char";
    } else if (from % 64 === 0 && to - from >= 64) [bits, type] = [64, "long"];
    else if (from % 32 === 0 && to - from >= 32) [bits, type] = [32, "int"];
    else if (from % 16 === 0 && to - from >= 16) [bits, type] = [16, "short"];
    else [bits, type] = [8, "char"];
    lines.push(`${indent}${type}: ${bits};`);
    from += bits;
  }
}
