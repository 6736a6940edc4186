// Decodes the BTF type section into the type graph of types.ts.
//
// One pass over host-order words (see wire.ts). Each record is length-checked before it is read, so
// the loop is bounded by the section length whatever counts the file claims. References to other
// types are checked after the pass (a type may refer forward), through the largest id seen.
//
// The lists inside a record (struct members, enumerators, parameters, datasec entries) are checked
// in that pass (name offsets, type ids) but built only when first read: vmlinux holds ~170k of
// them, and allocating them all up front doubles the parse time in garbage collection alone. Once
// parsed, reading a list can no longer fail.

import { BtfError, type Where, kindOf, kindFlagOf, vlenOf, intEncoding, intOffset, intBits, BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL, label } from "./wire.js";
import type { StringTable } from "./strings.js";
import { Kind, kindNames, type Type, type Member, type EnumValue, type Param, type VarSecinfo, type TypeId, type Struct, type Enum, type FuncProto, type Datasec } from "./types.js";

/** Words following the 3-word btf_type header, per kind. */
function extraWords(kind: number, vlen: number): number {
  switch (kind) {
    case Kind.Int:
    case Kind.Var:
    case Kind.DeclTag:
      return 1;
    case Kind.Array:
      return 3;
    case Kind.Struct:
    case Kind.Union:
    case Kind.Datasec:
    case Kind.Enum64:
      return 3 * vlen;
    case Kind.Enum:
    case Kind.FuncProto:
      return 2 * vlen;
    case Kind.Ptr:
    case Kind.Fwd:
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
    case Kind.Func:
    case Kind.Float:
    case Kind.TypeTag:
      return 0;
    default:
      return -1;
  }
}

/**
 * Decodes every record of `words` into `out`, whose length on entry is the first id to assign
 * (1 for a standalone blob, the base's type count for split BTF).
 */
