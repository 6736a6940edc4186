// `llvm-strip -g` in process: removes DWARF from a relocatable ELF64 object (what clang writes for
// BPF) while .BTF/.BTF.ext, the programs, maps and symbols stay. Spawning llvm-strip cost ~100 ms per
// object (most of it LLVM's process start); this takes a few milliseconds.
//
// The output is the bytes llvm-strip-19 writes for the same input (tests compare them file by file),
// which means doing what llvm-objcopy does:
// - removed: sections named `.debug*`, `.zdebug*`, `.gdb_index`, the relocation sections for them,
//   the symbols defined in them and STT_FILE symbols;
// - sections and symbols renumbered in their order (locals first), sh_link/sh_info, st_shndx and
//   every kept relocation's symbol index rewritten;
// - string tables rebuilt as LLVM's StringTableBuilder does (sorted by reversed string, tails shared);
// - sections laid out from offset 64 in the order of their input offsets, each at its alignment, the
//   section headers after them at 8;
// - `.llvm_addrsig` kept byte for byte with sh_link 0: its symbol indices are stale, and a linker
//   ignores an address-significance table not linked to the symbol table.

import { ElfError } from "@bpf2ts/runtime/object-file";

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const ET_REL = 1;
const SHT_NULL = 0;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_RELA = 4;
const SHT_NOBITS = 8;
const SHT_REL = 9;
const SHT_DYNSYM = 11;
const SHT_GROUP = 17;
const SHT_SYMTAB_SHNDX = 18;
const SHT_LLVM_ADDRSIG = 0x6fff4c03;
const SHF_ALLOC = 0x2;
const SHF_INFO_LINK = 0x40;
const SHN_LORESERVE = 0xff00;
const SHN_XINDEX = 0xffff;
const STB_LOCAL = 0;
const STT_FILE = 4;

/** What llvm-objcopy counts as debug information. */
export const isDebugSection = (name: string): boolean => name.startsWith(".debug") || name.startsWith(".zdebug") || name === ".gdb_index";

interface Section {
  readonly index: number;
  /** The 64 header bytes as read. */
  readonly header: Uint8Array;
  readonly name: Uint8Array;
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly align: number;
  readonly entsize: number;
}

/**
 * `bytes` without its DWARF, as `llvm-strip -g` leaves it. `file` names the object in errors (an
 * ElfError, like the ELF reader's): a malformed or unsupported input is refused, never half-stripped.
 */
export function stripDebug(bytes: Uint8Array, file: string): Uint8Array {
  return new Stripper(bytes, file).strip();
}

