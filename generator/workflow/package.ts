// `bpf2ts generate --package <dir>`: turns one generated module into a complete npm package made from
// templates/ — package.json (linux only, engines, exports with types, the runtime as the only
// dependency, a `bin` when a CLI ships), README.md listing programs, maps, events, constants and
// variables, tsconfig.json, the generated module and objects under src/, and any hand-written modules
// beside the C source (cli.ts and what it imports). `packageFiles` is pure; `writePackage` writes the
// result through package-dir.ts, which replaces only files bpf2ts wrote and merges package.json.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, posix, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Kind, cDeclaration, resolve as resolveType, type Btf, type TypeId } from "../btf/index.js";
import { layoutModule } from "../layout/roots.js";
import { tsType } from "../emit/values.js";
import { Bpf2tsError } from "../errors.js";
import type { MapModel, ObjectModel, VariableModel } from "../model/model.js";
import { buildOutputs, VERSION, type GenerateOptions } from "../pipeline/run.js";
import { memberName, objectNames } from "../layout/names.js";
import { writePackageFiles, type PackageWrite } from "./package-dir.js";
import { containerfile, daemonSetYaml, deployReadme, readDeployConfig, type DeployConfig, type DeployInput } from "./deploy.js";

export class PackageError extends Bpf2tsError {
  override name = "PackageError";
}

export interface PackageOptions {
  readonly stem: string;
  /** The generated files by name (`<stem>.ts`, `<stem>_bpfel.o`, …); they go to the package's `src/`. */
  readonly generated: ReadonlyMap<string, string | Uint8Array>;
  /** The model of the object (the first target's), for the README. */
  readonly model: ObjectModel;
  /** The C source: its leading comment becomes the description; hand-written `*.ts` beside it ship too. */
  readonly sourcePath?: string;
  /** npm package name (default: the stem). */
  readonly name?: string;
  /** Default 0.1.0. */
  readonly version?: string;
  readonly description?: string;
  /** The version of bpf2ts writing the package (README), and of @bpf2ts/runtime to depend on. */
  readonly bpf2tsVersion: string;
  readonly runtimeVersion: string;
  /**
   * Hand-written TypeScript modules to ship (absolute paths). Default: every `*.ts` beside the source
   * except the generated module, declarations and tests. Relative imports outside their directory are
   * followed and shipped under `src/lib/`. A module named `cli.ts` becomes the package's `bin`.
   */
  readonly sources?: readonly string[];
  /** Where the templates are (default: bpf2ts's own `templates/`). */
  readonly templatesDir?: string;
  /** Deployment settings (default: `deploy.json` beside the source, if any; see deploy.ts). */
  readonly deploy?: DeployConfig;
}

/** bpf2ts's templates/, from dist/generator/ in the repo and in the installed package alike. */
export function defaultTemplatesDir(): string {
  return fileURLToPath(new URL("../../../templates/", import.meta.url));
}

