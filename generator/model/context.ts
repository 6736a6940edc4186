// What the model's readers share: the object being read (ELF, BTF, warnings), where in it a reader is
// (for errors: the BTF questions in btf/query.ts take it as their place), and where a variable is.

import type { Btf } from "@bpf2ts/runtime/object-file";
import type { TypePlace } from "../btf/index.js";
import { STB_LOCAL, STT_FUNC, type ElfFile } from "@bpf2ts/runtime/object-file";

/** The object being read. */
export interface ModelContext {
  readonly file: string;
  readonly btf: Btf;
  readonly elf: ElfFile;
  readonly warnings: string[];
}

export const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Where a variable really is. clang leaves DATASEC offsets and sizes at 0 in objects; libbpf fills them
 * from the symbol table at open (`btf_fixup_datasec`), and so do we.
 */
export function placeOf(ctx: ModelContext, section: string, name: string, info: { offset: number; size: number }): { offset: number; size: number; local: boolean } {
  for (const sym of ctx.elf.symbols()) {
    if (sym.name === name && sym.sectionName === section && sym.type !== STT_FUNC) return { offset: sym.value, size: sym.size || info.size, local: sym.bind === STB_LOCAL };
  }
  return { ...info, local: false };
}

export interface Where extends TypePlace {
  readonly file: string;
  readonly section: string;
  /** What is being read, for messages: `map "events"`. */
  readonly what: string;
}
