// `bpf2ts init <name>`: scaffolds a tracer that generates and runs as is — bpf/<name>.bpf.c (license,
// a ring buffer, a tracepoint, a constant and a counter), bpf/vmlinux.h from the running kernel's BTF,
// src/<name>-main.ts (load, attach, print events), and the npm side: scripts, the "bpf2ts" config,
// dependencies, tsconfig.json, .gitignore. An existing package.json is extended, never overwritten;
// files that exist are only replaced with --force. Everything is prepared in memory first, so a
// failure (no BTF, bad name) writes nothing.

import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { which } from "./clang.js";
import { CONFIG_FILE } from "./config.js";
import { Bpf2tsError } from "./errors.js";
import { objectNames, typeName } from "./names.js";
import { VERSION } from "./pipeline.js";
import { KERNEL_BTF, vmlinuxHeader, writeAtomically } from "./vmlinux.js";

export class InitError extends Bpf2tsError {
  override name = "InitError";
}

export interface InitOptions {
  /** The tracer's name: file names, npm script, generated names (`exec` → loadExec, ExecEvent). */
  readonly name: string;
  /** The project directory (created if missing). */
  readonly dir: string;
  /** BTF for vmlinux.h (default: the running kernel's). */
  readonly btf?: string;
  /** Replace files that exist (the C source, the main module, vmlinux.h). */
  readonly force?: boolean;
  /** Write bpf/vmlinux.h (default true; an existing one is kept unless --force). */
  readonly vmlinux?: boolean;
  readonly templatesDir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface InitResult {
  /** Files written, absolute. */
  readonly written: readonly string[];
  /** Things the user should know (bpftool used, clang-format missing, files kept). */
  readonly notes: readonly string[];
  /** The npm script that runs the tracer. */
  readonly startScript: string;
  /** Whether package.json was created (then `npm install` comes first). */
  readonly createdPackageJson: boolean;
}

export const defaultInitTemplates = (): string => fileURLToPath(new URL("../../templates/init/", import.meta.url));

const NAME = /^[a-z_][a-z0-9_]*$/;

export async function initProject(o: InitOptions): Promise<InitResult> {
  if (!NAME.test(o.name)) {
    throw new InitError(`init: "${o.name}" is not a usable tracer name: lowercase letters, digits and _, starting with a letter or _ (it names the C file, the npm script and the generated module)`);
  }
  const dir = resolve(o.dir);
  const templates = o.templatesDir ?? defaultInitTemplates();
  const template = (file: string) => fill(readFileSync(join(templates, file), "utf8"), o.name);
  const notes: string[] = [];
  const files = new Map<string, string>();

  const source = join(dir, "bpf", `${o.name}.bpf.c`);
  const main = join(dir, "src", `${o.name}-main.ts`);
  const clash = [source, main].filter((f) => existsSync(f));
  if (clash.length && !o.force) throw new InitError(`init: ${clash.map((f) => f.slice(dir.length + 1)).join(" and ")} already exist${clash.length > 1 ? "" : "s"}; pass --force to replace`, { file: clash[0]! });

  const style = join(templates, "clang-format");
  const formatted = await formatC(template("tracer.bpf.c"), style, `${o.name}.bpf.c`, o.env);
  if (formatted.note) notes.push(formatted.note);
  files.set(source, formatted.text);
  files.set(main, template("main.ts"));

  const vmlinux = join(dir, "bpf", "vmlinux.h");
  if (o.vmlinux !== false) {
    if (existsSync(vmlinux) && !o.force) {
      notes.push("kept the existing bpf/vmlinux.h (--force replaces it)");
    } else {
      const h = await vmlinuxHeader(o.btf ?? KERNEL_BTF);
      if (h.note) notes.push(h.note);
      files.set(vmlinux, h.text);
    }
  }
  if (!existsSync(join(dir, "tsconfig.json"))) files.set(join(dir, "tsconfig.json"), readFileSync(join(templates, "tsconfig.json"), "utf8"));
  if (!existsSync(join(dir, ".clang-format"))) files.set(join(dir, ".clang-format"), readFileSync(style, "utf8"));
  files.set(join(dir, ".gitignore"), mergeLines(readIf(join(dir, ".gitignore")), readFileSync(join(templates, "gitignore"), "utf8")));

  const pkg = packageJson(dir, o.name);
  files.set(pkg.path, pkg.text);
  if (pkg.configFile) files.set(pkg.configFile.path, pkg.configFile.text);

  const written: string[] = [];
  for (const [path, text] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    await mkdir(dirname(path), { recursive: true });
    await writeAtomically(path, text);
    written.push(path);
  }
  return { written, notes, startScript: pkg.startScript, createdPackageJson: pkg.created };
}

/** `{{name}}`, `{{load}}` (loadExec), `{{Event}}` (ExecEvent) in a template. */
function fill(text: string, name: string): string {
  const names = objectNames(name);
  return text.replace(/\{\{(name|load|Event)\}\}/g, (_m, key: string) => (key === "name" ? name : key === "load" ? names.load : typeName(name, "event")));
}

function readIf(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** `existing` plus the lines of `wanted` it lacks. */
function mergeLines(existing: string, wanted: string): string {
  const have = new Set(existing.split("\n").map((l) => l.trim()));
  const add = wanted.split("\n").filter((l) => l.trim() && !have.has(l.trim()));
  if (add.length === 0) return existing;
  return (existing && !existing.endsWith("\n") ? existing + "\n" : existing) + add.join("\n") + "\n";
}

interface PackagePlan {
  readonly path: string;
  readonly text: string;
  readonly created: boolean;
  readonly startScript: string;
  /** When the project keeps its programs in bpf2ts.config.json, that file extended. */
  readonly configFile?: { path: string; text: string };
}

/**
 * package.json with the scripts, dependencies and the program added; keys the user has are kept.
 * The program goes into bpf2ts.config.json when the project has one, else into the "bpf2ts" field.
 */
function packageJson(dir: string, name: string): PackagePlan {
  const path = join(dir, "package.json");
  const existingText = readIf(path);
  let pkg: Record<string, unknown> = {};
  if (existingText) {
    try {
      pkg = JSON.parse(existingText) as Record<string, unknown>;
    } catch (e) {
      throw new InitError(`init: ${path}: not valid JSON: ${(e as Error).message}`, { file: path, cause: e });
    }
  } else {
    pkg = { name: npmName(basename(dir), name), version: "0.1.0", private: true, type: "module" };
  }
  const indent = /^\{\n([ \t]+)"/.exec(existingText)?.[1] ?? "  ";
  const obj = (k: string): Record<string, unknown> => {
    const v = pkg[k];
    if (v !== undefined && (typeof v !== "object" || v === null || Array.isArray(v))) throw new InitError(`init: package.json: ${k}: expected an object`, { file: path, member: k });
    return (pkg[k] = (v as Record<string, unknown>) ?? {});
  };
  const scripts = obj("scripts");
  const startScript = scripts.start === undefined ? "start" : `start:${name}`;
  const wanted: Record<string, string> = {
    generate: "bpf2ts generate",
    check: "bpf2ts check",
    watch: "bpf2ts watch",
    build: "bpf2ts generate && tsc -p .",
    vmlinux: "bpf2ts vmlinux -o bpf/vmlinux.h",
    [startScript]: `node dist/${name}-main.js`,
  };
  for (const [k, v] of Object.entries(wanted)) if (scripts[k] === undefined) scripts[k] = v;
  const deps = obj("dependencies");
  if (deps["@bpf2ts/runtime"] === undefined) deps["@bpf2ts/runtime"] = `^${VERSION}`;
  const dev = obj("devDependencies");
  for (const [k, v] of Object.entries({ bpf2ts: `^${VERSION}`, typescript: "~5.9.3", "@types/node": "^20.19.0" })) {
    if (dev[k] === undefined && deps[k] === undefined) dev[k] = v;
  }

  // `native`: vmlinux.h is this machine's, so one object for its byte order and CPU (pt_regs).
  const program = { source: `bpf/${name}.bpf.c`, outputDir: "src", target: "native" };
  const configPath = join(dir, CONFIG_FILE);
  let configFile: PackagePlan["configFile"];
  const addTo = (config: Record<string, unknown>, where: string) => {
    const programs = (config.programs ??= []) as unknown;
    if (!Array.isArray(programs)) throw new InitError(`init: ${where}.programs: expected an array`, { file: where });
    for (const p of programs as Array<Record<string, unknown>>) {
      const stem = p?.stem ?? (typeof p?.source === "string" ? basename(p.source).replace(/(\.bpf)?\.c$/, "") : undefined);
      if (stem === name) throw new InitError(`init: ${where} already configures a program "${name}"`, { file: where, symbol: name });
    }
    programs.push(program);
  };
  if (existsSync(configPath)) {
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new InitError(`init: ${CONFIG_FILE}: not valid JSON: ${(e as Error).message}`, { file: configPath, cause: e });
    }
    addTo(config, CONFIG_FILE);
    configFile = { path: configPath, text: JSON.stringify(config, null, 2) + "\n" };
  } else {
    addTo(obj("bpf2ts"), "package.json: bpf2ts");
  }
  return { path, text: JSON.stringify(pkg, null, indent) + "\n", created: !existingText, startScript, ...(configFile && { configFile }) };
}

/** A valid npm package name from the directory's name (or the tracer's). */
function npmName(dirName: string, fallback: string): string {
  const n = dirName.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+|-+$/g, "");
  return n || fallback;
}

/**
 * clang-format: the `clang-format` npm package's binary (pinned with bpf2ts, so output does not vary
 * with the distribution), else clang-format-19 / clang-format on PATH.
 */
export function findClangFormat(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve("clang-format/package.json");
    const os = platform() === "win32" ? "win32" : `${platform()}_${arch()}`;
    const bin = join(dirname(pkg), "bin", os, "clang-format");
    if (which(bin, env)) return bin;
  } catch {
    // not installed: fall through to PATH
  }
  return which("clang-format-19", env) ?? which("clang-format", env);
}

/** `text` formatted with the style file; unformatted (and a note) when no clang-format is found. */
export function formatC(text: string, styleFile: string, fileName: string, env: NodeJS.ProcessEnv = process.env): Promise<{ text: string; note?: string }> {
  const bin = findClangFormat(env);
  if (!bin) return Promise.resolve({ text, note: "clang-format not found (npm install clang-format, or apt-get install clang-format-19): C written unformatted" });
  return new Promise((resolvePromise, reject) => {
    const child = execFile(bin, [`--style=file:${styleFile}`, `--assume-filename=${fileName}`], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) reject(new InitError(`init: clang-format (${bin}) failed: ${String(stderr).trim() || err.message}`, { cause: err }));
      else resolvePromise({ text: stdout });
    });
    child.stdin!.end(text);
  });
}