/** Every file of the package by its path relative to the package root. */
export function packageFiles(opts: PackageOptions): Map<string, string | Uint8Array> {
  const templates = opts.templatesDir ?? defaultTemplatesDir();
  const name = opts.name ?? opts.stem;
  if (!/^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(name)) {
    throw new PackageError(`package ${name}: not a valid npm package name (lowercase, no spaces)`);
  }
  const moduleFile = `${opts.stem}.ts`;
  if (!opts.generated.has(moduleFile)) throw new PackageError(`package ${name}: the generated files hold no ${moduleFile}`, { file: moduleFile });

  const files = new Map<string, string | Uint8Array>();
  for (const [file, contents] of [...opts.generated].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    files.set(`src/${file}`, contents);
  }
  const { files: shipped, dependencies } = collectSources(opts, moduleFile);
  for (const [path, contents] of shipped) files.set(path, contents);
  const hasCli = shipped.has("src/cli.ts");

  const description = opts.description ?? (opts.sourcePath ? sourceSummary(opts.sourcePath) : undefined) ?? `eBPF program ${opts.stem}, typed for TypeScript by bpf2ts`;
  const vars: Record<string, string> = {
    name,
    stem: opts.stem,
    version: opts.version ?? "0.1.0",
    description,
    license: spdxLicense(opts.model.license),
    runtimeVersion: opts.runtimeVersion,
    bpf2tsVersion: opts.bpf2tsVersion,
    sourceName: opts.sourcePath ? basename(opts.sourcePath) : `${opts.stem}.bpf.c`,
  };

  const pkg = JSON.parse(fill(readTemplate(templates, "package.json"), vars, true)) as Record<string, unknown> & { bin?: Record<string, string>; dependencies: Record<string, string> };
  if (!hasCli) delete pkg.bin;
  // What the hand-written modules import from npm ships as their dependencies, at the versions they were written against.
  pkg.dependencies = Object.fromEntries(Object.entries({ ...dependencies, ...pkg.dependencies }).sort(([a], [b]) => (a < b ? -1 : 1)));
  files.set("package.json", JSON.stringify(pkg, null, 2) + "\n");
  files.set("tsconfig.json", readTemplate(templates, "tsconfig.json"));
  // A tracer with a CLI gets an image and a DaemonSet to run it on every node; a library has nothing to run.
  let deploy = "";
  if (hasCli) {
    const config = opts.deploy ?? (opts.sourcePath ? readDeployConfig(join(dirname(opts.sourcePath), "deploy.json")) : undefined);
    const d: DeployInput = { name, version: vars.version!, stem: opts.stem, model: opts.model, bin: pkg.bin![opts.stem]!.replace(/^\.\//, ""), ...(config && { config }) };
    files.set("Containerfile", containerfile(readTemplate(templates, "Containerfile"), d));
    files.set("deploy/daemonset.yaml", daemonSetYaml(d));
    deploy = `\n${deployReadme(d)}\n`;
  }
  files.set("README.md", fill(readTemplate(templates, "README.md"), { ...vars, ...readmeSections(opts, name, hasCli), deploy }, false));
  return files;
}

/** What `bpf2ts generate --package DIR` passes (generator/cli/cli.ts): the generate options plus the directory. */
export interface WritePackageOptions extends GenerateOptions {
  readonly packageDir: string;
  readonly name?: string;
  readonly version?: string;
  readonly description?: string;
}

/**
 * Generates as `bpf2ts generate` would, then writes the package into `packageDir`: new or empty, or
 * one bpf2ts made before (package-dir.ts: only files it wrote are replaced, package.json is merged).
 * Returns the paths written, kept and removed, relative to the current directory.
 */
export async function writePackage(o: WritePackageOptions): Promise<PackageWrite> {
  const cwd = o.cwd ?? process.cwd();
  const dir = resolve(cwd, o.packageDir);
  // The module's build record is relative to where it will live: the package's src/.
  const built = await buildOutputs({ ...o, outputDir: join(dir, "src") });
  const model = built.models[0];
  if (!model) throw new PackageError(`package ${o.stem}: the generator produced no object model`);
  const generated = built.files.filter((f) => !f.path.endsWith(".d"));
  const files = packageFiles({
    stem: o.stem,
    generated: new Map(generated.map((f) => [f.path, f.contents])),
    model,
    ...(o.source !== undefined && { sourcePath: resolve(cwd, o.source) }),
    ...(o.name !== undefined && { name: o.name }),
    ...(o.version !== undefined && { version: o.version }),
    ...(o.description !== undefined && { description: o.description }),
    bpf2tsVersion: VERSION,
    runtimeVersion: runtimeVersion(),
  });
  const overrides = { ...(o.name !== undefined && { name: o.name }), ...(o.version !== undefined && { version: o.version }), ...(o.description !== undefined && { description: o.description }) };
  const r = writePackageFiles(dir, files, { generated: new Set(generated.map((f) => `src/${f.path}`)), overrides, label: o.packageDir });
  const shown = (p: string) => relative(cwd, join(dir, p)) || p;
  return { written: r.written.map(shown), kept: r.kept.map((k) => ({ path: shown(k.path), why: k.why })), removed: r.removed.map(shown) };
}

/** The @bpf2ts/runtime version this generator emits code for (its own dependency on it). */
export function runtimeVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8")) as { dependencies?: Record<string, string> };
    const v = pkg.dependencies?.["@bpf2ts/runtime"];
    if (v) return v.replace(/^[\^~=]/, "");
  } catch {
    // fall through: same version as bpf2ts, which releases in lockstep with the runtime
  }
  return VERSION;
}