export function decodeTypes(words: Uint32Array, strings: StringTable, out: Type[], where: Where): void {
  const fail = (typeId: number, detail: string) =>
    new BtfError(`${label(where)}: type ${typeId}: ${detail}`, { file: where.file, section: where.section, typeId });
  const badName = (typeId: number, what: string, off: number) =>
    fail(typeId, `${what} offset 0x${off.toString(16)} is outside the string section (size 0x${strings.end.toString(16)}) or unterminated`);
  const str = (off: number, typeId: number, what: string): string => {
    if (off === 0) return "";
    const s = strings.get(off);
    if (s === undefined) throw badName(typeId, what, off);
    return s;
  };
  const ctx: Lists = { words, strings, types: out, legacyBitfields: false };

  let maxRef = 0;
  let maxRefFrom = 0;
  const n = words.length;
  let i = 0;
  let id = out.length;
  while (i < n) {
    if (n - i < 3) throw fail(id, `record header truncated (${(n - i) * 4} bytes left in type section)`);
    const nameOff = words[i]!;
    const info = words[i + 1]!;
    const sizeOrType = words[i + 2]!;
    i += 3;
    const kind = kindOf(info);
    const vlen = vlenOf(info);
    const kflag = kindFlagOf(info);
    const extra = extraWords(kind, vlen);
    if (extra < 0) throw fail(id, `unknown kind ${kind}`);
    if (n - i < extra)
      throw fail(id, `${kindNames[kind as Kind]} record truncated (needs ${extra * 4} bytes, ${(n - i) * 4} left)`);
    const name = str(nameOff, id, "name");
    // Check the list entries now: name offsets and referenced type ids (datasecs have no names).
    const stride = listStride(kind);
    if (stride !== 0) {
      const hasName = kind !== Kind.Datasec;
      const typeAt = kind === Kind.Datasec ? 0 : kind === Kind.Struct || kind === Kind.Union || kind === Kind.FuncProto ? 1 : -1;
      for (let m = 0, j = i; m < vlen; m++, j += stride) {
        if (hasName && !strings.valid(words[j]!)) throw badName(id, `${listItem(kind)} ${m} name`, words[j]!);
        if (typeAt >= 0) {
          const ref = words[j + typeAt]!;
          if (ref > maxRef) { maxRef = ref; maxRefFrom = id; }
        }
      }
    }
    let t: Type;
    switch (kind) {
      case Kind.Int: {
        const w = words[i]!;
        const enc = intEncoding(w);
        const bits = intBits(w);
        const bitOffset = intOffset(w);
        if (sizeOrType !== 1 && sizeOrType !== 2 && sizeOrType !== 4 && sizeOrType !== 8 && sizeOrType !== 16)
          throw fail(id, `INT size ${sizeOrType} is not 1, 2, 4, 8 or 16`);
        if (bits === 0 || bits + bitOffset > sizeOrType * 8)
          throw fail(id, `INT bits ${bits} at offset ${bitOffset} do not fit in ${sizeOrType} bytes`);
        if (bitOffset !== 0 || bits !== sizeOrType * 8) ctx.legacyBitfields = true;
        t = {
          kind: Kind.Int, id, name, size: sizeOrType,
          signed: (enc & BTF_INT_SIGNED) !== 0, char: (enc & BTF_INT_CHAR) !== 0, bool: (enc & BTF_INT_BOOL) !== 0,
          bitOffset, bits,
        };
        break;
      }
      case Kind.Ptr:
      case Kind.Typedef:
      case Kind.Volatile:
      case Kind.Const:
      case Kind.Restrict:
      case Kind.TypeTag:
        if (sizeOrType > maxRef) { maxRef = sizeOrType; maxRefFrom = id; }
        t = { kind, id, name, type: sizeOrType } as Type;
        break;
      case Kind.Array: {
        const type = words[i]!;
        const indexType = words[i + 1]!;
        const big = type > indexType ? type : indexType;
        if (big > maxRef) { maxRef = big; maxRefFrom = id; }
        t = { kind: Kind.Array, id, name, type, indexType, nelems: words[i + 2]! };
        break;
      }
      case Kind.Struct:
      case Kind.Union:
        t = new Composite(ctx, i, vlen, kflag, kind as Kind.Struct, id, name, sizeOrType); // or a union: same shape
        break;
      case Kind.Enum:
      case Kind.Enum64:
        t = new Enumeration(ctx, i, vlen, kflag, kind as Kind.Enum, id, name, sizeOrType); // or ENUM64: same shape
        break;
      case Kind.Fwd:
        t = { kind: Kind.Fwd, id, name, union: kflag === 1 };
        break;
      case Kind.Func:
        if (sizeOrType > maxRef) { maxRef = sizeOrType; maxRefFrom = id; }
        t = { kind: Kind.Func, id, name, type: sizeOrType, linkage: vlen };
        break;
      case Kind.FuncProto:
        if (sizeOrType > maxRef) { maxRef = sizeOrType; maxRefFrom = id; }
        t = new Prototype(ctx, i, vlen, id, name, sizeOrType);
        break;
      case Kind.Var:
        if (sizeOrType > maxRef) { maxRef = sizeOrType; maxRefFrom = id; }
        t = { kind: Kind.Var, id, name, type: sizeOrType, linkage: words[i]! };
        break;
      case Kind.Datasec:
        t = new Section(ctx, i, vlen, id, name, sizeOrType);
        break;
      case Kind.Float:
        t = { kind: Kind.Float, id, name, size: sizeOrType };
        break;
      case Kind.DeclTag:
        if (sizeOrType > maxRef) { maxRef = sizeOrType; maxRefFrom = id; }
        t = { kind: Kind.DeclTag, id, name, type: sizeOrType, componentIdx: words[i]! | 0 };
        break;
      default:
        throw fail(id, `unknown kind ${kind}`);
    }
    out.push(t);
    i += extra;
    id++;
  }

  if (maxRef >= out.length)
    throw fail(maxRefFrom, `refers to type ${maxRef}, but there are only ${out.length} types`);
}

/** Words per list entry of the kinds that carry a vlen-long list; 0 for the others (whose vlen is not a count). */
function listStride(kind: number): number {
  switch (kind) {
    case Kind.Struct:
    case Kind.Union:
    case Kind.Datasec:
    case Kind.Enum64:
      return 3;
    case Kind.Enum:
    case Kind.FuncProto:
      return 2;
    default:
      return 0;
  }
}

function listItem(kind: number): string {
  return kind === Kind.Struct || kind === Kind.Union ? "member" : kind === Kind.FuncProto ? "parameter" : "enumerator";
}

/** What the lazily built lists read from: the validated words and strings of one blob. */
interface Lists {
  readonly words: Uint32Array;
  readonly strings: StringTable;
  readonly types: readonly Type[];
  /** Some INT carries a bitfield width (old kind_flag = 0 encoding); see legacyBitfield. */
  legacyBitfields: boolean;
}

const nameAt = (ctx: Lists, off: number) => (off === 0 ? "" : ctx.strings.get(off) ?? "");

