// Seeded mutations of eBPF objects and BTF blobs for the fuzz tests (test/fuzz.test.ts, `npm run
// fuzz`): byte flips aimed at the structures readers trust, truncation, huge header fields,
// synthetic type cycles, and deep chains of types appended to the BTF. The same seed always gives
// the same mutant, and `what` says what was done, so a failure can be replayed from its seed.

import { readFileSync } from "node:fs";
import { readElf } from "@bpf2ts/runtime/object-file";

/** An input to mutate: an ELF object, or a raw BTF blob (a slice of vmlinux). */
export interface FuzzSource {
  readonly name: string;
  readonly kind: "object" | "btf";
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;
}

export interface Mutant {
  readonly source: string;
  readonly kind: "object" | "btf";
  readonly seed: number;
  readonly what: string;
  readonly bytes: Uint8Array;
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- raw BTF records ----

interface Rec {
  id: number;
  /** Offset of the record in the blob. */
  at: number;
  kind: number;
  vlen: number;
}

interface BtfBlob {
  /** Offset of the blob in the file (0 for raw BTF). */
  base: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
  recs: Rec[];
}

const PTR = 2, ARRAY = 3, STRUCT = 4, UNION = 5, TYPEDEF = 8, VOLATILE = 9, CONST = 10, RESTRICT = 11, FUNC_PROTO = 13, VAR = 14, TYPE_TAG = 18;
const REFERENCING = new Set([PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG, VAR]);

function extra(kind: number, vlen: number): number {
  switch (kind) {
    case 1: case 14: case 17: return 4;
    case 3: return 12;
    case 4: case 5: case 15: case 19: return 12 * vlen;
    case 6: case 13: return 8 * vlen;
    default: return 0;
  }
}

function readBlob(bytes: Uint8Array, base: number, le: boolean): BtfBlob | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (o: number) => v.getUint32(base + o, le);
  const hdrLen = u32(4);
  const blob: BtfBlob = { base, hdrLen, typeOff: hdrLen + u32(8), typeLen: u32(12), strOff: hdrLen + u32(16), strLen: u32(20), recs: [] };
  let o = blob.typeOff;
  const end = blob.typeOff + blob.typeLen;
  for (let id = 1; o + 12 <= end; id++) {
    const info = u32(o + 4);
    const kind = (info >>> 24) & 0x1f, vlen = info & 0xffff;
    blob.recs.push({ id, at: o, kind, vlen });
    o += 12 + extra(kind, vlen);
  }
  return blob;
}

/** The raw type records of a source's BTF (offsets in the file), for tests that patch one. */
export function btfRecords(src: FuzzSource): Array<{ id: number; at: number; kind: number; vlen: number }> {
  const blob = blobOf(src);
  return blob ? blob.recs.map((r) => ({ ...r, at: blob.base + r.at })) : [];
}

/** The BTF blob of a source: its .BTF section, or the whole thing. */
function blobOf(src: FuzzSource): BtfBlob | undefined {
  if (src.kind === "btf") return readBlob(src.bytes, 0, src.littleEndian);
  const sec = readElf(src.bytes).section(".BTF");
  return sec ? readBlob(src.bytes, sec.offset, src.littleEndian) : undefined;
}

interface Region { name: string; start: number; end: number }

function regions(src: FuzzSource, blob: BtfBlob | undefined): Region[] {
  const out: Region[] = [];
  if (blob) {
    out.push({ name: "BTF header", start: blob.base, end: blob.base + blob.hdrLen });
    out.push({ name: "BTF types", start: blob.base + blob.typeOff, end: blob.base + blob.typeOff + blob.typeLen });
    out.push({ name: "BTF strings", start: blob.base + blob.strOff, end: blob.base + blob.strOff + blob.strLen });
  }
  if (src.kind === "object") {
    const elf = readElf(src.bytes);
    const v = new DataView(src.bytes.buffer, src.bytes.byteOffset, src.bytes.byteLength);
    const shoff = Number(v.getBigUint64(40, elf.littleEndian));
    out.push({ name: "ELF header", start: 0, end: 64 }, { name: "section headers", start: shoff, end: shoff + elf.sections.length * 64 });
    for (const s of elf.sections) {
      if (s.size === 0 || s.type === 8) continue;
      if (s.name === ".BTF.ext" || s.name === ".symtab" || s.name === ".maps" || s.name.startsWith(".rel") || s.type === 1)
        out.push({ name: s.name, start: s.offset, end: s.offset + s.size });
    }
  }
  return out;
}

