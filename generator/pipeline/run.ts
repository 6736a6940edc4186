// The whole `generate` job for one program: compile each target (or read `--obj` files), read ELF and
// BTF, scan the source, fill in types the object's BTF lacks with a types-only compile, build the
// model, emit, and write the files all-or-nothing. The CLI, `check` and config runs share it.

import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Btf, TypeId } from "../btf/index.js";
import { compile, findClang, formatDepfile, locateClang, objectStem, parseTargets, type Target, type Tool } from "../compile/clang.js";
import { readInputFile, writeAllOrNothing } from "../files.js";
import { parseRecord } from "../emit/build-record.js";
import { Bpf2tsError, ModelError, ToolNotFoundError, UsageError } from "../errors.js";
import type { GeneratedFile, TargetObject } from "../emit/files.js";
import type { CompareRoot } from "../model/compare.js";
import type { ObjectModel } from "../model/model.js";
import type { SourceScan } from "../source/scan.js";
import type { SourceTypes, SourceTypesInput } from "../source/types-only.js";
import { quoteIncludeDirs, scanSourceTree, TOO_BIG } from "../source/tree.js";
import { predictMissingTypes, spellType } from "./predict-types.js";
import type { GenerateOptions } from "./options.js";
import { VERSION } from "../version.js";

export type { GenerateOptions };

/** The heavy stages, loaded while clang runs (see stages.ts). */
type Stages = typeof import("./stages.js");
let stagesLoading: Promise<Stages> | undefined;
const loadStages = (): Promise<Stages> => (stagesLoading ??= import("./stages.js"));

/** This package's version (re-exported: callers import it from here). */
export { VERSION };

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
  /** `--obj`: the saved `<stem>_types.btf` read (absolute) when its sha256 is not the one the module's record holds. */
  readonly typesBtfChanged?: string;
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
  let located: ReturnType<typeof locateClang> | undefined;
  const locate = () => (located ??= locateClang({ ...(o.cc !== undefined && { cc: o.cc }), env }));
  const needClang = async (): Promise<Tool> => {
    const { path, major } = locate();
    return { path, major: await major };
  };
  const inputs = new Set<string>();
  // clang takes seconds: start it, then load the other stages and scan the source while it runs.
  const loading = loadObjects(o, cwd, env, locate);
  loading.catch(() => undefined); // awaited below; no unhandled rejection while the scan runs
  const stagesReady = loadStages();
  await new Promise((r) => setImmediate(r)); // let the compiles spawn before the synchronous scan

  let scan: SourceScan | undefined;
  const texts = sourceText !== undefined ? [sourceText] : []; // what the scan read: the types-ahead guess reads it too
  const scanned = (text: ReturnType<typeof readTextOrUndefined>) => {
    if (typeof text === "string") texts.push(text);
    return text;
  };
  if (sourceText !== undefined) {
    const sourcePath = resolve(cwd, o.source!);
    try {
      scan = scanSourceTree(sourcePath, o.source!, (p, max) => (p === sourcePath ? sourceText : scanned(readTextOrUndefined(p, max))), quoteIncludeDirs(o.cflags ?? [], cwd));
    } catch (e) {
      // The scan only adds event types and docs: without it the module is still right, just less typed.
      if ((e as Error).name !== "SourceError") throw e;
      warnings.push(`${(e as Error).message}; generating without event types and doc comments from the source`);
    }
  }
  if (scan) warnings.push(...scan.warnings.map((w) => `${o.source}: ${w}`));

  // One model per object; the types-only compile (if any) is shared by them.
  const typesOnly: NonNullable<SourceTypesInput["cache"]> = new Map();
  const unneeded = new AbortController();
  const ahead: Array<Promise<unknown>> = [];
  const s = await stagesReady;
  try {
    if (scan) await startTypesAhead(s, o, scan, texts, { cwd, env, needClang, cache: typesOnly, signal: unneeded.signal, started: ahead });
    return await finishOutputs(s, o, { cwd, sourceText, scan, loading, needClang, typesOnly, warnings, inputs });
  } finally {
    unneeded.abort(); // a types-only compile started ahead that no object asked for
    // Killed at once; its temporary directory is gone when this returns (bin exits without waiting for stragglers).
    await Promise.allSettled(ahead);
  }
}

