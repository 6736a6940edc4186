// Reads the symbols of an ELF executable or shared library and maps their addresses to file offsets:
// the offset a uprobe is attached at (resolveSymbolOffset), and what tracer CLIs need to symbolize
// stacks and inspect Go binaries (ElfImage: data symbols too, function bytes, offset ↔ address).
// Names match exactly, so Go's `net/http.(*conn).serve` and C++ mangled names work as written.
// Not the generator's ELF reader (that one reads BPF relocatable objects; the runtime never imports it).

import { readFileSync } from "node:fs";
import { BpfError, errno } from "./errors.js";

/** A file that is not a readable ELF image; `file` is the ELF file as the caller named it. */
export class ElfSymbolsError extends BpfError {
  override readonly name: string = "ElfSymbolsError";
  declare readonly file: string;
  constructor(message: string, file: string, options?: { cause?: unknown }) {
    super(message, { file, ...(options?.cause !== undefined && { cause: options.cause }) });
  }
}

export interface ElfSymbol {
  name: string;
  /** Virtual address (st_value). */
  address: bigint;
  size: number;
  /** STT_FUNC (2, GNU ifuncs included), STT_OBJECT (1). */
  type: number;
}

/** A function symbol with the file offset a uprobe is attached at. */
export interface FunctionSymbol extends ElfSymbol {
  offset: number;
}

interface Segment {
  vaddr: bigint;
  offset: bigint;
  filesz: bigint;
}

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

export class ElfImage {
  readonly file: string;
  /** Function and data symbols of .symtab and .dynsym, each name@address once, in file order. */
  readonly symbols: ElfSymbol[];
  /** ELF type: 2 = EXEC (absolute addresses), 3 = DYN (PIE or shared library, relocated at load). */
  readonly type: number;
  readonly #bytes: Buffer;
  readonly #le: boolean;
  readonly #segments: Segment[];
  #byName: Map<string, ElfSymbol> | undefined;
  #sortedFuncs: ElfSymbol[] | undefined;

  /** `bytes` lets a caller read the file another way (e.g. through /proc/PID/root); `file` names it. */
  constructor(file: string, bytes?: Buffer) {
    this.file = file;
    try {
      this.#bytes = bytes ?? readFileSync(file);
    } catch (e) {
      throw new ElfSymbolsError(`read ${file}: ${(e as Error).message}`, file, { cause: e });
    }
    const b = this.#bytes;
    if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw new ElfSymbolsError(`${file}: not an ELF file`, file);
    if (b[4] !== 2 || (b[5] !== 1 && b[5] !== 2)) throw new ElfSymbolsError(`${file}: not a 64-bit ELF file`, file);
    this.#le = b[5] === 1;
    this.type = this.#u16(16);
    this.#segments = this.#readSegments();
    this.symbols = this.#readSymbols();
  }

