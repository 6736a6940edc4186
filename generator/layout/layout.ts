// BTF type → TS layout: what every struct, union, enum and value looks like in TypeScript, with the
// byte offsets the kernel uses. Offsets and sizes always come from BTF (never recomputed), so packed
// and oddly aligned structs come out exactly as the compiler laid them out; alignment is not in BTF
// and is inferred the way pahole does (natural alignment, raised where offsets or tail padding prove
// an `aligned` attribute, dropped to 1 where offsets prove `packed`).
//
// The mapping rules: ints ≤ 32 bits → number; 64/128-bit ints, enum64 and
// pointers → bigint; bool → boolean; float/double → number; `char[N]` → NUL-trimmed string; numeric
// arrays → typed arrays; multi-dimensional arrays → arrays of those; structs/unions → their own types
// (anonymous ones named from their parent path); C11 anonymous members are flattened into the parent as
// C does, with union members grouped so an encoder can pick one; bitfields carry their storage unit.
//
// The input may be hostile: a type that contains itself by value (a struct, an array of itself, a
// typedef loop) is an error naming it, nesting is bounded by MAX_DEPTH (the recursion here is that
// deep at most), and no value may be larger than BTF can describe (MAX_SIZE), so offsets stay exact.

import { Kind, type Btf, type Member, type Type, type TypeId } from "@bpf2ts/runtime/object-file";
import { anonymousSpelling, cDeclaration, isPacked, kindName, MAX_DEPTH, MAX_SIZE, resolve, skipQualifiers, typeAt, type TypePlace } from "../btf/index.js";
import { Bpf2tsError } from "../errors.js";
import { memberName, NameScope, pascalCase, typeName } from "./names.js";

/** A type that cannot be laid out in TS; `typeId` and `member` (the member path) say where. */
export class LayoutError extends Bpf2tsError {
  override name = "LayoutError";
  constructor(typeId: TypeId, memberPath: string, detail: string, options?: { cause?: unknown }) {
    super(`layout of BTF type id ${typeId}${memberPath ? ` (member ${memberPath})` : ""}: ${detail}`, { typeId, ...(memberPath ? { member: memberPath } : {}), ...options });
  }
}

export interface IntLayout {
  readonly kind: "int";
  readonly size: 1 | 2 | 4 | 8 | 16;
  readonly signed: boolean;
}
export interface BoolLayout {
  readonly kind: "bool";
}
export interface FloatLayout {
  readonly kind: "float";
  readonly size: 4 | 8;
}
export interface PointerLayout {
  readonly kind: "pointer";
}
export interface EnumRef {
  readonly kind: "enum";
  readonly ref: EnumLayout;
}
/** `char[N]`: a NUL-trimmed string over N bytes. */
export interface StringLayout {
  readonly kind: "string";
  readonly length: number;
}
export interface ArrayLayout {
  readonly kind: "array";
  readonly elem: ValueLayout;
  readonly length: number;
}
export interface CompositeRef {
  readonly kind: "composite";
  readonly ref: CompositeLayout;
}
/** Bytes with no better TS type (`_Float16`, `long double`): a Uint8Array copy. */
export interface BytesLayout {
  readonly kind: "bytes";
  readonly size: number;
}

export type ScalarLayout = IntLayout | BoolLayout | FloatLayout | PointerLayout | EnumRef;
export type ValueLayout = ScalarLayout | StringLayout | ArrayLayout | CompositeRef | BytesLayout;

/** A named member at a byte offset from the start of the outermost composite being laid out. */
export interface ValueField {
  readonly node: "value";
  readonly name: string;
  readonly cName: string;
  /** The member's C declaration, e.g. `char comm[16]`. */
  readonly cDecl: string;
  readonly offset: number;
  readonly size: number;
  readonly type: ValueLayout;
  /** A flexible array member (`u8 data[]` at the end): its elements are what the buffer holds past `offset`. */
  readonly flexible?: boolean;
}

export interface BitfieldLayout {
  readonly node: "bitfield";
  readonly name: string;
  readonly cName: string;
  readonly cDecl: string;
  /** Byte offset and size of the storage unit read to reach the bits (always inside the composite). */
  readonly offset: number;
  readonly size: number;
  /** Bit offset inside the unit, in memory order (BTF's convention for both byte orders). */
  readonly bitOffset: number;
  readonly bits: number;
  readonly signed: boolean;
  /** What the bits mean: an integer (number when ≤ 32 bits, else bigint), a bool or an enum. */
  readonly type: IntLayout | BoolLayout | EnumRef;
}