/**
 * The types-only compile, started beside the main compile when the scan predicts types the object
 * will lack and a core is free for it (more cores than targets). Used only if the objects then ask
 * for exactly these types; otherwise it is killed and the compile they ask for runs as it would have.
 */
async function startTypesAhead(
  s: Stages,
  o: GenerateOptions,
  scan: SourceScan,
  texts: readonly string[],
  c: { cwd: string; env: NodeJS.ProcessEnv; needClang: () => Promise<Tool>; cache: NonNullable<SourceTypesInput["cache"]>; signal: AbortSignal; started: Array<Promise<unknown>> },
): Promise<void> {
  if (!o.source || o.objects?.length || o.typesAhead === false) return;
  const spellings = predictMissingTypes(scan, texts, o);
  let targets: Target[];
  let clang: Tool;
  try {
    targets = parseTargets(o.target ?? "bpfel,bpfeb");
    if (spellings.length === 0 || availableParallelism() <= targets.length) return;
    clang = await c.needClang();
  } catch {
    return; // the main compile reports it
  }
  for (const target of targets) {
    c.started.push(s.compileSourceTypes({ source: o.source, target, clang, cflags: o.cflags ?? [], cwd: c.cwd, env: c.env, cache: c.cache, signal: c.signal }, spellings).catch(() => undefined));
  }
}