class Stripper {
  private readonly view: DataView;
  private readonly le: boolean;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {
    if (bytes.length < EHDR_SIZE || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw this.error(bytes.length < 4 ? "not an ELF file (too short)" : bytes.length < EHDR_SIZE ? "ELF header truncated" : "not an ELF file (bad magic)");
    }
    if (bytes[4] !== 2) throw this.error(`ELF class ${bytes[4]} is not supported, only ELF64`);
    if (bytes[5] !== 1 && bytes[5] !== 2) throw this.error(`unknown ELF data encoding ${bytes[5]}`);
    this.le = bytes[5] === 1;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  strip(): Uint8Array {
    if (this.u16(16) !== ET_REL) throw this.error(`ELF type ${this.u16(16)} is not a relocatable object (ET_REL); only those are stripped`);
    if (this.u16(56) !== 0) throw this.error("a relocatable object with program headers is not supported");
    const sections = this.readSections();
    const shstrndx = this.u16(62);

    // What goes: debug sections, then the relocations for them.
    const removed = new Set<number>();
    for (const s of sections) if (s.index > 0 && isDebugSection(latin1(s.name))) removed.add(s.index);
    for (const s of sections) if ((s.type === SHT_REL || s.type === SHT_RELA) && removed.has(s.info)) removed.add(s.index);
    const kept = sections.filter((s) => !removed.has(s.index));
    const newIndex = new Map(kept.map((s, i) => [s.index, i]));
    const mapSection = (i: number, by: Section, what: string): number => {
      const to = newIndex.get(i);
      if (to === undefined) throw this.error(`section ${this.label(by)}: its ${what} names section ${removed.has(i) ? `${this.label(sections[i]!)}, which is debug information` : `#${i}, which does not exist`}`, by);
      return to;
    };

    const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
    if (symtabs.length > 1) throw this.error("more than one symbol table");
    const symtab = symtabs[0];
    for (const s of kept) {
      if (s.type === SHT_GROUP || s.type === SHT_SYMTAB_SHNDX || s.type === SHT_DYNSYM) throw this.error(`section ${this.label(s)}: type ${s.type} is not supported in a BPF object`, s);
      if (symtab && (s.type === SHT_REL || s.type === SHT_RELA) && s.link !== symtab.index) throw this.error(`section ${this.label(s)}: sh_link ${s.link} is not the symbol table`, s);
    }
    if (symtab && removed.has(symtab.index)) throw this.error("the symbol table is named as debug information");
    const symbols = symtab ? this.keptSymbols(symtab, sections, removed, newIndex) : undefined;

    // String tables: the section names' and the symbols' (one table in clang's objects).
    const tables = new Map<number, Uint8Array[]>();
    const strings = (i: number) => tables.get(i) ?? tables.set(i, []).get(i)!;
    for (const s of kept) strings(shstrndx).push(s.name);
    if (symtab && symbols) {
      const strtab = sections[symtab.link];
      if (!strtab || strtab.type !== SHT_STRTAB || removed.has(strtab.index) || (strtab.flags & SHF_ALLOC) !== 0) throw this.error(`section ${this.label(symtab)}: sh_link ${symtab.link} is not a string table`, symtab);
      for (const sym of symbols.list) strings(strtab.index).push(sym.name);
    }
    if (sections[shstrndx]!.type !== SHT_STRTAB || removed.has(shstrndx)) throw this.error(`section name table #${shstrndx} is not a string table`);
    const built = new Map([...tables].map(([i, names]) => [i, buildStringTable(names)]));
    const shNames = built.get(shstrndx)!;

    // Contents of the sections that change.
    const contents = new Map<number, Uint8Array>();
    for (const [i, t] of built) contents.set(i, t.bytes);
    if (symtab && symbols) {
      const names = built.get(symtab.link)!;
      const out = new Uint8Array(symbols.list.length * SYM_SIZE);
      const view = new DataView(out.buffer);
      symbols.list.forEach((sym, i) => {
        out.set(sym.raw, i * SYM_SIZE);
        view.setUint32(i * SYM_SIZE, names.offsets.get(latin1(sym.name))!, this.le);
        view.setUint16(i * SYM_SIZE + 6, sym.shndx, this.le);
      });
      contents.set(symtab.index, out);
      for (const s of kept) if (s.type === SHT_REL || s.type === SHT_RELA) contents.set(s.index, this.renumberRelocations(s, symbols.newIndex, symbols.dropped));
    }

    // Layout: llvm-objcopy's, sections in the order of their input offsets.
    const sizeOf = (s: Section) => contents.get(s.index)?.length ?? s.size;
    const offsets = new Map<number, number>();
    let end = EHDR_SIZE;
    for (const s of kept.slice(1).sort((a, b) => a.offset - b.offset || a.index - b.index)) {
      end = alignTo(end, s.align || 1);
      offsets.set(s.index, end);
      if (s.type !== SHT_NOBITS) end += sizeOf(s);
    }
    const shoff = alignTo(end, 8);
    const out = new Uint8Array(shoff + kept.length * SHDR_SIZE);
    const view = new DataView(out.buffer);
    const u64 = (o: number, v: number) => view.setBigUint64(o, BigInt(v), this.le);
    const u32 = (o: number, v: number) => view.setUint32(o, v, this.le);
    out.set(this.bytes.subarray(0, EHDR_SIZE));
    u64(40, shoff);
    view.setUint16(58, SHDR_SIZE, this.le);
    view.setUint16(60, kept.length, this.le);
    view.setUint16(62, newIndex.get(shstrndx)!, this.le);
    kept.forEach((s, i) => {
      const h = shoff + i * SHDR_SIZE;
      out.set(s.header, h);
      if (i === 0) return;
      const data = contents.get(s.index) ?? (s.type === SHT_NOBITS ? undefined : this.bytes.subarray(s.offset, s.offset + s.size));
      if (data) out.set(data, offsets.get(s.index)!);
      u32(h, shNames.offsets.get(latin1(s.name))!);
      u64(h + 24, offsets.get(s.index)!);
      u64(h + 32, sizeOf(s));
      if (s.type === SHT_LLVM_ADDRSIG) {
        u32(h + 40, 0);
      } else if (s.type === SHT_SYMTAB) {
        u32(h + 40, mapSection(s.link, s, "sh_link"));
        u32(h + 44, symbols!.locals);
      } else {
        if (s.link !== 0) u32(h + 40, mapSection(s.link, s, "sh_link"));
        if (s.type === SHT_REL || s.type === SHT_RELA || (s.flags & SHF_INFO_LINK) !== 0) u32(h + 44, mapSection(s.info, s, "sh_info"));
      }
    });
    return out;
  }

  /** The symbols that stay, locals first (each group in input order), with their new section indices. */
  private keptSymbols(symtab: Section, sections: readonly Section[], removed: ReadonlySet<number>, newIndex: ReadonlyMap<number, number>) {
    if (symtab.size % SYM_SIZE !== 0 || symtab.entsize !== SYM_SIZE) throw this.error(`section ${this.label(symtab)}: not a table of ${SYM_SIZE}-byte symbols`, symtab);
    const strtab = sections[symtab.link];
    const names = strtab && strtab.type === SHT_STRTAB ? this.bytes.subarray(strtab.offset, strtab.offset + strtab.size) : undefined;
    if (!names) throw this.error(`section ${this.label(symtab)}: sh_link ${symtab.link} is not a string table`, symtab);
    const kept: Array<{ index: number; raw: Uint8Array; name: Uint8Array; shndx: number; local: boolean }> = [];
    const dropped = new Map<number, string>();
    const count = symtab.size / SYM_SIZE;
    for (let i = 0; i < count; i++) {
      const o = symtab.offset + i * SYM_SIZE;
      const name = this.cstring(names, this.u32(o), `symbol #${i}`, symtab);
      const info = this.bytes[o + 4]!;
      const shndx = this.u16(o + 6);
      if (shndx === SHN_XINDEX) throw this.error(`symbol ${latin1(name) || `#${i}`}: extended section indices are not supported`, symtab);
      const inSection = i > 0 && shndx !== 0 && shndx < SHN_LORESERVE;
      if (inSection && shndx >= sections.length) throw this.error(`symbol ${latin1(name) || `#${i}`}: section index ${shndx} out of range (${sections.length} sections)`, symtab);
      if (i > 0 && ((info & 0xf) === STT_FILE || (inSection && removed.has(shndx)))) {
        dropped.set(i, latin1(name) || `#${i}`);
        continue;
      }
      kept.push({ index: i, raw: this.bytes.subarray(o, o + SYM_SIZE), name, shndx: inSection ? newIndex.get(shndx)! : shndx, local: i === 0 || info >> 4 === STB_LOCAL });
    }
    const list = [...kept.filter((s) => s.local), ...kept.filter((s) => !s.local)];
    return { list, locals: kept.filter((s) => s.local).length, newIndex: new Map(list.map((s, i) => [s.index, i])), dropped };
  }

  /** A kept relocation section with each entry's symbol index renumbered. */
  private renumberRelocations(s: Section, newIndex: ReadonlyMap<number, number>, dropped: ReadonlyMap<number, string>): Uint8Array {
    const entry = s.type === SHT_RELA ? 24 : 16;
    if (s.size % entry !== 0 || s.entsize !== entry) throw this.error(`section ${this.label(s)}: not a table of ${entry}-byte relocations`, s);
    const out = new Uint8Array(this.bytes.subarray(s.offset, s.offset + s.size)); // a copy (Buffer's slice is a view)
    const view = new DataView(out.buffer);
    const symAt = this.le ? 12 : 8; // the high half of r_info
    for (let o = 0; o < out.length; o += entry) {
      const sym = view.getUint32(o + symAt, this.le);
      const to = newIndex.get(sym);
      if (to === undefined) {
        const why = dropped.has(sym) ? `symbol ${dropped.get(sym)}, which is debug information (stripping it would break the relocation)` : `symbol #${sym}, which does not exist`;
        throw this.error(`section ${this.label(s)}: relocation #${o / entry} names ${why}`, s);
      }
      view.setUint32(o + symAt, to, this.le);
    }
    return out;
  }

  private readSections(): Section[] {
    const shoff = this.u64(40);
    const shnum = this.u16(60);
    if (shoff === 0 || shnum === 0) throw this.error(shoff === 0 ? "no section headers" : "extended section numbering (more than 65279 sections) is not supported");
    if (this.u16(58) !== SHDR_SIZE) throw this.error(`section header size ${this.u16(58)} is not ${SHDR_SIZE}`);
    this.checkRange("section header table", shoff, shnum * SHDR_SIZE);
    const raw = Array.from({ length: shnum }, (_, i) => shoff + i * SHDR_SIZE);
    const shstrndx = this.u16(62);
    if (shstrndx === SHN_XINDEX || shstrndx === 0 || shstrndx >= shnum) throw this.error(`section name table index ${shstrndx} out of range (${shnum} sections)`);
    const namesAt = raw[shstrndx]!;
    const names = this.checkedData(`section #${shstrndx} (section names)`, this.u64(namesAt + 24), this.u64(namesAt + 32));
    return raw.map((o, index) => {
      const type = this.u32(o + 4);
      const name = index === 0 ? new Uint8Array(0) : this.cstring(names, this.u32(o), `name of section #${index}`);
      const s: Section = {
        index,
        header: this.bytes.subarray(o, o + SHDR_SIZE),
        name,
        type,
        flags: this.u64(o + 8),
        offset: this.u64(o + 24),
        size: this.u64(o + 32),
        link: this.u32(o + 40),
        info: this.u32(o + 44),
        align: this.u64(o + 48),
        entsize: this.u64(o + 56),
      };
      if (type !== SHT_NOBITS && type !== SHT_NULL) this.checkedData(`section ${this.label(s)}: data`, s.offset, s.size, s);
      return s;
    });
  }

  private label(s: Section): string {
    return latin1(s.name) || `#${s.index}`;
  }

  private error(message: string, section?: Section): ElfError {
    return new ElfError(`${this.file}: ${message}`, { file: this.file, ...(section && { section: this.label(section) }) });
  }

  private checkRange(what: string, offset: number, size: number, section?: Section): void {
    if (offset > this.bytes.length || size > this.bytes.length - offset) {
      throw this.error(`${what} extends past end of file (offset 0x${offset.toString(16)}, size 0x${size.toString(16)}, file size 0x${this.bytes.length.toString(16)})`, section);
    }
  }

  private checkedData(what: string, offset: number, size: number, section?: Section): Uint8Array {
    this.checkRange(what, offset, size, section);
    return this.bytes.subarray(offset, offset + size);
  }

  private cstring(table: Uint8Array, off: number, what: string, section?: Section): Uint8Array {
    if (off === 0 && table.length === 0) return table;
    const end = off < table.length ? table.indexOf(0, off) : -1;
    if (end < 0) throw this.error(`${what}: string offset 0x${off.toString(16)} is past the end of the string table or not NUL-terminated`, section);
    return table.subarray(off, end);
  }

  private u16(o: number): number {
    return this.view.getUint16(o, this.le);
  }
  private u32(o: number): number {
    return this.view.getUint32(o, this.le);
  }
  private u64(o: number): number {
    const v = this.view.getBigUint64(o, this.le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.error(`64-bit value at offset 0x${o.toString(16)} is too large`);
    return Number(v);
  }
}

const alignTo = (n: number, align: number) => Math.ceil(n / align) * align;

/** Names as byte strings (one char per byte), so that sorting compares bytes as LLVM does. */
const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

/**
 * An ELF string table as LLVM's StringTableBuilder lays it out: a NUL first (the empty string), the
 * strings sorted by their bytes read backwards, greatest first, each one that ends the string before
 * it sharing that string's tail.
 */
export function buildStringTable(names: readonly Uint8Array[]): { bytes: Uint8Array; offsets: Map<string, number> } {
  const unique = [...new Set(names.map(latin1))].filter((s) => s !== "");
  unique.sort(compareReversedDescending);
  const offsets = new Map<string, number>([["", 0]]);
  let size = 1;
  let previous = "";
  for (const s of unique) {
    if (previous.endsWith(s)) {
      offsets.set(s, size - s.length - 1);
      continue;
    }
    offsets.set(s, size);
    size += s.length + 1;
    previous = s;
  }
  const bytes = new Uint8Array(size);
  for (const [s, o] of offsets) if (s !== "") bytes.set(Buffer.from(s, "latin1"), o);
  return { bytes, offsets };
}

/** LLVM's multikey sort order: compare from the last byte backwards, greater first, a string that ends first is smaller. */
function compareReversedDescending(a: string, b: string): number {
  for (let i = 1; ; i++) {
    const ca = i <= a.length ? a.charCodeAt(a.length - i) : -1;
    const cb = i <= b.length ? b.charCodeAt(b.length - i) : -1;
    if (ca !== cb) return cb - ca;
    if (ca === -1) return 0;
  }
}