export interface PaddingLayout {
  readonly node: "padding";
  readonly offset: number;
  readonly size: number;
  readonly tail: boolean;
}

/**
 * Overlapping alternatives (a union's members, or an anonymous union flattened into a struct). Every
 * alternative decodes; an encoder writes the present ones last-to-first so the first present wins.
 */
export interface UnionGroup {
  readonly node: "union";
  readonly offset: number;
  readonly size: number;
  readonly alternatives: readonly (readonly FieldNode[])[];
}

export type FieldNode = ValueField | BitfieldLayout | PaddingLayout | UnionGroup;

export interface CompositeLayout {
  readonly kind: "struct" | "union";
  readonly typeId: TypeId;
  /** The C name, or "" for anonymous types. */
  readonly cName: string;
  /** The TS type name (`ExecEvent`, `ExecEventArgs` for an anonymous member type). */
  readonly name: string;
  /** `struct event`, `union { … }` (for anonymous types: the path it was named from). */
  readonly cDecl: string;
  /** What C calls it: the tag, a typedef's name, or the member path of an anonymous type (`event.args`). */
  readonly label: string;
  readonly size: number;
  readonly align: number;
  /** Fields in offset order; a union's body is a single UnionGroup. */
  readonly fields: readonly FieldNode[];
}

export interface EnumLayout {
  readonly typeId: TypeId;
  readonly cName: string;
  readonly name: string;
  readonly cDecl: string;
  readonly size: number;
  readonly signed: boolean;
  /** ENUM64: values are bigints in TS. */
  readonly wide: boolean;
  readonly values: readonly { readonly name: string; readonly value: bigint }[];
}

/**
 * A typedef kept by name: `type <name> = <target>` for typedefs of structs, unions and enums (then
 * `target` is the generated type's name), and for typedefs of plain values asked for by name
 * (`--type pid_t`; then `value` is set and `target` is empty).
 */
export interface TypedefAlias {
  readonly typeId: TypeId;
  readonly cName: string;
  readonly name: string;
  readonly target: string;
  readonly value?: ValueLayout;
  /** `typedef __u32 pid_type`. */
  readonly cDecl: string;
}

// ————————————————————————————————————————————————————————— sizes and alignment

export function sizeOf(t: ValueLayout): number {
  switch (t.kind) {
    case "int":
      return t.size;
    case "bool":
      return 1;
    case "float":
      return t.size;
    case "pointer":
      return 8;
    case "enum":
      return t.ref.size;
    case "string":
      return t.length;
    case "array":
      return sizeOf(t.elem) * t.length;
    case "composite":
      return t.ref.size;
    case "bytes":
      return t.size;
  }
}

export function alignOf(t: ValueLayout): number {
  switch (t.kind) {
    case "int":
    case "float":
    case "enum":
      return sizeOf(t);
    case "bool":
    case "string":
      return 1;
    case "pointer":
      return 8;
    case "array":
      return alignOf(t.elem);
    case "composite":
      return t.ref.align;
    case "bytes":
      return Math.min(16, largestPow2Dividing(t.size));
  }
}

function largestPow2Dividing(n: number): number {
  if (n <= 0) return 1;
  let p = 1;
  while (n % (p * 2) === 0 && p < 4096) p *= 2;
  return p;
}

const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Smallest power of two ≥ `from` that makes `roundUp(end, p) === target`, or undefined. */
function alignmentExplaining(end: number, target: number, from: number): number | undefined {
  for (let p = Math.max(1, from); p <= 4096; p *= 2) {
    if (roundUp(end, p) === target) return p;
    if (roundUp(end, p) > target) return undefined;
  }
  return undefined;
}

// ————————————————————————————————————————————————————————— the engine

interface Visit {
  /** TS name of the nearest named composite plus member names: how anonymous types get names. */
  readonly path: string;
  /** Member path for error messages (`event.args.pid`). */
  readonly cPath: string;
  /** How many values deep the walk is (bounded by MAX_DEPTH). */
  readonly depth: number;
}

/**
 * Lays out types on demand and remembers every composite, enum and typedef alias it named, so the
 * emitter can print each once. One engine per generated module (names are unique within it).
 */
export class LayoutEngine {
  private readonly composites = new Map<TypeId, CompositeLayout>();
  /** The types being laid out, outermost first: meeting one again is a by-value cycle. */
  private readonly inProgress = new Set<TypeId>();
  private readonly enums = new Map<TypeId, EnumLayout>();
  private readonly aliases = new Map<TypeId, TypedefAlias>();
  private readonly typeNames = new NameScope("generated type names");

