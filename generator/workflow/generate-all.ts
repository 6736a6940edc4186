// `bpf2ts generate` without arguments: every configured program, in parallel, each skipped when the
// cache says its inputs and outputs are as the last run left them. Also the unit `watch` rebuilds.

import { relative, resolve } from "node:path";
import { entryInputs, entryPath, readEntry, settingsHash, snapshotInputs, staleReason, writeEntry, type CacheOptions } from "./cache.js";
import { generateOptions, type Config, type ProgramConfig } from "./config.js";
import { runParallel, type Outcome, type Progress } from "./parallel.js";
import { runGenerate } from "../pipeline/run.js";

export interface ProgramResult {
  readonly stem: string;
  readonly status: "generated" | "skipped";
  /** Why it was rebuilt (or "forced"); undefined when skipped. */
  readonly reason?: string;
  /** Files written, absolute (empty when skipped). */
  readonly written: readonly string[];
  /** Every input file (source and headers), absolute: what `watch` watches. */
  readonly inputs: readonly string[];
  readonly warnings: readonly string[];
}

export interface ProgramRunOptions {
  /** Rebuild even when the cache says the program is up to date. */
  readonly force?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly status?: (text: string) => void;
  /** false: no types-only compile ahead of need (other programs keep the cores busy). */
  readonly typesAhead?: boolean;
}

export const cacheOf = (config: Config): CacheOptions => ({ dir: config.cacheDir, base: config.dir });

/** Generates one configured program unless the cache shows it up to date. */
export async function generateProgram(config: Config, p: ProgramConfig, opts: ProgramRunOptions = {}): Promise<ProgramResult> {
  const o = generateOptions(config, p, opts.env);
  const cache = cacheOf(config);
  const path = entryPath(cache, o);
  const entry = await readEntry(path);
  const settings = await settingsHash(o);
  const known = entryInputs(cache, entry);
  let reason: string | undefined = "forced";
  if (!opts.force) {
    opts.status?.("checking inputs");
    reason = await staleReason(cache, o, entry, settings);
    if (reason === undefined) return { stem: p.stem, status: "skipped", written: [], inputs: known, warnings: [] };
  }
  const before = await snapshotInputs([...new Set([...known, ...(p.source ? [resolve(config.dir, p.source)] : [])])]);
  opts.status?.(p.source && !p.objects ? "compiling" : "generating");
  const result = await runGenerate({ ...o, ...(opts.typesAhead === false && { typesAhead: false }) });
  const outputs = result.files.map((f) => ({ path: resolve(result.outputDir, f.path), contents: f.contents }));
  await writeEntry(cache, path, settings, result.inputs, outputs, before);
  return { stem: p.stem, status: "generated", reason, written: outputs.map((f) => f.path), inputs: result.inputs, warnings: result.warnings };
}

export interface GenerateAllOptions extends ProgramRunOptions {
  readonly jobs?: number;
  readonly progress?: Progress;
  /** For the progress lines: paths are shown relative to this. */
  readonly cwd?: string;
}

/** Runs `generateProgram` for each program in parallel; warnings and failures go to the progress log. */
export async function generateAll(config: Config, programs: readonly ProgramConfig[], opts: GenerateAllOptions = {}): Promise<Array<Outcome<ProgramResult>>> {
  const cwd = opts.cwd ?? config.dir;
  return runParallel(
    programs.map((p) => ({
      name: p.stem,
      run: async (status: (text: string) => void) => {
        const r = await generateProgram(config, p, { ...opts, status, ...(programs.length > 1 && { typesAhead: false }) });
        for (const w of r.warnings) opts.progress?.log(w);
        return r;
      },
    })),
    {
      ...(opts.jobs !== undefined && { concurrency: opts.jobs }),
      ...(opts.progress && { progress: opts.progress }),
      describe: (o) => describeOutcome(o as Outcome<ProgramResult>, cwd, opts.progress),
    },
  );
}

/** The final line of a program: what it wrote, that it was up to date, or why it failed. */
function describeOutcome(o: Outcome<ProgramResult>, cwd: string, progress: Progress | undefined): string {
  const secs = `${(o.ms / 1000).toFixed(1)}s`;
  if (!o.ok) {
    // clang's diagnostics verbatim, then the one-line reason.
    const stderr = (o.error as { stderr?: unknown }).stderr;
    if (typeof stderr === "string" && stderr.trim()) progress?.log(stderr.trimEnd());
    return `failed: ${(o.error as Error)?.message ?? String(o.error)}`;
  }
  if (o.value.status === "skipped") return "up to date";
  return `wrote ${o.value.written.map((f) => relative(cwd, f) || f).join(", ")} (${secs})`;
}