  #u16(o: number): number {
    return this.#le ? this.#bytes.readUInt16LE(o) : this.#bytes.readUInt16BE(o);
  }
  #u32(o: number): number {
    return this.#le ? this.#bytes.readUInt32LE(o) : this.#bytes.readUInt32BE(o);
  }
  #u64(o: number): bigint {
    return this.#le ? this.#bytes.readBigUInt64LE(o) : this.#bytes.readBigUInt64BE(o);
  }

  #check(off: number, len: number, what: string): void {
    if (off < 0 || len < 0 || off + len > this.#bytes.length) {
      throw new ElfSymbolsError(`${this.file}: ${what} out of bounds (offset ${off}, ${len} bytes)`, this.file);
    }
  }

  #readSegments(): Segment[] {
    const phoff = Number(this.#u64(0x20));
    const phentsize = this.#u16(0x36);
    const phnum = this.#u16(0x38);
    this.#check(phoff, phnum * phentsize, "program headers");
    const out: Segment[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      if (this.#u32(o) !== PT_LOAD) continue;
      out.push({ offset: this.#u64(o + 8), vaddr: this.#u64(o + 16), filesz: this.#u64(o + 32) });
    }
    return out;
  }

  #readSymbols(): ElfSymbol[] {
    const b = this.#bytes;
    const shoff = Number(this.#u64(0x28));
    const shentsize = this.#u16(0x3a);
    const shnum = this.#u16(0x3c);
    this.#check(shoff, shnum * shentsize, "section headers");
    const sec = (i: number) => {
      const o = shoff + i * shentsize;
      return { type: this.#u32(o + 4), offset: Number(this.#u64(o + 0x18)), size: Number(this.#u64(o + 0x20)), link: this.#u32(o + 0x28), entsize: Number(this.#u64(o + 0x38)) };
    };
    const out: ElfSymbol[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < shnum; i++) {
      const s = sec(i);
      if ((s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) || s.entsize < 24 || s.link >= shnum) continue;
      const str = sec(s.link);
      this.#check(s.offset, s.size, "symbol table");
      this.#check(str.offset, str.size, "string table");
      for (let o = s.offset; o + 24 <= s.offset + s.size; o += s.entsize) {
        const type = b[o + 4]! & 0xf;
        const shndx = this.#u16(o + 6);
        if (shndx === 0 || (type !== STT_FUNC && type !== STT_OBJECT && type !== STT_GNU_IFUNC)) continue;
        const nameOff = str.offset + this.#u32(o);
        const end = b.indexOf(0, nameOff);
        if (end < 0 || end > str.offset + str.size) continue;
        const name = b.toString("latin1", nameOff, end);
        const address = this.#u64(o + 8);
        const key = `${name}@${address}`;
        if (seen.has(key)) continue; // .symtab and .dynsym repeat exported symbols
        seen.add(key);
        out.push({ name, address, size: Number(this.#u64(o + 16)), type: type === STT_GNU_IFUNC ? STT_FUNC : type });
      }
    }
    return out;
  }

  /** The first symbol with this exact name (Go names such as `net/http.serverHandler.ServeHTTP` included). */
  symbol(name: string): ElfSymbol | undefined {
    if (!this.#byName) {
      this.#byName = new Map();
      for (const s of this.symbols) if (!this.#byName.has(s.name)) this.#byName.set(s.name, s);
    }
    return this.#byName.get(name);
  }

  /** The function containing `address` (a link-time virtual address), by binary search. */
  functionAt(address: bigint): ElfSymbol | undefined {
    if (!this.#sortedFuncs) {
      this.#sortedFuncs = this.symbols.filter((s) => s.type === STT_FUNC).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    }
    const f = this.#sortedFuncs;
    let lo = 0;
    let hi = f.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (f[mid]!.address <= address) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return undefined;
    const s = f[best]!;
    // Size 0 (hand-written assembly) gets the benefit of the doubt up to the next symbol.
    return s.size === 0 || address < s.address + BigInt(s.size) ? s : undefined;
  }

  /** File offset of a virtual address (what uprobes are attached at), or undefined if unmapped. */
  fileOffset(address: bigint): bigint | undefined {
    for (const s of this.#segments) {
      if (address >= s.vaddr && address < s.vaddr + s.filesz) return address - s.vaddr + s.offset;
    }
    return undefined;
  }

  /** Virtual address of a file offset (to map /proc/PID/maps offsets back to symbols). */
  addressOfOffset(offset: bigint): bigint | undefined {
    for (const s of this.#segments) {
      if (offset >= s.offset && offset < s.offset + s.filesz) return offset - s.offset + s.vaddr;
    }
    return undefined;
  }

  /** The bytes of a function symbol, as mapped from the file. */
  functionBytes(sym: ElfSymbol): Uint8Array {
    const off = this.fileOffset(sym.address);
    if (off === undefined) throw new ElfSymbolsError(`${this.file}: ${sym.name} is not in a loaded segment`, this.file);
    this.#check(Number(off), sym.size, `bytes of ${sym.name}`);
    return this.#bytes.subarray(Number(off), Number(off) + sym.size);
  }
}

/** Every function symbol of `path` that lies in a loaded segment, by name (the first of duplicates). */
export function readFunctionSymbols(path: string): Map<string, FunctionSymbol> {
  let img: ElfImage;
  try {
    img = new ElfImage(path);
  } catch (e) {
    // Attach failures are BpfErrors with an errno: an unreadable file keeps the read's, a bad one is EINVAL.
    const readCode = (e as { cause?: { code?: string } }).cause?.code;
    const code = readCode !== undefined && readCode in errno ? (readCode as keyof typeof errno) : "EINVAL";
    throw new BpfError(`resolve uprobe symbol: ${(e as Error).message}`, { errno: errno[code], code, cause: e });
  }
  const out = new Map<string, FunctionSymbol>();
  for (const s of img.symbols) {
    if (s.type !== STT_FUNC || s.address === 0n || out.has(s.name)) continue;
    const offset = img.fileOffset(s.address);
    if (offset !== undefined) out.set(s.name, { ...s, offset: Number(offset) });
  }
  return out;
}

/** The file offset of function `symbol` in `path`. */
export function resolveSymbolOffset(path: string, symbol: string): number {
  const sym = readFunctionSymbols(path).get(symbol);
  if (!sym) throw new BpfError(`resolve uprobe symbol: ${path}: no function symbol "${symbol}"`, { errno: errno.ENOENT, code: "ENOENT" });
  return sym.offset;
}