  constructor(
    readonly btf: Btf,
    readonly stem: string,
  ) {}

  /** Every composite laid out so far, sorted by TS name. */
  allComposites(): CompositeLayout[] {
    return [...this.composites.values()].sort((a, b) => cmp(a.name, b.name));
  }
  allEnums(): EnumLayout[] {
    return [...this.enums.values()].sort((a, b) => cmp(a.name, b.name));
  }
  allAliases(): TypedefAlias[] {
    return [...this.aliases.values()].sort((a, b) => cmp(a.name, b.name));
  }

  /** Where a BTF question is asked from, for its errors. */
  private place(cPath: string): TypePlace {
    return { what: cPath ? `layout of ${cPath}` : "layout" };
  }

  /**
   * Lays out the value of type `id`. `contextName` names an anonymous composite reached here (a
   * variable `struct { … } cfg` → `ExecCfg`); named types ignore it.
   */
  layoutRoot(id: TypeId, contextName: string): ValueLayout {
    return this.value(id, { path: typeName(this.stem, contextName), cPath: contextName, depth: 0 });
  }

  /** Lays out a named struct/union/enum (for `--type` and global types); undefined for other kinds. */
  layoutNamed(id: TypeId): CompositeLayout | EnumLayout | undefined {
    const t = typeAt(this.btf, id, this.place(""));
    if (t.kind === Kind.Struct || t.kind === Kind.Union) return this.composite(t, { path: typeName(this.stem, t.name), cPath: t.name, depth: 0 });
    if (t.kind === Kind.Enum || t.kind === Kind.Enum64) return this.enumLayout(t, { path: typeName(this.stem, t.name || `enum_${t.id}`), cPath: t.name, depth: 0 });
    if (t.kind === Kind.Typedef) {
      const v = this.value(id, { path: typeName(this.stem, t.name), cPath: t.name, depth: 0 });
      if (v.kind === "composite" || v.kind === "enum") return v.ref;
      const name = typeName(this.stem, t.name);
      if (!this.aliases.has(t.id)) {
        this.typeNames.claim(name, `typedef ${t.name}`);
        this.aliases.set(t.id, { typeId: t.id, cName: t.name, name, target: "", value: v, cDecl: `typedef ${this.cDecl(t.type, t.name)}` });
      }
    }
    return undefined;
  }

  private value(id: TypeId, at: Visit): ValueLayout {
    const t = skipQualifiers(this.btf, id, this.place(at.cPath));
    id = t.id;
    if (at.depth > MAX_DEPTH) throw new LayoutError(id, at.cPath, `types nested deeper than ${MAX_DEPTH} levels`);
    // Composites are cached once laid out, so only one still in progress can be met again: a cycle.
    if (this.inProgress.has(id)) throw new LayoutError(id, at.cPath, `${kindName(t.kind)} contains itself by value`);
    this.inProgress.add(id);
    try {
      return this.valueOf(t, at);
    } finally {
      this.inProgress.delete(id);
    }
  }

  private valueOf(t: Type, at: Visit): ValueLayout {
    const id = t.id;
    switch (t.kind) {
      case Kind.Int:
        return intLayout(t.size, t.signed, t.bool, id, at.cPath);
      case Kind.Float:
        return t.size === 4 || t.size === 8 ? { kind: "float", size: t.size } : { kind: "bytes", size: t.size };
      case Kind.Ptr:
        return { kind: "pointer" };
      case Kind.Enum:
      case Kind.Enum64:
        return { kind: "enum", ref: this.enumLayout(t, at) };
      case Kind.Struct:
      case Kind.Union:
        return { kind: "composite", ref: this.composite(t, at) };
      case Kind.Typedef: {
        // A typedef of an anonymous composite names it; a typedef of a named one becomes an alias.
        const target = skipQualifiers(this.btf, t.type, this.place(at.cPath));
        const anonymous = (target.kind === Kind.Struct || target.kind === Kind.Union || target.kind === Kind.Enum || target.kind === Kind.Enum64) && target.name === "";
        const inner = this.value(t.type, anonymous ? { path: typeName(this.stem, t.name), cPath: t.name, depth: at.depth + 1 } : { ...at, depth: at.depth + 1 });
        if ((inner.kind === "composite" || inner.kind === "enum") && !anonymous) this.alias(t, inner.ref.name);
        return inner;
      }
      case Kind.Array:
        return this.array(t.type, t.nelems, at, id);
      case Kind.Void:
        throw new LayoutError(id, at.cPath, "a value of type void has no layout");
      case Kind.Fwd:
        throw new LayoutError(id, at.cPath, `${t.union ? "union" : "struct"} ${t.name} is only forward-declared; its size is unknown`);
      default:
        throw new LayoutError(id, at.cPath, `BTF kind ${kindName(t.kind)} cannot be the type of a value`);
    }
  }

