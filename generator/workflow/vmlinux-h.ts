// vmlinux.h from BTF, like `bpftool btf dump file … format c`, in TypeScript.
//
// Every struct, union, enum and typedef is written in id order, each preceded on demand by what it
// needs: types used by value are defined first, types reached through a pointer only declared
// (`struct foo;`), so pointer cycles are fine. Anonymous structs, unions and enums are written
// inline where they are used. Layout is reproduced exactly: where C's natural layout would place a
// member before its BTF offset, unnamed bit-fields (`long: 64;`) fill the gap, and a struct whose
// members C could not place naturally is marked `__attribute__((packed))`. Names that BTF holds
// twice for different types (it happens in vmlinux) get a `___N` suffix, as bpftool does.
// Output depends only on the BTF: same input, same bytes.

import { BtfError, Kind, alignof, sizeof, type Btf, type Type, type TypeId, type Struct, type Union, type Enum, type Enum64 } from "../btf/index.js";

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

/** Declarator steps allowed per top-level definition (task_struct needs a few thousand). */
const MAX_STEPS = 1_000_000;

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
  private readonly packedCache = new Map<TypeId, boolean>();
  /** Declarator steps for the current top-level definition (see MAX_STEPS). */
  private steps = 0;
  /** Tags (`struct foo`) already declared or defined at file scope in the output. */
  private readonly tagsOut = new Set<string>();

  private readonly alignCache: Uint8Array;
  private readonly sizeCache: Float64Array;

  constructor(private readonly btf: Btf) {
    this.state = new Uint8Array(btf.types.length);
    this.referenced = new Uint8Array(btf.types.length);
    this.alignCache = new Uint8Array(btf.types.length);
    this.sizeCache = new Float64Array(btf.types.length).fill(-1);
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
    for (let depth = 0; depth < 32; depth++) {
      const t = this.type(id);
      if (t.kind !== Kind.Const && t.kind !== Kind.Volatile && t.kind !== Kind.Restrict && t.kind !== Kind.TypeTag) return id;
      id = t.type;
    }
    return id;
  }

  private type(id: TypeId): Type {
    const t = this.btf.types[id];
    if (!t) throw new BtfError(`vmlinux.h: type ${id} does not exist`, { typeId: id });
    return t;
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
      throw new BtfError(`vmlinux.h: type ${id} '${t.name}' contains itself`, { typeId: id });
    }
    this.state[id] = State.InProgress;
    this.steps = 0;
    switch (t.kind) {
      case Kind.Struct:
      case Kind.Union:
        for (const m of t.members) this.need(m.type, true, 0);
        this.steps = 0;
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
        this.steps = 0;
        this.out.push(`typedef ${this.declarator(t.type, this.name(id), "", 0)};`, "");
        break;
      default:
        break;
    }
    this.state[id] = State.Done;
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
    if (depth > 64) throw new BtfError(`vmlinux.h: type ${id}: nesting too deep (cycle?)`, { typeId: id });
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
    if (st === State.InProgress) throw new BtfError(`vmlinux.h: type ${id} contains itself`, { typeId: id });
    this.state[id] = State.InProgress;
    visit();
    this.state[id] = State.Done;
  }

  // ---- printing ----

  /** A declarator: the type of `id` declaring `inner` (a name, or "" for an abstract declarator). */
  private declarator(id: TypeId, inner: string, indent: string, depth: number): string {
    // Declarators nest without limit only on corrupted graphs: bound depth and total work.
    if (depth > 128 || ++this.steps > MAX_STEPS) throw new BtfError(`vmlinux.h: type ${id}: declarator too deep or too large (cycle?)`, { typeId: id });
    const t = this.type(id);
    const join = (base: string) => (inner === "" ? base : inner[0] === "[" ? base + inner : `${base} ${inner}`);
    switch (t.kind) {
      case Kind.Void:
        return join("void");
      case Kind.Int:
      case Kind.Float:
        return join(t.name);
      case Kind.Typedef:
        return join(this.name(id));
      case Kind.Struct:
      case Kind.Union:
        return join(t.name === "" ? this.composite(t, indent) : `${t.kind === Kind.Union ? "union" : "struct"} ${this.name(id)}`);
      case Kind.Enum:
      case Kind.Enum64:
        if (t.name !== "") return join(`enum ${this.name(id)}`);
        return join(this.referenced[id] === 1 ? this.enumeration(t, indent) : integerType(t.size, t.signed));
      case Kind.Fwd:
        return join(`${t.union ? "union" : "struct"} ${this.name(id)}`);
      case Kind.Ptr: {
        const target = this.type(this.skipQualifiers(t.type));
        const wrap = target.kind === Kind.Array || target.kind === Kind.FuncProto;
        return this.declarator(t.type, wrap ? `(*${inner})` : `*${inner}`, indent, depth + 1);
      }
      case Kind.Array:
        return this.declarator(t.type, `${inner}[${t.nelems}]`, indent, depth + 1);
      case Kind.FuncProto: {
        const params = t.params.map((p, i) =>
          p.type === 0 && i === t.params.length - 1 ? "..." : this.declarator(p.type, "", indent, depth + 1),
        );
        return this.declarator(t.returnType, `${inner}(${params.length ? params.join(", ") : "void"})`, indent, depth + 1);
      }
      case Kind.Const:
      case Kind.Volatile:
      case Kind.Restrict: {
        const q = t.kind === Kind.Const ? "const" : t.kind === Kind.Volatile ? "volatile" : "restrict";
        if (this.type(t.type).kind === Kind.Ptr) return this.declarator(t.type, inner ? `${q} ${inner}` : q, indent, depth + 1);
        // A qualified array qualifies its elements: `const` on both would be written twice.
        if (this.elementQualified(t.type, t.kind)) return this.declarator(t.type, inner, indent, depth + 1);
        return `${q} ${this.declarator(t.type, inner, indent, depth + 1)}`;
      }
      case Kind.TypeTag:
        return this.declarator(t.type, inner, indent, depth + 1);
      default:
        throw new BtfError(`vmlinux.h: type ${id}: a ${t.kind} cannot be used as a type`, { typeId: id });
    }
  }

  /** Whether `id`, past arrays and other qualifiers, already carries qualifier `kind`. */
  private elementQualified(id: TypeId, kind: Kind): boolean {
    for (let depth = 0; depth < 64; depth++) {
      const t = this.type(id);
      if (t.kind === kind) return true;
      if (t.kind !== Kind.Array && t.kind !== Kind.Const && t.kind !== Kind.Volatile && t.kind !== Kind.Restrict) return false;
      id = t.type;
    }
    return false;
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
    let packed = this.packed(t);
    let lines = this.members(t, inner, packed);
    if (lines === undefined) {
      packed = true;
      lines = this.members(t, inner, true)!;
    }
    const body = lines.length ? `{\n${lines.join("\n")}\n${indent}}` : "{}";
    return `${head} ${body}${packed ? " __attribute__((packed))" : ""}`;
  }

  private packed(t: Composite): boolean {
    let p = this.packedCache.get(t.id);
    if (p === undefined) this.packedCache.set(t.id, (p = this.needsPacking(t)));
    return p;
  }

  /** Like alignof's packed test: a member or the size is misaligned for the natural alignment. */
  private needsPacking(t: Composite): boolean {
    let max = 1;
    for (const m of t.members) {
      const a = this.align(m.type);
      if (a > max) max = a;
      if (m.bitSize === 0 && m.bitOffset % (8 * a) !== 0) return true;
    }
    return t.size % max !== 0;
  }

  /** alignof, cached per id (asked for every member, several times). */
  private align(id: TypeId): number {
    let a = this.alignCache[id]!;
    if (a === 0) this.alignCache[id] = a = alignof(this.btf, id);
    return a;
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
      const decl = this.declarator(m.type, m.name, indent, 0);
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
        throw new BtfError(`vmlinux.h: type ${t.id} '${t.name}': member '${m.name}' at bit ${target} overlaps the previous member (ends at bit ${cur})`, { typeId: t.id });
      }
      if (natural < target) padding(lines, indent, cur, target, t);
      lines.push(`${indent}${decl}${m.bitSize ? `: ${m.bitSize}` : ""};`);
      cur = target + size;
    }
    const end = t.size * 8;
    const align = packed ? 1 : this.align(t.id);
    if (roundUp(cur, align * 8) > end) {
      if (!packed) return undefined;
      throw new BtfError(`vmlinux.h: type ${t.id} '${t.name}': members end at bit ${cur}, past its size ${t.size}`, { typeId: t.id });
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

  /** sizeof in bits, cached per id. */
  private memberBits(id: TypeId): number {
    let bits = this.sizeCache[id]!;
    if (bits < 0) this.sizeCache[id] = bits = sizeof(this.btf, id) * 8;
    return bits;
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
    throw new BtfError(`vmlinux.h: type ${t.id} '${t.name}': a gap of ${to - from} bits is too large to pad (corrupted offsets?)`, { typeId: t.id });
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