// ---- the mutations ----

type Op = (m: Work) => string;

class Work {
  readonly view: DataView;
  constructor(
    public bytes: Uint8Array,
    readonly src: FuzzSource,
    readonly blob: BtfBlob | undefined,
    readonly rand: () => number,
    readonly maxChain: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  pick(n: number): number {
    return Math.floor(this.rand() * n);
  }
  u32(o: number, x?: number): number {
    if (x !== undefined) this.view.setUint32(o, x >>> 0, this.src.littleEndian);
    return this.view.getUint32(o, this.src.littleEndian);
  }
}

const HUGE = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, 0xfffffff0];

const flip: Op = (m) => {
  const rs = regions(m.src, m.blob);
  const r = rs[m.pick(rs.length)]!;
  const n = 1 + m.pick(m.rand() < 0.7 ? 3 : 16);
  for (let i = 0; i < n; i++) {
    const at = r.start + m.pick(Math.max(1, r.end - r.start));
    if (at >= m.bytes.length) continue;
    m.bytes[at] = m.rand() < 0.5 ? (m.rand() < 0.5 ? 0 : 0xff) : m.bytes[at]! ^ (1 << m.pick(8));
  }
  return `${n} byte flips in ${r.name}`;
};

const truncate: Op = (m) => {
  const len = m.pick(m.bytes.length);
  m.bytes = m.bytes.slice(0, len);
  return `truncated to ${len} bytes`;
};

const hugeField: Op = (m) => {
  const value = m.rand() < 0.8 ? HUGE[m.pick(HUGE.length)]! : Math.floor(m.rand() * 0x100000000);
  const fields: Array<[string, number, number]> = []; // name, offset, width (2, 4 or 8; 0: vlen)
  if (m.blob) {
    const b = m.blob.base;
    fields.push(["BTF hdr_len", b + 4, 4], ["BTF type_off", b + 8, 4], ["BTF type_len", b + 12, 4], ["BTF str_off", b + 16, 4], ["BTF str_len", b + 20, 4]);
    for (let k = 0; k < 6 && m.blob.recs.length; k++) {
      const r = m.blob.recs[m.pick(m.blob.recs.length)]!;
      const at = b + r.at;
      fields.push([`type ${r.id} size/type`, at + 8, 4], [`type ${r.id} vlen`, at + 4, 0]);
      if (r.kind === ARRAY) fields.push([`type ${r.id} nelems`, at + 20, 4]);
      if ((r.kind === STRUCT || r.kind === UNION) && r.vlen) fields.push([`type ${r.id} member 0 offset`, at + 20, 4]);
    }
  }
  if (m.src.kind === "object") {
    fields.push(["e_shoff", 40, 8], ["e_shentsize", 58, 2], ["e_shnum", 60, 2], ["e_shstrndx", 62, 2]);
    const elf = readElf(m.src.bytes);
    const shoff = Number(new DataView(m.src.bytes.buffer, m.src.bytes.byteOffset).getBigUint64(40, elf.littleEndian));
    const s = elf.sections[m.pick(elf.sections.length)]!;
    const at = shoff + s.index * 64;
    fields.push([`${s.name} sh_offset`, at + 24, 8], [`${s.name} sh_size`, at + 32, 8], [`${s.name} sh_link`, at + 40, 4], [`${s.name} sh_info`, at + 44, 4], [`${s.name} sh_entsize`, at + 56, 8]);
  }
  const [name, at, width] = fields[m.pick(fields.length)]!;
  const le = m.src.littleEndian;
  if (at >= m.bytes.length - 8) return flip(m);
  if (width === 0) m.u32(at, (m.u32(at) & 0xffff0000) | (value & 0xffff)); // a record's vlen (info bits 0-15)
  else if (width === 2) m.view.setUint16(at, value & 0xffff, le);
  else if (width === 4) m.view.setUint32(at, value, le);
  else m.view.setBigUint64(at, BigInt(value) * (m.rand() < 0.5 ? 1n : 0x100000000n), le);
  return `${name} = 0x${value.toString(16)}`;
};

