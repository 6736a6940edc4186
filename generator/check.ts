// `bpf2ts check`: regenerate every configured program and compare with what is on disk (committed),
// without writing anything. The regenerated files stay in memory — they are what `generate` would
// write, byte for byte — so there is no temporary tree to clean up. A file is stale (contents differ;
// a unified diff for text), missing (would be written, is not there) or extra (a file this program
// used to write, such as the object of a target no longer configured).
//
// `--obj` regenerates the TypeScript from the committed objects instead of compiling, for CI without
// clang (or with another clang, whose objects would differ byte for byte).

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { parseTargets } from "./clang.js";
import { generateOptions, type Config, type ProgramConfig } from "./config.js";
import { Bpf2tsError } from "./errors.js";
import { buildOutputs, type GenerateOptions } from "./pipeline.js";
import { unifiedDiff } from "./unified-diff.js";

export type FileState = "stale" | "missing" | "extra";

export interface FileReport {
  /** Absolute. */
  readonly path: string;
  readonly state: FileState;
  /** Unified diff (text files that are stale). */
  readonly diff?: string;
  /** One-line detail: `+3 -1`, `binary, 35976 → 36010 bytes`. */
  readonly detail?: string;
}

export interface ProgramCheck {
  readonly stem: string;
  readonly files: readonly FileReport[];
  readonly warnings: readonly string[];
}

/** `check` could not regenerate a program at all (as opposed to finding it stale). */
export class CheckError extends Bpf2tsError {
  override name = "CheckError";
}

/** Regenerates one program in memory and compares it with the files on disk. */
export async function checkProgram(config: Config, p: ProgramConfig, opts: { obj?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<ProgramCheck> {
  let o: GenerateOptions = generateOptions(config, p, opts.env);
  const outputDir = resolve(config.dir, o.outputDir ?? ".");
  const fileStem = o.outputStem ?? o.stem;
  if (opts.obj && !o.objects?.length) {
    const objects = parseTargets(o.target ?? "bpfel,bpfeb").map((t) => join(outputDir, `${fileStem}_${t.endian}.o`));
    const absent = objects.filter((f) => !existsSync(f));
    if (absent.length > 0) {
      throw new CheckError(`check --obj: ${p.stem}: no committed object ${absent.map((f) => relative(config.dir, f)).join(", ")} to generate from (run bpf2ts generate and commit it, or check without --obj)`, { file: absent[0]! });
    }
    o = { ...o, objects };
  }
  let built;
  try {
    built = await buildOutputs(o);
  } catch (e) {
    // With objects, clang is only needed for types the object's BTF lacks (typically a ring buffer's
    // event struct used only through bpf_ringbuf_reserve): say so rather than just "no clang".
    if (opts.obj && (e as Error).name === "ToolNotFoundError") {
      throw new CheckError(
        `check --obj: ${p.stem}: the module needs types that are not in the committed object's BTF (an event struct used only through bpf_ringbuf_reserve, say), and bpf2ts recovers those with a types-only clang compile; give the type BTF in the object (use it in a map, __type(value, struct event)) or run check where clang is installed (${(e as Error).message})`,
        { file: p.source ?? p.stem, cause: e },
      );
    }
    throw e;
  }
  const files: FileReport[] = [];
  const expected = new Set<string>();
  for (const f of built.files) {
    const path = resolve(built.outputDir, f.path);
    expected.add(path);
    let onDisk: Buffer;
    try {
      onDisk = await readFile(path);
    } catch {
      files.push({ path, state: "missing" });
      continue;
    }
    const fresh = typeof f.contents === "string" ? Buffer.from(f.contents) : Buffer.from(f.contents.buffer, f.contents.byteOffset, f.contents.byteLength);
    if (onDisk.equals(fresh)) continue;
    if (typeof f.contents === "string") {
      const name = relative(config.dir, path);
      const d = unifiedDiff(`${name} (on disk)`, `${name} (regenerated)`, onDisk.toString("utf8"), f.contents);
      files.push({ path, state: "stale", diff: d.text, detail: `+${d.added} -${d.removed}` });
    } else {
      files.push({ path, state: "stale", detail: `binary, ${onDisk.length} → ${fresh.length} bytes` });
    }
  }
  // Files this program writes under some configuration (both byte orders, a depfile) that this
  // configuration no longer produces.
  for (const name of [`${fileStem}.ts`, `${fileStem}_bpfel.o`, `${fileStem}_bpfeb.o`, `${fileStem}.d`]) {
    const path = join(outputDir, name);
    if (!expected.has(path) && existsSync(path)) files.push({ path, state: "extra", detail: "no longer generated" });
  }
  return { stem: p.stem, files, warnings: built.warnings };
}

const MAX_LINE = 160;

/** The human summary of a check: each file's state, then the diffs (cut to `maxDiffLines` each). */
export function formatReport(checks: readonly ProgramCheck[], cwd: string, maxDiffLines = 200): string {
  const out: string[] = [];
  for (const c of checks) {
    for (const f of c.files) {
      const name = relative(cwd, f.path) || f.path;
      out.push(`${f.state.padEnd(7)} ${name}${f.detail ? ` (${f.detail})` : ""}`);
    }
  }
  for (const c of checks) {
    for (const f of c.files) {
      if (!f.diff) continue;
      // Embedded objects are one base64 line each: show their start, not kilobytes of it.
      const lines = f.diff.trimEnd().split("\n").map((l) => (l.length > MAX_LINE ? `${l.slice(0, MAX_LINE)}… (${l.length - MAX_LINE} more characters)` : l));
      out.push("", ...lines.slice(0, maxDiffLines));
      if (lines.length > maxDiffLines) out.push(`… ${lines.length - maxDiffLines} more diff lines`);
    }
  }
  return out.length ? out.join("\n") + "\n" : "";
}
