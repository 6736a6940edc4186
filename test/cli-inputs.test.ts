// Paths and arguments (issue 11 item 5, the generator's half): stems that would write outside the
// output directory are bad usage (exit 2); inputs are read only from regular files, up to a size
// cap; output is all-or-nothing even when putting a file in place fails half-way.

import test from "ava";
import { spawnSync } from "node:child_process";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeAllOrNothing } from "../generator/files.js";
import { repoRoot } from "./helpers/compile-c.js";
import { tempDir } from "./helpers/temp-dir.js";

const bin = join(repoRoot, "bin", "bpf2ts.js");
const OBJECT = join(repoRoot, "fixtures/objects/minimal.bpfel.o");

function bpf2ts(args: readonly string[], cwd: string) {
  const start = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8", timeout: 60_000, env: { ...process.env, BPF2TS_DEBUG: "" } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - start };
}

test("a stem or --output-stem that is a path (../x, a/b) is bad usage: exit 2, nothing written anywhere", (t) => {
  const dir = tempDir(t, "bpf2ts-stem-");
  const out = join(dir, "out");
  mkdirSync(out);
  for (const args of [
    ["generate", "x", "--obj", OBJECT, "--output-dir", out, "--output-stem", "../x"],
    ["generate", "x", "--obj", OBJECT, "--output-dir", out, "--output-stem", "a/b"],
    ["generate", "../x", "--obj", OBJECT, "--output-dir", out],
    ["generate", "1x", "--obj", OBJECT, "--output-dir", out],
  ]) {
    const r = bpf2ts(args, dir);
    t.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, /^bpf2ts: generate: (--output-)?stem "[^"]+" must start with a letter or _ and hold only letters, digits, _ and -.*\nRun with --help for usage\.\n$/);
  }
  t.deepEqual(readdirSync(dir), ["out"]);
  t.deepEqual(readdirSync(out), []);
});

test("bad option values are bad usage in every command: exit 2 naming the option", (t) => {
  const dir = tempDir(t, "bpf2ts-usage-");
  for (const [args, message] of [
    [["check", "-j", "0"], /^bpf2ts: --jobs: expected a positive integer, got 0\n/],
    [["generate", "--jobs", "abc"], /^bpf2ts: --jobs: expected a positive integer, got NaN\n/],
    [["watch", "-j", "-3"], /^bpf2ts: --jobs: expected a positive integer, got -3\n/],
    [["watch", "--debounce", "soon"], /^bpf2ts: watch: --debounce: expected milliseconds \(0 or more\), got NaN\n/],
    [["check", "--diff-lines", "-1"], /^bpf2ts: check: --diff-lines: expected a whole number of lines, got -1\n/],
    [["generate", "x", "--obj", OBJECT, "--event", "foo"], /^bpf2ts: --event: "foo" is not map=type/],
    [["init", "Bad"], /^bpf2ts: init: "Bad" is not a usable tracer name/],
    // A path option given no value: "" would mean the current directory or the default.
    [["generate", "x", "--obj", OBJECT, "--output-dir"], /^bpf2ts: --output-dir needs a value\n/],
    [["vmlinux", "--btf", ""], /^bpf2ts: --btf needs a value\n/],
    [["check", "--config="], /^bpf2ts: --config needs a value\n/],
  ] as Array<[string[], RegExp]>) {
    const r = bpf2ts(args, dir);
    t.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(" "));
  }
  t.deepEqual(readdirSync(dir), [], "nothing written");
});