function readTemplate(dir: string, file: string): string {
  try {
    return readFileSync(join(dir, file), "utf8");
  } catch (e) {
    throw new PackageError(`template ${file}: ${(e as Error).message}`, { file: join(dir, file), cause: e });
  }
}

/** Replaces `{{key}}`; inside JSON the values are escaped as JSON string contents. */
function fill(text: string, vars: Record<string, string>, json: boolean): string {
  return text.replace(/\{\{(\w+)\}\}/g, (m, key: string) => {
    const v = vars[key];
    if (v === undefined) throw new PackageError(`template: unknown placeholder ${m}`);
    return json ? JSON.stringify(v).slice(1, -1) : v;
  });
}

/** The object's license string as an SPDX expression for package.json. */
function spdxLicense(license: string | undefined): string {
  switch (license) {
    case undefined:
    case "":
      return "UNLICENSED";
    case "GPL":
    case "GPL v2":
      return "GPL-2.0-only";
    case "Dual BSD/GPL":
      return "BSD-2-Clause OR GPL-2.0-only";
    case "Dual MIT/GPL":
      return "MIT OR GPL-2.0-only";
    default:
      return license;
  }
}

/** The first paragraph of the source's leading block comment (skipping an SPDX line), on one line. */
export function sourceSummary(sourcePath: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(sourcePath, "utf8");
  } catch {
    return undefined;
  }
  const m = /\/\*([\s\S]*?)\*\//.exec(text);
  if (!m) return undefined;
  const lines = m[1]!.split("\n").map((l) => l.replace(/^\s*\*?\s?/, "").trimEnd());
  const para: string[] = [];
  for (const l of lines) {
    if (/SPDX-License-Identifier/.test(l)) continue;
    if (l === "") {
      if (para.length) break;
      continue;
    }
    para.push(l.trim());
  }
  return para.length ? para.join(" ") : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Hand-written sources

const IMPORT_RE = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']+)\2/g;

