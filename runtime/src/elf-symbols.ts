// Finds function symbols in an ELF executable or shared library (for uprobes), returning the file
// offset the kernel wants. Names are matched exactly, so Go's `net/http.(*conn).serve` and C++
// mangled names work as they are written in the symbol table.

import { readFileSync } from "node:fs";
import { BpfError, errno } from "./errors.js";

export interface ElfSymbol {
  name: string;
  /** Virtual address (st_value). */
  address: bigint;
  size: bigint;
  /** Offset in the file: what a uprobe is attached at. */
  offset: number;
}

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;

function notFound(path: string, detail: string, code: "ENOENT" | "EINVAL" = "ENOENT"): BpfError {
  return new BpfError(`resolve uprobe symbol in ${path}: ${detail}`, { errno: errno[code], code });
}

/** Reads every function symbol of `path` (.symtab and .dynsym). */
export function readFunctionSymbols(path: string): Map<string, ElfSymbol> {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new BpfError(`resolve uprobe symbol in ${path}: ${(e as Error).message}`, { errno: errno.ENOENT, code: "ENOENT", cause: e });
  }
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw notFound(path, "not an ELF file", "EINVAL");
  if (b[4] !== 2) throw notFound(path, "not a 64-bit ELF file", "EINVAL");
  const le = b[5] === 1;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (o: number) => (le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  const shoff = Number(u64(0x28));
  const shentsize = u16(0x3a);
  const shnum = u16(0x3c);
  if (shoff + shnum * shentsize > b.length) throw notFound(path, "section headers out of bounds", "EINVAL");
  const sections = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    return { type: u32(o + 4), addr: u64(o + 0x10), offset: u64(o + 0x18), size: Number(u64(o + 0x20)), link: u32(o + 0x28), entsize: Number(u64(o + 0x38)) };
  });
  const out = new Map<string, ElfSymbol>();
  for (const sec of sections) {
    if (sec.type !== SHT_SYMTAB && sec.type !== SHT_DYNSYM) continue;
    const strtab = sections[sec.link];
    if (!strtab || sec.entsize < 24) continue;
    const strOff = Number(strtab.offset);
    const base = Number(sec.offset);
    if (base + sec.size > b.length) continue;
    for (let o = base; o + 24 <= base + sec.size; o += sec.entsize) {
      const info = b[o + 4]!;
      const type = info & 0xf;
      if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
      const shndx = u16(o + 6);
      const value = u64(o + 8);
      if (value === 0n || shndx === 0 || shndx >= sections.length) continue;
      const nameOff = strOff + u32(o);
      const end = b.indexOf(0, nameOff);
      const name = b.toString("utf8", nameOff, end < 0 ? strOff + strtab.size : end);
      if (out.has(name)) continue;
      const home = sections[shndx]!;
      out.set(name, { name, address: value, size: u64(o + 16), offset: Number(value - home.addr + home.offset) });
    }
  }
  return out;
}

/** The file offset of function `symbol` in `path`. */
export function resolveSymbolOffset(path: string, symbol: string): number {
  const sym = readFunctionSymbols(path).get(symbol);
  if (!sym) throw notFound(path, `no function symbol "${symbol}"`);
  return sym.offset;
}
