// The clang driver: finding tools (and naming the Debian package when they are missing), argv,
// reproducible output, clang's diagnostics passed through verbatim, dependency files, flags splitting,
// targets, and the types-only compile that recovers types the object's BTF lacks.

import test, { type ExecutionContext } from "ava";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBtf } from "../generator/btf/index.js";
import { Kind } from "@bpf2ts/runtime/object-file";
import { clangArgs, compile, compileTypesOnly, findClang, formatDepfile, parseDepfile, parseTargets, splitShellWords, which } from "../generator/compile/clang.js";
import { readElf } from "@bpf2ts/runtime/object-file";
import { adoptEarlyCompile, compileKey, discardEarlyCompiles, startEarlyCompiles, type EarlyCompile } from "../generator/compile/early.js";
import { mergeTypes } from "../generator/source/merge-types.js";
import { buildModel } from "../generator/model/model.js";
import { lookupType } from "../generator/btf/index.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = (t: ExecutionContext, prefix: string) => tempDir(t, `bpf2ts-clang-test-${prefix}-`);

test("findClang: no clang on PATH names the Debian package", async (t) => {
  const empty = tmp(t, "path");
  const err = await t.throwsAsync(findClang({ env: { PATH: empty } }));
  t.is(err?.name, "ToolNotFoundError");
  t.regex(err!.message, /apt-get install clang-19/);
  t.regex(err!.message, /tried clang, clang-19, clang-18/);
});

test("findClang: --cc and BPF2TS_CC win, and a bad one is named", async (t) => {
  const real = which("clang-19") ?? which("clang");
  if (!real) return t.fail("clang-19 is required for these tests (bash scripts/setup.sh)");
  const dir = tmp(t, "cc");
  symlinkSync(real, join(dir, "my-clang"));
  const viaEnv = await findClang({ env: { PATH: dir, BPF2TS_CC: "my-clang" } });
  t.is(viaEnv.path, join(dir, "my-clang"));
  t.is(viaEnv.major, 19, "version read from `clang --version` when the name has none");
  const viaFlag = await findClang({ cc: real, env: { PATH: "" } });
  t.is(viaFlag.path, real);
  const err = await t.throwsAsync(findClang({ cc: "no-such-clang", env: { PATH: dir } }));
  t.regex(err!.message, /"no-such-clang" \(from --cc\) not found/);
});

test("clangArgs: reproducible flags, target arch define, user flags last", (t) => {
  const argv = clangArgs({ source: "bpf/x.bpf.c", output: "/tmp/o.o", depfile: "/tmp/o.d", target: { endian: "bpfeb", arch: "arm64" }, cflags: ["-DFOO=1", "-I", "inc dir"], cwd: "/work/proj" });
  t.deepEqual(argv.slice(0, 8), ["-O2", "-g", "-target", "bpfeb", "-c", "bpf/x.bpf.c", "-o", "/tmp/o.o"]);
  for (const f of ["-fno-ident", "-fdebug-compilation-dir=.", "-MD", "-D__TARGET_ARCH_arm64"]) t.true(argv.includes(f), f);
  // Both maps, the cwd's last so that it wins for paths under it.
  t.deepEqual(argv.filter((a) => a.startsWith("-fdebug-prefix-map")), ["-fdebug-prefix-map=/work/proj/bpf=.", "-fdebug-prefix-map=/work/proj=."]);
  t.deepEqual(argv.slice(-3), ["-DFOO=1", "-I", "inc dir"]);
});

test("parseTargets: bpf2go's names and Node arch names", (t) => {
  t.deepEqual(parseTargets("bpfel,bpfeb"), [{ endian: "bpfel" }, { endian: "bpfeb" }]);
  t.deepEqual(parseTargets("x64"), [{ endian: "bpfel", arch: "x86" }]);
  t.deepEqual(parseTargets("arm64, s390x"), [{ endian: "bpfel", arch: "arm64" }, { endian: "bpfeb", arch: "s390" }]);
  t.deepEqual(parseTargets("riscv64"), [{ endian: "bpfel", arch: "riscv" }]);
  t.deepEqual(parseTargets("loong64"), [{ endian: "bpfel", arch: "loongarch" }]);
  t.deepEqual(parseTargets("ppc64"), [{ endian: "bpfel", arch: "powerpc" }]);
  t.deepEqual(parseTargets("mips"), [{ endian: "bpfeb", arch: "mips" }]);
  t.deepEqual(parseTargets("bpfel,bpfel"), [{ endian: "bpfel" }]);
  // bpf2go's GOARCH names.
  t.deepEqual(parseTargets("amd64"), [{ endian: "bpfel", arch: "x86" }]);
  t.deepEqual(parseTargets("386"), [{ endian: "bpfel", arch: "x86" }]);
  t.deepEqual(parseTargets("ppc64le"), [{ endian: "bpfel", arch: "powerpc" }]);
  t.deepEqual(parseTargets("mips64le"), [{ endian: "bpfel", arch: "mips" }]);
  t.is(parseTargets("native")[0]!.endian, "bpfel");
  t.throws(() => parseTargets("sparc"), { name: "UsageError", message: /unknown target "sparc"/ });
  t.throws(() => parseTargets("x64,arm64"), { name: "UsageError", message: /two bpfel objects/ });
  t.throws(() => parseTargets(" , "), { name: "UsageError" });
});

