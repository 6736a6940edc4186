// Decodes the BTF type section into the type graph of types.ts.
//
// One pass over host-order words (see wire.ts). Each record is length-checked before it is read, so
// the loop is bounded by the section length whatever counts the file claims. References to other
// types are checked after the pass (a type may refer forward), through the largest id seen.
//
// Speed matters here (vmlinux: ~130k types, ~170k list entries, parsed by a fresh process): the
// loop makes no calls on the common path (bit fields and names are inlined), because it runs
// mostly before V8 has optimised it.
//
// The lists inside a record (struct members, enumerators, parameters, datasec entries) are checked
// in that pass (name offsets, type ids) but built on first read: building them all up front
// doubles the parse time of vmlinux, mostly in garbage collection. Once parsed, reading a list
// cannot fail. `members` and `params` are prototype getters, so `{ ...t }` does not copy them
// (read them explicitly); enum values and datasec vars are own getters and do spread.

import { BtfError, BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, type Where, label } from "./wire.js";
import type { StringTable } from "./strings.js";
import { resolve } from "./query.js";
import { Kind, kindNames, type Type, type Member, type EnumValue, type Param, type VarSecinfo, type TypeId } from "./types.js";

/** What the lazily built lists read from: the validated words and strings of one blob. */
interface Lists {
  readonly words: Uint32Array;
  readonly strings: StringTable;
  readonly types: readonly Type[];
  /** Word index of each list-bearing type's first list entry, by id - firstId. */
  readonly starts: Uint32Array;
  readonly firstId: number;
  /** The blob's file and section, for errors found while a list is built. */
  readonly where: Where;
  /** Some INT carries a bitfield width (old kind_flag = 0 encoding); see legacyBitfield. */
  legacyBitfields: boolean;
}

/**
 * Decodes every record of `words` into `out`, whose length on entry is the first id to assign
 * (1 for a standalone blob, the base's type count for split BTF).
 *
 * The loop handles the common kinds inline and leaves the rare ones (a few hundred in vmlinux) to
 * decodeRare: a small loop body is optimised by V8 in a fraction of the time, and kinds first met
 * late in the blob do not deoptimise it.
 */
export function decodeTypes(words: Uint32Array, strings: StringTable, out: Type[], where: Where): void {
  const firstId = out.length;
  const ctx: Lists = { words, strings, types: out, starts: new Uint32Array(Math.floor(words.length / 3) + 1), firstId, where, legacyBitfields: false };
  const L = lazyLists(ctx);
  const errors = new Errors(where, strings);
  const rare: RareResult = { used: 0, ref: 0 };
  const flat = strings.flat;
  const strEnd = strings.end;
  const allValid = strings.terminated;
  const starts = ctx.starts;

  let maxRef = 0;
  let maxRefFrom = 0;
  const n = words.length;
  let i = 0;
  let id = firstId;
  while (i < n) {
    if (n - i < 3) throw errors.headerTruncated(id, n - i);
    const nameOff = words[i]!;
    const info = words[i + 1]!;
    const sizeOrType = words[i + 2]!;
    i += 3;
    const kind = (info >>> 24) & 0x1f;
    let name: string;
    if (nameOff === 0) name = "";
    else if (flat !== undefined && nameOff < strEnd) name = flat.slice(nameOff, flat.indexOf("\0", nameOff));
    else name = errors.name(nameOff, id);
    let ref = sizeOrType; // the largest type id this record refers to
    let t: Type;
    if (kind === Kind.Func) {
      t = { kind: Kind.Func, id, name, type: sizeOrType, linkage: info & 0xffff };
    } else if (kind === Kind.Ptr || kind === Kind.Const || kind === Kind.Typedef || kind === Kind.Volatile || kind === Kind.Restrict || kind === Kind.TypeTag) {
      t = { kind, id, name, type: sizeOrType } as Type;
    } else if (kind === Kind.FuncProto || kind === Kind.Struct || kind === Kind.Union || kind === Kind.Enum) {
      const vlen = info & 0xffff;
      const stride = kind === Kind.Struct || kind === Kind.Union ? 3 : 2;
      const need = stride * vlen;
      if (n - i < need) throw errors.truncated(id, kind, need, n - i);
      const typed = kind !== Kind.Enum;
      if (kind !== Kind.FuncProto) ref = 0; // sizeOrType is a size, not a reference
      for (let j = i, end = i + need; j < end; j += stride) {
        const off = words[j]!;
        if (off >= strEnd || (!allValid && !strings.valid(off))) throw errors.listName(id, kind, (j - i) / stride, off);
        if (typed) {
          const r = words[j + 1]!;
          if (r > ref) ref = r;
        }
      }
      starts[id - firstId] = i;
      i += need;
      if (kind === Kind.FuncProto) t = L.prototype(id, name, sizeOrType);
      else if (kind === Kind.Enum) t = L.enumeration(kind, id, name, sizeOrType, info >>> 31 === 1);
      else t = L.composite(kind, id, name, sizeOrType);
    } else if (kind === Kind.Array) {
      if (n - i < 3) throw errors.truncated(id, kind, 3, n - i);
      const type = words[i]!;
      const indexType = words[i + 1]!;
      ref = type > indexType ? type : indexType;
      t = { kind: Kind.Array, id, name, type, indexType, nelems: words[i + 2]! };
      i += 3;
    } else {
      t = decodeRare(ctx, L, errors, rare, kind, info, id, name, sizeOrType, i);
      i += rare.used;
      ref = rare.ref;
    }
    if (ref > maxRef) {
      maxRef = ref;
      maxRefFrom = id;
    }
    out.push(t);
    id++;
  }

  if (maxRef >= out.length) throw errors.badRef(maxRefFrom, maxRef, out.length);
}