/** Points a referencing type (or an array, a struct member) back at itself or at a type that reaches it. */
const cycle: Op = (m) => {
  const blob = m.blob;
  if (!blob) return flip(m);
  const b = blob.base;
  const refs = blob.recs.filter((r) => REFERENCING.has(r.kind) || r.kind === ARRAY || ((r.kind === STRUCT || r.kind === UNION) && r.vlen > 0) || r.kind === FUNC_PROTO);
  if (!refs.length) return flip(m);
  const r = refs[m.pick(refs.length)]!;
  const slot = r.kind === ARRAY ? b + r.at + 12 : r.kind === STRUCT || r.kind === UNION ? b + r.at + 12 + 12 * m.pick(r.vlen) + 4 : b + r.at + 8;
  const old = m.u32(slot);
  // Half the time a two-type cycle: the target (if it refers to something) is pointed back at r.
  const target = blob.recs[old - 1];
  if (m.rand() < 0.5 && target && (REFERENCING.has(target.kind) || target.kind === ARRAY)) {
    const back = target.kind === ARRAY ? b + target.at + 12 : b + target.at + 8;
    m.u32(back, r.id);
    return `cycle: type ${target.id} points back at type ${r.id}, which refers to it`;
  }
  m.u32(slot, r.id);
  return `cycle: type ${r.id} (kind ${r.kind}) refers to itself`;
};

/**
 * Appends a chain of `depth` types (arrays, typedefs, consts, pointers or structs each holding the
 * next) ending where a referencing type pointed, and points that type at the chain's head. The BTF
 * is rebuilt at the end of the file and its section header moved there.
 */
export function deepChain(src: FuzzSource, depth: number, link: "array" | "typedef" | "const" | "ptr" | "struct", rand = prng(depth)): Mutant | undefined {
  const blob = blobOf(src);
  if (!blob) return undefined;
  const le = src.littleEndian;
  const refs = blob.recs.filter((r) => r.kind === TYPEDEF || r.kind === VAR || r.kind === CONST || r.kind === VOLATILE);
  if (!refs.length) return undefined;
  const from = refs[Math.floor(rand() * refs.length)]!;
  const bytes = src.bytes;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const oldTarget = v.getUint32(blob.base + from.at + 8, le);
  const first = blob.recs.length + 1;
  const words: number[] = [];
  const kindOf = { array: ARRAY, typedef: TYPEDEF, const: CONST, ptr: PTR, struct: STRUCT }[link];
  for (let i = 0; i < depth; i++) {
    const next = i === depth - 1 ? oldTarget : first + i + 1;
    if (link === "array") words.push(0, kindOf << 24, 0, next, oldTarget || 1, 1);
    else if (link === "struct") words.push(0, (kindOf << 24) | 1, 8, 0, next, 0);
    else words.push(link === "typedef" ? 1 : 0, kindOf << 24, next);
  }
  const types = new Uint8Array(blob.typeLen + words.length * 4);
  types.set(bytes.subarray(blob.base + blob.typeOff, blob.base + blob.typeOff + blob.typeLen));
  const tv = new DataView(types.buffer);
  words.forEach((w, i) => tv.setUint32(blob.typeLen + i * 4, w >>> 0, le));
  tv.setUint32(from.at - blob.typeOff + 8, first, le);
  const strs = bytes.subarray(blob.base + blob.strOff, blob.base + blob.strOff + blob.strLen);
  const out = new Uint8Array(24 + types.length + strs.length);
  const ov = new DataView(out.buffer);
  out.set(bytes.subarray(blob.base, blob.base + 4));
  ov.setUint32(4, 24, le);
  ov.setUint32(8, 0, le);
  ov.setUint32(12, types.length, le);
  ov.setUint32(16, types.length, le);
  ov.setUint32(20, strs.length, le);
  out.set(types, 24);
  out.set(strs, 24 + types.length);
  const what = `deep chain: ${depth} ${link}s from type ${from.id}`;
  if (src.kind === "btf") return { source: src.name, kind: src.kind, seed: depth, what, bytes: out };
  // The object with the new blob at its end (8-aligned), and .BTF's section header pointing there.
  const elf = readElf(bytes);
  const at = Math.ceil(bytes.length / 8) * 8;
  const file = new Uint8Array(at + out.length);
  file.set(bytes);
  file.set(out, at);
  const fv = new DataView(file.buffer);
  const shoff = Number(fv.getBigUint64(40, le));
  const sh = shoff + elf.section(".BTF")!.index * 64;
  fv.setBigUint64(sh + 24, BigInt(at), le);
  fv.setBigUint64(sh + 32, BigInt(out.length), le);
  return { source: src.name, kind: src.kind, seed: depth, what, bytes: file };
}

