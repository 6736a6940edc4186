// The source's own BTF: a types-only compile of the user's source (generator/compile/clang.ts) with some types
// kept alive as globals. It supplies types the object's BTF lacks (reserved-only event types, types the
// source declares but never uses) and is what `--obj` objects are checked against.

import { parseBtf, type Btf } from "../btf/index.js";
import { compileTypesOnly, type Target, type Tool } from "../compile/clang.js";
import { readElf } from "@bpf2ts/runtime/object-file";
import { CompileError } from "../errors.js";

export interface SourceTypesInput {
  readonly source: string;
  readonly target: Target;
  readonly clang: Tool;
  readonly cflags: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Compiles already started in this run, by what they compile (the targets of one run share them). */
  readonly cache?: Map<string, Promise<SourceTypes>>;
  /** Kills the compile (one started ahead of need that turned out not to be needed). */
  readonly signal?: AbortSignal;
}

export interface SourceTypes {
  /** The types-only compile's BTF. */
  readonly btf: Btf;
  /** Its raw `.BTF` section (what generate writes as `<stem>_types.btf`, for `--obj` runs without clang). */
  readonly raw: Uint8Array;
  /** The spellings it kept; the others made clang fail (not declared, or only in a dead `#if` branch). */
  readonly kept: readonly string[];
}

/** Types saved by an earlier generate (`<stem>_types.btf`, raw BTF), read instead of compiling. */
export function savedSourceTypes(raw: Uint8Array, file: string): SourceTypes {
  return { btf: parseBtf(raw, { file }), raw, kept: [] };
}

/**
 * Compiles the source with each spelling kept as a global. A spelling clang rejects (its error is on
 * that spelling's line of the generated wrapper) is dropped and the compile retried without it; an
 * error anywhere else is the source's own and fails the compile (a CompileError with clang's stderr).
 */
export function compileSourceTypes(m: SourceTypesInput, spellings: readonly string[]): Promise<SourceTypes> {
  const list = [...new Set(spellings)].sort();
  const key = `${m.target.endian}\n${m.target.arch ?? ""}\n${list.join("\n")}`;
  let compiled = m.cache?.get(key);
  if (!compiled) {
    compiled = compileKeeping(m, list);
    m.cache?.set(key, compiled);
  }
  return compiled;
}

async function compileKeeping(m: SourceTypesInput, spellings: readonly string[]): Promise<SourceTypes> {
  let list = spellings;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await compileTypesOnly({ source: m.source, target: m.target, clang: m.clang, cflags: m.cflags, cwd: m.cwd, env: m.env, spellings: list, ...(m.signal && { signal: m.signal }) });
      const elf = readElf(result.object, "types-only compile");
      const section = elf.section(".BTF");
      if (!section) throw new CompileError(`${m.source}: the types-only compile produced no BTF`, { file: m.source });
      const raw = Uint8Array.from(section.data());
      return { btf: parseBtf(raw, { file: "types-only compile", section: ".BTF" }), raw, kept: list };
    } catch (e) {
      const stderr = (e as { stderr?: string }).stderr ?? "";
      const rejected = rejectedSpellings(stderr, list.length);
      if (attempt >= 2 || rejected.size === 0 || e instanceof Error && e.name !== "CompileError") throw e;
      list = list.filter((_, i) => !rejected.has(i));
    }
  }
}

/** Indexes of the spellings whose wrapper lines clang reported errors on (line 1 is the #include). */
function rejectedSpellings(stderr: string, count: number): Set<number> {
  const out = new Set<number>();
  const wrapperErrors = [...stderr.matchAll(/^(.*?):(\d+):\d+: error:/gm)];
  for (const [, file, line] of wrapperErrors) {
    // An error inside the user's source (or a header) is not a spelling's fault: nothing to drop.
    if (!/(^|\/)types\.c$/.test(file!)) return new Set();
    const index = Number(line) - 2;
    if (index >= 0 && index < count) out.add(index);
  }
  return out;
}
