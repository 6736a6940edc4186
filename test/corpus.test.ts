// The corpus: programs written the way libbpf-tools and libbpf-bootstrap write them
// (fixtures/corpus/<tool>/, manifests described in fixtures/corpus/README.md), run through bpf2ts as a
// user would. For each: `bpf2ts generate` (two at a time), one tsc --strict run over every module, the
// exported struct descriptors against clang, typed event maps, declared types and static variables;
// then on the live kernel: bpftool's verdict against the generated loader, a load with the options
// the tool's user space passes, attach, and the events a trigger must produce.

import test, { type ExecutionContext } from "ava";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { corpusDir, corpusTools, limiter, mismatch, pascal, pool, readManifest, run, show, substitute, type EventExpectation, type Expectation, type Manifest, type RunResult } from "./helpers/corpus.js";
import { ClangBtf, clangAgrees, clangBtfOf, isStructDescriptor, layoutChecks, rootKinds, type StructDescriptor } from "./helpers/corpus-oracle.js";
import { baseVars, prepare } from "./helpers/corpus-triggers.js";
import { repoRoot, requireFeature } from "./helpers/kernel.js";
import { makeTempDir, removeDir } from "./helpers/temp-dir.js";

// CORPUS_TOOLS=execsnoop,opensnoop runs part of the corpus (while working on one program).
const only = process.env.CORPUS_TOOLS?.split(",").filter(Boolean);
const tools = corpusTools().filter((tool) => !only || only.includes(tool));
const manifests = new Map(tools.map((tool) => [tool, readManifest(tool)] as const));
const includes = [join(repoRoot, "bpf"), join(corpusDir, "include")];

interface Generated extends RunResult {
  ms: number;
  dir: string;
}

let work = "";
const generated = new Map<string, Generated>();
const tscErrors = new Map<string, string[]>();
const clangSlot = limiter(2);

test.before("generate every program (2 at a time) and compile all modules in one tsc run", async (t) => {
  t.timeout(240_000);
  work = makeTempDir("bpf2ts-corpus-");
  // Generated modules import @bpf2ts/runtime: resolve it (and node's types) from the temp dir.
  mkdirSync(join(work, "node_modules", "@bpf2ts"), { recursive: true });
  mkdirSync(join(work, "node_modules", "@types"), { recursive: true });
  symlinkSync(join(repoRoot, "runtime"), join(work, "node_modules", "@bpf2ts", "runtime"));
  symlinkSync(join(repoRoot, "node_modules", "@types", "node"), join(work, "node_modules", "@types", "node"));
  writeFileSync(join(work, "package.json"), JSON.stringify({ type: "module", private: true }));

  const started = Date.now();
  await pool(tools, 2, async (tool) => {
    const dir = join(work, "gen", tool);
    const t0 = Date.now();
    const r = await run(process.execPath, [join(repoRoot, "bin", "bpf2ts.js"), "generate", tool, `fixtures/corpus/${tool}/${tool}.bpf.c`, "--target", "x64", "--output-dir", dir, "--", ...includes.flatMap((i) => ["-I", i])], { cwd: repoRoot });
    generated.set(tool, { ...r, ms: Date.now() - t0, dir });
  });
  const genMs = Date.now() - started;

  const files = tools.map((tool) => join(work, "gen", tool, `${tool}.ts`)).filter((f) => existsSync(f));
  const t1 = Date.now();
  const program = ts.createProgram(files, {
    strict: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    noImplicitReturns: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noPropertyAccessFromIndexSignature: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2023.d.ts", "lib.esnext.disposable.d.ts"],
    types: ["node"],
    skipLibCheck: true,
    rootDir: join(work, "gen"),
    outDir: join(work, "out"),
  });
  const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => work, getNewLine: () => "\n" };
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const tool = d.file ? tools.find((x) => d.file!.fileName === join(work, "gen", x, `${x}.ts`)) : undefined;
    const key = tool ?? "(other)";
    tscErrors.set(key, [...(tscErrors.get(key) ?? []), ts.formatDiagnostic(d, host).trim()]);
  }
  program.emit(); // emitted even with type errors: the kernel tests still get to run what tsc could emit
  t.log(`${tools.length} programs generated in ${genMs} ms (2 at a time), one tsc --strict run over ${files.length} modules in ${Date.now() - t1} ms`);
});

test.after.always(() => {
  if (work) removeDir(work);
});