test("splitShellWords: quotes and escapes as a shell reads them", (t) => {
  const cases: Array<[string, string[]]> = [
    ["", []],
    ["  -O2   -g ", ["-O2", "-g"]],
    [`-I "my dir" -DX='a b'`, ["-I", "my dir", "-DX=a b"]],
    [`-DMSG="say \\"hi\\""`, ['-DMSG=say "hi"']],
    [`a\\ b c`, ["a b", "c"]],
    [`'it''s'`, ["its"]],
    [`"a\\nb"`, ["a\\nb"]],
    [`x""`, ["x"]],
    [`""`, [""]],
    ["a\\\nb", ["ab"]],
  ];
  for (const [input, expected] of cases) t.deepEqual(splitShellWords(input), expected, JSON.stringify(input));
  t.throws(() => splitShellWords(`-D'x`), { name: "UsageError", message: /unterminated single quote/ });
  t.throws(() => splitShellWords(`"x`), { name: "UsageError", message: /unterminated double quote/ });
});

test("parseDepfile / formatDepfile: make syntax with escaped spaces and continuations", (t) => {
  const text = "out.o: src/a.c /usr/include/x.h \\\n  my\\ dir/b.h \\\n  cost$$.h\nother: src/a.c extra.h\n";
  t.deepEqual(parseDepfile(text), ["src/a.c", "/usr/include/x.h", "my dir/b.h", "cost$.h", "extra.h"]);
  const formatted = formatDepfile(["gen/x.ts", "gen/x_bpfel.o"], ["src/a.c", "my dir/b.h", "cost$.h"]);
  t.is(formatted, "gen/x.ts gen/x_bpfel.o: \\\n src/a.c \\\n my\\ dir/b.h \\\n cost$$.h\n");
  t.deepEqual(parseDepfile(formatted), ["src/a.c", "my dir/b.h", "cost$.h"]);
});

const SOURCE = `
#include "inc/defs.h"
struct only_reserved { __u64 ts; char comm[16]; };
struct { int (*type)[27]; int (*max_entries)[4096]; } rb __attribute__((section(".maps"), used));
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *) 131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *) 132;
__attribute__((section("tp/a/b"), used)) int p(void *ctx) {
  struct only_reserved *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
  if (e) bpf_ringbuf_submit(e, 0);
  return 0;
}
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`;

function project(t: ExecutionContext): string {
  const dir = tmp(t, "proj");
  mkdirSync(join(dir, "inc"));
  writeFileSync(join(dir, "inc", "defs.h"), "typedef unsigned long long __u64;\n");
  writeFileSync(join(dir, "prog.bpf.c"), SOURCE);
  return dir;
}

test("compile: the same source in two directories gives identical bytes; inputs come from the depfile", async (t) => {
  const clang = await findClang();
  const strip = true;
  const [a, b] = [project(t), project(t)];
  const ra = await compile({ source: "prog.bpf.c", target: { endian: "bpfel" }, clang, strip, cwd: a });
  const rb = await compile({ source: "prog.bpf.c", target: { endian: "bpfel" }, clang, strip, cwd: b });
  t.true(ra.object.equals(rb.object), "no absolute path or identification in the object");
  const abs = await compile({ source: join(b, "prog.bpf.c"), target: { endian: "bpfel" }, clang, strip, cwd: tmpdir() });
  t.false(abs.object.includes(Buffer.from(b)), "an absolute source path does not leak into the object");
  // BTF.ext keeps each line's source text (verifier logs print it): clang could read the file.
  t.true(ra.object.includes(Buffer.from("if (e) bpf_ringbuf_submit(e, 0);")));
  t.deepEqual(ra.inputs, [join(a, "prog.bpf.c"), join(a, "inc", "defs.h")]);
  const elf = readElf(ra.object, "prog.o");
  t.truthy(elf.section(".BTF"));
  t.truthy(elf.section(".BTF.ext"));
  t.falsy(elf.section(".debug_info"), "DWARF stripped");
  const unstripped = await compile({ source: "prog.bpf.c", target: { endian: "bpfel" }, clang, cwd: a });
  t.truthy(readElf(unstripped.object).section(".debug_info"), "--no-strip keeps DWARF");
  const be = await compile({ source: "prog.bpf.c", target: { endian: "bpfeb" }, clang, strip, cwd: a });
  t.false(readElf(be.object).littleEndian);
});