test("inputs must be regular files under the size cap: /dev/zero, a FIFO, a directory, a 300 MB file fail at once naming the file", (t) => {
  const dir = tempDir(t, "bpf2ts-inputs-");
  execFileSync("mkfifo", [join(dir, "fifo")]);
  mkdirSync(join(dir, "adir"));
  execFileSync("truncate", ["-s", "300M", join(dir, "huge.o")]); // sparse: the cap refuses it before reading
  const cases: Array<[string[], RegExp]> = [
    [["inspect", "/dev/zero"], /^bpf2ts: \/dev\/zero: cannot read: not a regular file \(a character device\)\n$/],
    [["inspect", "fifo"], /^bpf2ts: fifo: cannot read: not a regular file \(a FIFO\)\n$/],
    [["inspect", "adir"], /^bpf2ts: adir: cannot read: (is a directory|not a regular file \(a directory\))\n$/],
    [["inspect", "huge.o"], /^bpf2ts: huge\.o: cannot read: 314572800 bytes, more than the 268435456-byte limit for an input\n$/],
    [["generate", "x", "--obj", "/dev/zero"], /^bpf2ts: \/dev\/zero: cannot read: not a regular file \(a character device\)\n$/],
    [["generate", "x", "fifo"], /^bpf2ts: fifo: cannot read: not a regular file \(a FIFO\)\n$/],
    [["vmlinux", "--btf", "/dev/zero"], /^bpf2ts: \/dev\/zero: cannot read: not a regular file \(a character device\)\n$/],
    // A config is an input too (it was read to the end: /dev/zero never finished).
    [["check", "--config", "/dev/zero"], /^bpf2ts: [^\n]*cannot read: not a regular file \(a character device\)\n$/],
    [["generate", "--config", "fifo"], /^bpf2ts: [^\n]*cannot read: not a regular file \(a FIFO\)\n$/],
  ];
  for (const [args, message] of cases) {
    const r = bpf2ts(args, dir);
    t.is(r.signal, null, args.join(" "));
    t.is(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(" "));
    t.true(r.ms < 20_000, `${args.join(" ")} took ${r.ms.toFixed(0)} ms`);
  }
  t.deepEqual(readdirSync(dir).sort(), ["adir", "fifo", "huge.o"]);
});

test("writeAllOrNothing: a failure while putting files in place restores every old file and leaves no temporary file", (t) => {
  const dir = tempDir(t, "bpf2ts-atomic-");
  writeFileSync(join(dir, "a.ts"), "old a");
  writeFileSync(join(dir, "keep.txt"), "user file");
  mkdirSync(join(dir, "c.o")); // a directory where the last file goes: linking it aside or renaming onto it fails
  writeFileSync(join(dir, "c.o", "inside"), "x");
  const e = t.throws(() =>
    writeAllOrNothing(dir, [
      { path: "a.ts", contents: "new a" },
      { path: "b.o", contents: new Uint8Array([1, 2, 3]) },
      { path: "c.o", contents: "new c" },
    ], ["keep.txt"]),
  )!;
  t.regex(e.message, /^write: .+: .+; nothing was changed$/);
  t.is(readFileSync(join(dir, "a.ts"), "utf8"), "old a", "the replaced file is back");
  t.false(existsSync(join(dir, "b.o")), "the new file is gone");
  t.is(readFileSync(join(dir, "keep.txt"), "utf8"), "user file", "the file to remove is still there");
  t.deepEqual(readdirSync(dir).sort(), ["a.ts", "c.o", "keep.txt"], "no temporary or backup file left");
  t.deepEqual(readdirSync(join(dir, "c.o")), ["inside"]);

  // And when nothing fails: new contents in place, the removed file gone, no leftovers.
  writeAllOrNothing(dir, [{ path: "a.ts", contents: "new a" }, { path: "sub/b.o", contents: "b" }], ["keep.txt"]);
  t.deepEqual(readdirSync(dir).sort(), ["a.ts", "c.o", "sub"]);
  t.is(readFileSync(join(dir, "a.ts"), "utf8"), "new a");
  t.deepEqual(readdirSync(join(dir, "sub")), ["b.o"]);
});

test("generate: when the last output cannot be put in place, the earlier ones are rolled back (exit 1, old module kept)", (t) => {
  const dir = tempDir(t, "bpf2ts-rollback-");
  writeFileSync(join(dir, "x.ts"), "// the previous module\n");
  mkdirSync(join(dir, "x_bpfel.o")); // generate writes x.ts, then x_bpfel.o
  const r = bpf2ts(["generate", "x", "--obj", OBJECT], dir);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^bpf2ts: write: .+; nothing was changed\n$/);
  t.is(readFileSync(join(dir, "x.ts"), "utf8"), "// the previous module\n");
  t.deepEqual(readdirSync(dir).sort(), ["x.ts", "x_bpfel.o"]);
});
