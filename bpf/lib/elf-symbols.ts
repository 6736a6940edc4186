// Reads what the tracer CLIs need from an ELF executable or library: its symbols (functions and
// data, e.g. Go itabs), the bytes of a function, and the mapping from virtual addresses to file
// offsets. Small on purpose: the generator's ELF reader is not a dependency of tracer packages.

import { readFileSync } from "node:fs";

export class ElfSymbolsError extends Error {
  override name = "ElfSymbolsError";
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ElfSym {
  name: string;
  /** Virtual address (st_value). */
  address: bigint;
  size: number;
  /** STT_FUNC (2), STT_OBJECT (1), …. */
  type: number;
}

interface Segment {
  vaddr: bigint;
  offset: bigint;
  filesz: bigint;
  executable: boolean;
}

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;

export class ElfImage {
  readonly file: string;
  readonly symbols: ElfSym[];
  /** ELF type: 2 = EXEC (absolute addresses), 3 = DYN (PIE or shared library, relocated at load). */
  readonly type: number;
  readonly #bytes: Buffer;
  readonly #segments: Segment[];
  #byName: Map<string, ElfSym> | undefined;
  #sortedFuncs: ElfSym[] | undefined;

  constructor(file: string, bytes?: Buffer) {
    this.file = file;
    try {
      this.#bytes = bytes ?? readFileSync(file);
    } catch (e) {
      throw new ElfSymbolsError(`read ${file}: ${(e as Error).message}`, file, { cause: e });
    }
    const b = this.#bytes;
    if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw new ElfSymbolsError(`${file}: not an ELF file`, file);
    if (b[4] !== 2 || b[5] !== 1) throw new ElfSymbolsError(`${file}: not a 64-bit little-endian ELF file`, file);
    this.type = b.readUInt16LE(16);
    this.#segments = this.#readSegments();
    this.symbols = this.#readSymbols();
  }

  #check(off: number, len: number, what: string): void {
    if (off < 0 || len < 0 || off + len > this.#bytes.length) {
      throw new ElfSymbolsError(`${this.file}: ${what} out of bounds (offset ${off}, ${len} bytes)`, this.file);
    }
  }

  #readSegments(): Segment[] {
    const b = this.#bytes;
    const phoff = Number(b.readBigUInt64LE(0x20));
    const phentsize = b.readUInt16LE(0x36);
    const phnum = b.readUInt16LE(0x38);
    this.#check(phoff, phnum * phentsize, "program headers");
    const out: Segment[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      if (b.readUInt32LE(o) !== PT_LOAD) continue;
      out.push({
        executable: (b.readUInt32LE(o + 4) & 1) !== 0,
        offset: b.readBigUInt64LE(o + 8),
        vaddr: b.readBigUInt64LE(o + 16),
        filesz: b.readBigUInt64LE(o + 32),
      });
    }
    return out;
  }

  #readSymbols(): ElfSym[] {
    const b = this.#bytes;
    const shoff = Number(b.readBigUInt64LE(0x28));
    const shentsize = b.readUInt16LE(0x3a);
    const shnum = b.readUInt16LE(0x3c);
    this.#check(shoff, shnum * shentsize, "section headers");
    const sec = (i: number) => {
      const o = shoff + i * shentsize;
      return { type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 0x18)), size: Number(b.readBigUInt64LE(o + 0x20)), link: b.readUInt32LE(o + 0x28), entsize: Number(b.readBigUInt64LE(o + 0x38)) };
    };
    const out: ElfSym[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < shnum; i++) {
      const s = sec(i);
      if ((s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) || s.entsize < 24 || s.link >= shnum) continue;
      const str = sec(s.link);
      this.#check(s.offset, s.size, "symbol table");
      this.#check(str.offset, str.size, "string table");
      for (let o = s.offset; o + 24 <= s.offset + s.size; o += s.entsize) {
        const type = b[o + 4]! & 0xf;
        const shndx = b.readUInt16LE(o + 6);
        if (shndx === 0 || (type !== STT_FUNC && type !== STT_OBJECT && type !== 10 /* IFUNC */)) continue;
        const nameOff = str.offset + b.readUInt32LE(o);
        const end = b.indexOf(0, nameOff);
        if (end < 0 || end > str.offset + str.size) continue;
        const name = b.toString("latin1", nameOff, end);
        const address = b.readBigUInt64LE(o + 8);
        const key = `${name}@${address}`;
        if (seen.has(key)) continue; // .symtab and .dynsym repeat exported symbols
        seen.add(key);
        out.push({ name, address, size: Number(b.readBigUInt64LE(o + 16)), type: type === 10 ? STT_FUNC : type });
      }
    }
    return out;
  }

  /** The symbol with this exact name (Go names such as `net/http.serverHandler.ServeHTTP` included). */
  symbol(name: string): ElfSym | undefined {
    this.#byName ??= new Map(this.symbols.map((s) => [s.name, s]));
    return this.#byName.get(name);
  }

  /** The function containing `address` (a link-time virtual address), by binary search. */
  functionAt(address: bigint): ElfSym | undefined {
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
  functionBytes(sym: ElfSym): Uint8Array {
    const off = this.fileOffset(sym.address);
    if (off === undefined) throw new ElfSymbolsError(`${this.file}: ${sym.name} is not in a loaded segment`, this.file);
    this.#check(Number(off), sym.size, `bytes of ${sym.name}`);
    return this.#bytes.subarray(Number(off), Number(off) + sym.size);
  }
}