const modules = new Map<string, Promise<Record<string, unknown>>>();
function importModule(tool: string): Promise<Record<string, unknown>> {
  let m = modules.get(tool);
  if (!m) {
    m = import(pathToFileURL(join(work, "out", tool, `${tool}.js`)).href) as Promise<Record<string, unknown>>;
    modules.set(tool, m);
  }
  return m;
}

function moduleText(tool: string): string | undefined {
  const f = join(work, "gen", tool, `${tool}.ts`);
  return existsSync(f) ? readFileSync(f, "utf8") : undefined;
}

/** The generated module's text, or a test failure saying generate failed. */
function requireGenerated(t: ExecutionContext, tool: string): string | undefined {
  const text = moduleText(tool);
  if (text === undefined) t.fail(`${tool}: not generated (bpf2ts generate exited ${generated.get(tool)?.code}):\n${generated.get(tool)?.stderr}`);
  return text;
}

async function structsOf(tool: string): Promise<Record<string, StructDescriptor>> {
  const mod = await importModule(tool);
  return Object.fromEntries(Object.entries(mod).filter((e): e is [string, StructDescriptor] => isStructDescriptor(e[1])));
}

/** Exported struct descriptors of a module's text: export name → C label (`event`, `event.args`). */
function structLabels(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^export const (\w+) = struct<\w+>\(\{\s*name: "([^"]+)"/gm)].map((x) => [x[1]!, x[2]!]));
}

/**
 * `struct|union|enum NAME {` declared in the tool's own files (not the shared headers). `mapDefinition`:
 * a struct of libbpf map macros only (`struct inner { __uint(type, …); … } inner_map SEC(".maps")`),
 * which describes a map, not data, and (as in bpftool's skeleton) is no API type.
 */
function declaredTypes(tool: string): { kind: string; name: string; file: string; mapDefinition: boolean }[] {
  const out: { kind: string; name: string; file: string; mapDefinition: boolean }[] = [];
  for (const f of readdirSync(join(corpusDir, tool)).filter((x) => /\.(bpf\.c|h)$/.test(x))) {
    const text = readFileSync(join(corpusDir, tool, f), "utf8");
    for (const m of text.matchAll(/^\s*(struct|union|enum)\s+(\w+)\s*\{([^}]*)\}/gm)) {
      const members = m[3]!.split(";").map((x) => x.trim()).filter(Boolean);
      out.push({ kind: m[1]!, name: m[2]!, file: f, mapDefinition: m[1] === "struct" && members.length > 0 && members.every((x) => /^__(uint|type|array|ulong)\s*\(/.test(x)) });
    }
  }
  return out;
}

let vmlinux: string | undefined;
const vmlinuxText = (): string => (vmlinux ??= readFileSync(join(repoRoot, "bpf", "vmlinux.h"), "utf8"));

/** The tool's own files and the shared headers. */
function sourceTexts(tool: string): string[] {
  const dirs = [join(corpusDir, tool), join(corpusDir, "include")];
  return dirs.flatMap((d) => readdirSync(d).filter((f) => /\.(c|h)$/.test(f)).map((f) => readFileSync(join(d, f), "utf8")));
}

/** Names of `static` variables (file or function scope) in the tool's source. */
function staticVariables(tool: string): string[] {
  const text = readFileSync(join(corpusDir, tool, `${tool}.bpf.c`), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*static\s+(?!__always_inline|inline)([^;(){}=]*?)\b(\w+)\s*(\[[^\]]*\])?\s*(=[^;]*)?;/gm)) out.push(m[2]!);
  return out;
}

