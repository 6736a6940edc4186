// Programs in the style of bcc's libbpf-tools (fixtures/tools/: shared headers, bpf_printk, static
// map keys, reserve_buf/submit_buf helpers, EVENT_SIZE and SUBMIT macros, buffers cast to records):
// each generates a module that type-checks under tsc --strict, with every event map typed, no
// static-linkage variable in the API, and every type the source declares; `--obj` builds from an
// object honour --target, and fail on an object older than its source; warnings name what is written.

import test, { type ExecutionContext } from "ava";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { which } from "../generator/compile/clang.js";
import { main } from "../generator/cli/cli.js";
import { formatInspect } from "../generator/cli/inspect.js";
import { buildOutputs, runGenerate, type BuiltOutput } from "../generator/pipeline/run.js";
import { repoRoot } from "./helpers/compile-c.js";
import { tempDir } from "./helpers/temp-dir.js";
import { markEsm, typeCheck } from "./helpers/typecheck.js";

const haveClang = ["clang-19", "clang"].some((c) => which(c) !== undefined);
const tools = ["bindsnoop", "biosnoop", "execsnoop", "opensnoop", "tcpconnect"] as const;
type Tool = (typeof tools)[number];

/** What each program's user space sees: its constants, event maps and a type only declared. */
const expected: Record<Tool, { constants: string[]; events: Record<string, string>; declaredOnly?: RegExp }> = {
  bindsnoop: { constants: ["ignoreErrors", "targetPid"], events: { rb: "RingBuf<BindsnoopBindEvent>", rawEvents: "PerfEventArray<Uint8Array>" }, declaredOnly: /export interface BindsnoopBindOptions /},
  biosnoop: { constants: ["filterDev", "minNs", "targDev"], events: { events: "PerfEventArray<BiosnoopBiosnoopEvent>" } },
  execsnoop: { constants: ["filterCg", "ignoreFailed", "maxArgs", "targUid"], events: { events: "PerfEventArray<ExecsnoopEvent>" } },
  opensnoop: { constants: ["targFailed", "targPid", "targTgid", "targUid"], events: { events: "PerfEventArray<OpensnoopEvent>" }, declaredOnly: /export interface OpensnoopOpensnoopStats / },
  tcpconnect: { constants: ["doCount", "filterPid", "filterPorts", "filterPortsLen", "filterUid"], events: { events: "RingBuf<TcpconnectEvent>" }, declaredOnly: /export const TcpconnectTcpconnectMode = / },
};

const built = new Map<Tool, Promise<BuiltOutput>>();
/** Generates a tool once per test run (x64 target, vmlinux.h from bpf/). */
function generateTool(name: Tool): Promise<BuiltOutput> {
  let b = built.get(name);
  if (!b) {
    b = buildOutputs({ stem: name, source: `fixtures/tools/${name}.bpf.c`, target: "x64", cflags: ["-I", "bpf"], cwd: repoRoot });
    built.set(name, b);
  }
  return b;
}

const moduleOf = (b: BuiltOutput): string => b.files.find((f) => f.path.endsWith(".ts"))!.contents as string;