/** buildOutputs once clang is running and the source scanned: the models, then the files. */
async function finishOutputs(
  s: Stages,
  o: GenerateOptions,
  c: {
    cwd: string;
    sourceText: string | undefined;
    scan: SourceScan | undefined;
    loading: Promise<LoadedObjects>;
    needClang: () => Promise<Tool>;
    typesOnly: NonNullable<SourceTypesInput["cache"]>;
    warnings: string[];
    inputs: Set<string>;
  },
): Promise<BuiltOutput> {
  const { cwd, sourceText, scan, needClang, typesOnly, warnings, inputs } = c;
  const env = o.env ?? process.env;
  const loaded = await c.loading;
  const objects = loaded.objects;
  // The embedded form of each object (deflate, level 9) is made on libuv's threads while the models are built and the module emitted.
  const embedding = objects.map((x) => s.embedObjectAsync(x.bytes));
  embedding.forEach((e) => e.catch(() => undefined)); // awaited below
  loaded.inputs.forEach((p) => inputs.add(p));
  warnings.push(...loaded.warnings);

  const globalTypes = o.globalTypes ?? true;
  const saved = readSavedTypes(s, o, cwd);
  if (saved) inputs.add(saved.path);
  const built = await Promise.all(
    objects.map(async (obj) => {
      const notes: string[] = [];
      const elf = s.readElf(obj.bytes, obj.name);
      const btfSection = elf.section(".BTF");
      if (!btfSection) {
        throw new ModelError(`${obj.name}: no .BTF section; compile with -g (bpf2ts adds it) and do not strip BTF`, { file: obj.name, section: ".BTF" });
      }
      const btf = s.parseBtf(btfSection.data(), { file: obj.name, section: ".BTF" });
      // What the runtime checks before libbpf (cycles, sizes, .maps shapes): an object it would refuse is refused here.
      s.checkParsedObject(elf, btf, obj.name);
      const modelOptions = {
        file: obj.name,
        ...(o.events && { events: o.events }),
        ...(o.types && { types: o.types }),
        ...(scan && { source: scan }),
      };
      let model = s.buildModel(elf, btf, modelOptions);
      // With global types on, every type the source declares is emitted: those the object's BTF
      // lacks (declared, never used) come from the types-only compile like reserved-only event types.
      const declaredMissing = globalTypes && scan ? scan.declaredTypes.filter((t) => s.lookupType(btf, t) === undefined) : [];
      const fromObject = (o.objects?.length ?? 0) > 0;
      let merged: SourceTypes | undefined; // the types-only BTF this model took types from
      if (model.missingTypes.length > 0 || (o.source !== undefined && (declaredMissing.length > 0 || fromObject))) {
        const source = await sourceTypesFor(s, { model, scan, source: o.source, target: obj.target, clang: o.source ? needClang : undefined, cflags: o.cflags ?? [], cwd, env, typesOnly, ...(saved && { saved: saved.types }) }, declaredMissing, notes);
        if (source) {
          if (source.roots.length > 0) merged = source.types;
          model = s.buildModel(elf, s.mergeTypes(btf, source.types.btf, source.roots).btf, modelOptions);
          if (fromObject) checkAgainstSource(s, o, scan, model, btf.types.length, (source.compiled ?? source.types).btf);
        }
        checkResolved(model, o);
      }
      const ext = elf.section(".BTF.ext");
      if (fromObject && sourceText !== undefined && ext) {
        s.compareLineInfo({ ext: s.parseBtfExt(ext.data(), btf, { file: obj.name, section: ".BTF.ext" }), file: obj.name }, { file: o.source!, text: sourceText });
      }
      notes.push(...model.warnings);
      for (const map of model.maps) {
        if (map.event && map.event.typeId === undefined) {
          notes.push(`${obj.name}: map "${map.name}": record type ${map.event.cType} (from the source) not found; its events stay raw bytes (set one with --event ${map.name}=<type>)`);
        }
      }
      return { model, notes, merged, target: { target: obj.target.endian, object: obj.bytes, model } satisfies TargetObject };
    }),
  );
  for (const b of built) warnings.push(...b.notes);
  const models = built.map((b) => b.model);
  const targetObjects = built.map((b) => b.target);

  const sourceName = o.source ? basename(o.source) : basename(o.objects![0]!);
  const hashed = sourceText !== undefined ? Buffer.from(sourceText) : objects[0]!.bytes;
  const outputDir = resolve(cwd, o.outputDir ?? ".");
  const typesBtf = typesBtfFile(built, o, warnings);
  // The module is emitted with a stand-in for each embedded object, which the embedded form replaces once made.
  const standIn = (t: TargetObject["target"]) => `<bpf2ts: the ${t} object>`;
  const emitted = s.generate({
    stem: o.stem,
    version: VERSION,
    source: { name: sourceName, sha256: createHash("sha256").update(hashed).digest("hex") },
    targets: targetObjects.map((t) => ({ ...t, embedded: standIn(t.target) })),
    globalTypes: o.globalTypes ?? true,
    ...(scan && { declaredTypes: scan.declaredTypes }),
    ...(o.outputStem !== undefined && { fileStem: o.outputStem }),
    record: s.formatRecord(s.buildRecord(o, cwd, outputDir, typesBtf?.record)),
  });
  const embedded = await Promise.all(embedding);
  const files = emitted.map((f) => {
    if (f.path !== `${o.outputStem ?? o.stem}.ts` || typeof f.contents !== "string") return f;
    let text = f.contents;
    targetObjects.forEach((t, j) => {
      const [before, after, more] = text.split(standIn(t.target));
      if (after === undefined || more !== undefined) throw new Error(`generate: the ${t.target} object's stand-in is not in ${f.path} exactly once`);
      text = before + embedded[j]! + after;
    });
    return { ...f, contents: text };
  });
  let all: GeneratedFile[] = [...files, ...(typesBtf ? [typesBtf.file] : [])].sort((a, b) => (a.path < b.path ? -1 : 1));
  if (o.makebase !== undefined) {
    const base = resolve(cwd, o.makebase);
    const outs = all.map((f) => relative(base, join(outputDir, f.path)));
    const deps = [...inputs].sort().map((p) => relative(base, p));
    all.push({ path: `${o.outputStem ?? o.stem}.d`, contents: formatDepfile(outs, deps) });
    all = all.sort((a, b) => (a.path < b.path ? -1 : 1));
  }
  const typesBtfChanged = saved?.changed ? { typesBtfChanged: saved.path } : {};
  return { files: all, outputDir, inputs: [...inputs].sort(), warnings: dedupeWarnings(warnings, objects.map((x) => x.name)), models, ...(scan && { scan }), ...typesBtfChanged };
}

/**
 * `<stem>_types.btf`: the raw BTF of the types-only compile the models took types from, written beside
 * the objects so that `--obj` runs (check in CI) read those types instead of running clang. One file
 * serves every target: their types-only compiles differ in byte order only (if they differ in more,
 * `#if` on the architecture, no file is written and `--obj` runs compile as before).
 */