test.serial("early compile (bin): started for generate <stem> <source>, adopted only by the identical compile, the rest killed and removed", async (t) => {
  const clang = await findClang();
  const strip = true;
  const dir = project(t);
  const registry = (globalThis as Record<symbol, unknown>)[Symbol.for("bpf2ts.earlyCompiles")] as Map<string, EarlyCompile> | undefined;
  for (const args of [["generate"], ["generate", "prog"], ["generate", "prog", "prog.bpf.c", "--obj", "x.o"], ["generate", "prog", "prog.bpf.c", "-t", "x"], ["inspect", "prog.bpf.c"]]) {
    startEarlyCompiles(args, dir, process.env);
    t.is(registry?.size ?? 0, 0, `nothing started for ${args.join(" ")}`);
  }
  const cflags = ["-DEXTRA=1"];
  startEarlyCompiles(["generate", "prog", "prog.bpf.c", "--cc", clang.path, "--no-strip", "--target=bpfel,bpfeb", "--", ...cflags], dir, process.env);
  const keys = (["bpfel", "bpfeb"] as const).map((endian) => compileKey(clang.path, dir, { source: "prog.bpf.c", target: { endian }, cflags }));
  t.deepEqual([...registry!.keys()].sort(), [...keys].sort(), "one compile per target");
  const beDir = registry!.get(keys[1]!)!.dir;
  const beResult = registry!.get(keys[1]!)!.result;
  // Other flags: not adopted; the same flags: adopted (and gone from the registry), with the same bytes as a compile of its own.
  await compile({ source: "prog.bpf.c", target: { endian: "bpfel" }, clang, strip, cflags: ["-DEXTRA=2"], cwd: dir });
  t.is(registry!.size, 2);
  const adopted = await compile({ source: "prog.bpf.c", target: { endian: "bpfel" }, clang, strip, cflags, cwd: dir });
  t.is(registry!.size, 1);
  t.is(adoptEarlyCompile(keys[0]!), undefined);
  const own = await compile({ source: "prog.bpf.c", target: { endian: "bpfel" }, clang, strip, cflags, cwd: dir });
  t.true(adopted.object.equals(own.object));
  t.deepEqual(adopted.inputs, own.inputs);
  discardEarlyCompiles();
  t.is(registry!.size, 0);
  t.false(existsSync(beDir), "the unadopted compile's directory is removed");
  await beResult; // its clang ended (killed, or done before)
  // Discarded while clang runs: killed, nothing left.
  startEarlyCompiles(["generate", "prog", "prog.bpf.c", "--cc", clang.path], dir, process.env);
  const running = [...registry!.values()];
  t.is(running.length, 2);
  discardEarlyCompiles();
  for (const c of running) {
    t.false(existsSync(c.dir));
    t.truthy(await c.result);
  }
});

test.serial("early bundle (bin): what it starts is keyed as clang.ts keys it, so the pipeline adopts it", async (t) => {
  const bundle = fileURLToPath(new URL("../generator/early.bundle.cjs", import.meta.url));
  if (!existsSync(bundle)) return t.fail("dist/generator/early.bundle.cjs missing: npm run build:ts bundles it");
  const clang = await findClang();
  const dir = project(t);
  const early = createRequire(import.meta.url)(bundle) as typeof import("../generator/compile/early.js");
  early.startEarlyCompiles(["generate", "prog", "prog.bpf.c", "--cc", clang.path, "--target", "x64", "--", "-DX=1"], dir, process.env);
  const adopted = adoptEarlyCompile(compileKey(clang.path, dir, { source: "prog.bpf.c", target: { endian: "bpfel", arch: "x86" }, cflags: ["-DX=1"] }));
  t.truthy(adopted, "the bundle's compile is found under the module's key");
  t.is((await adopted!.result).code, 0);
  early.discardEarlyCompiles();
  discardEarlyCompiles();
});

