// Driving clang: finding clang, building a reproducible command line, compiling into a temporary
// directory, and reading clang's dependency file.
//
// Reproducible means: the same source and flags give the same bytes whatever the checkout's path
// (`-fdebug-prefix-map`, `-fdebug-compilation-dir`), with no compiler identification (`-fno-ident`),
// and with DWARF stripped while .BTF/.BTF.ext stay (`llvm-strip -g`, done in process: strip-debug.ts).
// cilium/ebpf's bpf2go does the same.

import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { arch as hostArch, tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { CompileError, ToolNotFoundError, UsageError } from "../errors.js";

import { adoptEarlyCompile } from "./early-registry.js";

export { splitShellWords } from "./shell-words.js";

/** The Debian package that provides clang (and the newest clang we look for). */
export const CLANG_PACKAGE = "clang-19";
const CLANG_MAJORS = [19, 18, 17, 16, 15, 14];

export interface Tool {
  readonly path: string;
  /** Major version (clang), 0 when unknown. */
  readonly major: number;
}

export interface ToolOptions {
  /** `--cc`; falls back to env `BPF2TS_CC`. */
  readonly cc?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Looks `name` up on PATH (or takes it as a path when it holds a slash). */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (name.includes("/")) return executable(name) ? name : undefined;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/** Finds clang: `--cc`, env `BPF2TS_CC`, else `clang`, `clang-19` … `clang-14` on PATH. */
export async function findClang(opts: ToolOptions = {}): Promise<Tool> {
  const found = locateClang(opts);
  return { path: found.path, major: await found.major };
}

/**
 * findClang without waiting for the version: the path at once (a compile can start), the major
 * version when known (from the name, else from `clang --version`, which then runs beside the compile).
 * Throws ToolNotFoundError.
 */
export function locateClang(opts: ToolOptions = {}): { readonly path: string; readonly major: Promise<number> } {
  const env = opts.env ?? process.env;
  const wanted = opts.cc ?? (env.BPF2TS_CC || undefined);
  const candidates = wanted !== undefined ? [wanted] : ["clang", ...CLANG_MAJORS.map((v) => `clang-${v}`)];
  for (const name of candidates) {
    const path = which(name, env);
    if (path) {
      const major = clangMajor(path, env);
      major.catch(() => undefined); // awaited by whoever needs it
      return { path, major };
    }
  }
  if (wanted !== undefined) {
    throw new ToolNotFoundError(`clang: "${wanted}" (from ${opts.cc !== undefined ? "--cc" : "BPF2TS_CC"}) not found or not executable`);
  }
  throw new ToolNotFoundError(
    `clang: none found on PATH (tried ${candidates.join(", ")}); install it with: apt-get install ${CLANG_PACKAGE}`,
  );
}

async function clangMajor(path: string, env: NodeJS.ProcessEnv): Promise<number> {
  const fromName = /clang-(\d+)$/.exec(path);
  if (fromName) return Number(fromName[1]);
  const out = await run(path, ["--version"], { env });
  const m = /clang version (\d+)/.exec(out.stdout);
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------------------------------------------
// Targets

export type Endian = "bpfel" | "bpfeb";

export interface Target {
  /** clang's `-target`. */
  readonly endian: Endian;
  /** Value for `-D__TARGET_ARCH_<arch>` (bpf_tracing.h), when a CPU architecture was named. */
  readonly arch?: string;
}

/** Node's `process.arch` names → libbpf's `__TARGET_ARCH_*` and the byte order of that CPU. */
const NODE_ARCHES: Readonly<Record<string, Target>> = {
  x64: { endian: "bpfel", arch: "x86" },
  ia32: { endian: "bpfel", arch: "x86" },
  arm64: { endian: "bpfel", arch: "arm64" },
  arm: { endian: "bpfel", arch: "arm" },
  // Node's "ppc64" on Linux is little-endian POWER (ppc64le); big-endian has no Node port.
  ppc64: { endian: "bpfel", arch: "powerpc" },
  s390x: { endian: "bpfeb", arch: "s390" },
  riscv64: { endian: "bpfel", arch: "riscv" },
  loong64: { endian: "bpfel", arch: "loongarch" },
  mips: { endian: "bpfeb", arch: "mips" },
  mipsel: { endian: "bpfel", arch: "mips" },
  mips64: { endian: "bpfeb", arch: "mips" },
  mips64el: { endian: "bpfel", arch: "mips" },
};

/** GOARCH names bpf2go's `-target` takes, for the Node arch each is (bpf2go users' scripts keep working). */
const GO_ARCHES: Readonly<Record<string, string>> = { amd64: "x64", "386": "ia32", ppc64le: "ppc64", mipsle: "mipsel", mips64le: "mips64el" };

/** Names accepted by `--target`. */
export const targetNames: readonly string[] = ["bpfel", "bpfeb", "bpf", "native", ...Object.keys(NODE_ARCHES), ...Object.keys(GO_ARCHES)];

/** Parses `--target` (`bpfel,bpfeb`, `native`, `x64`, …); at most one target per byte order. */
export function parseTargets(spec: string): Target[] {
  const out: Target[] = [];
  for (const raw of spec.split(",")) {
    const name = raw.trim();
    if (!name) continue;
    let t: Target | undefined;
    if (name === "bpfel" || name === "bpfeb") t = { endian: name };
    else if (name === "bpf") t = { endian: hostEndian() };
    else if (name === "native") t = NODE_ARCHES[hostArch()] ?? { endian: hostEndian() };
    else t = NODE_ARCHES[GO_ARCHES[name] ?? name];
    if (!t) throw new UsageError(`--target: unknown target "${name}" (known: ${targetNames.join(", ")})`);
    const same = out.find((o) => o.endian === t!.endian);
    if (same && (same.arch ?? "") === (t.arch ?? "")) continue;
    if (same) {
      throw new UsageError(`--target: "${spec}" asks for two ${t.endian} objects; one generated module holds one object per byte order`);
    }
    out.push(t);
  }
  if (out.length === 0) throw new UsageError(`--target: no target in "${spec}"`);
  return out;
}

const hostEndian = (): Endian => (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "bpfel" : "bpfeb");

/**
 * `exec_bpfel`: the stem of a target's object file as generate writes it. One module holds one object
 * per byte order, so the architecture is not part of the name (bpf2go's `exec_x86_bpfel` is not).
 */
export function objectStem(stem: string, target: Pick<Target, "endian">): string {
  return `${stem}_${target.endian}`;
}

/** The multiarch include directory (Debian: `<asm/types.h>` lives there) of the host, if present. */
export function multiarchInclude(): string[] {
  const triples: Record<string, string> = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu", arm: "arm-linux-gnueabihf", ppc64: "powerpc64le-linux-gnu", s390x: "s390x-linux-gnu", riscv64: "riscv64-linux-gnu" };
  const triple = triples[hostArch()];
  const dir = triple ? `/usr/include/${triple}` : undefined;
  return dir && existsSync(dir) ? ["-idirafter", dir] : [];
}

// ---------------------------------------------------------------------------------------------------
// Compiling

export interface CompileOptions {
  readonly source: string;
  readonly target: Target;
  /** User flags, already split. */
  readonly cflags?: readonly string[];
  readonly clang: Tool;
  /** Strip DWARF as `llvm-strip -g` does (BTF stays); false or absent keeps it (`--no-strip`). */
  readonly strip?: boolean;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the temporary build directory goes (default: the OS temp dir). */
  readonly tempRoot?: string;
  /** Kills clang (a speculative compile that turned out not to be needed). */
  readonly signal?: AbortSignal;
}

export interface CompileResult {
  /** The (stripped) object. */
  readonly object: Buffer;
  /** Every input file clang read (source and headers), absolute, from its dependency output. */
  readonly inputs: readonly string[];
  /** clang's warnings, as it printed them (empty when none). */
  readonly warnings: string;
  readonly argv: readonly string[];
}

/** clang's arguments for compiling `source` to `output` (the depfile goes to `depfile`). */
export function clangArgs(opts: { source: string; output: string; depfile: string; target: Target; cflags?: readonly string[]; cwd?: string }): string[] {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const sourceDir = dirname(resolve(cwd, opts.source));
  // Paths in debug info and BTF.ext become relative: the object does not depend on where the checkout
  // is. The source goes in as the user spelled it, because the BPF backend reads each line's text
  // for BTF.ext from that path, relative to clang's cwd (an unreadable path loses the line text that
  // verifier logs print). Of two matching maps clang applies the last: paths under cwd stay readable.
  const prefixMaps = sourceDir === cwd ? [`-fdebug-prefix-map=${cwd}=.`] : [`-fdebug-prefix-map=${sourceDir}=.`, `-fdebug-prefix-map=${cwd}=.`];
  return [
    "-O2",
    "-g",
    "-target",
    opts.target.endian,
    "-c",
    opts.source,
    "-o",
    opts.output,
    "-fno-ident",
    ...prefixMaps,
    "-fdebug-compilation-dir=.",
    "-MD",
    "-MF",
    opts.depfile,
    ...(opts.target.arch ? [`-D__TARGET_ARCH_${opts.target.arch}`] : []),
    ...multiarchInclude(),
    ...(opts.cflags ?? []),
  ];
}

/** What identifies a compile: clang, the directory it runs in, its arguments with the output paths left out. */
export function compileKey(clang: string, cwd: string, c: { source: string; target: Target; cflags: readonly string[] }): string {
  return JSON.stringify([clang, cwd, clangArgs({ source: c.source, output: "\0out.o", depfile: "\0out.d", target: c.target, cflags: c.cflags, cwd })]);
}

/** Compiles one target into a temporary directory; nothing is written anywhere else. */
export async function compile(opts: CompileOptions): Promise<CompileResult> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  // The same compile bin/bpf2ts.js already started (early.ts), if it did.
  const early = env === process.env && !opts.signal ? adoptEarlyCompile(compileKey(opts.clang.path, resolve(cwd), { source: opts.source, target: opts.target, cflags: opts.cflags ?? [] })) : undefined;
  // Synchronous, so that clang is spawned within this call (callers overlap work with it).
  const dir = early?.dir ?? mkdtempSync(join(opts.tempRoot ?? tmpdir(), "bpf2ts-"));
  // The stripper loads while clang runs (it shares the ELF reader the pipeline's stages load).
  const stripper = opts.strip ? import("./strip-debug.js") : undefined;
  stripper?.catch(() => undefined); // awaited below
  try {
    const output = join(dir, "out.o");
    const depfile = join(dir, "out.d");
    const argv = clangArgs({ source: opts.source, output, depfile, target: opts.target, cflags: opts.cflags, cwd });
    const runClang = () => run(opts.clang.path, argv, { cwd, env, ...(opts.signal && { signal: opts.signal }) });
    // (Without an early compile, clang is spawned before this call first awaits.)
    const res = early ? ((await early.result.catch(() => undefined)) ?? (await runClang())) : await runClang();
    if (res.code !== 0) {
      throw new CompileError(`clang: compiling ${opts.source} for ${opts.target.endian} failed (exit ${res.code})`, {
        file: opts.source,
        stderr: res.stderr,
        argv: [opts.clang.path, ...argv],
      });
    }
    // Synchronous reads and removal: clang is done, and each thread-pool round trip would delay what follows.
    const unstripped = readFileSync(output);
    const inputs = parseDepfile(readFileSync(depfile, "utf8")).map((p) => resolve(cwd, p));
    const object = stripper ? Buffer.from((await stripper).stripDebug(unstripped, opts.source).buffer) : unstripped;
    return { object, inputs, warnings: res.stderr, argv: [opts.clang.path, ...argv] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A compile of a generated C file that includes the user's source and keeps `spellings` alive as
 * globals, so types used only through `bpf_ringbuf_reserve` (which never reach the object's BTF) get
 * BTF. Returns that object; the object the user ships is never touched.
 */
export async function compileTypesOnly(opts: CompileOptions & { readonly spellings: readonly string[] }): Promise<CompileResult> {
  const dir = await mkdtemp(join(opts.tempRoot ?? tmpdir(), "bpf2ts-types-"));
  try {
    const wrapper = join(dir, "types.c");
    const source = resolve(opts.cwd ?? process.cwd(), opts.source);
    const keep = opts.spellings.map((s, i) => `${s} __bpf2ts_keep_${i} __attribute__((used, section(".bpf2ts.keep")));`);
    await writeFile(wrapper, `#include ${JSON.stringify(source)}\n${keep.join("\n")}\n`);
    return await compile({ ...opts, source: wrapper, strip: false, cflags: [...(opts.cflags ?? []), "-Wno-unused-variable"] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Dependency files

/** The prerequisites of every rule in a make-syntax dependency file (as clang -MD writes it). */
export function parseDepfile(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, " ");
  const deps: string[] = [];
  const seen = new Set<string>();
  for (const line of joined.split(/\r?\n/)) {
    const words = makeWords(line);
    const colon = words.findIndex((w) => w.endsWith(":"));
    if (colon < 0) continue;
    for (const w of words.slice(colon + 1)) {
      if (!seen.has(w)) {
        seen.add(w);
        deps.push(w);
      }
    }
  }
  return deps;
}

/** Splits a make line on unescaped blanks; `\ ` is a space, `$$` a dollar, `\#` a hash. */
function makeWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\\" && (line[i + 1] === " " || line[i + 1] === "#" || line[i + 1] === "\\")) {
      word += line[++i];
    } else if (c === "$" && line[i + 1] === "$") {
      word += "$";
      i++;
    } else if (c === " " || c === "\t") {
      if (word) words.push(word);
      word = "";
    } else if (c === ":" && (i + 1 === line.length || line[i + 1] === " " || line[i + 1] === "\t") && word) {
      // "target: deps" — keep the colon on the target word so the caller can find it.
      words.push(word + ":");
      word = "";
    } else {
      word += c;
    }
  }
  if (word) words.push(word);
  return words;
}

const escapeMake = (p: string) => p.replace(/\$/g, "$$$$").replace(/([ #])/g, "\\$1");

/** A make rule `outputs: inputs`, paths as given (callers make them relative to --makebase). */
export function formatDepfile(outputs: readonly string[], inputs: readonly string[]): string {
  const lines = [`${outputs.map(escapeMake).join(" ")}: \\`, ...inputs.map((p, i) => ` ${escapeMake(p)}${i < inputs.length - 1 ? " \\" : ""}`)];
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------------
// Processes

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment for a tool run in `cwd`, with `PWD` naming `cwd`. An inherited `PWD` names the
 * directory bpf2ts was started in, not the one the tool runs in, and clang's output depends on it (the
 * order of types in .BTF changed with it), so a config run from another directory would not reproduce
 * the committed objects.
 */
export function childEnv(cwd: string | undefined, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return cwd === undefined ? env : { ...env, PWD: resolve(cwd) };
}

/** Runs a program to completion, collecting its output; spawn failures become a CompileError. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: childEnv(opts.cwd, opts.env), stdio: ["ignore", "pipe", "pipe"], ...(opts.signal && { signal: opts.signal }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new CompileError(`${cmd}: could not run: ${e.message}`, { cause: e })));
    child.on("close", (code, signal) =>
      resolvePromise({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
  });
}