  private array(elemId: TypeId, nelems: number, at: Visit, arrayId: TypeId): ValueLayout {
    const e = skipQualifiers(this.btf, elemId, this.place(at.cPath));
    // `char[N]`, `signed char[N]`, `unsigned char[N]` spelled as such are text; through a typedef
    // (`__u8 addr[4]`, `uint8_t`) they are bytes — that is how C programmers tell the two apart.
    if (e.kind === Kind.Int && e.size === 1 && !e.bool && /^(?:(?:un)?signed )?char$/.test(e.name)) return { kind: "string", length: nelems };
    const elem = this.value(elemId, { ...at, depth: at.depth + 1 });
    const elemSize = sizeOf(elem);
    if (elemSize === 0 && nelems > 0) throw new LayoutError(arrayId, at.cPath, "array of zero-sized elements");
    if (elemSize * nelems > MAX_SIZE) throw new LayoutError(arrayId, at.cPath, `array of ${nelems} × ${elemSize} bytes is larger than BTF can describe (${MAX_SIZE} bytes)`);
    return { kind: "array", elem, length: nelems };
  }

  private alias(t: Type & { kind: Kind.Typedef }, target: string): void {
    const name = typeName(this.stem, t.name);
    if (name === target || this.aliases.has(t.id)) return;
    this.typeNames.claim(name, `typedef ${t.name}`);
    this.aliases.set(t.id, { typeId: t.id, cName: t.name, name, target, cDecl: `typedef ${this.cDecl(t.type, t.name)}` });
  }

  private enumLayout(t: Type & { kind: Kind.Enum | Kind.Enum64 }, at: Visit): EnumLayout {
    const known = this.enums.get(t.id);
    if (known) return known;
    const cName = t.name;
    // Anonymous enums (`enum { A, B } state`) are named from where they are first reached, like
    // anonymous structs (`ExecEventState`).
    const name = cName ? typeName(this.stem, cName) : at.path;
    this.typeNames.claim(name, cName ? `enum ${cName}` : `enum #${t.id}`);
    const size = t.size;
    if (![1, 2, 4, 8].includes(size)) throw new LayoutError(t.id, cName, `enum of ${size} bytes is not supported`);
    const layout: EnumLayout = {
      typeId: t.id,
      cName,
      name,
      cDecl: cName ? `enum ${cName}` : anonymousSpelling(t),
      size,
      signed: t.signed,
      wide: t.kind === Kind.Enum64 || size === 8,
      values: t.values.map((v) => ({ name: v.name, value: v.value })),
    };
    this.enums.set(t.id, layout);
    return layout;
  }

  private composite(t: Type & { kind: Kind.Struct | Kind.Union }, at: Visit): CompositeLayout {
    const known = this.composites.get(t.id);
    if (known) return known;
    if (at.depth > MAX_DEPTH) throw new LayoutError(t.id, at.cPath, `types nested deeper than ${MAX_DEPTH} levels`);
    const name = t.name ? typeName(this.stem, t.name) : at.path;
    const keyword = t.kind === Kind.Struct ? "struct" : "union";
    this.typeNames.claim(name, t.name ? `${keyword} ${t.name}` : `anonymous ${keyword} at ${at.cPath}`);
    const scope = new NameScope(`members of ${keyword} ${t.name || at.cPath} (BTF type id ${t.id})`, "property", {}, { typeId: t.id });
    const inner: Visit = { path: name, cPath: t.name || at.cPath, depth: at.depth };
    const groups = this.members(t, 0, inner, scope);
    const body = groups.flat();
    const fields: FieldNode[] = t.kind === Kind.Union ? [{ node: "union", offset: 0, size: t.size, alternatives: groups }] : body;
    const align = this.alignment(t, body);
    const layout: CompositeLayout = {
      kind: keyword,
      typeId: t.id,
      cName: t.name,
      name,
      cDecl: t.name ? `${keyword} ${t.name}` : `${anonymousSpelling(t)} (${at.cPath})`,
      label: t.name || at.cPath,
      size: t.size,
      align,
      fields: t.kind === Kind.Struct ? withPadding(fields, t.size) : fields,
    };
    this.composites.set(t.id, layout);
    return layout;
  }

