// ELF64 reader for eBPF objects (and any other ELF64 file), both byte orders.
//
// Section headers, section data as views (no copies), the symbol tables, REL/RELA relocations (what
// the generator needs) and the loadable segments (what uprobes and stack symbolization need). Every offset and length read from the file is checked against the
// file size before use, so a truncated or corrupted file ends in an ElfError, never a RangeError.
//
// Reference: the System V gABI, "ELF-64 Object File Format" (section header 64 bytes, symbol 24,
// Elf64_Rel 16, Elf64_Rela 24, program header 56).

import { ObjectFileError } from "./errors.js";

/** Raised for any malformed ELF input. */
export class ElfError extends ObjectFileError {
  override readonly name = "ElfError";
  constructor(message: string, opts: { file?: string; section?: string; cause?: unknown } = {}) {
    super(message, opts);
  }
}

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const PT_LOAD = 1;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;
export const EM_BPF = 247;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;

export interface ElfSection {
  readonly name: string;
  readonly index: number;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  /** Size in the file; for SHT_NOBITS (.bss) the size in memory, with no bytes behind it. */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** The section's bytes as a view into the file (zero-length for SHT_NOBITS). */
  data(): Uint8Array;
}

export interface ElfSymbol {
  /** Index in .symtab (what relocations refer to). */
  readonly index: number;
  readonly name: string;
  readonly value: number;
  readonly size: number;
  /** STT_* */
  readonly type: number;
  /** STB_* */
  readonly bind: number;
  /** STV_* (st_other & 3) */
  readonly visibility: number;
  readonly shndx: number;
  /** Name of the section `shndx` points at, or "" for undefined/absolute/common symbols. */
  readonly sectionName: string;
}

/** A PT_LOAD program header: file bytes [offset, offset + fileSize) are mapped at vaddr. */
export interface ElfSegment {
  readonly offset: number;
  readonly vaddr: number;
  readonly fileSize: number;
}

export interface ElfRelocation {
  readonly offset: number;
  /** Index into .symtab. */
  readonly symbol: number;
  readonly type: number;
  /** 0n for SHT_REL. */
  readonly addend: bigint;
}

export interface ElfFile {
  readonly file?: string;
  readonly littleEndian: boolean;
  /** ET_REL = 1, ET_EXEC = 2, ET_DYN = 3. */
  readonly type: number;
  readonly machine: number;
  readonly flags: number;
  readonly sections: readonly ElfSection[];
  section(name: string): ElfSection | undefined;
  /** All entries of .symtab except the null symbol at index 0 (empty when there is no .symtab). */
  symbols(): readonly ElfSymbol[];
  /** The same for .dynsym (the exported symbols of an executable or shared library). */
  dynamicSymbols(): readonly ElfSymbol[];
  /** The PT_LOAD program headers (none in a relocatable object). */
  segments(): readonly ElfSegment[];
  /** Relocations that apply to `target` (from every SHT_REL/SHT_RELA section whose sh_info is its index). */
  relocations(target: ElfSection | string): readonly ElfRelocation[];
}

const hex = (n: number) => "0x" + n.toString(16);

/** Parses an ELF64 file. `file` is only used in error messages. */
export function readElf(bytes: Uint8Array, file?: string): ElfFile {
  return new ElfReader(bytes, file);
}

class ElfReader implements ElfFile {
  readonly littleEndian: boolean;
  readonly type: number;
  readonly machine: number;
  readonly flags: number;
  readonly sections: readonly ElfSection[];
  private readonly view: DataView;
  private readonly byName = new Map<string, ElfSection>();
  private symbolCache?: readonly ElfSymbol[];
  private dynamicSymbolCache?: readonly ElfSymbol[];

  constructor(
    private readonly bytes: Uint8Array,
    readonly file?: string,
  ) {
    const name = file ?? "ELF";
    if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
      throw this.error(`${name}: not an ELF file (bad magic)`);
    if (bytes[4] === 1) throw this.error(`${name}: 32-bit ELF (ELFCLASS32) is not supported, only ELF64`);
    if (bytes[4] !== 2) throw this.error(`${name}: unknown ELF class ${bytes[4]}`);
    if (bytes[5] !== 1 && bytes[5] !== 2) throw this.error(`${name}: unknown ELF data encoding ${bytes[5]}`);
    if (bytes.length < EHDR_SIZE)
      throw this.error(`${name}: ELF header truncated (file size ${hex(bytes.length)}, need ${hex(EHDR_SIZE)})`);
    this.littleEndian = bytes[5] === 1;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.type = this.u16(16);
    this.machine = this.u16(18);
    this.flags = this.u32(48);
    this.sections = this.readSections(name);
    for (const s of this.sections) if (s.name !== "" && !this.byName.has(s.name)) this.byName.set(s.name, s);
  }

