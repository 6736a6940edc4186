// `bpf2ts watch`: generate every configured program, then regenerate a program whenever one of its
// inputs changes — the source or any header clang's dependency file named, so editing a shared header
// rebuilds every program that includes it — printing clang's diagnostics as each build finishes.
//
// Directories are watched rather than files: editors save by writing a new file and renaming it over
// the old one, which ends a watch on the old file. Events are debounced (a save is several events),
// builds never overlap, and a change during a build queues one more build.

import { watch as fsWatch, type FSWatcher } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import { findConfig, selectPrograms, type Config, type ProgramConfig } from "./config.js";
import { generateAll, generateProgram, type ProgramResult } from "./generate-all.js";
import { plainProgress } from "./parallel.js";

export interface WatchOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `--config`. */
  readonly config?: string;
  /** Program stems (default: all). */
  readonly stems?: readonly string[];
  /** Quiet period after the last change before rebuilding (ms); default 150. */
  readonly debounceMs?: number;
  readonly jobs?: number;
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

export interface Watcher {
  /** Resolves after the first build, when the watches are in place. */
  readonly ready: Promise<void>;
  /** Stops watching; resolves when a build in progress has finished. */
  close(): Promise<void>;
}

export function startWatch(opts: WatchOptions): Watcher {
  const debounceMs = opts.debounceMs ?? 150;
  const rel = (p: string) => relative(opts.cwd, p) || p;
  let config!: Config;
  let programs!: ProgramConfig[];
  /** Inputs of each program (absolute), from its last build or the cache. */
  const inputs = new Map<string, readonly string[]>();
  const watchers = new Map<string, FSWatcher>();
  const dirty = new Set<string>();
  let changed: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let building: Promise<void> | undefined;
  let closed = false;
  let reloadConfig = false;

  const load = () => {
    config = findConfig(opts.cwd, opts.config);
    programs = selectPrograms(config, opts.stems ?? []);
  };

  const remember = (p: ProgramConfig, r: ProgramResult | undefined) => {
    const source = p.source ? [resolve(config.dir, p.source)] : [];
    const objects = (p.objects ?? []).map((o) => resolve(config.dir, o));
    // After a failed build the old list still names the headers (clang wrote no depfile this time).
    const known = r?.inputs.length ? r.inputs : (inputs.get(p.stem) ?? []);
    inputs.set(p.stem, [...new Set([...source, ...objects, ...known])]);
  };

  /** Watches the directory of every input and of the config; drops watches no longer needed. */
  const rewatch = () => {
    const dirs = new Set<string>([dirname(config.file)]);
    for (const list of inputs.values()) for (const f of list) dirs.add(dirname(f));
    for (const [dir, w] of watchers) {
      if (!dirs.has(dir)) {
        w.close();
        watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const w = fsWatch(dir, { persistent: true }, (_event, name) => onEvent(dir, name === null ? undefined : String(name)));
        w.on("error", () => {});
        watchers.set(dir, w);
      } catch (e) {
        opts.stderr(`watch: cannot watch ${rel(dir)}: ${(e as Error).message}\n`);
      }
    }
  };

  const onEvent = (dir: string, name: string | undefined) => {
    if (closed) return;
    const file = name ? resolve(dir, name) : undefined;
    if (file === config.file || (name === undefined && dir === dirname(config.file))) reloadConfig = true;
    let hit = reloadConfig;
    for (const [stem, list] of inputs) {
      // No name (some platforms): anything in the directory may have changed.
      if (list.some((f) => (file ? f === file : dirname(f) === dir))) {
        dirty.add(stem);
        hit = true;
      }
    }
    if (!hit) return;
    if (file && !changed.includes(file)) changed.push(file);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void kick(), debounceMs);
  };

  const kick = async () => {
    timer = undefined;
    if (building) {
      // Runs again when the current build ends (the dirty set keeps what changed meanwhile).
      await building;
      if (!timer && (dirty.size || reloadConfig) && !closed) timer = setTimeout(() => void kick(), 0);
      return;
    }
    building = rebuild().finally(() => (building = undefined));
    await building;
  };

  const rebuild = async () => {
    if (closed) return;
    if (reloadConfig) {
      reloadConfig = false;
      try {
        load();
        opts.stdout(`${rel(config.file)} changed: reloaded (${programs.length} program${programs.length === 1 ? "" : "s"})\n`);
        for (const p of programs) dirty.add(p.stem);
      } catch (e) {
        opts.stderr(`bpf2ts: ${(e as Error).message}\n`);
        return;
      }
    }
    const stems = [...dirty];
    dirty.clear();
    const why = changed.map(rel).join(", ");
    changed = [];
    for (const stem of stems) {
      const p = programs.find((x) => x.stem === stem);
      if (!p || closed) continue;
      const t0 = performance.now();
      try {
        const r = await generateProgram(config, p, { ...(opts.env && { env: opts.env }) });
        for (const w of r.warnings) opts.stderr(w.endsWith("\n") ? w : w + "\n");
        remember(p, r);
        opts.stdout(r.status === "skipped"
          ? `${stem}: ${why || "inputs"} touched, contents unchanged: up to date\n`
          : `${stem}: ${why ? `${why} changed: ` : ""}wrote ${r.written.map(rel).join(", ")} (${((performance.now() - t0) / 1000).toFixed(1)}s)\n`);
      } catch (e) {
        const stderr = (e as { stderr?: unknown }).stderr;
        if (typeof stderr === "string" && stderr.trim()) opts.stderr(stderr.endsWith("\n") ? stderr : stderr + "\n");
        opts.stderr(`${stem}: failed: ${(e as Error).message}\n`);
        remember(p, undefined);
      }
    }
    rewatch();
  };

  const ready = (async () => {
    load();
    const outcomes = await generateAll(config, programs, {
      ...(opts.env && { env: opts.env }),
      ...(opts.jobs !== undefined && { jobs: opts.jobs }),
      progress: plainProgress(opts.stdout, programs.length, opts.stderr),
      cwd: opts.cwd,
    });
    outcomes.forEach((o, i) => remember(programs[i]!, o.ok ? o.value : undefined));
    if (closed) return;
    rewatch();
    const files = new Set([...inputs.values()].flat()).size;
    opts.stdout(`watching ${files} files of ${programs.length} program${programs.length === 1 ? "" : "s"} (${[...new Set(programs.map((p) => basename(p.source ?? p.stem)))].join(", ")}); Ctrl-C stops\n`);
  })();

  return {
    ready,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
      await ready.catch(() => {});
      await building;
    },
  };
}
