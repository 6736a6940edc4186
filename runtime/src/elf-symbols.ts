// Reads the symbols of an ELF executable or shared library and maps their addresses to file offsets:
// the offset a uprobe is attached at (resolveSymbolOffset), and what tracer CLIs need to symbolize
// stacks and inspect Go binaries (ElfImage: data symbols too, function bytes, offset ↔ address).
// Names match exactly, so Go's `net/http.(*conn).serve` and C++ mangled names work as written.
// Built on the one ELF reader (object-file/elf.ts), with addresses as bigints for the tracers.

import { readFileSync } from "node:fs";
import { BpfError, errno } from "./errors.js";
import { ElfError, readElf, SHN_UNDEF, STT_FUNC, STT_OBJECT, type ElfSegment, type ElfSymbol as RawElfSymbol } from "./object-file/elf.js";

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

export { STT_FUNC, STT_OBJECT };
const STT_GNU_IFUNC = 10;

export class ElfImage {
  readonly file: string;
  /** Function and data symbols of .symtab and .dynsym, each name@address once, in file order. */
  readonly symbols: ElfSymbol[];
  /** ELF type: 2 = EXEC (absolute addresses), 3 = DYN (PIE or shared library, relocated at load). */
  readonly type: number;
  readonly #bytes: Buffer;
  readonly #segments: readonly ElfSegment[];
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
    try {
      const elf = readElf(this.#bytes, file);
      this.type = elf.type;
      this.#segments = elf.segments();
      this.symbols = functionAndDataSymbols([...elf.symbols(), ...elf.dynamicSymbols()]);
    } catch (e) {
      if (e instanceof ElfError) throw new ElfSymbolsError(e.message, file, { cause: e });
      throw e;
    }
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
      const vaddr = BigInt(s.vaddr);
      if (address >= vaddr && address < vaddr + BigInt(s.fileSize)) return address - vaddr + BigInt(s.offset);
    }
    return undefined;
  }

  /** Virtual address of a file offset (to map /proc/PID/maps offsets back to symbols). */
  addressOfOffset(offset: bigint): bigint | undefined {
    for (const s of this.#segments) {
      const start = BigInt(s.offset);
      if (offset >= start && offset < start + BigInt(s.fileSize)) return offset - start + BigInt(s.vaddr);
    }
    return undefined;
  }

  /** The bytes of a function symbol, as mapped from the file. */
  functionBytes(sym: ElfSymbol): Uint8Array {
    const off = this.fileOffset(sym.address);
    if (off === undefined) throw new ElfSymbolsError(`${this.file}: ${sym.name} is not in a loaded segment`, this.file);
    const start = Number(off);
    if (start + sym.size > this.#bytes.length) {
      throw new ElfSymbolsError(`${this.file}: bytes of ${sym.name} out of bounds (offset ${start}, ${sym.size} bytes)`, this.file);
    }
    return this.#bytes.subarray(start, start + sym.size);
  }
}

/** Defined functions (GNU ifuncs included) and data objects, each name@address once: .symtab and
 * .dynsym repeat exported symbols. */
function functionAndDataSymbols(all: readonly RawElfSymbol[]): ElfSymbol[] {
  const out: ElfSymbol[] = [];
  const seen = new Set<string>();
  for (const s of all) {
    if (s.shndx === SHN_UNDEF || (s.type !== STT_FUNC && s.type !== STT_OBJECT && s.type !== STT_GNU_IFUNC)) continue;
    const key = `${s.name}@${s.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ name: s.name, address: BigInt(s.value), size: s.size, type: s.type === STT_GNU_IFUNC ? STT_FUNC : s.type });
  }
  return out;
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
