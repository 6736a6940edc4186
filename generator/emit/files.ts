// The pure pipeline: compiled objects + their models → the files of a generated module. No I/O, no
// clock, no absolute paths: the same input gives the same bytes (the CLI does the reading and writing).

import { deflateRaw, deflateRawSync } from "node:zlib";
import { promisify } from "node:util";
import { objectStem } from "../compile/clang.js";
import { Bpf2tsError } from "../errors.js";
import { emitModule } from "./module.js";
import { layoutDifference, layoutModule, type ModuleLayouts } from "../layout/roots.js";
import type { ObjectModel } from "../model/model.js";
import { STEM, STEM_RULE } from "../pipeline/options.js";

export type Target = "bpfel" | "bpfeb";

export interface TargetObject {
  readonly target: Target;
  /** The object file's bytes, embedded in the module and written beside it. */
  readonly object: Uint8Array;
  /** The object's model; its BTF may be extended with types from a types-only compile. */
  readonly model: ObjectModel;
  /** The object as the module embeds it (embedObject), when the caller has it already. */
  readonly embedded?: string;
}

export interface GenerateInput {
  /** The stem: prefix of every type name and of the file names (`exec` → `exec.ts`, `ExecEvent`). */
  readonly stem: string;
  /** bpf2ts version for the header. */
  readonly version: string;
  /** The C source's base name and the sha256 (hex) of its contents, for the header. */
  readonly source: { readonly name: string; readonly sha256: string };
  /** One or two targets; with two, their layouts must agree (one module serves both byte orders). */
  readonly targets: readonly TargetObject[];
  /** Emit the named types the source declares (default true; `--no-global-types` turns it off). */
  readonly globalTypes?: boolean;
  /** C spellings of the types the source declares (from the source scan); without it only roots are emitted. */
  readonly declaredTypes?: readonly string[];
  /** File name stem when it differs from `stem` (`--output-stem`). */
  readonly fileStem?: string;
  /** The header line recording how the module was made (generator/emit/build-record.ts). */
  readonly record?: string;
}

export interface GeneratedFile {
  /** Relative to the output directory. */
  readonly path: string;
  readonly contents: string | Uint8Array;
}

export class GenerateError extends Bpf2tsError {
  override name = "GenerateError";
}

/**
 * The embedded form of an object: raw deflate (level 9), then base64. BPF objects are mostly BTF
 * and string tables: they shrink to about a third, which keeps modules small (docs/ARCHITECTURE.md).
 */
export function embedObject(bytes: Uint8Array): string {
  return deflateRawSync(bytes, { level: 9 }).toString("base64");
}

const deflateRawAsync = promisify(deflateRaw);

/** embedObject on libuv's threads (the same text), for a caller that has other work meanwhile. */
export async function embedObjectAsync(bytes: Uint8Array): Promise<string> {
  return (await deflateRawAsync(bytes, { level: 9 })).toString("base64");
}

export { STEM, STEM_RULE };

export function generate(input: GenerateInput): GeneratedFile[] {
  if (!STEM.test(input.stem)) throw new GenerateError(`generate: stem "${input.stem}" ${STEM_RULE}`);
  if (input.fileStem !== undefined && !STEM.test(input.fileStem)) throw new GenerateError(`generate: output stem "${input.fileStem}" ${STEM_RULE}`);
  if (input.targets.length === 0) throw new GenerateError("generate: no compiled object given");
  const seen = new Set<Target>();
  for (const t of input.targets) {
    if (seen.has(t.target)) throw new GenerateError(`generate: target ${t.target} given twice`);
    seen.add(t.target);
    if (t.model.littleEndian !== (t.target === "bpfel")) throw new GenerateError(`generate: the ${t.target} object ${t.model.file} is ${t.model.littleEndian ? "little" : "big"}-endian`, { file: t.model.file });
  }
  // bpfel first when present: its layouts and docs are the ones printed.
  const targets = [...input.targets].sort((a, b) => (a.target < b.target ? 1 : -1));
  const opts = { globalTypes: input.globalTypes ?? true, ...(input.declaredTypes && { declaredTypes: input.declaredTypes }) };
  const layouts: ModuleLayouts[] = targets.map((t) => layoutModule(input.stem, t.model, opts));
  const difference = layouts.length === 2 ? layoutDifference(layouts[0]!, layouts[1]!) : undefined;
  if (difference !== undefined) {
    throw new GenerateError(`generate: the bpfel and bpfeb objects lay out their types differently (${difference}); generate one module per target (--target bpfel / --target bpfeb)`);
  }
  const primary = targets[0]!;
  const objects: { le?: string; be?: string } = {};
  for (const t of targets) objects[t.target === "bpfel" ? "le" : "be"] = t.embedded ?? embedObject(t.object);
  const fileStem = input.fileStem ?? input.stem;
  const ts = emitModule({
    stem: input.stem,
    version: input.version,
    sourceName: input.source.name,
    sourceSha256: input.source.sha256,
    ...(input.record !== undefined && { record: input.record }),
    model: primary.model,
    layouts: layouts[0]!,
    objects,
  });
  const files: GeneratedFile[] = [{ path: `${fileStem}.ts`, contents: ts }];
  for (const t of targets) files.push({ path: `${objectStem(fileStem, { endian: t.target })}.o`, contents: t.object });
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}
