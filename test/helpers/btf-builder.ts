// A tiny BTF encoder for tests: build blobs of any kind (including ones clang never emits, such as
// legacy kind_flag = 0 bitfields) in either byte order, and corrupt them at will.

import { Kind } from "../../generator/btf/index.js";

export class BtfBuilder {
  private readonly strs: number[] = [0];
  private readonly strIndex = new Map<string, number>([["", 0]]);
  private readonly words: number[] = [];
  private nextId: number;
  private readonly strBase: number;

  /** For split BTF: ids continue after the base's types, string offsets after its string section. */
  constructor(opts: { firstId?: number; strBase?: number } = {}) {
    this.nextId = opts.firstId ?? 1;
    this.strBase = opts.strBase ?? 0;
  }

  /** Offset of `s` in the string section (interned). */
  str(s: string): number {
    let off = this.strIndex.get(s);
    if (off !== undefined) return off === 0 ? 0 : this.strBase + off;
    if (off === undefined) {
      off = this.strs.length;
      for (const b of Buffer.from(s, "utf8")) this.strs.push(b);
      this.strs.push(0);
      this.strIndex.set(s, off);
    }
    return off === 0 ? 0 : this.strBase + off;
  }

  /** Appends a raw record; returns its type id. */
  raw(name: string | number, kind: number, vlen: number, kflag: 0 | 1, sizeOrType: number, extra: number[] = []): number {
    const nameOff = typeof name === "number" ? name : this.str(name);
    this.words.push(nameOff, ((kflag << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff)) >>> 0, sizeOrType >>> 0, ...extra.map((w) => w >>> 0));
    return this.nextId++;
  }

  int(name: string, size: number, opts: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number; offset?: number } = {}): number {
    const enc = (opts.signed ? 1 : 0) | (opts.char ? 2 : 0) | (opts.bool ? 4 : 0);
    return this.raw(name, Kind.Int, 0, 0, size, [(enc << 24) | ((opts.offset ?? 0) << 16) | (opts.bits ?? size * 8)]);
  }
  ref(kind: Kind, type: number, name = ""): number {
    return this.raw(name, kind, 0, 0, type);
  }
  array(type: number, index: number, nelems: number): number {
    return this.raw("", Kind.Array, 0, 0, 0, [type, index, nelems]);
  }
  composite(kind: Kind.Struct | Kind.Union, name: string, size: number, members: { name: string; type: number; bitOffset: number; bitSize?: number }[], kflag: 0 | 1 = 0): number {
    const extra = members.flatMap((m) => [this.str(m.name), m.type, kflag ? (((m.bitSize ?? 0) << 24) | m.bitOffset) : m.bitOffset]);
    return this.raw(name, kind, members.length, kflag, size, extra);
  }
  enum32(name: string, size: number, values: [string, number][], signed = false): number {
    return this.raw(name, Kind.Enum, values.length, signed ? 1 : 0, size, values.flatMap(([n, v]) => [this.str(n), v]));
  }
  enum64(name: string, values: [string, bigint][], signed = false): number {
    const extra = values.flatMap(([n, v]) => {
      const u = BigInt.asUintN(64, v);
      return [this.str(n), Number(u & 0xffffffffn), Number(u >> 32n)];
    });
    return this.raw(name, Kind.Enum64, values.length, signed ? 1 : 0, 8, extra);
  }
  fwd(name: string, union: boolean): number {
    return this.raw(name, Kind.Fwd, 0, union ? 1 : 0, 0);
  }
  func(name: string, proto: number, linkage: number): number {
    return this.raw(name, Kind.Func, linkage, 0, proto);
  }
  proto(ret: number, params: [string, number][]): number {
    return this.raw("", Kind.FuncProto, params.length, 0, ret, params.flatMap(([n, t]) => [this.str(n), t]));
  }
  variable(name: string, type: number, linkage: number): number {
    return this.raw(name, Kind.Var, 0, 0, type, [linkage]);
  }
  datasec(name: string, size: number, vars: [number, number, number][]): number {
    return this.raw(name, Kind.Datasec, vars.length, 0, size, vars.flat());
  }
  float(name: string, size: number): number {
    return this.raw(name, Kind.Float, 0, 0, size);
  }
  declTag(name: string, type: number, componentIdx: number): number {
    return this.raw(name, Kind.DeclTag, 0, 0, type, [componentIdx]);
  }

  /** The blob: header, type section, string section. */
  build(littleEndian = true): Uint8Array {
    const typeLen = this.words.length * 4;
    const strLen = this.strs.length;
    const out = new Uint8Array(24 + typeLen + strLen);
    const v = new DataView(out.buffer);
    v.setUint16(0, 0xeb9f, littleEndian);
    out[2] = 1;
    v.setUint32(4, 24, littleEndian);
    v.setUint32(8, 0, littleEndian);
    v.setUint32(12, typeLen, littleEndian);
    v.setUint32(16, typeLen, littleEndian);
    v.setUint32(20, strLen, littleEndian);
    this.words.forEach((w, i) => v.setUint32(24 + i * 4, w, littleEndian));
    out.set(this.strs, 24 + typeLen);
    return out;
  }
}
