// `bpf2ts check`: regenerate every configured program and compare with what is on disk (committed),
// without writing anything. The regenerated files stay in memory — they are what `generate` would
// write, byte for byte — so there is no temporary tree to clean up. A file is stale (contents differ;
// a unified diff for text), missing (would be written, is not there) or extra (a file this program
// used to write, such as the object of a target no longer configured).
//
// Without a config, each module found under the given paths is regenerated from the build record in
// its header (generator/emit/build-record.ts). A stale module's report starts with what changed in its API
// (generator/workflow/api-diff.ts), then the diff.
//
// `--obj` regenerates the TypeScript from the committed objects instead of compiling, for CI without
// clang (or with another clang, whose objects would differ byte for byte).

import { existsSync } from "node:fs";
import { open, readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parseRecord, recordCommand, recordOptions } from "../emit/build-record.js";
import { parseTargets } from "../compile/clang.js";
import { generateOptions, type Config, type ProgramConfig } from "./config.js";
import { Bpf2tsError, ToolNotFoundError } from "../errors.js";
import { buildOutputs, type GenerateOptions } from "../pipeline/run.js";
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
  /** What changed in the module's API (structs and fields, maps, programs, constants), one line each. */
  readonly api?: readonly string[];
}

export interface ProgramCheck {
  /** The program's stem (config), or the module's path (build record). */
  readonly stem: string;
  /** The command that regenerates it (modules checked from their build record). */
  readonly regenerate?: string;
  readonly files: readonly FileReport[];
  readonly warnings: readonly string[];
}

/** `check` could not regenerate a program at all (as opposed to finding it stale). */
export class CheckError extends Bpf2tsError {
  override name = "CheckError";
}

