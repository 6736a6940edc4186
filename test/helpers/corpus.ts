// The corpus under fixtures/corpus/: each <tool>/<tool>.bpf.c with a <tool>.json manifest saying what
// its user space would pass at load, which programs must then be loaded on this kernel, and how a
// test triggers it and which event values it must see (format: fixtures/corpus/README.md).

import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./kernel.js";

export const corpusDir = join(repoRoot, "fixtures", "corpus");

/** An expected value: a literal (compared as strings, so bigints and numbers meet), or a comparison. */
export type Expected = string | number | boolean | null | { eq?: number; ne?: number; gt?: number; gte?: number; lte?: number };

export interface EventExpectation {
  /** C name of the ring buffer / perf event array. */
  map: string;
  /** Fields that pick the event out of everything else the kernel reports. */
  match: Record<string, Expected>;
  /** Fields the picked event must have. */
  values: Record<string, Expected>;
  /** How many matching events (default: at least one). */
  count?: number;
}
export interface MapExpectation {
  /** C name of a map that must hold at least `min` entries after the trigger. */
  mapEntries: string;
  min: number;
}
export interface VariableExpectation {
  /** TS name of a .bss/.data variable. */
  variable: string;
  /** For an array variable: the element. */
  index?: number;
  /** For an array variable: the sum of its elements. */
  sum?: Expected;
  value?: Expected;
}
export type Expectation = EventExpectation | MapExpectation | VariableExpectation;

export interface Trigger {
  kind: "exec" | "open" | "read" | "write" | "stat" | "kill" | "bind" | "connect" | "mount" | "touch-rm" | "sleep" | "fakegc";
  argv?: string[];
  signal?: NodeJS.Signals;
  /** bind: a port below 1024 (needs CAP_NET_BIND_SERVICE). */
  privileged?: boolean;
  ms?: number;
}

export interface UprobeAttach {
  /** TS name of the program. */
  program: string;
  /** `$libc`, `$fakegc` or a path. */
  path: string;
  symbol: string;
}

export interface Manifest {
  tool: string;
  description: string;
  exercises: string[];
  /** Every ring buffer / perf event array (C name) → the C type of its records. */
  events: Record<string, string>;
  /** What the tool's user space passes to the loader (TS names; `$self` is this process's pid). */
  load: {
    constants?: Record<string, unknown>;
    maps?: Record<string, { valueSize?: number; keySize?: number; maxEntries?: number; autocreate?: boolean }>;
    programs?: Record<string, { autoload?: boolean; attachTarget?: string }>;
  };
  /** TS names of the programs loaded with those options on this kernel (no kprobes, no fentry). */
  loads: string[];
  /** Variants of one hook (TS program names), and what the tool probes to choose between them. */
  variants?: Partial<Record<"fentry" | "kprobe" | "tracepoint" | "tp_btf" | "raw_tp", string[]>>;
  probe?: { function: string; tracepoint?: string };
  /** "auto": BpfObject.attach(); "none": load only; or explicit uprobes. */
  attach: "auto" | "none" | UprobeAttach[];
  /** .bss/.data variables (TS names) set after load, before the trigger. */
  setVariables?: Record<string, unknown>;
  trigger?: Trigger;
  expect?: Expectation[];
}

/** Every tool of the corpus (directories with <name>/<name>.bpf.c), sorted. */
export function corpusTools(): string[] {
  return readdirSync(corpusDir)
    .filter((d) => existsSync(join(corpusDir, d, `${d}.bpf.c`)))
    .sort();
}

export function readManifest(tool: string): Manifest {
  const file = join(corpusDir, tool, `${tool}.json`);
  const m = JSON.parse(readFileSync(file, "utf8")) as Manifest;
  if (m.tool !== tool) throw new Error(`${file}: "tool" is ${m.tool}, expected ${tool}`);
  return m;
}

/** `tcp_v4_connect` → `tcpV4Connect` (the generator's member names). */
export function camel(c: string): string {
  const parts = c.split("_").filter((p) => p.length > 0);
  return parts.map((p, i) => (i === 0 ? p[0]!.toLowerCase() + p.slice(1) : p[0]!.toUpperCase() + p.slice(1))).join("");
}

/** `fs_file_op` → `FsFileOp` (the generator's type names, without the stem). */
export function pascal(c: string): string {
  const s = camel(c);
  return s[0]!.toUpperCase() + s.slice(1);
}

/** Replaces `$name` strings from `vars`, recursively. */
export function substitute<T>(x: T, vars: Record<string, unknown>): T {
  if (typeof x === "string" && x.startsWith("$")) {
    if (!(x.slice(1) in vars)) throw new Error(`manifest placeholder ${x} has no value (known: ${Object.keys(vars).map((k) => `$${k}`).join(" ")})`);
    return vars[x.slice(1)] as T;
  }
  if (Array.isArray(x)) return x.map((e) => substitute(e, vars)) as T;
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, substitute(v, vars)])) as T;
  return x;
}

/** Whether `actual` satisfies `want`; undefined when it does, else why not. */
export function mismatch(actual: unknown, want: Expected): string | undefined {
  if (want !== null && typeof want === "object") {
    if (typeof actual !== "number" && typeof actual !== "bigint") return `${String(actual)} is not a number`;
    const a = Number(actual);
    if (want.eq !== undefined && !(a === want.eq)) return `${a} != ${want.eq}`;
    if (want.ne !== undefined && !(a !== want.ne)) return `${a} == ${want.ne}`;
    if (want.gt !== undefined && !(a > want.gt)) return `${a} <= ${want.gt}`;
    if (want.gte !== undefined && !(a >= want.gte)) return `${a} < ${want.gte}`;
    if (want.lte !== undefined && !(a <= want.lte)) return `${a} > ${want.lte}`;
    return undefined;
  }
  return String(actual) === String(want) ? undefined : `${show(actual)} != ${show(want)}`;
}

export function show(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : ArrayBuffer.isView(v) ? `<${v.constructor.name}(${(v as Uint8Array).length})>` : v));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; timeout?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, timeout: opts.timeout ?? 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? err.message : "") });
    });
  });
}

/** Runs `jobs` with at most `width` at a time, results in order. */
export async function pool<T, R>(items: readonly T[], width: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await job(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

/** A limiter: at most `width` callers inside `use` at once. */
export function limiter(width: number): <R>(f: () => Promise<R>) => Promise<R> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <R>(f: () => Promise<R>): Promise<R> => {
    if (active >= width) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await f();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