const chain: Op = (m) => {
  const links = ["array", "typedef", "const", "ptr", "struct"] as const;
  const link = links[m.pick(links.length)]!;
  const depths = [50, 300, 1000, 2000, 5000].filter((d) => d <= m.maxChain);
  const depth = depths[m.pick(depths.length)]!;
  const made = deepChain({ ...m.src, bytes: m.bytes }, depth, link, m.rand);
  if (!made) return flip(m);
  m.bytes = made.bytes;
  return made.what;
};

const OPS: Array<[Op, number]> = [[flip, 50], [truncate, 12], [hugeField, 18], [cycle, 15], [chain, 5]];
const TOTAL = OPS.reduce((s, [, w]) => s + w, 0);

/**
 * The mutant of `src` for `seed`. `maxChain` bounds the deep chains (the layout engine takes
 * seconds to minutes on thousands of nested types until issue 11 item 2 is merged).
 */
export function mutate(src: FuzzSource, seed: number, maxChain = 5000): Mutant {
  const rand = prng(seed);
  const work = new Work(src.bytes.slice(), src, blobOf(src), rand, maxChain);
  let x = rand() * TOTAL;
  let op = OPS[0]![0];
  for (const [o, w] of OPS) {
    if ((x -= w) < 0) {
      op = o;
      break;
    }
  }
  const what = op(work);
  return { source: src.name, kind: src.kind, seed, what, bytes: work.bytes };
}

// ---- sources ----

/** An ELF object from disk. */
export function objectSource(path: string, name = path): FuzzSource {
  const bytes = new Uint8Array(readFileSync(path));
  return { name, kind: "object", bytes, littleEndian: readElf(bytes).littleEndian };
}

/**
 * The first `count` types of a raw BTF blob (vmlinux) as a blob of their own: references past the
 * slice are pointed at its first INT, the string section is kept whole.
 */
export function btfSlice(bytes: Uint8Array, count: number, name: string): FuzzSource {
  const le = bytes[0] === 0x9f;
  const blob = readBlob(bytes, 0, le)!;
  const recs = blob.recs.slice(0, count);
  const end = recs.length < blob.recs.length ? blob.recs[recs.length]!.at : blob.typeOff + blob.typeLen;
  const types = bytes.slice(blob.typeOff, end);
  const v = new DataView(types.buffer);
  const intId = recs.find((r) => r.kind === 1)?.id ?? 0;
  const fix = (o: number) => {
    if (v.getUint32(o, le) > recs.length) v.setUint32(o, intId, le);
  };
  for (const r of recs) {
    const o = r.at - blob.typeOff;
    if (REFERENCING.has(r.kind) || r.kind === 12 || r.kind === 17) fix(o + 8);
    else if (r.kind === ARRAY) { fix(o + 12); fix(o + 16); }
    else if (r.kind === STRUCT || r.kind === UNION) for (let k = 0; k < r.vlen; k++) fix(o + 12 + 12 * k + 4);
    else if (r.kind === FUNC_PROTO) { fix(o + 8); for (let k = 0; k < r.vlen; k++) fix(o + 12 + 8 * k + 4); }
    else if (r.kind === 15) for (let k = 0; k < r.vlen; k++) fix(o + 12 + 12 * k);
  }
  const strs = bytes.subarray(blob.strOff, blob.strOff + blob.strLen);
  const out = new Uint8Array(24 + types.length + strs.length);
  const ov = new DataView(out.buffer);
  out.set(bytes.subarray(0, 4));
  ov.setUint32(4, 24, le);
  ov.setUint32(12, types.length, le);
  ov.setUint32(16, types.length, le);
  ov.setUint32(20, strs.length, le);
  out.set(types, 24);
  out.set(strs, 24 + types.length);
  return { name, kind: "btf", bytes: out, littleEndian: le };
}
