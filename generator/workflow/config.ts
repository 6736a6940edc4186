// The project configuration: a `bpf2ts.config.json`, or a "bpf2ts" field in package.json, listing the
// programs `bpf2ts generate` (no arguments), `check` and `watch` work on. Validation is strict (unknown
// keys are errors, since a typo would otherwise silently drop an option) and every error names the key
// path, e.g. `bpf2ts.config.json: programs[2].target: unknown target "bpfxx" …`.
//
// Relative paths in the config are relative to the directory holding it, whatever the cwd.

import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseTargets } from "../compile/clang.js";
import { Bpf2tsError } from "../errors.js";
import { readInputFile } from "../files.js";
import type { GenerateOptions } from "../pipeline/run.js";
import { splitShellWords } from "../compile/shell-words.js";
import { STEM } from "../pipeline/options.js";

export const CONFIG_FILE = "bpf2ts.config.json";
export const DEFAULT_CACHE_DIR = ".bpf2ts-cache";

/** A config that cannot be found, read or validated; `member` holds the key path. */
export class ConfigError extends Bpf2tsError {
  override name = "ConfigError";
}

/** One program as written in the config (after validation). */
export interface ProgramConfig {
  /** Prefix of generated names and files; default: the source's name without `.bpf.c` / `.c`. */
  readonly stem: string;
  readonly source?: string;
  /** Generate from these committed objects instead of compiling. */
  readonly objects?: readonly string[];
  readonly target?: string;
  readonly types?: readonly string[];
  readonly events?: Readonly<Record<string, string>>;
  readonly cflags?: readonly string[];
  /** Default: the source's directory. */
  readonly outputDir?: string;
  readonly outputStem?: string;
  readonly globalTypes?: boolean;
  readonly strip?: boolean;
  readonly cc?: string;
}

export interface Config {
  /** The file the config came from, absolute. */
  readonly file: string;
  /** How errors name the file (`bpf2ts.config.json` or `package.json`) plus the key prefix. */
  readonly label: string;
  /** Directory relative paths are resolved against, absolute. */
  readonly dir: string;
  /** Absolute. */
  readonly cacheDir: string;
  readonly programs: readonly ProgramConfig[];
}

// ---------------------------------------------------------------------------------------------------
// Finding and reading

/**
 * The config for `cwd`: `explicit` when given; else, walking up from `cwd`, the first directory with a
 * `bpf2ts.config.json` or a package.json. A package.json ends the walk (it is the package's root)
 * and must then hold a "bpf2ts" field.
 */
export function findConfig(cwd: string, explicit?: string): Config {
  if (explicit !== undefined) return loadConfigFile(resolve(cwd, explicit));
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const own = join(dir, CONFIG_FILE);
    if (existsSync(own)) return loadConfigFile(own);
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      const json = readJson(pkg, "package.json");
      if (isObject(json) && json.bpf2ts !== undefined) return parseConfig(json.bpf2ts, { file: pkg, fileLabel: "package.json", keyPrefix: "bpf2ts" });
      throw new ConfigError(
        `${pkg}: no "bpf2ts" field and no ${CONFIG_FILE} beside it; add one (see bpf2ts init), or give the source: bpf2ts generate <stem> <file.bpf.c>`,
        { file: pkg },
      );
    }
    if (dirname(dir) === dir) break;
  }
  throw new ConfigError(`config: no ${CONFIG_FILE} or package.json found in ${resolve(cwd)} or above`, { file: CONFIG_FILE });
}

/** Loads `bpf2ts.config.json`-style files, or a package.json (its "bpf2ts" field). */
export function loadConfigFile(file: string): Config {
  const label = basename(file);
  const json = readJson(file, label);
  if (label === "package.json") {
    if (!isObject(json) || json.bpf2ts === undefined) throw new ConfigError(`package.json: no "bpf2ts" field`, { file, member: "bpf2ts" });
    return parseConfig(json.bpf2ts, { file, fileLabel: label, keyPrefix: "bpf2ts" });
  }
  return parseConfig(json, { file, fileLabel: label, keyPrefix: "" });
}