  section(name: string): ElfSection | undefined {
    return this.byName.get(name);
  }

  symbols(): readonly ElfSymbol[] {
    this.symbolCache ??= this.readSymbols(SHT_SYMTAB);
    return this.symbolCache;
  }

  dynamicSymbols(): readonly ElfSymbol[] {
    this.dynamicSymbolCache ??= this.readSymbols(SHT_DYNSYM);
    return this.dynamicSymbolCache;
  }

  segments(): readonly ElfSegment[] {
    const phoff = this.u64(32);
    const phentsize = this.u16(54);
    const phnum = this.u16(56);
    if (phoff === 0 || phnum === 0) return [];
    if (phentsize < PHDR_SIZE) throw this.error(`${this.label}: program header size ${phentsize} is smaller than ${PHDR_SIZE}`);
    this.checkRange("program headers", phoff, phnum * phentsize);
    const out: ElfSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      if (this.u32(o) !== PT_LOAD) continue;
      out.push({ offset: this.u64(o + 8), vaddr: this.addr(o + 16), fileSize: this.u64(o + 32) });
    }
    return out;
  }

  relocations(target: ElfSection | string): readonly ElfRelocation[] {
    const sec = typeof target === "string" ? this.section(target) : target;
    if (!sec) return [];
    const out: ElfRelocation[] = [];
    for (const rs of this.sections) {
      if ((rs.type !== SHT_REL && rs.type !== SHT_RELA) || rs.info !== sec.index) continue;
      const rela = rs.type === SHT_RELA;
      const entSize = rela ? RELA_SIZE : REL_SIZE;
      if (rs.entsize !== 0 && rs.entsize < entSize)
        throw this.error(`${this.label}: section ${rs.name}: entry size ${rs.entsize} is smaller than ${entSize}`, rs.name);
      const stride = rs.entsize || entSize;
      const count = Math.floor(rs.size / stride);
      for (let i = 0; i < count; i++) {
        const o = rs.offset + i * stride;
        out.push({
          offset: this.u64(o, rs.name),
          symbol: this.u32(o + (this.littleEndian ? 12 : 8)),
          type: this.u32(o + (this.littleEndian ? 8 : 12)),
          addend: rela ? this.view.getBigInt64(o + 16, this.littleEndian) : 0n,
        });
      }
    }
    return out;
  }

  private get label(): string {
    return this.file ?? "ELF";
  }

  private error(message: string, section?: string): ElfError {
    return new ElfError(message, { file: this.file, section });
  }

  private u16(o: number): number {
    return this.view.getUint16(o, this.littleEndian);
  }
  private u32(o: number): number {
    return this.view.getUint32(o, this.littleEndian);
  }
  /** A u64 as a number; values past 2^53 (never offsets or sizes of a real file) are an error. */
  private u64(o: number, section?: string): number {
    const le = this.littleEndian;
    const lo = this.view.getUint32(o + (le ? 0 : 4), le);
    const hi = this.view.getUint32(o + (le ? 4 : 0), le);
    if (hi > 0x1fffff) throw this.error(`${this.label}: 64-bit value at offset ${hex(o)} is too large`, section);
    return hi * 0x100000000 + lo;
  }
  /** Like u64, but addresses may legitimately be huge (kernel addresses); keep them approximate. */
  private addr(o: number): number {
    const le = this.littleEndian;
    const lo = this.view.getUint32(o + (le ? 0 : 4), le);
    const hi = this.view.getUint32(o + (le ? 4 : 0), le);
    return hi * 0x100000000 + lo;
  }

  private checkRange(what: string, offset: number, size: number, section?: string): void {
    if (offset > this.bytes.length || size > this.bytes.length - offset)
      throw this.error(
        `${this.label}: ${what} extends past end of file (offset ${hex(offset)}, size ${hex(size)}, file size ${hex(this.bytes.length)})`,
        section,
      );
  }

  private readSections(name: string): ElfSection[] {
    const shoff = this.u64(40);
    const shentsize = this.u16(58);
    let shnum = this.u16(60);
    let shstrndx = this.u16(62);
    if (shoff === 0) return [];
    if (shentsize < SHDR_SIZE) throw this.error(`${name}: section header size ${shentsize} is smaller than ${SHDR_SIZE}`);
    this.checkRange("section header 0", shoff, SHDR_SIZE);
    // Extended numbering: counts that do not fit in 16 bits live in section header 0.
    if (shnum === 0) shnum = this.u64(shoff + 32);
    if (shstrndx === SHN_XINDEX) shstrndx = this.u32(shoff + 40);
    if (shnum > Math.floor((this.bytes.length - shoff) / shentsize))
      throw this.error(
        `${name}: section header table extends past end of file (offset ${hex(shoff)}, ${shnum} entries of ${shentsize} bytes, file size ${hex(this.bytes.length)})`,
      );
    const raw: { nameOff: number; hdr: Omit<ElfSection, "name" | "data"> }[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      const type = this.u32(o + 4);
      const offset = this.u64(o + 24, `#${i}`);
      const size = this.u64(o + 32, `#${i}`);
      raw.push({
        nameOff: this.u32(o),
        hdr: {
          index: i,
          type,
          flags: this.addr(o + 8),
          addr: this.addr(o + 16),
          offset,
          size,
          link: this.u32(o + 40),
          info: this.u32(o + 44),
          addralign: this.addr(o + 48),
          entsize: this.addr(o + 56),
        },
      });
    }
    let strtab: Uint8Array | undefined;
    if (shstrndx !== SHN_UNDEF) {
      const s = raw[shstrndx];
      if (!s) throw this.error(`${name}: section name table index ${shstrndx} out of range (${shnum} sections)`);
      this.checkRange(`section #${shstrndx} (section names)`, s.hdr.offset, s.hdr.size, `#${shstrndx}`);
      strtab = this.bytes.subarray(s.hdr.offset, s.hdr.offset + s.hdr.size);
    }
    return raw.map(({ nameOff, hdr }) => {
      const secName = strtab ? this.cstring(strtab, nameOff, `name of section #${hdr.index}`) : "";
      // Checked once the name is known, so the message can say which section is cut short.
      if (hdr.type !== SHT_NOBITS && hdr.type !== SHT_NULL)
        this.checkRange(`section ${secName || `#${hdr.index}`}: data`, hdr.offset, hdr.size, secName || `#${hdr.index}`);
      const bytes = this.bytes;
      const data =
        hdr.type === SHT_NOBITS || hdr.type === SHT_NULL
          ? () => bytes.subarray(0, 0)
          : () => bytes.subarray(hdr.offset, hdr.offset + hdr.size);
      return { name: secName, ...hdr, data };
    });
  }

  /** A NUL-terminated string at `off` in `table`. */
  private cstring(table: Uint8Array, off: number, what: string, section?: string): string {
    if (off >= table.length) {
      if (off === 0) return "";
      throw this.error(`${this.label}: ${what}: string offset ${hex(off)} past end of string table (size ${hex(table.length)})`, section);
    }
    const end = table.indexOf(0, off);
    if (end < 0) throw this.error(`${this.label}: ${what}: string at offset ${hex(off)} is not NUL-terminated`, section);
    return latin1OrUtf8(table, off, end);
  }

  private readSymbols(tableType: typeof SHT_SYMTAB | typeof SHT_DYNSYM): ElfSymbol[] {
    const symtab = this.sections.find((s) => s.type === tableType);
    if (!symtab) return [];
    const strSec = this.sections[symtab.link];
    if (!strSec || strSec.type !== SHT_STRTAB)
      throw this.error(`${this.label}: section ${symtab.name}: sh_link ${symtab.link} is not a string table`, symtab.name);
    if (symtab.entsize !== 0 && symtab.entsize < SYM_SIZE)
      throw this.error(`${this.label}: section ${symtab.name}: entry size ${symtab.entsize} is smaller than ${SYM_SIZE}`, symtab.name);
    const stride = symtab.entsize || SYM_SIZE;
    const strtab = strSec.data();
    const count = Math.floor(symtab.size / stride);
    const out: ElfSymbol[] = [];
    for (let i = 1; i < count; i++) {
      const o = symtab.offset + i * stride;
      const info = this.bytes[o + 4]!;
      const shndx = this.u16(o + 6);
      const sec = shndx !== SHN_UNDEF && shndx < SHN_LORESERVE ? this.sections[shndx] : undefined;
      out.push({
        index: i,
        name: this.cstring(strtab, this.u32(o), `name of symbol #${i}`, symtab.name),
        value: this.addr(o + 8),
        size: this.addr(o + 16),
        type: info & 0xf,
        bind: info >> 4,
        visibility: this.bytes[o + 5]! & 3,
        shndx,
        sectionName: sec?.name ?? "",
      });
    }
    return out;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Decodes bytes [start, end): ASCII fast path, UTF-8 otherwise. */
export function latin1OrUtf8(bytes: Uint8Array, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) { ascii = false; break; }
  if (!ascii) return utf8.decode(bytes.subarray(start, end));
  if (end - start < 64) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  return utf8.decode(bytes.subarray(start, end));
}
