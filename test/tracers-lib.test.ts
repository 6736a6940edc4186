// The user-space helpers the tracer CLIs share: the x86-64 RET finder (checked against objdump over
// whole binaries), ELF symbols, address and histogram formatting, tracefs symbol tables — and the
// CLIs themselves: option errors, --json output, and a clean stop on SIGINT.

import test, { type ExecutionContext } from "ava";
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { buildC, buildGo, requireFeature } from "./helpers/kernel.js";
import { assertReleased, linkCount, processKernelIds, repoRoot, sleep } from "./tracers-support.js";
import { ElfImage, STT_FUNC } from "@bpf2ts/runtime";
import { findReturns, instructionLength } from "../bpf/lib/x86-returns.js";
import { goBodyOffset } from "../bpf/lib/go-prologue.js";
import { log2Histogram } from "../bpf/lib/format.js";
import { formatAddress, tcpState } from "../bpf/lib/net.js";
import { syscallName, syscallNumber } from "../bpf/lib/syscalls.js";
import { UserSymbols } from "../bpf/lib/symbolize.js";
import { toJson } from "../bpf/lib/cli.js";

const execFileP = promisify(execFile);

function haveObjdump(): boolean {
  try {
    execFileSync("objdump", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Every RET address objdump finds in `file`, and how many functions disagree with findReturns. */
function compareWithObjdump(file: string): { functions: number; rets: number; mismatches: string[] } {
  const dis = execFileSync("objdump", ["-d", "--no-show-raw-insn", file], { encoding: "utf8", maxBuffer: 1 << 30 });
  const rets = new Set<bigint>();
  for (const m of dis.matchAll(/^\s+([0-9a-f]+):\s+(?:rep |repz )?ret/gm)) rets.add(BigInt("0x" + m[1]));
  const img = new ElfImage(file);
  let functions = 0;
  let total = 0;
  const mismatches: string[] = [];
  for (const s of img.symbols) {
    if (s.type !== STT_FUNC || s.size === 0 || img.fileOffset(s.address) === undefined) continue;
    functions++;
    const found = findReturns(img.functionBytes(s)).map((o) => s.address + BigInt(o));
    const expected = [...rets].filter((a) => a >= s.address && a < s.address + BigInt(s.size));
    total += expected.length;
    const key = (xs: bigint[]) => xs.map(String).sort().join(",");
    if (key(found) !== key(expected)) mismatches.push(s.name);
  }
  return { functions, rets: total, mismatches };
}

/** httptrace's Go test server, built, when objdump and go are here to compare against; else says why. */
function goServerForObjdump(t: ExecutionContext): string | undefined {
  if (!haveObjdump()) {
    t.log("objdump (binutils) not installed: comparison skipped");
    return undefined;
  }
  try {
    return buildGo("httpserver", readFileSync(join(repoRoot, "bpf/httptrace/testdata/server/main.go"), "utf8"));
  } catch (e) {
    t.log(`go unavailable: ${(e as Error).message}`);
    return undefined;
  }
}

test("the RET finder agrees with objdump on every function of a Go binary", (t) => {
  const bin = goServerForObjdump(t);
  if (bin === undefined) return t.pass();
  const r = compareWithObjdump(bin);
  t.log(`${r.functions} functions, ${r.rets} RETs`);
  t.true(r.functions > 1000 && r.rets > 1000);
  t.deepEqual(r.mismatches, []);
});

test("entry probes of a Go binary's functions go past the stack-bound check of every function that calls morestack", (t) => {
  const bin = goServerForObjdump(t);
  if (bin === undefined) return t.pass();
  // objdump's view: each function, its instructions' addresses, and whether it calls morestack.
  const dis = execFileSync("objdump", ["-d", "--no-show-raw-insn", bin], { encoding: "utf8", maxBuffer: 1 << 30 });
  const functions = new Map<string, { addrs: bigint[]; text: string }>();
  for (const block of dis.split(/\n(?=[0-9a-f]+ <)/)) {
    const head = /^([0-9a-f]+) <(.+)>:/.exec(block);
    if (!head) continue;
    const addrs = [...block.matchAll(/^\s+([0-9a-f]+):/gm)].map((m) => BigInt("0x" + m[1]));
    functions.set(head[2]!, { addrs, text: block });
  }
  const img = new ElfImage(bin);
  let split = 0;
  const mismatches: string[] = [];
  for (const s of img.symbols) {
    const f = functions.get(s.name);
    if (s.type !== STT_FUNC || s.size === 0 || !f) continue;
    const offset = goBodyOffset(img.functionBytes(s));
    // A split function's check jumps to a morestack call, which jumps back to the first byte.
    const callsMorestack = /call\s+[0-9a-f]+ <runtime\.morestack/.test(f.text);
    if (callsMorestack) split++;
    const atInstruction = offset === 0 || f.addrs.includes(s.address + BigInt(offset));
    if (callsMorestack !== offset > 0 || !atInstruction) mismatches.push(`${s.name} (+${offset})`);
  }
  t.log(`${functions.size} functions, ${split} with a stack-bound check`);
  t.true(split > 1000);
  t.deepEqual(mismatches, []);
  // runtime.mallocgc: cmp rsp, [r14+16]; jbe rel32 — the body starts at +10.
  t.is(goBodyOffset(Uint8Array.from([0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0xbe, 8, 0, 0, 0x48, 0x83, 0xec, 0x70])), 10);
  // runtime.gcMarkTermination: lea r12, [rsp-0x130]; cmp r12, [r14+16]; jbe rel32 — +18.
  t.is(goBodyOffset(Uint8Array.from([0x4c, 0x8d, 0xa4, 0x24, 0xd0, 0xfe, 0xff, 0xff, 0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0x7a, 0x0c, 0, 0, 0x48])), 18);
  // A nosplit function (runtime.chansend1 starts with sub rsp, 0x28): no check, the entry itself.
  t.is(goBodyOffset(Uint8Array.from([0x48, 0x83, 0xec, 0x28, 0x48, 0x89, 0x6c, 0x24, 0x20])), 0);
});

test("the RET finder agrees with objdump on libc (SSE, AVX2, AVX-512 encodings)", (t) => {
  if (!haveObjdump()) return t.pass("objdump (binutils) not installed: comparison skipped");
  const libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"].find(existsSync);
  if (!libc) return t.pass("no x86-64 libc here");
  const r = compareWithObjdump(realpathSync(libc));
  t.log(`${r.functions} functions, ${r.rets} RETs`);
  t.true(r.functions > 500);
  t.deepEqual(r.mismatches, []);
});

test("instruction lengths of hand-picked encodings", (t) => {
  const cases: Array<[number[], number]> = [
    [[0xc3], 1], // ret
    [[0x48, 0x89, 0xe5], 3], // mov rbp, rsp
    [[0x48, 0x8b, 0x44, 0x24, 0x08], 5], // mov rax, [rsp+8]
    [[0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], 10], // movabs rax, imm64
    [[0x66, 0x81, 0xf9, 0x34, 0x12], 5], // cmp cx, 0x1234 (imm16 under 0x66)
    [[0xe8, 0, 0, 0, 0], 5], // call rel32
    [[0x0f, 0x84, 0, 0, 0, 0], 6], // je rel32
    [[0xf6, 0x40, 0x10, 0x01], 4], // test byte [rax+16], 1
    [[0xc5, 0xfd, 0x6f, 0x06], 4], // vmovdqa ymm0, [rsi]
    [[0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x06], 6], // vmovdqu64 zmm0, [rsi]
    [[0xc4, 0xe3, 0x7d, 0x39, 0xc1, 0x01], 6], // vextracti128 xmm1, ymm0, 1
    [[0x48, 0x8d, 0x05, 0, 0, 0, 0], 7], // lea rax, [rip+0]
  ];
  for (const [bytes, len] of cases) t.is(instructionLength(Uint8Array.from(bytes), 0), len, bytes.map((b) => b.toString(16)).join(" "));
  // A C3 inside an immediate is not a return.
  t.deepEqual(findReturns(Uint8Array.from([0xb8, 0xc3, 0, 0, 0, 0xc3, 0xcc, 0xcc])), [5]);
});

test("address, state and syscall formatting", (t) => {
  t.is(formatAddress(2, [127, 0, 0, 1, 9, 9, 9, 9]), "127.0.0.1");
  t.is(formatAddress(10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), "::1");
  t.is(formatAddress(10, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), "2001:db8::1:0:0:1");
  t.is(formatAddress(10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 7]), "::ffff:10.0.0.7");
  t.is(tcpState(1), "ESTABLISHED");
  t.is(tcpState(99), "STATE_99");
  t.is(syscallName(0), "read");
  t.is(syscallName(59), "execve");
  t.is(syscallNumber("openat"), 257);
  t.is(syscallName(99999), "syscall_99999");
  t.is(toJson({ a: 1n, b: 2n ** 64n, c: new Uint32Array([1, 2]) }), '{"a":1,"b":"18446744073709551616","c":[1,2]}');
});

test("log2 histograms print like bcc's", (t) => {
  const text = log2Histogram([0, 4, 2, 0, 1], "usecs");
  const lines = text.trimEnd().split("\n");
  t.regex(lines[0]!, /usecs\s+: count\s+distribution/);
  t.is(lines.length, 6, "one line per bucket up to the last non-empty one");
  t.regex(lines[2]!, /^\s+2 -> 3\s+: 4\s+\|\*{40}\|$/);
  t.regex(lines[3]!, /^\s+4 -> 7\s+: 2\s+\|\*{20}\s{20}\|$/);
  t.regex(log2Histogram([0, 0], "msecs"), /no samples/);
});

const cli = (name: string) => join(repoRoot, "dist/bpf", name, "cli.js");

test("tracer CLIs reject bad options with exit code 2 and print usage with --help", async (t) => {
  const bad = await execFileP(process.execPath, [cli("execsnoop"), "--uid", "nope"]).then(() => undefined, (e: { code: number; stderr: string }) => e);
  t.is(bad?.code, 2);
  t.regex(bad!.stderr, /--uid: expected an integer/);
  const unknown = await execFileP(process.execPath, [cli("opensnoop"), "--frobnicate"]).then(() => undefined, (e: { code: number; stderr: string }) => e);
  t.is(unknown?.code, 2);
  t.regex(unknown!.stderr, /Usage: opensnoop/);
  const names = ["execsnoop", "opensnoop", "syscount", "runqlat", "tcpstates", "softirqs", "profile", "gotrace", "httptrace", "dropwatch", "oomkill", "tcpconnlat", "offcputime", "biolatency", "sslsniff", "netrecvlat", "hungtask"];
  const helps = await Promise.all(names.map((name) => execFileP(process.execPath, [cli(name), "--help"])));
  for (const [i, { stdout }] of helps.entries()) {
    const name = names[i]!;
    t.regex(stdout, new RegExp(`^Usage: ${name} \\[options\\]`), name);
    t.regex(stdout, /--duration SECONDS/, `${name} takes --duration`);
    t.regex(stdout, /--json/, `${name} takes --json`);
  }
  const noBinary = await execFileP(process.execPath, [cli("gotrace")]).then(() => undefined, (e: { code: number; stderr: string }) => e);
  t.is(noBinary?.code, 2);
  t.regex(noBinary!.stderr, /--binary is required/);
});

test("a SIGTERM while a tracer is still setting up stops it through its cleanup once set-up is done; a second one kills", async (t) => {
  const lib = new URL("../bpf/lib/cli.js", import.meta.url).href;
  const run = (body: string) =>
    new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, ["--input-type=module", "-e", `import { main, untilStopped } from ${JSON.stringify(lib)};\n${body}`], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      p.on("exit", (code, signal) => resolve({ code, signal, out }));
    });
  // The signal arrives during "loading"; untilStopped, called later, returns at once and cleanup runs.
  const early = await run(`main("t", async () => { process.kill(process.pid, "SIGTERM"); await new Promise((r) => setTimeout(r, 300)); process.stdout.write(await untilStopped(60) + "\\n"); process.stdout.write("cleaned up\\n"); });`);
  t.deepEqual(early, { code: 0, signal: null, out: "signal\ncleaned up\n" });
  // A second signal during a cleanup that hangs kills the process, as without a handler.
  const stuck = await run(`main("t", async () => { setTimeout(() => process.kill(process.pid, "SIGTERM"), 100); await untilStopped(60); process.stdout.write("cleaning\\n"); process.kill(process.pid, "SIGTERM"); await new Promise((r) => setTimeout(r, 5000)); process.stdout.write("never\\n"); });`);
  t.deepEqual(stuck, { code: null, signal: "SIGTERM", out: "cleaning\n" });
});