interface RareResult {
  /** Words read after the 3-word header. */
  used: number;
  /** Largest type id referred to (0 when none). */
  ref: number;
}

/** INT, ENUM64, FWD, VAR, DATASEC, FLOAT, DECL_TAG, and unknown kinds. */
function decodeRare(ctx: Lists, L: ReturnType<typeof lazyLists>, errors: Errors, res: RareResult,
  kind: number, info: number, id: TypeId, name: string, sizeOrType: number, i: number): Type {
  const words = ctx.words;
  const left = words.length - i;
  const vlen = info & 0xffff;
  const kflag = info >>> 31;
  const need = kind === Kind.Int || kind === Kind.Var || kind === Kind.DeclTag ? 1 : kind === Kind.Enum64 || kind === Kind.Datasec ? 3 * vlen : 0;
  if (left < need) throw errors.truncated(id, kind, need, left);
  res.used = need;
  res.ref = 0;
  switch (kind) {
    case Kind.Int: {
      const w = words[i]!;
      const enc = (w >>> 24) & 0x0f;
      const bits = w & 0xff;
      const bitOffset = (w >>> 16) & 0xff;
      if (sizeOrType !== 1 && sizeOrType !== 2 && sizeOrType !== 4 && sizeOrType !== 8 && sizeOrType !== 16)
        throw errors.fail(id, `INT size ${sizeOrType} is not 1, 2, 4, 8 or 16`);
      if (bits === 0 || bits + bitOffset > sizeOrType * 8)
        throw errors.fail(id, `INT bits ${bits} at offset ${bitOffset} do not fit in ${sizeOrType} bytes`);
      if (bitOffset !== 0 || bits !== sizeOrType * 8) ctx.legacyBitfields = true;
      return { kind: Kind.Int, id, name, size: sizeOrType, signed: (enc & BTF_INT_SIGNED) !== 0, char: (enc & BTF_INT_CHAR) !== 0, bool: (enc & BTF_INT_BOOL) !== 0, bitOffset, bits };
    }
    case Kind.Enum64:
    case Kind.Datasec: {
      for (let m = 0, j = i; m < vlen; m++, j += 3) {
        if (kind === Kind.Enum64) {
          if (!ctx.strings.valid(words[j]!)) throw errors.listName(id, kind, m, words[j]!);
        } else if (words[j]! > res.ref) res.ref = words[j]!;
      }
      ctx.starts[id - ctx.firstId] = i;
      return kind === Kind.Enum64 ? L.enumeration(kind, id, name, sizeOrType, kflag === 1) : L.section(id, name, sizeOrType);
    }
    case Kind.Fwd:
      return { kind: Kind.Fwd, id, name, union: kflag === 1 };
    case Kind.Var:
      res.ref = sizeOrType;
      return { kind: Kind.Var, id, name, type: sizeOrType, linkage: words[i]! };
    case Kind.Float:
      return { kind: Kind.Float, id, name, size: sizeOrType };
    case Kind.DeclTag:
      res.ref = sizeOrType;
      return { kind: Kind.DeclTag, id, name, type: sizeOrType, componentIdx: words[i]! | 0 };
    default:
      throw errors.fail(id, `unknown kind ${kind}`);
  }
}