/** Regenerates one configured program in memory and compares it with the files on disk. */
export async function checkProgram(config: Config, p: ProgramConfig, opts: { obj?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<ProgramCheck> {
  return checkOutputs(generateOptions(config, p, opts.env), { ...opts, name: p.stem, base: config.dir });
}

/**
 * Regenerates the module at `modulePath` (absolute) from the build record in its header
 * (generator/emit/build-record.ts): no config needed.
 */
export async function checkModule(modulePath: string, opts: { obj?: boolean; env?: NodeJS.ProcessEnv; cwd: string }): Promise<ProgramCheck> {
  const shown = relative(opts.cwd, modulePath) || modulePath;
  const record = parseRecord(await readFile(modulePath, "utf8"));
  if (typeof record === "string") throw new CheckError(`${shown}: cannot regenerate: ${record}`, { file: shown });
  const o = recordOptions(record, dirname(modulePath), opts.env);
  const fileStem = o.outputStem ?? o.stem;
  if (basename(modulePath) !== `${fileStem}.ts`) throw new CheckError(`${shown}: its build record names ${fileStem}.ts: the module was renamed or moved; regenerate it`, { file: shown });
  const check = await checkOutputs(o, { ...opts, name: shown, base: opts.cwd });
  return { ...check, regenerate: recordCommand(record, dirname(modulePath), opts.cwd) };
}

/** Regenerates in memory with options `o` and compares with the files on disk; `name` labels errors. */
async function checkOutputs(o: GenerateOptions, opts: { obj?: boolean; name: string; base: string }): Promise<ProgramCheck> {
  const cwd = o.cwd ?? opts.base;
  const outputDir = resolve(cwd, o.outputDir ?? ".");
  const fileStem = o.outputStem ?? o.stem;
  const sourceless = !o.source && !o.objects?.length;
  if ((opts.obj || sourceless) && !o.objects?.length) {
    let objects = parseTargets(o.target ?? "bpfel,bpfeb").map((t) => join(outputDir, `${fileStem}_${t.endian}.o`));
    // Generated from objects alone: the objects written beside the module are the inputs.
    if (sourceless) objects = objects.filter((f) => existsSync(f));
    const absent = objects.filter((f) => !existsSync(f));
    if (absent.length > 0 || objects.length === 0) {
      throw new CheckError(`no committed object ${(absent.length ? absent : [join(outputDir, `${fileStem}_bpfel.o`)]).map((f) => relative(opts.base, f)).join(", ")} to generate from (run bpf2ts generate and commit it, or check without --obj)`, { file: absent[0] ?? opts.name });
    }
    o = { ...o, objects: objects.map((f) => relative(cwd, f)) };
  }
  let built;
  try {
    built = await buildOutputs(o);
  } catch (e) {
    // With objects, clang is only needed for types the object's BTF lacks (typically a ring buffer's
    // event struct used only through bpf_ringbuf_reserve) that no saved `<stem>_types.btf` holds
    // (a module generated by an older bpf2ts): say which, and what the ways out are.
    if (opts.obj && e instanceof ToolNotFoundError) {
      throw new CheckError(
        `${(e as Error).message}. With --obj, clang is needed for such types only when ${fileStem}_types.btf, which generate writes beside the objects, is not there or lacks them: regenerate with clang and commit it, or install clang where check runs`,
        { file: o.source ?? opts.name, cause: e },
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
      const name = relative(opts.base, path);
      const old = onDisk.toString("utf8");
      const d = unifiedDiff(`${name} (on disk)`, `${name} (regenerated)`, old, f.contents);
      const api = f.path.endsWith(".ts") ? await (await import("./api-diff.js")).apiChanges(old, f.contents) : [];
      files.push({ path, state: "stale", diff: d.text, detail: `+${d.added} -${d.removed}`, ...(api.length && { api }) });
    } else {
      files.push({ path, state: "stale", detail: `binary, ${onDisk.length} → ${fresh.length} bytes` });
    }
  }
  // `--obj`: the saved types it read are not the ones the committed module was generated with.
  if (built.typesBtfChanged) {
    files.push({ path: built.typesBtfChanged, state: "stale", detail: `not the file ${fileStem}.ts was generated with: its sha256 differs from the module's build record` });
  }
  // Files this program writes under some configuration (both byte orders, a depfile, the saved types)
  // that this configuration no longer produces.
  for (const name of [`${fileStem}.ts`, `${fileStem}_bpfel.o`, `${fileStem}_bpfeb.o`, `${fileStem}_types.btf`, `${fileStem}.d`]) {
    const path = join(outputDir, name);
    if (!expected.has(path) && existsSync(path)) files.push({ path, state: "extra", detail: "no longer generated" });
  }
  return { stem: opts.name, files, warnings: built.warnings };
}

/**
 * The modules bpf2ts generated (first line `// @generated by bpf2ts`) among `paths` (files, or
 * directories searched recursively, skipping node_modules and hidden directories), sorted.
 */
export async function findGeneratedModules(paths: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  const visit = async (path: string, named: boolean): Promise<void> => {
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      throw new CheckError(`check: ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`, { file: path, cause: e });
    }
    if (st.isDirectory()) {
      const entries = await readdir(path, { withFileTypes: true });
      for (const d of entries) {
        if (d.isDirectory() ? d.name === "node_modules" || d.name.startsWith(".") : !(d.name.endsWith(".ts") && !d.name.endsWith(".d.ts"))) continue;
        if (d.isDirectory() || d.isFile()) await visit(join(path, d.name), false);
      }
    } else if (st.isFile() && (named || path.endsWith(".ts")) && (await isGenerated(path))) {
      found.add(path);
    }
  };
  for (const p of paths) await visit(resolve(p), true);
  return [...found].sort();
}

async function isGenerated(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(GENERATED_MARK.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString("utf8") === GENERATED_MARK;
  } finally {
    await fh.close();
  }
}

const GENERATED_MARK = "// @generated by bpf2ts ";

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
      if (!f.api?.length) continue;
      out.push("", `API changes in ${relative(cwd, f.path) || f.path}:`, ...f.api.map((l) => `  ${l}`));
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