function readJson(file: string, label: string): unknown {
  let text: string;
  try {
    // A regular file of bounded size: `--config /dev/zero` or a FIFO fails at once.
    text = readInputFile(file, label).toString("utf8");
  } catch (e) {
    throw new ConfigError((e as Error).message, { file, cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(`${label}: not valid JSON: ${(e as Error).message}`, { file, cause: e });
  }
}

// ---------------------------------------------------------------------------------------------------
// Validation

interface ParseContext {
  readonly file: string;
  readonly fileLabel: string;
  /** "bpf2ts" inside package.json, "" in a config file of its own. */
  readonly keyPrefix: string;
}

const TOP_KEYS = ["$schema", "programs", "cc", "cflags", "target", "cacheDir"] as const;
const PROGRAM_KEYS = ["stem", "source", "objects", "target", "types", "events", "cflags", "outputDir", "outputStem", "globalTypes", "strip", "cc"] as const;

/** Validates a parsed config value; `file` is where it came from (for errors and relative paths). */
export function parseConfig(value: unknown, ctx: ParseContext): Config {
  const v = new Validator(ctx);
  const top = v.object(value, "");
  v.knownKeys(top, "", TOP_KEYS);
  const dir = dirname(ctx.file);
  const defaults = {
    cc: v.optString(top.cc, "cc"),
    cflags: v.optFlags(top.cflags, "cflags") ?? [],
    target: v.optTarget(top.target, "target"),
  };
  const cacheDir = resolve(dir, v.optString(top.cacheDir, "cacheDir") ?? DEFAULT_CACHE_DIR);
  if (top.programs === undefined) throw v.error("programs", "missing; list the programs to generate, e.g. [{ \"source\": \"bpf/exec.bpf.c\" }]");
  if (!Array.isArray(top.programs)) throw v.error("programs", `expected an array of programs, got ${describe(top.programs)}`);
  if (top.programs.length === 0) throw v.error("programs", "empty; list at least one program");

  const programs = top.programs.map((raw, i) => parseProgram(v, raw, `programs[${i}]`, defaults, dir));
  checkUnique(v, programs);
  return { file: ctx.file, label: ctx.fileLabel, dir, cacheDir, programs };
}

function parseProgram(
  v: Validator,
  raw: unknown,
  at: string,
  defaults: { cc: string | undefined; cflags: readonly string[]; target: string | undefined },
  dir: string,
): ProgramConfig {
  const p = v.object(raw, at);
  v.knownKeys(p, at, PROGRAM_KEYS);
  const source = v.optString(p.source, `${at}.source`);
  const objects = v.optStringList(p.objects, `${at}.objects`);
  if (source === undefined && objects === undefined) throw v.error(`${at}.source`, "missing; give the C source (or objects to generate from)");
  if (source !== undefined && !existsSync(resolve(dir, source))) throw v.error(`${at}.source`, `no such file: ${source}`);
  for (const [i, o] of (objects ?? []).entries()) {
    if (!existsSync(resolve(dir, o))) throw v.error(`${at}.objects[${i}]`, `no such file: ${o}`);
  }
  const stemAt = `${at}.stem`;
  let stem = v.optString(p.stem, stemAt);
  if (stem === undefined) {
    const from = source ?? objects![0]!;
    stem = basename(from).replace(/(_bpfe[lb])?\.o$/, "").replace(/(\.bpf)?\.c$/, "");
    if (!STEM.test(stem)) throw v.error(stemAt, `missing, and "${stem}" (from ${from}) is not a usable stem; give one`);
  } else if (!STEM.test(stem)) {
    throw v.error(stemAt, `expected letters, digits, _ and - starting with a letter or _, got ${JSON.stringify(stem)}`);
  }
  const outputStem = v.optString(p.outputStem, `${at}.outputStem`);
  if (outputStem !== undefined && !STEM.test(outputStem)) throw v.error(`${at}.outputStem`, `expected a file name stem, got ${JSON.stringify(outputStem)}`);
  const cflags = [...defaults.cflags, ...(v.optFlags(p.cflags, `${at}.cflags`) ?? [])];
  const target = v.optTarget(p.target, `${at}.target`) ?? defaults.target;
  const cc = v.optString(p.cc, `${at}.cc`) ?? defaults.cc;
  const types = v.optStringList(p.types, `${at}.types`);
  const events = v.optEvents(p.events, `${at}.events`);
  const outputDir = v.optString(p.outputDir, `${at}.outputDir`) ?? dirname(source ?? objects![0]!);
  const globalTypes = v.optBoolean(p.globalTypes, `${at}.globalTypes`);
  const strip = v.optBoolean(p.strip, `${at}.strip`);
  return {
    stem,
    ...(source !== undefined && { source }),
    ...(objects !== undefined && { objects }),
    ...(target !== undefined && { target }),
    ...(types !== undefined && { types }),
    ...(events !== undefined && { events }),
    ...(cflags.length > 0 && { cflags }),
    outputDir,
    ...(outputStem !== undefined && { outputStem }),
    ...(globalTypes !== undefined && { globalTypes }),
    ...(strip !== undefined && { strip }),
    ...(cc !== undefined && { cc }),
  };
}


/** Two programs may not share a stem (it names them on the command line) nor write the same files. */
function checkUnique(v: Validator, programs: readonly ProgramConfig[]): void {
  const stems = new Map<string, number>();
  const outputs = new Map<string, number>();
  programs.forEach((p, i) => {
    const prev = stems.get(p.stem);
    if (prev !== undefined) throw v.error(`programs[${i}].stem`, `"${p.stem}" is also the stem of programs[${prev}]; stems must be unique`);
    stems.set(p.stem, i);
    const out = `${resolve(p.outputDir ?? ".")}\0${p.outputStem ?? p.stem}`;
    const clash = outputs.get(out);
    if (clash !== undefined) throw v.error(`programs[${i}].outputDir`, `writes the same files as programs[${clash}] (${p.outputDir}/${p.outputStem ?? p.stem}.ts); set outputDir or outputStem`);
    outputs.set(out, i);
  });
}

const describe = (x: unknown): string => (x === null ? "null" : Array.isArray(x) ? "an array" : typeof x === "object" ? "an object" : `${typeof x} ${JSON.stringify(x)}`);

/** Type checks that throw a ConfigError naming the key path. */
class Validator {
  constructor(private readonly ctx: ParseContext) {}

  error(path: string, detail: string): ConfigError {
    const key = [this.ctx.keyPrefix, path].filter(Boolean).join(".").replace(/\.\[/g, "[");
    return new ConfigError(`${this.ctx.fileLabel}: ${key || "(top level)"}: ${detail}`, { file: this.ctx.file, member: key });
  }

  object(x: unknown, at: string): Record<string, unknown> {
    if (!isObject(x)) throw this.error(at, `expected an object, got ${describe(x)}`);
    return x;
  }

  knownKeys(obj: Record<string, unknown>, at: string, known: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (known.includes(k)) continue;
      const near = closest(k, known);
      throw this.error(at ? `${at}.${k}` : k, `unknown key${near ? ` (did you mean "${near}"?)` : ""}; known: ${known.filter((x) => x !== "$schema").join(", ")}`);
    }
  }

  optString(x: unknown, at: string): string | undefined {
    if (x === undefined) return undefined;
    if (typeof x !== "string" || x === "") throw this.error(at, `expected a non-empty string, got ${describe(x)}`);
    return x;
  }

  optBoolean(x: unknown, at: string): boolean | undefined {
    if (x === undefined) return undefined;
    if (typeof x !== "boolean") throw this.error(at, `expected true or false, got ${describe(x)}`);
    return x;
  }

  optStringList(x: unknown, at: string): string[] | undefined {
    if (x === undefined) return undefined;
    if (!Array.isArray(x)) throw this.error(at, `expected an array of strings, got ${describe(x)}`);
    return x.map((e, i) => this.optString(e, `${at}[${i}]`) ?? "");
  }

  /** A flags string (split like a shell) or an array of single flags. */
  optFlags(x: unknown, at: string): string[] | undefined {
    if (x === undefined) return undefined;
    if (typeof x === "string") {
      try {
        return splitShellWords(x);
      } catch (e) {
        throw this.error(at, (e as Error).message.replace(/^flags: /, ""));
      }
    }
    if (!Array.isArray(x)) throw this.error(at, `expected a flags string or an array of flags, got ${describe(x)}`);
    return x.map((e, i) => {
      if (typeof e !== "string") throw this.error(`${at}[${i}]`, `expected a string, got ${describe(e)}`);
      return e;
    });
  }

  /** "bpfel,bpfeb" or ["bpfel", "bpfeb"], checked with the CLI's own parser. */
  optTarget(x: unknown, at: string): string | undefined {
    if (x === undefined) return undefined;
    let spec: string;
    if (typeof x === "string") spec = x;
    else if (Array.isArray(x) && x.every((e) => typeof e === "string")) spec = x.join(",");
    else throw this.error(at, `expected a target list like "bpfel,bpfeb", got ${describe(x)}`);
    try {
      parseTargets(spec);
    } catch (e) {
      throw this.error(at, (e as Error).message.replace(/^--target: /, ""));
    }
    return spec;
  }

  /** `{ "events": "struct event" }`: ring buffer / perf event array name → C type. */
  optEvents(x: unknown, at: string): Record<string, string> | undefined {
    if (x === undefined) return undefined;
    const obj = this.object(x, at);
    const out: Record<string, string> = {};
    for (const [map, type] of Object.entries(obj)) {
      if (!/^[A-Za-z_]\w*$/.test(map)) throw this.error(`${at}.${map}`, "expected a map name (a C identifier)");
      if (typeof type !== "string" || !type.trim()) throw this.error(`${at}.${map}`, `expected a C type such as "struct event", got ${describe(type)}`);
      out[map] = type.trim();
    }
    return out;
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** The known key within edit distance 2 of `k`, for "did you mean". */
function closest(k: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of known) {
    const d = editDistance(k.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

// ---------------------------------------------------------------------------------------------------
// From config to pipeline options

/** The pipeline options for one configured program (paths stay relative to the config's directory). */
export function generateOptions(config: Config, p: ProgramConfig, env: NodeJS.ProcessEnv = process.env): GenerateOptions {
  return {
    stem: p.stem,
    ...(p.source !== undefined && { source: p.source }),
    ...(p.objects !== undefined && { objects: p.objects }),
    ...(p.cc !== undefined && { cc: p.cc }),
    cflags: p.cflags ?? [],
    ...(p.target !== undefined && { target: p.target }),
    ...(p.types !== undefined && { types: p.types }),
    ...(p.events !== undefined && { events: p.events }),
    globalTypes: p.globalTypes ?? true,
    outputDir: p.outputDir ?? ".",
    ...(p.outputStem !== undefined && { outputStem: p.outputStem }),
    strip: p.strip ?? true,
    cwd: config.dir,
    env,
  };
}

/** The programs named by `stems` (all when empty); an unknown name is an error listing the known. */
export function selectPrograms(config: Config, stems: readonly string[]): ProgramConfig[] {
  if (stems.length === 0) return [...config.programs];
  const known = new Map(config.programs.map((p) => [p.stem, p]));
  return stems.map((s) => {
    const p = known.get(s);
    if (!p) throw new ConfigError(`${config.label}: no program "${s}" (configured: ${[...known.keys()].join(", ")})`, { file: config.file, symbol: s });
    return p;
  });
}
