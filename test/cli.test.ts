// The CLI as a user runs it: `node bin/bpf2ts.js …` in a scratch directory, checking exit codes
// (0 ok, 1 failure, 2 usage), what is printed, and what is (or is not) written.

import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { which } from "../generator/compile/clang.js";
import { PRELUDE, repoRoot } from "./helpers/compile-c.js";
import { tempDir } from "./helpers/temp-dir.js";
import { markEsm, typeCheck } from "./helpers/typecheck.js";

const bin = join(repoRoot, "bin", "bpf2ts.js");
const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function bpf2ts(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? repoRoot, env: { ...process.env, BPF2TS_DEBUG: "", ...opts.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const PROGRAM = `${PRELUDE}
#ifndef SLOTS
#error "SLOTS must be defined"
#endif
/** One exec. */
struct event { __u32 pid; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, SLOTS); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
const volatile __u32 target_pid = 0;
SEC("tracepoint/syscalls/sys_enter_execve")
int handle_exec(void *ctx) {
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) return 0;
  e->pid = target_pid;
  bpf_ringbuf_submit(e, 0);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

/** A scratch directory holding exec.bpf.c, removed when the test ends. */
function scratch(t: ExecutionContext, source = PROGRAM): string {
  const dir = tempDir(t, "bpf2ts-cli-test-");
  writeFileSync(join(dir, "exec.bpf.c"), source);
  return dir;
}

const clangDir = () => dirname(which("clang-19") ?? which("clang") ?? "/usr/bin/clang-19");

test("--help, --version and per-command help exit 0", async (t) => {
  const help = await bpf2ts(["--help"]);
  t.is(help.code, 0);
  t.regex(help.stdout, /bpf2ts generate \[stem\] \[source\]/);
  t.regex(help.stdout, /bpf2ts inspect <object>/);
  const gen = await bpf2ts(["generate", "--help"]);
  t.is(gen.code, 0);
  for (const opt of ["--cc", "--cflags", "--target", "--type", "--no-global-types", "--output-dir", "--output-stem", "--strip", "--makebase", "--obj", "--event", "--package"]) {
    t.true(gen.stdout.includes(opt.replace("--no-", "--")), opt);
  }
  const version = await bpf2ts(["--version"]);
  t.is(version.code, 0);
  t.is(version.stdout.trim(), pkg.version);
});

test("help and version printed from cli.help.json are what the bundle prints", async (t) => {
  // bin/bpf2ts.js answers these from the file scripts/bundle-cli.mjs wrote, without loading the bundle.
  const memo = JSON.parse(readFileSync(join(repoRoot, "dist/generator/cli.help.json"), "utf8")) as Record<string, Record<string, string>>;
  const { main } = (await import(pathToFileURL(join(repoRoot, "dist/generator/cli.bundle.js")).href)) as { main: (args: string[], io: object) => Promise<number> };
  const keys = Object.keys(memo["100"]!);
  t.true(keys.includes("generate --help") && keys.includes("--version"));
  for (const key of [...keys, "-h", "generate -h"]) {
    const args = key.split(" ");
    let expected = "";
    const code = await main(args, { stdout: (s: string) => (expected += s), stderr: (s: string) => t.fail(s), cwd: repoRoot, env: {} });
    const r = await bpf2ts(args);
    t.is(code, 0, key);
    t.is(r.code, 0, key);
    t.is(r.stdout, expected, key);
    t.is(r.stderr, "", key);
  }
});

test("bad usage exits 2 with a message and no stack", async (t) => {
  for (const args of [[], ["frobnicate"], ["inspect"], ["generate", "x", "y.c", "--bogus"], ["generate", "x", "y.c", "--cflags", "'unterminated"]]) {
    const r = await bpf2ts(args);
    t.is(r.code, 2, args.join(" "));
    t.regex(r.stderr, /^bpf2ts: .+\nRun with --help for usage\.\n$/, args.join(" "));
    t.notRegex(r.stderr, /\n\s+at /);
  }
});

test("generate: writes the module and both objects, byte-identical on rerun", async (t) => {
  const dir = scratch(t);
  const r = await bpf2ts(["generate", "exec", "exec.bpf.c", "--output-dir", "gen", "--", "-DSLOTS=8"], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  // exec_types.btf: the types-only compile's BTF, for `--obj` runs without clang.
  t.is(r.stdout, "wrote gen/exec.ts\nwrote gen/exec_bpfeb.o\nwrote gen/exec_bpfel.o\nwrote gen/exec_types.btf\n");
  const ts = readFileSync(join(dir, "gen", "exec.ts"), "utf8");
  // `struct event` only goes through bpf_ringbuf_reserve: its type comes from the types-only compile.
  t.regex(ts, /export interface ExecEvent \{/);
  t.regex(ts, /events: \{ name: "events", type: "ringbuf", value: ExecEvent \}/);
  t.regex(ts, /One exec\./);
  t.false(ts.includes(dir), "no absolute path in the output");
  markEsm(join(dir, "gen"));
  t.is(typeCheck([join(dir, "gen", "exec.ts")]), "", "the module compiles under tsc --strict");
  rmSync(join(dir, "gen", "package.json"));
  const first = readdirSync(join(dir, "gen")).map((f) => readFileSync(join(dir, "gen", f)));
  const again = await bpf2ts(["generate", "exec", "exec.bpf.c", "--output-dir", "gen", "--cflags", "-DSLOTS=8"], { cwd: dir });
  t.is(again.code, 0, again.stderr);
  t.deepEqual(readdirSync(join(dir, "gen")).map((f) => readFileSync(join(dir, "gen", f))), first);
});

test("generate: a clang error is printed verbatim, exits 1 and writes nothing", async (t) => {
  const dir = scratch(t);
  const r = await bpf2ts(["generate", "exec", "exec.bpf.c", "--target", "bpfel"], { cwd: dir });
  t.is(r.code, 1);
  t.regex(r.stderr, /^exec\.bpf\.c:\d+:2: error: "SLOTS must be defined"\n/);
  t.regex(r.stderr, /\d errors? generated\.\nbpf2ts: clang: compiling exec\.bpf\.c for bpfel failed \(exit 1\)\n$/);
  t.deepEqual(readdirSync(dir), ["exec.bpf.c"]);
});

test("generate: --target, --output-stem, --makebase, quoted --cflags", async (t) => {
  const dir = scratch(t, PROGRAM.replace('#error "SLOTS must be defined"', "#error no").replace("#ifndef SLOTS", '#if !defined(SLOTS) || !defined(NAME)'));
  const r = await bpf2ts(["generate", "exec", "exec.bpf.c", "--target", "x64", "--output-stem", "execsnoop", "--makebase", ".", "--cflags", `-DSLOTS=2 '-DNAME="a b"'`], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readdirSync(dir).sort(), ["exec.bpf.c", "execsnoop.d", "execsnoop.ts", "execsnoop_bpfel.o", "execsnoop_types.btf"]);
  const dep = readFileSync(join(dir, "execsnoop.d"), "utf8");
  t.is(dep, "execsnoop.ts execsnoop_bpfel.o execsnoop_types.btf: \\\n exec.bpf.c\n");
});

test("generate: missing clang names the package; --obj works without clang", async (t) => {
  const dir = scratch(t);
  const noClang = await bpf2ts(["generate", "exec", "exec.bpf.c"], { cwd: dir, env: { PATH: "/nonexistent" } });
  t.is(noClang.code, 1);
  t.regex(noClang.stderr, /bpf2ts: clang: none found on PATH .*apt-get install clang-19/);

  const built = await bpf2ts(["generate", "exec", "exec.bpf.c", "--target", "bpfel", "--", "-DSLOTS=4"], { cwd: dir, env: { PATH: `${clangDir()}:${process.env.PATH}` } });
  t.is(built.code, 0, built.stderr);
  // Repeatable options take one value each: "--type event again.bpf.c" must not swallow the positional.
  const fromObj = await bpf2ts(["generate", "again", "--event", "events=struct event", "--type", "event", "--obj", "exec_bpfel.o"], { cwd: dir, env: { PATH: "/nonexistent" } });
  // The object lacks `struct event` and there is no source to compile it from: a clear failure.
  t.is(fromObj.code, 1);
  t.regex(fromObj.stderr, /type(s)? .*struct event.* not found in the object's BTF \(give the C source/);
  const plain = await bpf2ts(["generate", "again", "--obj", "exec_bpfel.o"], { cwd: dir, env: { PATH: "/nonexistent" } });
  t.is(plain.code, 0, plain.stderr);
  t.regex(plain.stdout, /wrote again\.ts\nwrote again_bpfel\.o\n/);
  t.true(readFileSync(join(dir, "again_bpfel.o")).equals(readFileSync(join(dir, "exec_bpfel.o"))));
});

test("generate: unreadable input and unknown --type exit 1", async (t) => {
  const dir = scratch(t);
  const missing = await bpf2ts(["generate", "exec", "nope.bpf.c"], { cwd: dir });
  t.is(missing.code, 1);
  t.is(missing.stderr, "bpf2ts: nope.bpf.c: cannot read: no such file\n");
  const badType = await bpf2ts(["generate", "exec", "--type", "no_such_type", "exec.bpf.c", "--target", "bpfel", "--", "-DSLOTS=1"], { cwd: dir });
  t.is(badType.code, 1);
  t.regex(badType.stderr, /type no_such_type not found/);
  t.deepEqual(readdirSync(dir), ["exec.bpf.c"]);
});

test("generate: --type of a kernel struct the object does not use comes from vmlinux.h", async (t) => {
  const dir = tempDir(t, "bpf2ts-cli-test-");
  const r = await bpf2ts(["generate", "exec", join(repoRoot, "bpf/execsnoop/execsnoop.bpf.c"), "--target", "x64", "--type", "hlist_node", "--output-dir", dir, "--", `-I${join(repoRoot, "bpf")}`], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  const ts = readFileSync(join(dir, "exec.ts"), "utf8");
  t.regex(ts, /export interface ExecHlistNode \{/);
  t.regex(ts, /export const ExecHlistNode = struct<ExecHlistNode>\(\{[^]*?size: 16,/);
});

test("inspect: programs, maps, variables, inferred event type", async (t) => {
  const dir = scratch(t);
  const built = await bpf2ts(["generate", "exec", "exec.bpf.c", "--target", "bpfel", "--", "-DSLOTS=8"], { cwd: dir });
  t.is(built.code, 0, built.stderr);
  const r = await bpf2ts(["inspect", "exec_bpfel.o", "--source", "exec.bpf.c", "--cflags", "-DSLOTS=8"], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^exec_bpfel\.o: little-endian BPF object, license "GPL"\n/);
  t.regex(r.stdout, /handle_exec +SEC\("tracepoint\/syscalls\/sys_enter_execve"\) +tracepoint +tracepoint syscalls:sys_enter_execve +\d+ insns +auto-attach/);
  t.regex(r.stdout, /counts +array +key __u32 \(4 B\), value __u64 \(8 B\) +max_entries 8/);
  // The record type is only reserved: inspect compiles it from the source, as generate does.
  t.regex(r.stdout, /events +ringbuf +- +max_entries 4096 +event struct event \(20 B, inferred from source\)/);
  const noClang = await bpf2ts(["inspect", "exec_bpfel.o", "--source", "exec.bpf.c"], { cwd: dir, env: { PATH: "/nonexistent" } });
  t.is(noClang.code, 0, noClang.stderr);
  t.regex(noClang.stdout, /event struct event \(not in the object's BTF, inferred from source\)/);
  t.regex(r.stdout, /\.rodata\+0 +const volatile __u32 target_pid +4 B +constant/);
  const json = await bpf2ts(["inspect", "exec_bpfel.o", "--json"], { cwd: dir });
  t.is(json.code, 0);
  const model = JSON.parse(json.stdout) as { programs: Array<{ name: string; kind: string }>; maps: Array<{ name: string }> };
  t.deepEqual(model.programs.map((p) => [p.name, p.kind]), [["handle_exec", "tracepoint"]]);
  t.deepEqual(model.maps.map((m) => m.name), ["counts", "events"]);
  writeFileSync(join(dir, "junk.o"), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]));
  const notElf = await bpf2ts(["inspect", "junk.o"], { cwd: dir });
  t.is(notElf.code, 1);
  t.regex(notElf.stderr, /^bpf2ts: junk\.o: not an ELF file/);
  t.false(existsSync(join(dir, "exec.ts.tmp")));
});

test("a forgotten stem and inspect on C source say what happened and how to run it", async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, "package.json"), '{ "name": "app" }\n');
  const noStem = await bpf2ts(["generate", "exec.bpf.c"], { cwd: dir });
  t.is(noStem.code, 2);
  t.regex(noStem.stderr, /^bpf2ts: generate: exec\.bpf\.c is a file, and the stem is missing: bpf2ts generate <stem> <source\.bpf\.c> \[options\] \[-- <clang flags>\] \(as bpf2go <ident> <source>\), e\.g\. bpf2ts generate exec exec\.bpf\.c\n/);
  t.notRegex(noStem.stderr, /config|bpf2ts\.config\.json/, "not the config error");
  const inspectC = await bpf2ts(["inspect", "exec.bpf.c"], { cwd: dir });
  t.is(inspectC.code, 2);
  t.regex(inspectC.stderr, /^bpf2ts: inspect: exec\.bpf\.c is C source, not a compiled object: generate it first \(bpf2ts generate exec exec\.bpf\.c, then bpf2ts inspect exec_bpfel\.o --source exec\.bpf\.c\)\n/);
  t.notRegex(inspectC.stderr, /magic/);
});

test("a closed stdout (bpf2ts vmlinux | head) ends quietly: no EPIPE, no stack", async (t) => {
  if (!existsSync("/sys/kernel/btf/vmlinux")) {
    t.log("no /sys/kernel/btf/vmlinux: nothing to print");
    t.pass();
    return;
  }
  const r = await new Promise<{ code: number | null; stderr: string; head: string }>((resolve, reject) => {
    const child = spawn("bash", ["-c", `set -o pipefail; "${process.execPath}" "${bin}" vmlinux | head -n 2`], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let head = "";
    child.stdout.on("data", (b: Buffer) => (head += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr, head }));
  });
  t.is(r.head, "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n");
  t.is(r.stderr, "", "nothing on stderr");
  t.is(r.code, 0, "bpf2ts exits 0 when its reader stops early");
});

test("errors never point into the compiled files or their source maps", async (t) => {
  const dir = scratch(t, "int broken(void) { return }\n");
  for (const args of [["generate", "exec", "exec.bpf.c"], ["inspect", "nosuch.o"], ["check", "nosuch-dir-or-stem"]]) {
    const r = await bpf2ts(args, { cwd: dir });
    t.not(r.code, 0, args.join(" "));
    t.notRegex(r.stderr, /dist\/|\.js:\d+|\.ts:\d+:\d+\)|\.map\b/, `${args.join(" ")}: ${r.stderr}`);
  }
});