function typesBtfFile(
  built: ReadonlyArray<{ merged: SourceTypes | undefined; target: TargetObject }>,
  o: GenerateOptions,
  warnings: string[],
): { file: GeneratedFile; record: { file: string; sha256: string } } | undefined {
  const merged = [...built].sort((a, b) => (a.target.target < b.target.target ? 1 : -1)).map((b) => b.merged);
  const first = merged.find((m) => m !== undefined);
  if (!first) return undefined;
  const name = `${o.outputStem ?? o.stem}_types.btf`;
  if (merged.some((m) => m !== first && (m === undefined || !sameTypes(m.btf, first.btf)))) {
    warnings.push(`${name}: not written: the targets' types-only compiles differ (an \`#if\` on the architecture?); \`--obj\` runs compile those types with clang`);
    return undefined;
  }
  return { file: { path: name, contents: first.raw }, record: { file: name, sha256: createHash("sha256").update(first.raw).digest("hex") } };
}

/** Two BTF graphs hold the same types, members and parameters included (the decoder reads those lazily, through getters). */
function sameTypes(a: Btf, b: Btf): boolean {
  const plain = (t: object) => ({ ...t, ..."members" in t && { members: t.members }, ..."params" in t && { params: t.params } });
  return a.types.length === b.types.length && a.types.every((t, i) => isDeepStrictEqual(plain(t), plain(b.types[i]!)));
}

/**
 * `--obj` with a source: the types an earlier generate saved beside the module (`<stem>_types.btf`),
 * when the module's build record names that file. A record naming a file that cannot be read is an
 * error naming it: without it the module cannot be regenerated as it was, short of running clang.
 */
