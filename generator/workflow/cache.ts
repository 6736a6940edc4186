// Incremental generation: a program is skipped when everything its output depends on hashes as it did
// at the last successful run — the source and every header clang's dependency file named, the options
// (flags, targets, types, …), clang's identity (path and `--version`), and bpf2ts itself (version and
// its own code) — and the outputs on disk are still the ones written then. One small JSON file per
// program under the cache directory (default `.bpf2ts-cache/` beside the config; not meant for git).

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { findClang, run } from "../compile/clang.js";
import type { GenerateOptions } from "../pipeline/run.js";
import { VERSION } from "../pipeline/run.js";
import { writeAllOrNothing } from "../files.js";

const FORMAT = 1;

export interface CacheEntry {
  readonly format: number;
  /** Hash of options, tool and bpf2ts identity (everything but the input files). */
  readonly settings: string;
  /** Input files (relative to `base` when inside it) with their sha256. */
  readonly inputs: Readonly<Record<string, string>>;
  /** Output files (relative to `base`) with their sha256. */
  readonly outputs: Readonly<Record<string, string>>;
}

export interface CacheOptions {
  /** The cache directory (absolute). */
  readonly dir: string;
  /** Paths in entries are stored relative to this (the config's directory). */
  readonly base: string;
}

const sha256 = (b: string | Uint8Array) => createHash("sha256").update(b).digest("hex");

/** The cache file of one program: named after its stem and where it writes. */
export function entryPath(cache: CacheOptions, o: GenerateOptions): string {
  const where = resolve(o.cwd ?? cache.base, o.outputDir ?? ".");
  const key = sha256(`${relative(cache.base, where)}\0${o.outputStem ?? o.stem}`).slice(0, 12);
  return join(cache.dir, `${o.stem}-${key}.json`);
}

const toolIds = new Map<string, Promise<string>>();

/** clang's path and full `--version` text (the version alone misses vendor patches); memoised per process. */
async function clangIdentity(o: GenerateOptions): Promise<string> {
  if (o.objects?.length) return "no compiler (objects given)";
  const env = o.env ?? process.env;
  const key = `${o.cc ?? ""}\0${env.BPF2TS_CC ?? ""}\0${env.PATH ?? ""}`;
  let id = toolIds.get(key);
  if (!id) {
    id = (async () => {
      const clang = await findClang({ ...(o.cc !== undefined && { cc: o.cc }), env });
      const out = await run(clang.path, ["--version"], { env });
      return `${clang.path}\n${out.stdout}`;
    })();
    toolIds.set(key, id);
    // A failed lookup must not stick: the next run reports clang's absence properly.
    id.catch(() => toolIds.delete(key));
  }
  return id;
}

let selfHash: string | undefined;

/**
 * bpf2ts's own code: the version string does not change while bpf2ts is being developed, but its
 * output does, so the compiled generator's files are hashed too (once per process).
 */
function bpf2tsIdentity(): string {
  if (selfHash) return selfHash;
  const root = fileURLToPath(new URL("..", import.meta.url));
  const h = createHash("sha256").update(VERSION);
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".js")) h.update(e.name).update(readFileSync(p));
    }
  };
  walk(root);
  return (selfHash = h.digest("hex"));
}

/** Everything but the inputs' contents, hashed. */
export async function settingsHash(o: GenerateOptions): Promise<string> {
  // The environment matters only through the compiler it selects (BPF2TS_CC, PATH): clangIdentity.
  const { cwd: _cwd, env: _env, ...options } = o;
  return sha256(JSON.stringify({ options: sortKeys(options), tool: await clangIdentity(o), bpf2ts: bpf2tsIdentity() }));
}

function sortKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sortKeys);
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortKeys(v)]));
  return x;
}

export async function readEntry(path: string): Promise<CacheEntry | undefined> {
  try {
    const e = JSON.parse(await readFile(path, "utf8")) as CacheEntry;
    return e.format === FORMAT && e.inputs && e.outputs ? e : undefined;
  } catch {
    return undefined;
  }
}

async function hashFile(path: string): Promise<string | undefined> {
  try {
    return sha256(await readFile(path));
  } catch {
    return undefined;
  }
}

const shown = (base: string, p: string) => {
  const r = relative(base, p);
  return r.startsWith("..") || isAbsolute(r) ? p : r;
};

/** Why a program must be rebuilt, or undefined when the cache says it is up to date. */
export async function staleReason(cache: CacheOptions, o: GenerateOptions, entry: CacheEntry | undefined, settings: string): Promise<string | undefined> {
  if (!entry) return "no cache entry";
  if (entry.settings !== settings) return "options, compiler or bpf2ts changed";
  for (const [p, h] of Object.entries(entry.inputs)) {
    if ((await hashFile(resolve(cache.base, p))) !== h) return `${p} changed`;
  }
  for (const [p, h] of Object.entries(entry.outputs)) {
    if ((await hashFile(resolve(cache.base, p))) !== h) return `output ${p} changed or missing`;
  }
  return undefined;
}

/**
 * Hashes of files taken before a build. An input edited while clang runs must not be recorded with its
 * new contents (the next run would then skip it), so entries prefer these over hashes taken after.
 */
export async function snapshotInputs(paths: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of paths) {
    const h = await hashFile(p);
    if (h) out.set(p, h);
  }
  return out;
}

/** Records a successful run: the inputs it read and the files it wrote (absolute paths). */
export async function writeEntry(
  cache: CacheOptions,
  path: string,
  settings: string,
  inputs: readonly string[],
  outputs: ReadonlyArray<{ path: string; contents: string | Uint8Array }>,
  before: ReadonlyMap<string, string> = new Map(),
): Promise<void> {
  const ins: Record<string, string> = {};
  for (const p of [...inputs].sort()) {
    const h = before.get(p) ?? (await hashFile(p));
    if (h) ins[shown(cache.base, p)] = h;
  }
  const outs: Record<string, string> = {};
  for (const f of outputs) outs[shown(cache.base, f.path)] = sha256(f.contents);
  const entry: CacheEntry = { format: FORMAT, settings, inputs: ins, outputs: outs };
  await mkdir(dirname(path), { recursive: true });
  writeAllOrNothing(dirname(path), [{ path: basename(path), contents: JSON.stringify(entry, null, 1) + "\n" }]);
}

/** The input files recorded for a program (absolute), e.g. for watching before its first rebuild. */
export function entryInputs(cache: CacheOptions, entry: CacheEntry | undefined): string[] {
  return entry ? Object.keys(entry.inputs).map((p) => resolve(cache.base, p)) : [];
}