/** Builds the decoder's errors (kept out of the loop body). */
class Errors {
  constructor(
    private readonly where: Where,
    private readonly strings: StringTable,
  ) {}
  fail(typeId: number, detail: string): BtfError {
    const w = this.where;
    return new BtfError(`${label(w)}: type ${typeId}: ${detail}`, { file: w.file, section: w.section, typeId });
  }
  headerTruncated(typeId: number, wordsLeft: number): BtfError {
    return this.fail(typeId, `record header truncated (${wordsLeft * 4} bytes left in type section)`);
  }
  truncated(typeId: number, kind: number, need: number, left: number): BtfError {
    return this.fail(typeId, `${kindNames[kind as Kind]} record truncated (needs ${need * 4} bytes, ${left * 4} left)`);
  }
  badName(typeId: number, what: string, off: number): BtfError {
    return this.fail(typeId, `${what} offset 0x${off.toString(16)} is outside the string section (size 0x${this.strings.end.toString(16)}) or unterminated`);
  }
  listName(typeId: number, kind: number, index: number, off: number): BtfError {
    const item = kind === Kind.Struct || kind === Kind.Union ? "member" : kind === Kind.FuncProto ? "parameter" : "enumerator";
    return this.badName(typeId, `${item} ${index} name`, off);
  }
  badRef(typeId: number, ref: number, count: number): BtfError {
    return this.fail(typeId, `refers to type ${ref}, but there are only ${count} types`);
  }
  /** A name off the fast path: the string, or the error. */
  name(off: number, typeId: number): string {
    const s = this.strings.get(off);
    if (s === undefined) throw this.badName(typeId, "name", off);
    return s;
  }
}