  /**
   * The members of `t` placed at `base` bytes, one node list per C member in declaration order.
   * Anonymous members are flattened as in C: an anonymous struct's fields join its member's list, an
   * anonymous union becomes a group.
   */
  private members(t: Type & { kind: Kind.Struct | Kind.Union }, base: number, at: Visit, scope: NameScope): FieldNode[][] {
    return t.members.map((m, index) => {
      const cPath = `${at.cPath}.${m.name || `<anon#${index}>`}`;
      if (m.bitOffset < 0 || m.bitOffset > t.size * 8) throw new LayoutError(t.id, cPath, `member bit offset ${m.bitOffset} lies outside the ${t.size}-byte ${kindName(t.kind)}`);
      if (m.name === "") return this.anonymousMember(t, m, base, at, scope, cPath);
      const bitfield = this.bitfieldOf(m, cPath);
      if (bitfield) return [this.bitfield(t, m, base, bitfield, at, scope, cPath)];
      if (m.bitOffset % 8 !== 0) throw new LayoutError(t.id, cPath, `member at bit offset ${m.bitOffset} is not byte-aligned and not a bitfield`);
      const offset = base + m.bitOffset / 8;
      const memberAt: Visit = { path: at.path + pascalCase(m.name), cPath, depth: at.depth + 1 };
      const type = this.value(m.type, memberAt);
      const size = sizeOf(type);
      const isLast = index === t.members.length - 1;
      const flexible = t.kind === Kind.Struct && isLast && (type.kind === "array" || type.kind === "string") && type.length === 0;
      if (!flexible && m.bitOffset / 8 + size > t.size) throw new LayoutError(t.id, cPath, `member of ${size} bytes at offset ${m.bitOffset / 8} overruns the ${t.size}-byte ${kindName(t.kind)}`);
      const field: ValueField = {
        node: "value",
        name: scope.claimNew(memberName(m.name), m.name),
        cName: m.name,
        cDecl: this.cDecl(m.type, m.name),
        offset,
        size,
        type,
        ...(flexible ? { flexible: true } : {}),
      };
      return [field];
    });
  }

  private anonymousMember(parent: Type, m: Member, base: number, at: Visit, scope: NameScope, cPath: string): FieldNode[] {
    const t = skipQualifiers(this.btf, m.type, this.place(cPath));
    if (at.depth > MAX_DEPTH) throw new LayoutError(t.id, cPath, `types nested deeper than ${MAX_DEPTH} levels`);
    if (this.inProgress.has(t.id)) throw new LayoutError(t.id, cPath, `${kindName(t.kind)} contains itself by value`);
    if (t.kind !== Kind.Struct && t.kind !== Kind.Union) throw new LayoutError(parent.id, cPath, `unnamed member of kind ${kindName(t.kind)} (only anonymous structs and unions may be unnamed)`);
    if (m.bitOffset % 8 !== 0) throw new LayoutError(parent.id, cPath, "anonymous member is not byte-aligned");
    const offset = base + m.bitOffset / 8;
    this.inProgress.add(t.id);
    let groups: FieldNode[][];
    try {
      groups = this.members(t, offset, { ...at, depth: at.depth + 1 }, scope);
    } finally {
      this.inProgress.delete(t.id);
    }
    if (t.kind === Kind.Struct) return groups.flat();
    return [{ node: "union", offset, size: t.size, alternatives: groups }];
  }

  /** The bitfield width of `m`, counting legacy INT-encoded bitfields; 0 for a plain member. */
  private bitfieldOf(m: Member, cPath: string): { bits: number; extraOffset: number } | undefined {
    if (m.bitSize > 0) return { bits: m.bitSize, extraOffset: 0 };
    const t = resolve(this.btf, m.type, this.place(cPath));
    if (t.kind === Kind.Int && (t.bits !== t.size * 8 || t.bitOffset !== 0)) return { bits: t.bits, extraOffset: t.bitOffset };
    return undefined;
  }