test.serial("bpf2ts generate runs one clang per target: the one bin started early", async (t) => {
  const clang = await findClang();
  const dir = project(t);
  const log = join(dir, "clang.log");
  const wrapper = join(dir, "logging-clang");
  writeFileSync(wrapper, `#!/bin/sh\necho "$@" >> ${JSON.stringify(log)}\nexec ${JSON.stringify(clang.path)} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const bin = fileURLToPath(new URL("../../bin/bpf2ts.js", import.meta.url));
  execFileSync(process.execPath, [bin, "generate", "prog", "prog.bpf.c", "--cc", wrapper, "--target", "bpfel,bpfeb", "--output-dir", "out"], { cwd: dir, stdio: "pipe" });
  const runs = readFileSync(log, "utf8").trim().split("\n");
  const main = runs.filter((l) => l.includes(" -c prog.bpf.c "));
  t.deepEqual(main.map((l) => /-target (\w+)/.exec(l)![1]).sort(), ["bpfeb", "bpfel"], runs.join("\n"));
  t.deepEqual(readdirSync(join(dir, "out")).sort(), ["prog.ts", "prog_bpfeb.o", "prog_bpfel.o", "prog_types.btf"]);
  t.falsy(readElf(readFileSync(join(dir, "out", "prog_bpfel.o"))).section(".debug_info"), "stripped");
});

test("compile: the same bytes whatever directory bpf2ts was started in (an inherited PWD is not clang's)", async (t) => {
  // clang reads PWD; one naming another existing directory (a config run from the repository root
  // compiles in bpf/) reordered two types in offcputime's .BTF, so `check` failed from the root only.
  const clang = await findClang();
  const strip = true;
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const cwd = join(root, "bpf");
  const build = (pwd: string) => compile({ source: "offcputime/offcputime.bpf.c", target: { endian: "bpfel", arch: "x86" }, cflags: ["-I", "."], clang, strip, cwd, env: { ...process.env, PWD: pwd } });
  const [fromRoot, fromHere, fromTmp] = await Promise.all([build(root), build(cwd), build(tmpdir())]);
  t.true(fromRoot.object.equals(fromHere.object), "PWD = the repository root");
  t.true(fromTmp.object.equals(fromHere.object), "PWD = the temp directory");
});

test("compile: a syntax error carries clang's diagnostic verbatim and leaves nothing behind", async (t) => {
  const clang = await findClang();
  const dir = tmp(t, "err");
  writeFileSync(join(dir, "bad.bpf.c"), "int f(void) { return 1 }\n");
  const tempRoot = tmp(t, "root");
  const err = await t.throwsAsync(compile({ source: "bad.bpf.c", target: { endian: "bpfel" }, clang, cwd: dir, tempRoot }));
  t.is(err?.name, "CompileError");
  t.regex(err!.message, /clang: compiling bad\.bpf\.c for bpfel failed \(exit 1\)/);
  const stderr = (err as { stderr?: string }).stderr!;
  t.regex(stderr, /^bad\.bpf\.c:1:23: error: expected ';' after return statement\n/);
  t.regex(stderr, /1 error generated\.\n$/);
  t.deepEqual(readdirSync(dir), ["bad.bpf.c"]);
  t.deepEqual(readdirSync(tempRoot), [], "temporary build directory removed");
});

test("compileTypesOnly + mergeTypes: a type only reserved gets BTF, object ids unchanged", async (t) => {
  const clang = await findClang();
  const dir = project(t);
  const shipped = await compile({ source: "prog.bpf.c", target: { endian: "bpfel" }, clang, strip: true, cwd: dir });
  const elf = readElf(shipped.object, "prog.o");
  const btf = parseBtf(elf.section(".BTF")!.data());
  t.is(lookupType(btf, "struct only_reserved"), undefined, "clang drops a type used only through a void* call");

  const extra = await compileTypesOnly({ source: "prog.bpf.c", target: { endian: "bpfel" }, clang, cwd: dir, spellings: ["struct only_reserved"] });
  const extraBtf = parseBtf(readElf(extra.object).section(".BTF")!.data());
  const root = lookupType(extraBtf, "struct only_reserved")!;
  const merged = mergeTypes(btf, extraBtf, [root]);
  for (let id = 0; id < btf.types.length; id++) t.is(merged.btf.types[id], btf.types[id]);
  const id = merged.ids.get(root)!;
  t.true(id >= btf.types.length);
  const s = merged.btf.types[id]!;
  if (s.kind !== Kind.Struct) return t.fail("not a struct");
  t.is(s.size, 24);
  t.deepEqual(s.members.map((m) => [m.name, m.bitOffset]), [["ts", 0], ["comm", 64]]);
  // Members refer to ids in the merged graph: __u64 is new (appended), the object's `char` is reused.
  t.is(merged.btf.types[s.members[0]!.type]?.name, "__u64");
  t.true(s.members[0]!.type >= btf.types.length);
  const comm = merged.btf.types[s.members[1]!.type]!;
  if (comm.kind !== Kind.Array) return t.fail("comm is not an array");
  t.is(comm.nelems, 16);
  t.is(comm.type, btf.byName("char")[0]);
  t.is(lookupType(merged.btf, "struct only_reserved"), id);

  const model = buildModel(elf, merged.btf, { events: { rb: "struct only_reserved" } });
  t.is(model.maps[0]!.event?.typeId, id);
  t.deepEqual(model.missingTypes, []);
});