/** Builders for the list-bearing kinds; each list is built on first read and cached per id. */
function lazyLists(ctx: Lists) {
  const cache: (readonly unknown[] | undefined)[] = [];
  const nameAt = (off: number) => (off === 0 ? "" : ctx.strings.get(off) ?? "");
  const startOf = (id: TypeId) => ctx.starts[id - ctx.firstId]!;
  const vlenOf = (id: TypeId) => ctx.words[startOf(id) - 2]! & 0xffff;

  function members(id: TypeId): readonly Member[] {
    const cached = cache[id - ctx.firstId];
    if (cached) return cached as readonly Member[];
    const w = ctx.words;
    const start = startOf(id);
    const vlen = vlenOf(id);
    const kflag = w[start - 2]! >>> 31;
    const out: Member[] = new Array(vlen);
    for (let m = 0, j = start; m < vlen; m++, j += 3) {
      const type = w[j + 1]!;
      const off = w[j + 2]!;
      const name = nameAt(w[j]!);
      out[m] = kflag
        ? { name, type, bitOffset: off & 0xffffff, bitSize: off >>> 24 }
        : ctx.legacyBitfields
          ? legacyBitfield(ctx, name, type, off)
          : { name, type, bitOffset: off, bitSize: 0 };
    }
    cache[id - ctx.firstId] = out;
    return out;
  }

  function values(id: TypeId, enum64: boolean, signed: boolean): readonly EnumValue[] {
    const cached = cache[id - ctx.firstId];
    if (cached) return cached as readonly EnumValue[];
    const w = ctx.words;
    const start = startOf(id);
    const vlen = vlenOf(id);
    const out: EnumValue[] = new Array(vlen);
    if (enum64)
      for (let m = 0, j = start; m < vlen; m++, j += 3) {
        const v = (BigInt(w[j + 2]!) << 32n) | BigInt(w[j + 1]!);
        out[m] = { name: nameAt(w[j]!), value: signed ? BigInt.asIntN(64, v) : v };
      }
    else
      for (let m = 0, j = start; m < vlen; m++, j += 2)
        out[m] = { name: nameAt(w[j]!), value: BigInt(signed ? w[j + 1]! | 0 : w[j + 1]!) };
    cache[id - ctx.firstId] = out;
    return out;
  }

  function params(id: TypeId): readonly Param[] {
    const cached = cache[id - ctx.firstId];
    if (cached) return cached as readonly Param[];
    const w = ctx.words;
    const start = startOf(id);
    const vlen = vlenOf(id);
    const out: Param[] = new Array(vlen);
    for (let m = 0, j = start; m < vlen; m++, j += 2) out[m] = { name: nameAt(w[j]!), type: w[j + 1]! };
    cache[id - ctx.firstId] = out;
    return out;
  }

  function vars(id: TypeId): readonly VarSecinfo[] {
    const cached = cache[id - ctx.firstId];
    if (cached) return cached as readonly VarSecinfo[];
    const w = ctx.words;
    const start = startOf(id);
    const vlen = vlenOf(id);
    const out: VarSecinfo[] = new Array(vlen);
    for (let m = 0, j = start; m < vlen; m++, j += 3) out[m] = { type: w[j]!, offset: w[j + 1]!, size: w[j + 2]! };
    cache[id - ctx.firstId] = out;
    return out;
  }

  // Structs, unions and prototypes (~40k in vmlinux) share a getter on a per-parse prototype: an own
  // getter per object (as below) costs more than the rest of the parse. Enums and datasecs are few,
  // and get an own getter, so spreading them keeps their lists.
  class Composite {
    declare readonly kind: Kind.Struct | Kind.Union;
    declare readonly id: TypeId;
    declare readonly name: string;
    declare readonly size: number;
    constructor(kind: Kind.Struct | Kind.Union, id: TypeId, name: string, size: number) {
      this.kind = kind;
      this.id = id;
      this.name = name;
      this.size = size;
    }
    get members(): readonly Member[] {
      return members(this.id);
    }
  }
  class Prototype {
    declare readonly kind: Kind.FuncProto;
    declare readonly id: TypeId;
    declare readonly name: string;
    declare readonly returnType: TypeId;
    constructor(id: TypeId, name: string, returnType: TypeId) {
      this.kind = Kind.FuncProto;
      this.id = id;
      this.name = name;
      this.returnType = returnType;
    }
    get params(): readonly Param[] {
      return params(this.id);
    }
  }

  return {
    composite: (kind: Kind.Struct | Kind.Union, id: TypeId, name: string, size: number): Type =>
      new Composite(kind, id, name, size) as Type,
    prototype: (id: TypeId, name: string, returnType: TypeId): Type => new Prototype(id, name, returnType),
    enumeration: (kind: Kind.Enum | Kind.Enum64, id: TypeId, name: string, size: number, signed: boolean): Type =>
      ({ kind, id, name, size, signed, get values() { return values(id, kind === Kind.Enum64, signed); } }) as Type,
    section: (id: TypeId, name: string, size: number): Type =>
      ({ kind: Kind.Datasec, id, name, size, get vars() { return vars(id); } }),
  };
}

/**
 * Old encoders (kind_flag = 0) put a bitfield's width in the member's INT type (BTF_INT_BITS, with
 * BTF_INT_OFFSET added to the member offset). Move it to the member, so consumers see one encoding.
 */
function legacyBitfield(ctx: Lists, name: string, type: TypeId, bitOffset: number): Member {
  const target = resolve(ctx, type, ctx.where);
  if (target.kind === Kind.Int && (target.bitOffset !== 0 || target.bits !== target.size * 8))
    return { name, type, bitOffset: bitOffset + target.bitOffset, bitSize: target.bits };
  return { name, type, bitOffset, bitSize: 0 };
}

