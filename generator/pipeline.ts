// The whole `generate` job for one program: compile each target (or read `--obj` files), read ELF and
// BTF, scan the source, fill in types the object's BTF lacks with a types-only compile, build the
// model, emit, and write the files all-or-nothing. The CLI, `check` and config runs share it.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBtf, type Btf, type TypeId } from "./btf/index.js";
import { compile, compileTypesOnly, findClang, findStrip, formatDepfile, objectStem, parseTargets, type Target, type Tool } from "./clang.js";
import { buildRecord, formatRecord } from "./build-record.js";
import { readElf } from "./elf.js";
import { Bpf2tsError, ModelError, ToolNotFoundError, UsageError } from "./errors.js";
import { generate, type GeneratedFile, type TargetObject } from "./generate.js";
import { mergeTypes } from "./merge-types.js";
import { buildModel, resolveTypeName, type ObjectModel } from "./model.js";
import type { SourceScan } from "./source.js";
import { scanSourceTree } from "./source-tree.js";

/** This package's version (the header of every generated module cites it). */
export const VERSION: string = (() => {
  const pkg = fileURLToPath(new URL("../../package.json", import.meta.url));
  try {
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
})();

export interface GenerateOptions {
  readonly stem: string;
  /** The C source; optional with `objects`, where it only feeds the scan (events, docs). */
  readonly source?: string;
  /** `--obj`: existing objects to generate from instead of compiling (one per byte order). */
  readonly objects?: readonly string[];
  readonly cc?: string;
  /** Split flags (`--cflags` and anything after `--`). */
  readonly cflags?: readonly string[];
  /** `--target` spec; default "bpfel,bpfeb" as bpf2go. */
  readonly target?: string;
  readonly types?: readonly string[];
  readonly globalTypes?: boolean;
  readonly outputDir?: string;
  readonly outputStem?: string;
  /** Default true. */
  readonly strip?: boolean;
  readonly makebase?: string;
  /** `--event map=type`. */
  readonly events?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface BuiltOutput {
  /** Files to write, relative to `outputDir`. */
  readonly files: readonly GeneratedFile[];
  /** Absolute output directory. */
  readonly outputDir: string;
  /** Every input read (source and headers from clang's dependency output), absolute. */
  readonly inputs: readonly string[];
  /** Warnings for the user: clang's (verbatim) and the model's. */
  readonly warnings: readonly string[];
  /** The models, bpfel first, for callers that report on them. */
  readonly models: readonly ObjectModel[];
  readonly scan?: SourceScan;
}

/** Parses `--event` values (`map=type`) into a record. */
export function parseEventOptions(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*(\S(?:.*\S)?)\s*$/.exec(v);
    if (!m) throw new UsageError(`--event: "${v}" is not map=type (for example --event events="struct event")`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** Runs the pipeline up to the files, without writing anything. */
export async function buildOutputs(o: GenerateOptions): Promise<BuiltOutput> {
  const cwd = o.cwd ?? process.cwd();
  const env = o.env ?? process.env;
  if (!o.source && !o.objects?.length) throw new UsageError("generate: a C source (or --obj FILE) is required");
  const warnings: string[] = [];
  const sourceText = o.source ? (await readInput(resolve(cwd, o.source), o.source)).toString("utf8") : undefined;
  let clang: Tool | undefined;
  const needClang = async () => (clang ??= await findClang({ ...(o.cc !== undefined && { cc: o.cc }), env }));
  const inputs = new Set<string>();
  // clang takes seconds: start it, and scan the source while it runs.
  const loading = loadObjects(o, cwd, env, needClang);
  loading.catch(() => undefined); // awaited below; no unhandled rejection while the scan runs
  await new Promise((r) => setImmediate(r)); // let the compiles spawn before the synchronous scan

  let scan: SourceScan | undefined;
  if (sourceText !== undefined) {
    const sourcePath = resolve(cwd, o.source!);
    try {
      scan = scanSourceTree(sourcePath, o.source!, (p) => (p === sourcePath ? sourceText : readTextOrUndefined(p)));
    } catch (e) {
      // The scan only adds event types and docs: without it the module is still right, just less typed.
      if ((e as Error).name !== "SourceError") throw e;
      warnings.push(`${(e as Error).message}; generating without event types and doc comments from the source`);
    }
  }
  if (scan) warnings.push(...scan.warnings.map((w) => `${o.source}: ${w}`));

  const loaded = await loading;
  const objects = loaded.objects;
  loaded.inputs.forEach((p) => inputs.add(p));
  warnings.push(...loaded.warnings);

  // One model per object; the types-only compile (if any) is shared by them.
  const typesOnly: NonNullable<MissingTypesInput["typesOnly"]> = new Map();
  const built = await Promise.all(
    objects.map(async (obj) => {
      const notes: string[] = [];
      const elf = readElf(obj.bytes, obj.name);
      const btfSection = elf.section(".BTF");
      if (!btfSection) {
        throw new ModelError(`${obj.name}: no .BTF section; compile with -g (bpf2ts adds it) and do not strip BTF`, { file: obj.name, section: ".BTF" });
      }
      let btf: Btf = parseBtf(btfSection.data(), { file: obj.name, section: ".BTF" });
      const modelOptions = {
        file: obj.name,
        ...(o.events && { events: o.events }),
        ...(o.types && { types: o.types }),
        ...(scan && { source: scan }),
      };
      let model = buildModel(elf, btf, modelOptions);
      if (model.missingTypes.length > 0) {
        const clang = o.source ? await needClang().catch((e: unknown) => Promise.reject(typesNeedClang(model, e))) : undefined;
        btf = await addMissingTypes({ model, btf, scan, source: o.source, target: obj.target, clang, cflags: o.cflags ?? [], cwd, env, typesOnly });
        model = buildModel(elf, btf, modelOptions);
        checkResolved(model, o);
      }
      notes.push(...model.warnings);
      for (const map of model.maps) {
        if (map.event && map.event.typeId === undefined) {
          notes.push(`${obj.name}: map "${map.name}": record type ${map.event.cType} (from the source) not found; its events stay raw bytes (set one with --event ${map.name}=<type>)`);
        }
      }
      return { model, notes, target: { target: obj.target.endian, object: obj.bytes, model } satisfies TargetObject };
    }),
  );
  for (const b of built) warnings.push(...b.notes);
  const models = built.map((b) => b.model);
  const targetObjects = built.map((b) => b.target);

  const sourceName = o.source ? basename(o.source) : basename(o.objects![0]!);
  const hashed = sourceText !== undefined ? Buffer.from(sourceText) : objects[0]!.bytes;
  const outputDir = resolve(cwd, o.outputDir ?? ".");
  const files = generate({
    stem: o.stem,
    version: VERSION,
    source: { name: sourceName, sha256: createHash("sha256").update(hashed).digest("hex") },
    targets: targetObjects,
    globalTypes: o.globalTypes ?? true,
    ...(scan && { declaredTypes: scan.declaredTypes }),
    ...(o.outputStem !== undefined && { fileStem: o.outputStem }),
    record: formatRecord(buildRecord(o, cwd, outputDir)),
  });
  let all: GeneratedFile[] = [...files];
  if (o.makebase !== undefined) {
    const base = resolve(cwd, o.makebase);
    const outs = files.map((f) => relative(base, join(outputDir, f.path)));
    const deps = [...inputs].sort().map((p) => relative(base, p));
    all.push({ path: `${o.outputStem ?? o.stem}.d`, contents: formatDepfile(outs, deps) });
    all = all.sort((a, b) => (a.path < b.path ? -1 : 1));
  }
  return { files: all, outputDir, inputs: [...inputs].sort(), warnings: dedupeWarnings(warnings, objects.map((x) => x.name)), models, ...(scan && { scan }) };
}

/** No clang for the types-only compile: which types (of which maps) needed it, and why clang is absent. */
function typesNeedClang(model: ObjectModel, e: unknown): unknown {
  if ((e as Error).name !== "ToolNotFoundError") return e;
  const maps = model.maps.filter((m) => m.event && m.event.typeId === undefined).map((m) => `\`${m.name}\``);
  const types = model.missingTypes.join(", ");
  return new ToolNotFoundError(
    `${model.file}: ${types} ${maps.length ? `(the records of ${maps.length > 1 ? "maps" : "map"} ${maps.join(", ")}) ` : ""}${model.missingTypes.length > 1 ? "are" : "is"} not in the object's BTF, and bpf2ts compiles ${model.missingTypes.length > 1 ? "them" : "it"} from the source with clang (types only): ${(e as Error).message}`,
    { file: model.file, cause: e },
  );
}

/**
 * After the types-only compile: a type the user named (`--type`, `--event`) must exist; an event type
 * the scan guessed may not (the module then carries raw bytes for that map), which is worth a warning.
 */
function checkResolved(model: ObjectModel, o: GenerateOptions): void {
  const requested = new Set([...(o.types ?? []), ...Object.values(o.events ?? {})]);
  const missing = model.missingTypes.filter((t) => requested.has(t));
  if (missing.length > 0) {
    throw new ModelError(
      `${model.file}: type${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not found: neither in the object's BTF nor declared by ${o.source ?? "the source"}`,
      { file: model.file },
    );
  }
}

/** The same model warning comes once per target: keep the first of each, whatever object it names. */
function dedupeWarnings(warnings: readonly string[], objectNames: readonly string[]): string[] {
  const seen = new Set<string>();
  return warnings.filter((w) => {
    let key = w;
    for (const n of objectNames) if (key.startsWith(`${n}: `)) key = key.slice(n.length + 2);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A file's text, or undefined when it cannot be read (the source scan then skips that header). */
export function readTextOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

interface LoadedObjects {
  readonly objects: Array<{ target: Target; bytes: Uint8Array; name: string }>;
  readonly inputs: readonly string[];
  readonly warnings: readonly string[];
}

/** The `--obj` files, or the source compiled for each target (in parallel). */
async function loadObjects(o: GenerateOptions, cwd: string, env: NodeJS.ProcessEnv, needClang: () => Promise<Tool>): Promise<LoadedObjects> {
  const objects: LoadedObjects["objects"] = [];
  const inputs: string[] = [];
  const warnings: string[] = [];
  if (o.objects?.length) {
    for (const obj of o.objects) {
      const bytes = await readInput(resolve(cwd, obj), obj);
      inputs.push(resolve(cwd, obj));
      const elf = readElf(bytes, obj);
      objects.push({ target: { endian: elf.littleEndian ? "bpfel" : "bpfeb" }, bytes, name: obj });
    }
    return { objects, inputs, warnings };
  }
  const targets = parseTargets(o.target ?? "bpfel,bpfeb");
  const cc = await needClang();
  const strip = o.strip === false ? undefined : findStrip(cc, env);
  const results = await Promise.all(
    targets.map((target) => compile({ source: o.source!, target, clang: cc, ...(strip && { strip }), cflags: o.cflags ?? [], cwd, env })),
  );
  results.forEach((r, i) => {
    objects.push({ target: targets[i]!, bytes: r.object, name: `${objectStem(o.stem, targets[i]!)}.o` });
    inputs.push(...r.inputs);
    if (r.warnings.trim()) warnings.push(r.warnings.replace(/\n$/, ""));
  });
  return { objects, inputs, warnings };
}

async function readInput(path: string, shown: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Bpf2tsError(`${shown}: cannot read: ${code === "ENOENT" ? "no such file" : (e as Error).message}`, { file: shown, cause: e });
  }
}

/**
 * For `inspect --source`: the object's BTF plus the types its model lacks, compiled from the source
 * like `generate` does; the object's own BTF when that is not possible (no clang, flags missing).
 */
export async function completeTypes(model: ObjectModel, btf: Btf, o: { source: string; scan?: SourceScan; cc?: string; cflags?: readonly string[]; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<Btf> {
  if (model.missingTypes.length === 0) return btf;
  const env = o.env ?? process.env;
  try {
    const clang = await findClang({ ...(o.cc !== undefined && { cc: o.cc }), env });
    const target: Target = { endian: model.littleEndian ? "bpfel" : "bpfeb" };
    return await addMissingTypes({ model, btf, scan: o.scan, source: o.source, target, clang, cflags: o.cflags ?? [], cwd: o.cwd ?? process.cwd(), env });
  } catch {
    return btf;
  }
}

interface MissingTypesInput {
  readonly model: ObjectModel;
  readonly btf: Btf;
  readonly scan: SourceScan | undefined;
  readonly source: string | undefined;
  readonly target: Target;
  readonly clang: Tool | undefined;
  readonly cflags: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Types-only compiles already started in this run, by the type list they compile. */
  readonly typesOnly?: Map<string, ReturnType<typeof compileTypesOnly>>;
}

/**
 * Types named by events or `--type` that the object's BTF lacks (bpf2go's "type not found"): compile
 * the source again with a global of each, read that BTF, and append those types to the object's graph.
 */
async function addMissingTypes(m: MissingTypesInput): Promise<Btf> {
  const { model } = m;
  const notFound = (why: string) =>
    new ModelError(`${model.file}: type${model.missingTypes.length > 1 ? "s" : ""} ${model.missingTypes.join(", ")} not found in the object's BTF${why}`, { file: model.file });
  if (!m.source || !m.clang) throw notFound(" (give the C source so bpf2ts can compile them into BTF)");
  // A bare name must be spelled as the source declares it (`event` → `struct event`).
  const declared = new Set(m.scan?.declaredTypes ?? []);
  const spell = (name: string): string => {
    if (/\s/.test(name.trim()) || declared.has(name)) return name.trim();
    for (const kw of ["struct", "union", "enum"]) if (declared.has(`${kw} ${name}`)) return `${kw} ${name}`;
    // Not in the source or its project headers (vmlinux.h is not scanned): most such names are
    // kernel structs. A wrong guess only drops the name from the compile's retry below.
    return `struct ${name.trim()}`;
  };
  const spellings = [...new Set(model.missingTypes.map(spell))];
  // Types lay out the same for bpfel and bpfeb, so the targets of one run share each compile.
  const compileWith = (list: readonly string[]) => {
    const key = list.join("\n");
    let compiled = m.typesOnly?.get(key);
    if (!compiled) {
      compiled = compileTypesOnly({ source: m.source!, target: m.target, clang: m.clang!, cflags: m.cflags, cwd: m.cwd, env: m.env, spellings: list });
      m.typesOnly?.set(key, compiled);
    }
    return compiled;
  };
  let result;
  try {
    result = await compileWith(spellings);
  } catch (e) {
    // Names the source does not declare (typos, or types of headers it never includes) break the
    // compile for all; retry with the declared ones and let the caller report the rest.
    const known = spellings.filter((s) => declared.has(s));
    if (known.length === 0 || known.length === spellings.length) {
      const stderr = (e as { stderr?: string }).stderr;
      throw new ModelError(`${notFound(" nor compilable from the source").message}${stderr ? `:\n${stderr.trimEnd()}` : ""}`, { file: model.file, cause: e });
    }
    result = await compileWith(known);
  }
  const elf = readElf(result.object, "types-only compile");
  const btfSection = elf.section(".BTF");
  if (!btfSection) throw notFound(" (the types-only compile produced no BTF)");
  const extra = parseBtf(btfSection.data(), { file: "types-only compile", section: ".BTF" });
  const roots: TypeId[] = [];
  for (const s of spellings) {
    // A spelling the retry left out is not in this BTF either: resolveTypeName says so.
    const id = resolveTypeName(extra, s);
    if (id !== undefined) roots.push(id);
  }
  return mergeTypes(m.btf, extra, roots).btf;
}

/**
 * Writes files into `dir` all-or-nothing: every file goes to a temporary name first, and only when all
 * are written are they renamed into place. Returns the paths written, relative to `dir`.
 */
export async function writeFilesAtomically(dir: string, files: readonly GeneratedFile[]): Promise<string[]> {
  const temps: Array<{ tmp: string; final: string }> = [];
  try {
    for (const f of files) {
      const final = join(dir, f.path);
      await mkdir(dirname(final), { recursive: true });
      const tmp = join(dirname(final), `.${basename(final)}.${process.pid}.tmp`);
      temps.push({ tmp, final });
      await writeFile(tmp, f.contents);
    }
  } catch (e) {
    await Promise.all(temps.map((t) => rm(t.tmp, { force: true })));
    throw new Bpf2tsError(`write: ${dir}: ${(e as Error).message}`, { file: dir, cause: e });
  }
  for (const t of temps) await rename(t.tmp, t.final);
  return files.map((f) => f.path);
}

/** `buildOutputs` then `writeFilesAtomically`. */
export async function runGenerate(o: GenerateOptions): Promise<BuiltOutput & { written: string[] }> {
  const built = await buildOutputs(o);
  const written = await writeFilesAtomically(built.outputDir, built.files);
  return { ...built, written };
}