function readSavedTypes(s: Stages, o: GenerateOptions, cwd: string): { types: SourceTypes; path: string; changed: boolean } | undefined {
  if (!o.objects?.length || o.source === undefined) return undefined;
  const outputDir = resolve(cwd, o.outputDir ?? ".");
  const modulePath = join(outputDir, `${o.outputStem ?? o.stem}.ts`);
  const text = readTextOrUndefined(modulePath);
  if (typeof text !== "string") return undefined;
  const record = parseRecord(text);
  if (typeof record === "string" || !record.typesBtf) return undefined;
  const path = join(outputDir, record.typesBtf.file);
  const shown = relative(cwd, path) || path;
  const moduleShown = relative(cwd, modulePath) || modulePath;
  let raw: Buffer;
  try {
    raw = readInputFile(path, shown);
  } catch (e) {
    throw new Bpf2tsError(
      `${(e as Error).message}: the build record of ${moduleShown} says the types its objects lack are saved there; run bpf2ts generate (with clang) and commit ${shown} beside the objects`,
      { file: shown, cause: e },
    );
  }
  const changed = createHash("sha256").update(raw).digest("hex") !== record.typesBtf.sha256;
  return { types: s.savedSourceTypes(raw, shown), path, changed };
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

/**
 * A file's text, or undefined when it cannot be read (the source scan then skips that header), or
 * TOO_BIG when it has more than `maxBytes` (vmlinux.h: megabytes the scan would discard unread).
 */
export function readTextOrUndefined(path: string, maxBytes = Infinity): string | typeof TOO_BIG | undefined {
  try {
    if (maxBytes !== Infinity && statSync(path).size > maxBytes) return TOO_BIG;
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

interface LoadedObjects {
  /** `bytes`: the object as it is written, embedded and modelled (stripped unless --no-strip). */
  readonly objects: Array<{ target: Target; bytes: Uint8Array; name: string }>;
  readonly inputs: readonly string[];
  readonly warnings: readonly string[];
}

/** The `--obj` files, or the source compiled for each target (in parallel). */
async function loadObjects(o: GenerateOptions, cwd: string, env: NodeJS.ProcessEnv, locate: () => ReturnType<typeof locateClang>): Promise<LoadedObjects> {
  const objects: LoadedObjects["objects"] = [];
  const inputs: string[] = [];
  const warnings: string[] = [];
  if (o.objects?.length) {
    const { readElf } = await loadStages();
    for (const obj of o.objects) {
      const bytes = await readInput(resolve(cwd, obj), obj);
      inputs.push(resolve(cwd, obj));
      const elf = readElf(bytes, obj);
      // --target still says which architecture's defines (__TARGET_ARCH_x86) the types-only compile needs.
      objects.push({ target: targetFor(o.target, elf.littleEndian ? "bpfel" : "bpfeb"), bytes, name: obj });
    }
    return { objects, inputs, warnings };
  }
  const targets = parseTargets(o.target ?? "bpfel,bpfeb");
  const cc = locate();
  const results = await Promise.all(
    targets.map((target) => compile({ source: o.source!, target, clang: { path: cc.path, major: 0 }, strip: o.strip !== false, cflags: o.cflags ?? [], cwd, env })),
  );
  results.forEach((r, i) => {
    objects.push({ target: targets[i]!, bytes: r.object, name: writtenObjectName(o, cwd, targets[i]!) });
    inputs.push(...r.inputs);
    if (r.warnings.trim()) warnings.push(r.warnings.replace(/\n$/, ""));
  });
  return { objects, inputs, warnings };
}

/** The object file generate writes for `target`, as messages name it (relative to cwd, as "wrote …" lines do). */
function writtenObjectName(o: GenerateOptions, cwd: string, target: Target): string {
  const path = join(resolve(cwd, o.outputDir ?? "."), `${objectStem(o.outputStem ?? o.stem, target)}.o`);
  return relative(cwd, path) || path;
}

async function readInput(path: string, shown: string): Promise<Buffer> {
  return readInputFile(path, shown);
}

/**
 * For `inspect --source`: the object's BTF plus the types its model lacks, compiled from the source
 * like `generate` does (for `target`'s architecture); the object's own BTF when that is not possible
 * (no clang, flags missing).
 */
export async function completeTypes(model: ObjectModel, btf: Btf, o: { source: string; scan?: SourceScan; cc?: string; cflags?: readonly string[]; target?: string; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<Btf> {
  if (model.missingTypes.length === 0) return btf;
  const env = o.env ?? process.env;
  const target = targetFor(o.target, model.littleEndian ? "bpfel" : "bpfeb");
  try {
    const clang = await findClang({ ...(o.cc !== undefined && { cc: o.cc }), env });
    const s = await loadStages();
    const source = await sourceTypesFor(s, { model, scan: o.scan, source: o.source, target, clang: async () => clang, cflags: o.cflags ?? [], cwd: o.cwd ?? process.cwd(), env }, [], []);
    return source ? s.mergeTypes(btf, source.types.btf, source.roots).btf : btf;
  } catch {
    return btf;
  }
}

/** The `--target` entry for an object of byte order `endian` (its architecture's defines), else the bare byte order. */
function targetFor(spec: string | undefined, endian: Target["endian"]): Target {
  return (spec !== undefined ? parseTargets(spec) : []).find((t) => t.endian === endian) ?? { endian };
}

interface SourceTypesRequest {
  readonly model: ObjectModel;
  readonly scan: SourceScan | undefined;
  readonly source: string | undefined;
  readonly target: Target;
  readonly clang: (() => Promise<Tool>) | undefined;
  readonly cflags: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly typesOnly?: SourceTypesInput["cache"];
  /** `--obj`: the types saved by the generate that wrote the module, used instead of compiling when they hold the required ones. */
  readonly saved?: SourceTypes;
}

/**
 * The types-only compile for one object: the types its model needs but lacks (event types, `--type`;
 * required: failing to compile them is an error) and `optional` ones (declared by the source; a
 * compile failure is then a note in `notes`). Returns the compile's BTF and the ids in it of the
 * types to merge into the object's graph, or undefined when nothing could be compiled. With `saved`
 * types holding the required ones, those are merged instead (no clang: no compile), and the compile,
 * if any, is returned as `compiled`, to check the object against the source as it is now.
 */
async function sourceTypesFor(s: Stages, m: SourceTypesRequest, optional: readonly string[], notes: string[]): Promise<{ types: SourceTypes; roots: TypeId[]; compiled?: SourceTypes } | undefined> {
  const { model } = m;
  const required = model.missingTypes;
  const notFound = (why: string) =>
    new ModelError(`${model.file}: type${required.length > 1 ? "s" : ""} ${required.join(", ")} not found in the object's BTF${why}`, { file: model.file });
  if (!m.source || !m.clang) {
    if (required.length > 0) throw notFound(" (give the C source so bpf2ts can compile them into BTF)");
    return undefined;
  }
  // A bare name must be spelled as the source declares it (`event` → `struct event`).
  const declared = new Set(m.scan?.declaredTypes ?? []);
  const spellings = [...new Set([...required.map((t) => spellType(t, declared)), ...optional])];
  // `--obj`: the module takes the saved types (the same bytes whatever clang there is, or none); a
  // compile, when clang is there, only checks the object against the source as it is now.
  const savedBtf = m.saved?.btf;
  const saved = m.saved && required.every((t) => s.lookupType(savedBtf!, spellType(t, declared)) !== undefined)
    ? { types: m.saved, roots: spellings.map((t) => s.lookupType(savedBtf!, t)).filter((id): id is TypeId => id !== undefined) }
    : undefined;
  let clang: Tool;
  try {
    clang = await m.clang();
  } catch (e) {
    if (saved) return saved;
    if (required.length > 0) throw typesNeedClang(model, e);
    notes.push(`${m.source}: ${(e as Error).message}; without it, types the object lacks are not emitted and --obj objects are not checked against the source`);
    return undefined;
  }
  let types: SourceTypes;
  try {
    types = await s.compileSourceTypes({ source: m.source, target: m.target, clang, cflags: m.cflags, cwd: m.cwd, env: m.env, ...(m.typesOnly && { cache: m.typesOnly }) }, spellings);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr;
    if (required.length > 0) {
      throw new ModelError(`${notFound(" nor compilable from the source").message}${stderr ? `:\n${stderr.trimEnd()}` : ""}`, { file: model.file, cause: e });
    }
    // Optional work: one line says why (the first error), not clang's whole output.
    const first = stderr?.split("\n").find((l) => / error: /.test(l));
    notes.push(`${m.source}: the types-only compile failed (${first?.trim() ?? (e as Error).message}): types the object lacks are not emitted and --obj objects are not checked against the source`);
    return saved;
  }
  if (saved) return { ...saved, compiled: types };
  // A spelling the compile dropped is not in this BTF either: lookupType says so.
  const roots = spellings.map((t) => s.lookupType(types.btf, t)).filter((id): id is TypeId => id !== undefined);
  return { types, roots };
}

/** `--obj`: the layouts the module will print, as the object has them, against the source's. */
function checkAgainstSource(s: Stages, o: GenerateOptions, scan: SourceScan | undefined, model: ObjectModel, objectTypes: number, sourceBtf: Btf): void {
  const layouts = s.layoutModule(o.stem, model, { globalTypes: o.globalTypes ?? true, ...(scan && { declaredTypes: scan.declaredTypes }) });
  const roots: CompareRoot[] = [];
  for (const c of layouts.engine.allComposites()) {
    if (c.cName && c.typeId < objectTypes) roots.push({ typeId: c.typeId, spelling: `${model.btf.types[c.typeId]?.kind === s.Kind.Union ? "union" : "struct"} ${c.cName}` });
  }
  for (const e of layouts.engine.allEnums()) if (e.cName && e.typeId < objectTypes) roots.push({ typeId: e.typeId, spelling: `enum ${e.cName}` });
  s.compareWithSource({ btf: model.btf, file: model.file }, { btf: sourceBtf, file: o.source!, find: (t) => s.lookupType(sourceBtf, t) }, roots);
}

/**
 * Writes files into `dir` all-or-nothing: every file goes to a temporary name first, and only when all
 * are written are they renamed into place. Returns the paths written, relative to `dir`.
 */
export async function writeFilesAtomically(dir: string, files: readonly GeneratedFile[]): Promise<string[]> {
  writeAllOrNothing(dir, files);
  return files.map((f) => f.path);
}

/** `buildOutputs` then `writeFilesAtomically`. */
export async function runGenerate(o: GenerateOptions): Promise<BuiltOutput & { written: string[] }> {
  const built = await buildOutputs(o);
  const written = await writeFilesAtomically(built.outputDir, built.files);
  return { ...built, written };
}