test.serial("execsnoop's CLI (the README demo) prints exec events as JSON lines and stops on SIGINT with its links detached", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const proc = spawn(process.execPath, [cli("execsnoop"), "--json", "--ppid", String(process.pid)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const token = `cli-${process.pid}-${Date.now()}`;
  let seen = false;
  for (let i = 0; i < 100 && !seen; i++) {
    await execFileP("/bin/echo", [token]);
    await sleep(100);
    seen = out.includes(token);
  }
  t.true(seen, `the CLI printed the exec (stderr: ${err})`);
  const line = out.split("\n").find((l) => l.includes(token))!;
  const e = JSON.parse(line) as { comm: string; args: string[]; ppid: number; retval: number };
  t.is(e.comm, "echo");
  t.deepEqual(e.args, ["/bin/echo", token]);
  t.is(e.ppid, process.pid);
  t.is(e.retval, 0);
  // What the CLI holds in the kernel, read from its fds while it runs.
  const ids = processKernelIds(proc.pid!);
  t.is(ids.programs.length, 2, "both execsnoop programs loaded");
  t.is(linkCount(ids), 2, "and attached");
  proc.kill("SIGINT");
  const code = await new Promise((r) => proc.on("exit", (c) => r(c)));
  t.is(code, 0, "a clean exit on Ctrl-C");
  await assertReleased(t, ids);
});

test.serial("profile's CLI prints folded stacks with symbolized user frames", async (t) => {
  if (!(await requireFeature(t, "root", "perf_event", "btf", "gcc"))) return;
  const bin = buildC("spin", `__attribute__((noinline)) void spin_here_forever(void) { for (volatile unsigned long i = 0;; i++); }\nint main(void) { spin_here_forever(); }\n`, ["-O1", "-fno-omit-frame-pointer"]);
  const spinner = spawn(bin, [], { stdio: "ignore" });
  try {
    const { stdout } = await execFileP(process.execPath, [cli("profile"), "--pid", String(spinner.pid), "--duration", "2", "--frequency", "99"]);
    const lines = stdout.trim().split("\n");
    t.true(lines.length >= 1, stdout);
    for (const l of lines) t.regex(l, /^[^; ]+(;[^ ]+)* \d+$/, "folded format: comm;frames count");
    const total = lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    const inSpin = lines.filter((l) => l.includes(";spin_here_forever")).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    t.true(total > 0 && inSpin * 2 >= total, `most samples in spin_here_forever (${inSpin}/${total})`);
    t.true(lines.every((l) => l.startsWith(basename(bin).slice(0, 15) + ";")), "comm first");
  } finally {
    spinner.kill();
  }
});

test.serial("user symbols come from ELF files mapped by the process, JIT frames from /tmp/perf-PID.map", (t) => {
  const usyms = new UserSymbols();
  // This very process: node's own symbols resolve an address inside its text.
  const maps = readFileSync("/proc/self/maps", "utf8").split("\n").map((l) => l.split(/\s+/));
  const exe = realpathSync(process.execPath);
  const text = maps.find((f) => f[5] === exe && f[1]!.includes("x"))!;
  const start = BigInt("0x" + text[0]!.split("-")[0]);
  const img = new ElfImage(exe);
  const fn = img.symbols.find((s) => s.type === STT_FUNC && s.size > 16 && img.fileOffset(s.address)! >= BigInt("0x" + text[2]!))!;
  const addr = start + (img.fileOffset(fn.address)! - BigInt("0x" + text[2]!)) + 4n;
  t.is(usyms.lookup(process.pid, addr), fn.name);
  // An address in no file mapping resolves through the perf map when there is one.
  const perfMap = `/tmp/perf-${process.pid}.map`;
  writeFileSync(perfMap, "10 20 JS:~old\n10 20 JS:*fresh [eval]:1:2\n");
  try {
    const fresh = new UserSymbols();
    t.is(fresh.lookup(process.pid, 0x18n), "JS:*fresh [eval]:1:2", "the last entry for an address wins");
    t.is(fresh.lookup(process.pid, 0x40n), undefined);
  } finally {
    rmSync(perfMap, { force: true });
  }
});

test("every tracer has its generated module, object, CLI and a config entry", (t) => {
  const bpf = join(repoRoot, "bpf");
  const config = JSON.parse(readFileSync(join(bpf, "bpf2ts.config.json"), "utf8")) as { programs: Array<{ source: string }> };
  const configured = config.programs.map((p) => p.source).sort();
  const tracers = readdirSync(bpf, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(bpf, d.name, `${d.name}.bpf.c`)))
    .map((d) => d.name)
    .sort();
  t.true(tracers.length >= 11, tracers.join(" "));
  t.deepEqual(configured, tracers.map((n) => `${n}/${n}.bpf.c`), "bpf2ts.config.json lists exactly the tracers");
  for (const n of tracers) {
    for (const f of [`${n}.ts`, `${n}_bpfel.o`, "cli.ts"]) t.true(existsSync(join(bpf, n, f)), `${n}/${f}`);
    const c = readFileSync(join(bpf, n, `${n}.bpf.c`), "utf8");
    t.regex(c, /char LICENSE\[\] SEC\("license"\) = "GPL";/, `${n} declares its license`);
    t.regex(readFileSync(join(bpf, n, `${n}.ts`), "utf8"), new RegExp(`^// @generated by bpf2ts .* from ${n}\\.bpf\\.c`, "m"), `${n}.ts is generated from ${n}.bpf.c`);
  }
});