class Composite implements Struct {
  #ctx: Lists;
  #start: number;
  #vlen: number;
  #kflag: number;
  #members?: readonly Member[];
  constructor(ctx: Lists, start: number, vlen: number, kflag: number,
    readonly kind: Kind.Struct, readonly id: TypeId, readonly name: string, readonly size: number) {
    this.#ctx = ctx;
    this.#start = start;
    this.#vlen = vlen;
    this.#kflag = kflag;
  }
  get members(): readonly Member[] {
    if (this.#members) return this.#members;
    const ctx = this.#ctx;
    const w = ctx.words;
    const out: Member[] = [];
    for (let m = 0, j = this.#start; m < this.#vlen; m++, j += 3) {
      const type = w[j + 1]!;
      const off = w[j + 2]!;
      const name = nameAt(ctx, w[j]!);
      if (this.#kflag) out.push({ name, type, bitOffset: off & 0xffffff, bitSize: off >>> 24 });
      else if (ctx.legacyBitfields) out.push(legacyBitfield(ctx.types, name, type, off));
      else out.push({ name, type, bitOffset: off, bitSize: 0 });
    }
    return (this.#members = out);
  }
}

class Enumeration implements Enum {
  #ctx: Lists;
  #start: number;
  #vlen: number;
  #values?: readonly EnumValue[];
  readonly signed: boolean;
  constructor(ctx: Lists, start: number, vlen: number, kflag: number,
    readonly kind: Kind.Enum, readonly id: TypeId, readonly name: string, readonly size: number) {
    this.#ctx = ctx;
    this.#start = start;
    this.#vlen = vlen;
    this.signed = kflag === 1;
  }
  get values(): readonly EnumValue[] {
    if (this.#values) return this.#values;
    const ctx = this.#ctx;
    const w = ctx.words;
    const out: EnumValue[] = [];
    if ((this.kind as Kind) === Kind.Enum64)
      for (let m = 0, j = this.#start; m < this.#vlen; m++, j += 3) {
        const v = (BigInt(w[j + 2]!) << 32n) | BigInt(w[j + 1]!);
        out.push({ name: nameAt(ctx, w[j]!), value: this.signed ? BigInt.asIntN(64, v) : v });
      }
    else
      for (let m = 0, j = this.#start; m < this.#vlen; m++, j += 2)
        out.push({ name: nameAt(ctx, w[j]!), value: BigInt(this.signed ? w[j + 1]! | 0 : w[j + 1]!) });
    return (this.#values = out);
  }
}

class Prototype implements FuncProto {
  #ctx: Lists;
  #start: number;
  #vlen: number;
  #params?: readonly Param[];
  readonly kind = Kind.FuncProto;
  constructor(ctx: Lists, start: number, vlen: number, readonly id: TypeId, readonly name: string, readonly returnType: TypeId) {
    this.#ctx = ctx;
    this.#start = start;
    this.#vlen = vlen;
  }
  get params(): readonly Param[] {
    if (this.#params) return this.#params;
    const ctx = this.#ctx;
    const w = ctx.words;
    const out: Param[] = [];
    for (let m = 0, j = this.#start; m < this.#vlen; m++, j += 2) out.push({ name: nameAt(ctx, w[j]!), type: w[j + 1]! });
    return (this.#params = out);
  }
}

class Section implements Datasec {
  #ctx: Lists;
  #start: number;
  #vlen: number;
  #vars?: readonly VarSecinfo[];
  readonly kind = Kind.Datasec;
  constructor(ctx: Lists, start: number, vlen: number, readonly id: TypeId, readonly name: string, readonly size: number) {
    this.#ctx = ctx;
    this.#start = start;
    this.#vlen = vlen;
  }
  get vars(): readonly VarSecinfo[] {
    if (this.#vars) return this.#vars;
    const w = this.#ctx.words;
    const out: VarSecinfo[] = [];
    for (let m = 0, j = this.#start; m < this.#vlen; m++, j += 3) out.push({ type: w[j]!, offset: w[j + 1]!, size: w[j + 2]! });
    return (this.#vars = out);
  }
}

/**
 * Old encoders (kind_flag = 0) put a bitfield's width in the member's INT type (BTF_INT_BITS, with
 * BTF_INT_OFFSET added to the member offset). Move it to the member, so consumers see one encoding.
 */
function legacyBitfield(types: readonly Type[], name: string, type: TypeId, bitOffset: number): Member {
  const target = skipModifiers(types, type);
  if (target?.kind === Kind.Int && (target.bitOffset !== 0 || target.bits !== target.size * 8))
    return { name, type, bitOffset: bitOffset + target.bitOffset, bitSize: target.bits };
  return { name, type, bitOffset, bitSize: 0 };
}

function skipModifiers(types: readonly Type[], id: TypeId): Type | undefined {
  for (let depth = 0; depth < 32; depth++) {
    const t = types[id];
    if (!t) return undefined;
    if (t.kind !== Kind.Typedef && t.kind !== Kind.Const && t.kind !== Kind.Volatile && t.kind !== Kind.Restrict && t.kind !== Kind.TypeTag)
      return t;
    id = t.type;
  }
  return undefined;
}