for (const name of tools) {
  test(`${name}: every event map typed, static variables left out, declared types emitted`, async (t) => {
    if (!haveClang) return t.pass("clang not found: these programs cannot be compiled here");
    const b = await generateTool(name);
    const ts = moduleOf(b);
    const want = expected[name];
    // The descriptor names each constant and map once (`constants: { targPid: { name: "targ_pid", … } }`).
    const constants = /^ {2}constants: \{([\s\S]*?)\n {2}\},?$/m.exec(ts)?.[1] ?? "";
    t.deepEqual([...constants.matchAll(/^ {4}(\w+): \{ name: /gm)].map((m) => m[1]).sort(), want.constants, "constants are the const volatile globals, nothing static");
    // bpf_printk's hidden format strings, `static const int zero` keys, file-scope statics: not the API.
    t.notRegex(ts, /fmt|zero[?:]|emptyEvent|dropped/i);
    for (const [map, type] of Object.entries(want.events)) {
      const [, wrapper, record] = /^(RingBuf|PerfEventArray)<(\w+)>$/.exec(type)!;
      const kind = wrapper === "RingBuf" ? "ringbuf" : "perf_event_array";
      // An untyped event map has no value codec: its records arrive as bytes.
      const value = record === "Uint8Array" ? "" : `, value: ${record}`;
      t.regex(ts, new RegExp(`^ {4}${map}: \\{ name: "\\w+", type: "${kind}"${value} \\},$`, "m"), map);
    }
    if (want.declaredOnly) t.regex(ts, want.declaredOnly);
    const unknown = b.warnings.filter((w) => /event type unknown/.test(w));
    t.deepEqual(unknown.length, name === "bindsnoop" ? 1 : 0, unknown.join("\n"));
  });
}

test("an event call the scan cannot follow is named in the warning, with the flag that fixes it", async (t) => {
  if (!haveClang) return t.pass("clang not found");
  const b = await generateTool("bindsnoop");
  const w = b.warnings.find((x) => /raw_events/.test(x))!;
  t.regex(w, /^bindsnoop_bpfel\.o: map "raw_events" \(perf_event_array\): event type unknown: bpf2ts could not follow bpf_perf_event_output\(ctx, &raw_events, BPF_F_CURRENT_CPU, raw, RAW_LEN\) \(fixtures\/tools\/bindsnoop\.bpf\.c:\d+\); name it with --event raw_events=<type>$/);
  const line = Number(/bindsnoop\.bpf\.c:(\d+)/.exec(w)![1]);
  t.regex(readFileSync(join(repoRoot, "fixtures/tools/bindsnoop.bpf.c"), "utf8").split("\n")[line - 1]!, /bpf_perf_event_output\(ctx, &raw_events/);
});

test("the generated modules of every tool type-check under tsc --strict", async (t) => {
  if (!haveClang) return t.pass("clang not found");
  const dir = tempDir(t, "bpf2ts-tools-");
  markEsm(dir);
  const files: string[] = [];
  for (const name of tools) {
    const f = join(dir, `${name}.ts`);
    writeFileSync(f, moduleOf(await generateTool(name)));
    files.push(f);
  }
  t.is(typeCheck(files), "");
});

test("inspect lists the static variables, marked as not part of the generated API", async (t) => {
  if (!haveClang) return t.pass("clang not found");
  const b = await generateTool("opensnoop");
  const text = formatInspect(b.models[0]!);
  t.regex(text, /const char trace_exit\.____fmt\[\d+\]\s+\d+ B\s+static \(not in the generated API\)/);
  t.regex(text, /const volatile pid_t targ_pid\s+4 B\s+constant \(set before load\)/);
});

/** A copy of fixtures/tools in a scratch dir, so a test may edit a header. */
function scratchTools(t: ExecutionContext): string {
  const dir = tempDir(t, "bpf2ts-tools-obj-");
  cpSync(join(repoRoot, "fixtures/tools"), join(dir, "tools"), { recursive: true });
  cpSync(join(repoRoot, "bpf/vmlinux.h"), join(dir, "vmlinux.h"));
  return dir;
}

test("--obj: the types-only compile gets --target's defines (BPF_KPROBE sources), the object is checked against the source", async (t) => {
  if (!haveClang) return t.pass("clang not found");
  const dir = scratchTools(t);
  const common = { stem: "tcpconnect", source: "tools/tcpconnect.bpf.c", cflags: ["-I", "."], cwd: dir };
  const first = await runGenerate({ ...common, target: "x64" });
  t.deepEqual(first.written, ["tcpconnect.ts", "tcpconnect_bpfel.o", "tcpconnect_types.btf"]);
  // The event type is only reserved, so it comes from the types-only compile, which needs
  // -D__TARGET_ARCH_x86 for BPF_KPROBE: with --target x64 it gets it.
  const again = await buildOutputs({ ...common, source: common.source, objects: ["tcpconnect_bpfel.o"], target: "x64" });
  t.is(again.files.find((f) => f.path === "tcpconnect.ts")!.contents, moduleOf(first), "--obj gives the module the compile gave");
  const noArch = await t.throwsAsync(buildOutputs({ ...common, objects: ["tcpconnect_bpfel.o"], target: "bpfel" }));
  t.regex(noArch!.message, /__TARGET_ARCH/);
});

test("--obj: an object older than its source is an error naming the struct and the field, or the line", async (t) => {
  if (!haveClang) return t.pass("clang not found");
  const dir = scratchTools(t);
  for (const stem of ["biosnoop", "opensnoop"]) await runGenerate({ stem, source: `tools/${stem}.bpf.c`, cflags: ["-I", "."], cwd: dir, target: "x64" });
  const fromObject = (stem: string) => buildOutputs({ stem, source: `tools/${stem}.bpf.c`, objects: [`${stem}_bpfel.o`], cflags: ["-I", "."], cwd: dir, target: "x64" });
  await t.notThrowsAsync(fromObject("biosnoop"), "the objects just built match their sources");

  // A map value type (in the object's BTF) got a field: named with both layouts.
  const bio = join(dir, "tools/biosnoop.bpf.c");
  const bioText = readFileSync(bio, "utf8");
  writeFileSync(bio, bioText.replace("\tu64 issue;\n\t__u32 dev;", "\tu64 issue;\n\tu64 queue;\n\t__u32 dev;"));
  const err = await t.throwsAsync(fromObject("biosnoop"));
  t.is(err?.name, "ModelError");
  t.regex(err!.message, /^biosnoop_bpfel\.o: struct stage: field "dev" at offset 16, 4 bytes \(__u32\) in the object, field "queue" at offset 16, 8 bytes \(u64\) in tools\/biosnoop\.bpf\.c: the object is older than the source/);
  t.is((err as { member?: string }).member, "dev");

  // The event type is only in the source (the object's BTF lacks it): the object's line info says
  // which source it was built from.
  const open = join(dir, "tools/opensnoop.bpf.c");
  writeFileSync(open, readFileSync(open, "utf8").replace('#include "opensnoop.h"\n', '#include "opensnoop.h"\n\n/* Traces open(2). */\n'));
  const stale = await t.throwsAsync(fromObject("opensnoop"));
  t.regex(stale!.message, /^opensnoop_bpfel\.o: built from another version of tools\/opensnoop\.bpf\.c: its line \d+ reads ".*" in the object, ".*" in the source: rebuild the object/);

  // Rebuilt from the source, both generate again.
  writeFileSync(bio, bioText);
  await t.notThrowsAsync(fromObject("biosnoop"));
  await runGenerate({ stem: "opensnoop", source: "tools/opensnoop.bpf.c", cflags: ["-I", "."], cwd: dir, target: "x64" });
  await t.notThrowsAsync(fromObject("opensnoop"));
});

test("warnings name the object files generate writes (output dir and stem included)", async (t) => {
  if (!haveClang) return t.pass("clang not found");
  const dir = scratchTools(t);
  const b = await runGenerate({ stem: "bindsnoop", source: "tools/bindsnoop.bpf.c", cflags: ["-I", "."], cwd: dir, target: "x64", outputDir: "out", outputStem: "binds" });
  t.deepEqual(b.written, ["binds.ts", "binds_bpfel.o", "binds_types.btf"]);
  const w = b.warnings.find((x) => /raw_events/.test(x));
  t.truthy(w);
  t.true(w!.startsWith("out/binds_bpfel.o: "), w);
});

test("inspect --target: the types-only compile of --source gets the architecture's defines", async (t) => {
  if (!haveClang) return t.pass("clang not found");
  const dir = scratchTools(t);
  await runGenerate({ stem: "tcpconnect", source: "tools/tcpconnect.bpf.c", cflags: ["-I", "."], cwd: dir, target: "x64" });
  const run = async (args: string[]) => {
    let out = "";
    const code = await main(["inspect", "tcpconnect_bpfel.o", "--source", "tools/tcpconnect.bpf.c", ...args, "--", "-I", "."], { stdout: (s) => (out += s), stderr: () => undefined, cwd: dir, env: process.env });
    return { code, out };
  };
  const withTarget = await run(["--target", "x64"]);
  t.is(withTarget.code, 0);
  t.regex(withTarget.out, /events\s+ringbuf\s+.*event event_t \(\d+ B, inferred from source\)/);
  const without = await run([]);
  t.is(without.code, 0);
  t.regex(without.out, /event event_t \(not in the object's BTF, inferred from source\)/);
});
