// .BTF.ext: per-program-section func_info, line_info and CO-RE relocation records.
//
// Layout (libbpf's struct btf_ext_header): magic, version, flags, hdr_len, then offset/length pairs
// for func_info, line_info and (when hdr_len ≥ 32) core_relo, relative to the end of the header.
// Each of those blocks is a u32 record size followed by groups of
// { u32 section name offset, u32 record count, records }. Names live in the .BTF string section.

import { BtfError, BTF_MAGIC, label, type Where } from "@bpf2ts/runtime/object-file";
import type { ParsedBtf } from "./index.js";

export interface FuncInfo {
  /** Byte offset of the function's first instruction in its section. */
  readonly insnOff: number;
  readonly typeId: number;
}

export interface LineInfo {
  readonly insnOff: number;
  readonly fileName: string;
  /** The source line's text. */
  readonly line: string;
  readonly lineNum: number;
  readonly column: number;
}

/** enum bpf_core_relo_kind, in order. */
export const coreReloKindNames = [
  "field_byte_offset", "field_byte_size", "field_exists", "field_signed", "field_lshift_u64",
  "field_rshift_u64", "type_id_local", "type_id_target", "type_exists", "type_size",
  "enumval_exists", "enumval_value", "type_matches",
] as const;

export interface CoreRelo {
  readonly insnOff: number;
  /** The local (object's own) BTF type the access starts from. */
  readonly typeId: number;
  /** Access string, e.g. "0:1:0" (member indices). */
  readonly accessStr: string;
  readonly kind: number;
  /** Name from coreReloKindNames, or "unknown(N)". */
  readonly kindName: string;
}

export interface ExtSection<T> {
  /** ELF section the records apply to, e.g. "tracepoint/syscalls/sys_enter_execve". */
  readonly section: string;
  readonly records: readonly T[];
}

export interface BtfExt {
  readonly funcInfo: readonly ExtSection<FuncInfo>[];
  readonly lineInfo: readonly ExtSection<LineInfo>[];
  readonly coreRelos: readonly ExtSection<CoreRelo>[];
}

const MIN_HEADER = 24;
const CORE_HEADER = 32;

/** Parses .BTF.ext against the object's parsed .BTF (which holds its strings and types). */
export function parseBtfExt(bytes: Uint8Array, btf: ParsedBtf, opts: { file?: string; section?: string } = {}): BtfExt {
  const where: Where = { file: opts.file, section: opts.section ?? ".BTF.ext" };
  const fail = (detail: string, cause?: unknown) =>
    new BtfError(`${label(where)}: ${detail}`, { file: where.file, section: where.section, cause });
  if (bytes.length < MIN_HEADER) throw fail(`header truncated (size ${bytes.length}, need ${MIN_HEADER})`);
  let le: boolean;
  if (bytes[0] === (BTF_MAGIC & 0xff) && bytes[1] === BTF_MAGIC >> 8) le = true;
  else if (bytes[0] === BTF_MAGIC >> 8 && bytes[1] === (BTF_MAGIC & 0xff)) le = false;
  else throw fail("bad magic (want 0xeb9f)");
  if (bytes[2] !== 1) throw fail(`unsupported version ${bytes[2]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (o: number) => view.getUint32(o, le);
  const hdrLen = u32(4);
  if (hdrLen < MIN_HEADER || hdrLen > bytes.length) throw fail(`header length ${hdrLen} out of range (size ${bytes.length})`);

  const str = (off: number, what: string): string => {
    try {
      return btf.string(off);
    } catch (e) {
      throw fail(`${what}: string offset 0x${off.toString(16)} is not in the .BTF string section`, e);
    }
  };
  const typeId = (id: number, what: string): number => {
    if (id >= btf.types.length) throw fail(`${what}: type ${id} does not exist (${btf.types.length} types)`);
    return id;
  };

  /** Walks one info block, calling `read(offset)` per record of at least `minRec` bytes. */
  function block<T>(what: string, off: number, len: number, minRec: number, read: (o: number, where: string) => T): ExtSection<T>[] {
    if (len === 0) return [];
    const start = hdrLen + off;
    if (start > bytes.length || len > bytes.length - start)
      throw fail(`${what} extends past end of section (offset 0x${start.toString(16)}, size 0x${len.toString(16)}, section size 0x${bytes.length.toString(16)})`);
    if (len < 4) throw fail(`${what}: block too short for its record size`);
    const end = start + len;
    const recSize = u32(start);
    if (recSize < minRec || recSize % 4 !== 0) throw fail(`${what}: record size ${recSize} is invalid (minimum ${minRec})`);
    const out: ExtSection<T>[] = [];
    let o = start + 4;
    while (o < end) {
      if (end - o < 8) throw fail(`${what}: section group header truncated at offset 0x${o.toString(16)}`);
      const section = str(u32(o), `${what} section name`);
      const count = u32(o + 4);
      o += 8;
      if (count > (end - o) / recSize)
        throw fail(`${what}: ${count} records for ${section} extend past end of block`);
      const records: T[] = [];
      for (let k = 0; k < count; k++, o += recSize) records.push(read(o, `${what} ${section} record ${k}`));
      out.push({ section, records });
    }
    return out;
  }

  const funcInfo = block("func_info", u32(8), u32(12), 8, (o, w) => ({ insnOff: u32(o), typeId: typeId(u32(o + 4), w) }));
  const lineInfo = block("line_info", u32(16), u32(20), 16, (o, w) => {
    const lineCol = u32(o + 12);
    return { insnOff: u32(o), fileName: str(u32(o + 4), w), line: str(u32(o + 8), w), lineNum: lineCol >>> 10, column: lineCol & 0x3ff };
  });
  const coreRelos =
    hdrLen >= CORE_HEADER
      ? block("core_relo", u32(24), u32(28), 16, (o, w) => {
          const kind = u32(o + 12);
          return {
            insnOff: u32(o),
            typeId: typeId(u32(o + 4), w),
            accessStr: str(u32(o + 8), w),
            kind,
            kindName: coreReloKindNames[kind] ?? `unknown(${kind})`,
          };
        })
      : [];
  return { funcInfo, lineInfo, coreRelos };
}

/** CO-RE relocation counts per program section (what `inspect` shows). */
export function coreReloCounts(ext: BtfExt): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of ext.coreRelos) counts.set(s.section, (counts.get(s.section) ?? 0) + s.records.length);
  return counts;
}