const BARE_IMPORT_RE = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])([^."'][^"']*)\1/g;

/**
 * Hand-written modules and their relative imports, as package paths → contents (imports rewritten),
 * and the npm packages they import (name → `^version` as installed where the module lives).
 */
function collectSources(opts: PackageOptions, moduleFile: string): { files: Map<string, string>; dependencies: Record<string, string> } {
  const roots = opts.sources ?? defaultSources(opts.sourcePath, moduleFile);
  const dependencies: Record<string, string> = {};
  if (roots.length === 0) return { files: new Map(), dependencies };
  const home = dirname(resolve(roots[0]!));
  const generated = new Set([...opts.generated.keys()].map((f) => resolve(home, f)));
  const placed = new Map<string, string>(); // absolute path → package path
  const place = (abs: string): string => {
    let p = placed.get(abs);
    if (p) return p;
    p = dirname(abs) === home ? `src/${basename(abs)}` : `src/lib/${basename(abs)}`;
    for (const [other, q] of placed) {
      if (q === p && other !== abs) throw new PackageError(`package: ${abs} and ${other} would both ship as ${p}`, { file: abs });
    }
    placed.set(abs, p);
    return p;
  };
  const out = new Map<string, string>();
  const queue = roots.map((r) => resolve(r));
  while (queue.length) {
    const abs = queue.shift()!;
    const to = place(abs);
    if (out.has(to)) continue;
    let text: string;
    try {
      text = readFileSync(abs, "utf8");
    } catch (e) {
      throw new PackageError(`package: read ${abs}: ${(e as Error).message}`, { file: abs, cause: e });
    }
    text = text.replace(IMPORT_RE, (whole, lead: string, q: string, spec: string) => {
      const target = resolve(dirname(abs), spec.replace(/\.js$/, ".ts"));
      if (generated.has(target)) return `${lead}${q}./${posix.basename(spec)}${q}`; // the generated module sits in src/
      if (!existsSync(target)) throw new PackageError(`package: ${abs} imports ${spec}, which has no ${relative(process.cwd(), target)}`, { file: abs });
      const targetPath = place(target);
      queue.push(target);
      let rel = posix.relative(posix.dirname(to), targetPath).replace(/\.ts$/, ".js");
      if (!rel.startsWith(".")) rel = `./${rel}`;
      return `${lead}${q}${rel}${q}`;
    });
    for (const m of text.matchAll(BARE_IMPORT_RE)) {
      const spec = m[2]!;
      // The exporter subpaths load the runtime's optional peer dependencies: the package needs them to run.
      for (const peer of runtimeSubpathPeers[spec] ?? []) dependencies[peer] ??= runtimePeerRange(peer, dirname(abs), abs);
      if (spec.startsWith("node:") || spec.startsWith("@bpf2ts/runtime")) continue;
      const pkgName = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
      dependencies[pkgName] ??= `^${installedVersion(pkgName, dirname(abs), abs)}`;
    }
    out.set(to, text);
  }
  return { files: out, dependencies };
}

/**
 * The optional peer dependencies of @bpf2ts/runtime that each of its exporter subpaths imports
 * (runtime/src/metrics/prometheus.ts and otlp.ts): `--metrics` and `--otlp` fail without them.
 */
const runtimeSubpathPeers: Readonly<Record<string, readonly string[]>> = {
  "@bpf2ts/runtime/metrics": ["prom-client"],
  "@bpf2ts/runtime/otlp": ["@opentelemetry/api", "@opentelemetry/exporter-metrics-otlp-http", "@opentelemetry/resources", "@opentelemetry/sdk-metrics"],
};

/** The range @bpf2ts/runtime (as Node resolves it from `dir`) declares for one of its peer dependencies. */
function runtimePeerRange(peer: string, dir: string, importer: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const manifest = join(d, "node_modules", "@bpf2ts/runtime", "package.json");
    if (existsSync(manifest)) {
      const range = (JSON.parse(readFileSync(manifest, "utf8")) as { peerDependencies?: Record<string, string> }).peerDependencies?.[peer];
      if (range) return range;
      break;
    }
    if (dirname(d) === d) break;
  }
  return `^${installedVersion(peer, dir, importer)}`;
}

/** The version of an npm package as Node would resolve it from `dir` (node_modules up the tree). */
function installedVersion(pkgName: string, dir: string, importer: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const manifest = join(d, "node_modules", pkgName, "package.json");
    if (existsSync(manifest)) return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
    if (dirname(d) === d) break;
  }
  throw new PackageError(`package: ${importer} imports ${pkgName}, which is not installed where it could be resolved: npm install ${pkgName}`, { file: importer });
}

function defaultSources(sourcePath: string | undefined, moduleFile: string): string[] {
  if (!sourcePath) return [];
  const dir = dirname(resolve(sourcePath));
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !/\.test\.ts$/.test(f) && f !== moduleFile)
    .sort()
    .map((f) => join(dir, f));
}

// ---------------------------------------------------------------------------------------------------
// README

/** A C spelling of a BTF type, for the README tables. */
export function cTypeName(btf: Btf, id: TypeId | undefined): string {
  return id === undefined ? "—" : cDeclaration(btf, id);
}

/** The TS type of each map's events, by map name, as the module names it (the emitter's layouts). */
function eventTypes(stem: string, model: ObjectModel): Map<string, string> {
  const { maps } = layoutModule(stem, model, { globalTypes: false });
  return new Map(maps.flatMap((m) => (m.event ? [[m.map.name, tsType(m.event)] as const] : [])));
}

function cell(s: string | undefined): string {
  return (s ?? "").replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|").trim();
}