  private bitfield(parent: Type & { size: number }, m: Member, base: number, bf: { bits: number; extraOffset: number }, at: Visit, scope: NameScope, cPath: string): BitfieldLayout {
    const type = this.value(m.type, { path: at.path + pascalCase(m.name), cPath, depth: at.depth + 1 });
    if (type.kind !== "int" && type.kind !== "bool" && type.kind !== "enum") throw new LayoutError(parent.id, cPath, `bitfield of a ${type.kind} type is not supported`);
    const signed = type.kind === "int" ? type.signed : type.kind === "enum" ? type.ref.signed : false;
    const bitPos = m.bitOffset + bf.extraOffset;
    if (bf.bits > 128 || bitPos + bf.bits > parent.size * 8) throw new LayoutError(parent.id, cPath, `bitfield of ${bf.bits} bits at bit ${bitPos} overruns the ${parent.size}-byte composite`);
    // The smallest power-of-two unit covering the bits, moved back if it would pass the composite's end
    // (packed structs); if even that fails the exact byte span is used (the codec handles any size).
    const first = Math.floor(bitPos / 8);
    const last = Math.ceil((bitPos + bf.bits) / 8);
    let size = [1, 2, 4, 8, 16].find((s) => s >= last - first) ?? last - first;
    let start = first;
    if (start + size > parent.size) start = Math.max(0, last - size);
    if (start + size > parent.size) {
      start = first;
      size = last - first;
    }
    return {
      node: "bitfield",
      name: scope.claimNew(memberName(m.name), m.name),
      cName: m.name,
      cDecl: `${this.cDecl(m.type, m.name)} : ${bf.bits}`,
      offset: base + start,
      size,
      bitOffset: bitPos - start * 8,
      bits: bf.bits,
      signed,
      type,
    };
  }

  /**
   * BTF has no alignment: infer it like pahole. Natural alignment is the largest member alignment,
   * raised where a member sits past its natural place (a member `aligned` attribute) or tail padding
   * needs more (a struct `aligned` attribute), and 1 for a packed struct (isPacked decides).
   */
  private alignment(t: Type & { kind: Kind.Struct | Kind.Union; size: number }, body: readonly FieldNode[]): number {
    let natural = 1;
    let end = 0;
    const visit = (nodes: readonly FieldNode[]): void => {
      let prevEnd = nodes[0]?.offset ?? 0;
      for (const f of nodes) {
        if (f.node === "padding") continue;
        if (f.node === "union") {
          f.alternatives.forEach(visit);
          end = Math.max(end, f.offset + f.size);
          prevEnd = Math.max(prevEnd, f.offset + f.size);
          continue;
        }
        end = Math.max(end, f.offset + f.size);
        if (f.node === "bitfield") {
          natural = Math.max(natural, f.type.kind === "enum" ? f.type.ref.size : f.type.kind === "int" ? f.type.size : 1);
          prevEnd = Math.max(prevEnd, Math.ceil((f.offset * 8 + f.bitOffset + f.bits) / 8));
          continue;
        }
        const a = alignOf(f.type);
        natural = Math.max(natural, a, f.offset > roundUp(prevEnd, a) ? (alignmentExplaining(prevEnd, f.offset, a) ?? a) : a);
        prevEnd = Math.max(prevEnd, f.offset + f.size);
      }
    };
    visit(body);
    if (isPacked(this.btf, t.id) || t.size % natural !== 0) return end === t.size ? 1 : largestPow2Dividing(t.size);
    return alignmentExplaining(end, t.size, natural) ?? natural;
  }

  /** The C declaration of `name` with type `id`, as a reader would write it (`const char *argv[4]`). */
  cDecl(id: TypeId, name: string): string {
    return cDeclaration(this.btf, id, name);
  }
}

function intLayout(size: number, signed: boolean, bool: boolean, id: TypeId, cPath: string): IntLayout | BoolLayout {
  if (bool) return { kind: "bool" };
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8 && size !== 16) throw new LayoutError(id, cPath, `integer of ${size} bytes is not supported`);
  return { kind: "int", size, signed };
}

/** Adds padding nodes for the gaps between fields and after the last one (structs only). */
function withPadding(fields: readonly FieldNode[], size: number): FieldNode[] {
  const out: FieldNode[] = [];
  let end = 0;
  for (const f of fields) {
    const start = f.offset;
    if (start > end) out.push({ node: "padding", offset: end, size: start - end, tail: false });
    out.push(f);
    end = Math.max(end, f.node === "value" && f.flexible ? f.offset : f.offset + f.size);
  }
  if (size > end) out.push({ node: "padding", offset: end, size: size - end, tail: true });
  return out;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