for (const tool of tools) {
  const m = manifests.get(tool)!;

  test(`${tool}: bpf2ts generate succeeds, and its warnings name files it wrote`, (t) => {
    const g = generated.get(tool)!;
    t.is(g.code, 0, `bpf2ts generate ${tool} exited ${g.code}:\n${g.stderr}`);
    if (g.stderr.trim()) t.log(g.stderr.trim());
    if (g.code !== 0) return;
    const written = readdirSync(g.dir).sort();
    // `<tool>_types.btf` (types the object lacks, for `--obj` without clang) exactly when the module's record names it.
    const saved = readFileSync(join(g.dir, `${tool}.ts`), "utf8").split("\n")[1]!.includes(`"typesBtf":{"file":"${tool}_types.btf"`);
    t.deepEqual(written, [`${tool}.ts`, `${tool}_bpfel.o`, ...(saved ? [`${tool}_types.btf`] : [])]);
    for (const named of new Set([...g.stderr.matchAll(/([\w.-]+\.o)\b/g)].map((x) => x[1]!))) {
      t.true(written.includes(named), `a warning names ${named}, which generate did not write (wrote ${written.join(", ")})`);
    }
  });

  test(`${tool}: the module compiles under tsc --strict`, (t) => {
    if (requireGenerated(t, tool) === undefined) return;
    const errors = tscErrors.get(tool) ?? [];
    t.deepEqual(errors, [], `${errors.length} tsc errors:\n${errors.slice(0, 12).join("\n")}`);
  });

  test(`${tool}: every exported struct descriptor matches clang (its BTF and offsetof/sizeof/_Alignof)`, async (t) => {
    if (requireGenerated(t, tool) === undefined) return;
    const structs = await structsOf(tool);
    const object = join(generated.get(tool)!.dir, `${tool}_bpfel.o`);
    const source = join(corpusDir, tool, `${tool}.bpf.c`);
    const flags = [...includes, join(corpusDir, tool)];
    // The object's own BTF, unless it lacks an exported type (a record only used through a pointer):
    // then clang compiles the source again with a global of each exported type.
    const objectBtf = await ClangBtf.read(object);
    const labels = Object.values(structs).map((s) => s.name);
    const btf = labels.every((l) => typeof objectBtf.resolve(l) !== "string")
      ? objectBtf
      : await clangSlot(() => clangBtfOf(join(work, `${tool}-types.c`), source, rootKinds(labels, objectBtf, [...sourceTexts(tool), vmlinuxText()]), flags));
    const r = layoutChecks(tool, source, structs, btf);
    t.deepEqual(r.problems, [], r.problems.join("\n"));
    const errors = await clangSlot(() => clangAgrees(join(work, `${tool}-oracle.c`), r.source, flags));
    t.deepEqual(errors, [], `clang rejects the layout:\n${errors.slice(0, 12).join("\n")}`);
    t.log(`${r.checkedStructs} structs, ${r.checkedFields} fields checked`);
  });

  // These two read the module's text, so that a module tsc rejects is still checked.
  test(`${tool}: every ring buffer and perf event array has its record type`, (t) => {
    const text = requireGenerated(t, tool);
    if (text === undefined) return;
    const structs = structLabels(text);
    // Each map is named once, in the descriptor: `events: { name: "events", type: "ringbuf", value: XEvent }`.
    const eventMaps = [...text.matchAll(/^\s+(\w+): \{ name: "([^"]+)", type: "(ringbuf|perf_event_array)"(?:, value: ([^,}]+?))?(?:,| \})/gm)].map((x) => ({ ts: x[1]!, c: x[2]!, type: x[3]!, record: x[4]?.trim() }));
    t.deepEqual(eventMaps.map((e) => e.c).sort(), Object.keys(m.events).sort(), "the manifest lists every event map");
    for (const e of eventMaps) {
      if (e.record === undefined || !/^\w+$/.test(e.record)) t.fail(`${e.c} (${e.type}) is untyped: its records decode as raw bytes (expected struct ${m.events[e.c]})`);
      else t.is(structs.get(e.record), m.events[e.c], `${e.c} records are ${e.record}`);
    }
  });

  test(`${tool}: every struct, union and enum its own files declare is emitted (map definitions are not)`, (t) => {
    const text = requireGenerated(t, tool);
    if (text === undefined) return;
    const structs = new Set(structLabels(text).values());
    const missing: string[] = [];
    const mapDefinitions: string[] = [];
    for (const d of declaredTypes(tool)) {
      const found = d.kind === "enum" ? new RegExp(`^export const ${pascal(tool)}${pascal(d.name)} = \\{`, "m").test(text) : structs.has(d.name);
      if (d.mapDefinition && (found || new RegExp(`\\b${pascal(tool)}${pascal(d.name)}\\b`).test(text))) mapDefinitions.push(`struct ${d.name} (${d.file})`);
      else if (!d.mapDefinition && !found) missing.push(`${d.kind} ${d.name} (${d.file})`);
    }
    t.deepEqual(missing, [], `declared but not emitted: ${missing.join(", ")}`);
    t.deepEqual(mapDefinitions, [], `map definitions emitted as API types: ${mapDefinitions.join(", ")}`);
  });

  test(`${tool}: static variables and bpf_printk formats stay out of the API`, (t) => {
    const text = requireGenerated(t, tool);
    if (text === undefined) return;
    const statics = new Set(staticVariables(tool));
    const exposed: string[] = [];
    for (const x of text.matchAll(/^\s+(\S+): \{ name: "([^"]+)", section: "\.(?:rodata|bss|data)[^"]*"/gm)) {
      if (x[2]!.includes(".") || statics.has(x[2]!)) exposed.push(`${x[2]} as ${x[1]}`);
    }
    t.deepEqual(exposed, [], `static-linkage variables in the generated constants/variables: ${exposed.join(", ")}`);
  });

  test.serial(`${tool}: every program the kernel accepts (bpftool prog loadall, else each alone) loads through the generated loader`, async (t) => {
    t.timeout(60_000);
    if (!(await requireFeature(t, "root", "bpf", "btf"))) return;
    if (requireGenerated(t, tool) === undefined) return;
    const object = join(generated.get(tool)!.dir, `${tool}_bpfel.o`);
    const pins = `/sys/fs/bpf/corpus-${tool}-${process.pid}`;
    const bt = await run("bpftool", ["prog", "loadall", object, pins]);
    rmSync(pins, { recursive: true, force: true });
    const mod = await importModule(tool);
    const load = mod[`load${pascal(tool)}`] as (o: unknown) => Promise<LoadedObjects>;
    const spec = specOf(mod, tool);
    const notLoaded = (objs: LoadedObjects) => Object.entries(objs.programs).filter(([, p]) => !isLoaded(p)).map(([n]) => n);
    if (bt.code === 0) {
      const objs = await load({ constants: substitute(m.load.constants ?? {}, baseVars()) });
      try {
        t.deepEqual(notLoaded(objs), [], "bpftool loads every program; so must the generated loader");
      } finally {
        objs.close();
      }
      return;
    }

    // bpftool stops at the first program or map the kernel refuses. Ask the kernel about each program
    // alone, with the options the tool's user space passes (its map sizes, attach targets, constants).
    const why = bt.stderr.split("\n").filter((l) => /^libbpf: (?!prog '[^']*': -- )|^Error:/.test(l) && !/BEGIN PROG LOAD LOG|END PROG LOAD LOG/.test(l)).slice(-3).join(" | ");
    const options = substitute(m.load, baseVars());
    const knobs: Record<string, { autoload?: boolean; attachTarget?: string }> = options.programs ?? {};
    const accepted: string[] = [];
    const refused = new Map<string, string>();
    for (const [name, p] of Object.entries(spec.programs)) {
      const alone = Object.fromEntries(Object.keys(spec.programs).map((other) => [other, { ...knobs[other], autoload: other === name }]));
      try {
        (await load({ ...options, programs: alone })).close();
        accepted.push(name);
      } catch (e) {
        const err = e as Error & { program?: string; errno?: number };
        refused.set(name, `${err.message.split("\n")[0]}`);
        t.is(err.program, p.name, `loading ${name} alone fails for another reason than the program: ${err.message.split("\n")[0]}`);
      }
    }
    t.log(`bpftool cannot load the object as is (${why}); the kernel refuses ${[...refused.keys()].join(", ") || "none"} alone`);

    // What made bpftool fail is what the tool's options deal with: a program the kernel refuses (the
    // tool switches it off) or a map the tool sizes before load.
    const failed = [...bt.stderr.matchAll(/^libbpf: (?:prog '([^']+)': failed to load|map '([^']+)': failed to create)/gm)].at(-1);
    if (failed?.[1] !== undefined) {
      const ts = Object.entries(spec.programs).find(([, p]) => p.name === failed[1])?.[0];
      t.true(ts !== undefined && refused.has(ts), `bpftool fails on program ${failed[1]}, which the kernel accepts alone with the tool's options`);
    } else if (failed?.[2] !== undefined) {
      const ts = Object.entries(spec.maps).find(([, x]) => x.name === failed[2])?.[0];
      t.true(Object.keys(options.maps ?? {}).some((k) => k === ts || k === failed[2]), `bpftool cannot create map ${failed[2]} and the tool's options do not size it`);
    } else {
      t.fail(`bpftool fails without naming a program or map: ${why}`);
    }

    // Every program the kernel accepts loads through the generated loader, all at once.
    if (accepted.length === 0) return;
    const objs = await load({ ...options, programs: Object.fromEntries(Object.keys(spec.programs).map((n) => [n, { ...knobs[n], autoload: accepted.includes(n) }])) });
    try {
      t.deepEqual(notLoaded(objs).filter((n) => accepted.includes(n)), [], "every program the kernel accepts alone loads with the others");
    } finally {
      objs.close();
    }
    t.deepEqual(m.loads.filter((n) => !accepted.includes(n)), [], "the manifest loads only programs the kernel accepts");
  });

  const live = m.trigger ? ` and reports what ${describe(m)} makes it report` : m.attach === "none" ? "" : " and attaches";
  test.serial(`${tool}: loads with the options its user space passes${live}`, async (t) => {
    t.timeout(60_000);
    if (!(await requireFeature(t, "root", "bpf", "btf"))) return;
    if (requireGenerated(t, tool) === undefined) return;
    const mod = await importModule(tool);
    const spec = specOf(mod, tool);
    const unknownNames = [...Object.keys(m.load.programs ?? {}), ...m.loads].filter((p) => !(p in spec.programs)).concat(Object.keys(m.load.maps ?? {}).filter((x) => !(x in spec.maps)));
    t.deepEqual(unknownNames, [], "every program and map the manifest names exists in the module");

    const prepared = m.trigger ? prepare(m.trigger) : undefined;
    t.teardown(() => prepared?.cleanup());
    const vars: Record<string, unknown> = { ...baseVars(), ...prepared?.vars };
    const options = substitute(m.load, vars);
    const objs = await (mod[`load${pascal(tool)}`] as (o: unknown) => Promise<LoadedObjects>)(options);
    const links: { close(): void }[] = [];
    t.teardown(() => {
      for (const l of links) l.close();
      objs.close();
    });
    const loaded = Object.entries(objs.programs).filter(([, p]) => isLoaded(p)).map(([n]) => n).sort();
    t.deepEqual(loaded, [...m.loads].sort(), "loaded programs");

    for (const [name, value] of Object.entries(substitute(m.setVariables ?? {}, vars))) objs.variables[name]!.set(value);
    if (m.attach === "auto") links.push(await objs.attach());
    else if (Array.isArray(m.attach)) {
      for (const a of substitute(m.attach, vars)) links.push(objs.programs[a.program]!.attach({ path: a.path, symbol: a.symbol }));
    }
    if (!m.trigger || !prepared) return;

    const byC = new Map(Object.entries(spec.maps).map(([tsName, s]) => [s.name, tsName]));
    const seen = new Map<string, unknown[]>();
    const readErrors: string[] = [];
    for (const e of m.expect ?? []) {
      if (!("map" in e) || seen.has(e.map)) continue;
      const list: unknown[] = [];
      seen.set(e.map, list);
      const reader = objs.maps[byC.get(e.map)!] as { onEvent(cb: (x: unknown) => void, o: { onError(err: Error): void }): void };
      reader.onEvent((x) => list.push(x), { onError: (err) => readErrors.push(`${e.map}: ${err.message}`) });
    }
    Object.assign(vars, await prepared.run());
    const expectations = substitute(m.expect ?? [], vars);
    const deadline = Date.now() + 3000;
    let failures = check(expectations, objs, seen, byC);
    while (failures.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      failures = check(expectations, objs, seen, byC);
    }
    t.deepEqual([...new Set(readErrors)], [], "reading the events");
    t.deepEqual(failures, [], failures.join("\n"));
  });

  if (m.probe && m.variants) {
    test.serial(`${tool}: the runtime's feature probes choose the variant the manifest loads`, async (t) => {
      if (!(await requireFeature(t, "root", "bpf", "btf"))) return;
      const rt = (await import("@bpf2ts/runtime")) as unknown as Record<string, unknown>;
      const wanted = ["fentryCanAttach", "kprobeExists", "tracepointExists", "haveKernelFunction"];
      const missing = wanted.filter((n) => typeof rt[n] !== "function");
      if (missing.length > 0) {
        t.fail(`@bpf2ts/runtime does not export ${missing.join(", ")} (issue 9, item 4): a tool cannot choose between fentry, kprobe and tracepoint`);
        return;
      }
      const call = async (name: string, ...args: string[]) => Boolean(await (rt[name] as (...a: string[]) => unknown)(...args));
      const fn = m.probe!.function;
      t.is(await call("haveKernelFunction", fn), await kernelHasFunction(fn), `haveKernelFunction(${fn}) against the kernel's BTF`);
      const v = m.variants!;
      let chosen: keyof typeof v | undefined;
      if (v.fentry && (await call("fentryCanAttach", fn))) chosen = "fentry";
      else if (v.kprobe && (await call("kprobeExists", fn))) chosen = "kprobe";
      else if (v.tracepoint && m.probe!.tracepoint && (await call("tracepointExists", ...(m.probe!.tracepoint.split("/") as [string, string])))) chosen = "tracepoint";
      const expected = (Object.keys(v) as (keyof typeof v)[]).find((k) => v[k]!.every((p) => m.loads.includes(p)));
      t.is(chosen, expected, `probes chose ${chosen ?? "nothing"}; the manifest loads the ${expected ?? "no"} variant`);
    });
  }
}

interface LoadedObjects {
  programs: Record<string, { fd: number; attach(o: unknown): { close(): void } }>;
  maps: Record<string, unknown>;
  variables: Record<string, { get(): unknown; set(x: unknown): void }>;
  attach(): Promise<{ close(): void }>;
  close(): void;
}

/** The module's `<tool>Spec()`: programs and maps by TS name, each with its C name. */
function specOf(mod: Record<string, unknown>, tool: string): { programs: Record<string, { name: string }>; maps: Record<string, { name: string }> } {
  return (mod[`${tool}Spec`] as () => { programs: Record<string, { name: string }>; maps: Record<string, { name: string }> })();
}

function isLoaded(p: { fd: number }): boolean {
  try {
    return p.fd >= 0;
  } catch {
    return false;
  }
}

function describe(m: Manifest): string {
  const t = m.trigger!;
  return t.kind === "exec" ? `\`${t.argv!.join(" ")}\`` : t.kind === "kill" ? `a ${t.signal}` : t.kind === "sleep" ? `${t.ms} ms of activity` : `a ${t.kind}`;
}

/** What is still missing of `expect`: one line per unmet expectation. */
function check(expect: Expectation[], objs: LoadedObjects, seen: Map<string, unknown[]>, byC: Map<string, string>): string[] {
  const out: string[] = [];
  for (const e of expect) {
    if ("map" in e) {
      const events = (seen.get(e.map) ?? []) as Record<string, unknown>[];
      const picked = events.filter((x) => Object.entries(e.match).every(([k, v]) => mismatch(x[k], v) === undefined));
      const good = picked.filter((x) => Object.entries(e.values).every(([k, v]) => mismatch(x[k], v) === undefined));
      if (e.count !== undefined ? good.length !== e.count : good.length === 0) out.push(describeMiss(e, events, picked, good.length));
    } else if ("mapEntries" in e) {
      const map = objs.maps[byC.get(e.mapEntries)!] as { keys(): Iterable<unknown> };
      const n = [...map.keys()].length;
      if (n < e.min) out.push(`map ${e.mapEntries}: ${n} entries, expected at least ${e.min}`);
    } else {
      const v = objs.variables[e.variable]!.get();
      const arr = ArrayBuffer.isView(v) || Array.isArray(v) ? Array.from(v as ArrayLike<number | bigint>) : undefined;
      if (e.sum !== undefined) {
        const sum = (arr ?? []).reduce<number>((a, x) => a + Number(x), 0);
        const why = mismatch(sum, e.sum);
        if (why) out.push(`variable ${e.variable}: sum ${why}`);
      }
      if (e.value !== undefined) {
        const x = e.index !== undefined ? arr?.[e.index] : v;
        const why = mismatch(x, e.value);
        if (why) out.push(`variable ${e.variable}${e.index !== undefined ? `[${e.index}]` : ""}: ${why}`);
      }
    }
  }
  return out;
}

function describeMiss(e: EventExpectation, events: Record<string, unknown>[], picked: Record<string, unknown>[], good: number): string {
  const head = `${e.map}: ${events.length} events, ${picked.length} match ${show(e.match)}, ${good} of them with ${show(e.values)}${e.count !== undefined ? ` (want exactly ${e.count})` : ""}`;
  const first = picked[0];
  if (first) {
    const wrong = Object.entries(e.values).map(([k, v]) => [k, mismatch(first[k], v)] as const).filter(([, w]) => w !== undefined);
    return `${head}; first match differs: ${wrong.map(([k, w]) => `${k}: ${w}`).join(", ")}`;
  }
  return `${head}${events.length > 0 ? `; e.g. ${show(events[events.length - 1]).slice(0, 400)}` : ""}`;
}

let kernelFuncs: Promise<Set<string>> | undefined;
/** Whether the kernel's BTF has FUNC `name` (read with bpftool, once). */
async function kernelHasFunction(name: string): Promise<boolean> {
  kernelFuncs ??= run("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]).then((r) => new Set([...r.stdout.matchAll(/^\[\d+\] FUNC '([^']+)'/gm)].map((x) => x[1]!)));
  return (await kernelFuncs).has(name);
}