function table(head: string[], rows: string[][], none: string): string {
  if (rows.length === 0) return none;
  return [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

function mapTypes(m: MapModel, btf: Btf, events: ReadonlyMap<string, string>): string {
  if (m.event) return `events: \`${events.get(m.name) ?? m.event.cType}\``;
  if (m.keyTypeId === undefined && m.valueTypeId === undefined) return `${m.keySize} → ${m.valueSize} bytes`;
  const show = (id: TypeId | undefined, size: number) => (id === undefined ? `${size} bytes` : `\`${cTypeName(btf, id)}\``);
  return `${show(m.keyTypeId, m.keySize)} → ${show(m.valueTypeId, m.valueSize)}`;
}

function readmeSections(opts: PackageOptions, name: string, hasCli: boolean): Record<string, string> {
  const { stem, model } = opts;
  const { btf } = model;
  const names = objectNames(stem);
  const eventType = eventTypes(stem, model);
  const programs = table(
    ["`programs.`", "C function", "SEC()", "kind", "what it does"],
    model.programs.map((p) => [`\`${memberName(p.name)}\``, `\`${p.name}\``, `\`${p.section}\``, p.kind + (p.autoAttach ? "" : " (attach explicitly)"), p.doc ?? ""]),
    "None.",
  );
  const maps = table(
    ["`maps.`", "C name", "type", "key → value", "max entries", "what it holds"],
    model.maps.map((m) => [`\`${memberName(m.name)}\``, `\`${m.name}\``, m.type, mapTypes(m, btf, eventType), String(m.maxEntries), m.doc ?? ""]),
    "None.",
  );
  const eventMaps = model.maps.filter((m) => m.event);
  const events = eventMaps.length
    ? eventMaps
        .map((m) => {
          const ts = eventType.get(m.name) ?? m.event!.cType;
          const fields = structFields(model, m.event!.typeId);
          return `### \`${ts}\` (from \`maps.${memberName(m.name)}\`, C \`${m.event!.cType}\`)\n\n${fields}`;
        })
        .join("\n\n")
    : "None: this program reports through maps only.";
  const varRows = (vs: readonly VariableModel[]) => vs.map((v) => [`\`${memberName(v.name)}\``, `\`${v.name}\``, `\`${cTypeName(btf, v.typeId)}\``, v.section, v.doc ?? ""]);
  const constants = table(["option", "C name", "C type", "section", "meaning"], varRows(model.variables.filter((v) => v.constant)), "None.");
  const variables = table(["`variables.`", "C name", "C type", "section", "meaning"], varRows(model.variables.filter((v) => !v.constant)), "None.");
  const firstEvent = eventMaps[0];
  // Programs whose SEC() names no target (uprobes without a binary, perf_event, XDP, …) attach explicitly.
  const manual = model.programs.find((p) => !p.autoAttach);
  const manualHint = manual ? `objs.programs.${memberName(manual.name)}.attach({ /* ${attachHint(manual.kind)} */ });\n` : "";
  const usage = manualHint + (firstEvent
    ? `objs.maps.${memberName(firstEvent.name)}.onEvent((e) => console.log(e));\n// … later: objs.close() detaches the links and frees the maps`
    : `// read objs.maps.* — e.g. for (const [k, v] of objs.maps.${model.maps[0] ? memberName(model.maps[0].name) : "x"}.entries()) …\n// … later: objs.close() detaches the links and frees the maps`);
  const cli = hasCli ? `\n## Command line\n\n\`\`\`sh\nnpx ${stem} --help\nsudo npx ${stem} --duration 10        # text lines\nsudo npx ${stem} --json | jq .        # one JSON object per line\n\`\`\`\n` : "";
  return { load: names.load, usage, cli, programs, maps, events, constants, variables, packageName: name };
}

/** What an explicit attach of this program kind needs, for the README's example. */
function attachHint(kind: string): string {
  switch (kind) {
    case "uprobe":
    case "uretprobe":
      return "path, symbol, offset?, pid?";
    case "usdt":
      return "path?, provider?, name?, pid?";
    case "perf_event":
      return "frequency?, cpus?";
    case "xdp":
    case "tc":
      return "interface";
    case "socket":
      return "fd";
    default:
      return "see AttachOptions";
  }
}

/** The members of an event struct as a table (name, C type, offset, size, doc). */
function structFields(model: ObjectModel, id: TypeId | undefined): string {
  if (id === undefined) return "(type not in BTF)";
  const t = resolveType(model.btf, id);
  if (t.kind !== Kind.Struct) return `\`${cTypeName(model.btf, id)}\``;
  const docs = model.docs.fields;
  const rows = t.members
    .filter((m) => m.name !== "" && !m.name.startsWith("__pad"))
    .map((m) => [`\`${memberName(m.name)}\``, `\`${cTypeName(model.btf, m.type)}\``, String(m.bitOffset / 8), fieldDoc(docs, t.name, m.name) ?? ""]);
  return table(["field", "C type", "offset", "meaning"], rows, "(no fields)");
}

function fieldDoc(docs: ObjectModel["docs"]["fields"], structName: string, field: string): string | undefined {
  return docs[`${structName}.${field}`];
}
