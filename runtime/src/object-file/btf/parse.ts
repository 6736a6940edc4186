// BTF: parse a blob into the type graph of types.ts (header wire.ts, strings strings.ts, records
// decode.ts). The graph's questions (resolve, sizes, C spelling) are the generator's (generator/btf/).

import { BtfError, readHeader, wordsOf, label, type BtfHeader } from "./wire.js";
import { StringTable } from "./strings.js";
import { decodeTypes } from "./decode.js";
import { Kind, type Btf, type Type, type TypeId } from "./types.js";

export interface ParseBtfOptions {
  /** File name for error messages. */
  file?: string;
  /** Section name for error messages (".BTF" when read from an object). */
  section?: string;
  /** Base BTF for split BTF (kernel module BTF on top of vmlinux): ids and strings continue from it. */
  base?: ParsedBtf;
}

/** A parsed BTF blob: the type graph plus its string table (which .BTF.ext refers into). */
export interface ParsedBtf extends Btf {
  readonly header: BtfHeader;
  readonly strings: StringTable;
  /** First id defined by this blob (1, or the base's type count for split BTF). */
  readonly firstId: TypeId;
  readonly base?: ParsedBtf;
  /** The string at `offset` of the string section (base first for split BTF); throws when invalid. */
  string(offset: number): string;
}

const VOID: Type = { kind: Kind.Void, id: 0, name: "" };

/** Parses a BTF blob (the `.BTF` section of an object, or /sys/kernel/btf/vmlinux). */
export function parseBtf(bytes: Uint8Array, opts: ParseBtfOptions = {}): ParsedBtf {
  const where = { file: opts.file, section: opts.section };
  const header = readHeader(bytes, where);
  const base = opts.base;
  if (base && base.littleEndian !== header.littleEndian)
    throw new BtfError(`${label(where)}: byte order differs from the base BTF`, where);
  const strings = new StringTable(bytes.subarray(header.strOff, header.strOff + header.strLen), base?.strings);
  const types: Type[] = base ? base.types.slice() : [VOID];
  const firstId = types.length;
  decodeTypes(wordsOf(bytes, header.typeOff, header.typeLen, header.littleEndian), strings, types, where);
  return new BtfGraph(types, header, strings, firstId, where, base);
}

class BtfGraph implements ParsedBtf {
  private names?: Map<string, TypeId[]>;
  constructor(
    readonly types: readonly Type[],
    readonly header: BtfHeader,
    readonly strings: StringTable,
    readonly firstId: TypeId,
    private readonly where: { file?: string; section?: string },
    readonly base?: ParsedBtf,
  ) {}

  get littleEndian(): boolean {
    return this.header.littleEndian;
  }

  byName(name: string): readonly TypeId[] {
    if (!this.names) {
      const names = new Map<string, TypeId[]>();
      for (const t of this.types) {
        if (t.name === "") continue;
        const ids = names.get(t.name);
        if (ids) ids.push(t.id);
        else names.set(t.name, [t.id]);
      }
      this.names = names;
    }
    return this.names.get(name) ?? [];
  }

  string(offset: number): string {
    if (offset === 0) return "";
    const s = this.strings.get(offset);
    if (s === undefined)
      throw new BtfError(`${label(this.where)}: string offset 0x${offset.toString(16)} is outside the string section or unterminated`, this.where);
    return s;
  }
}

