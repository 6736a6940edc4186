// `bpf2ts generate` with no arguments: every configured program in parallel, plain progress lines off
// a terminal, failures isolated, and incremental skips (unchanged inputs skip; a touched-but-same
// header skips; a changed header rebuilds only its includers; options, outputs and --force count).

import test, { type ExecutionContext } from "ava";
import { readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { plainProgress, runParallel, ttyProgress } from "../generator/workflow/parallel.js";
import { tempDir } from "./helpers/temp-dir.js";
import { markEsm, typeCheck } from "./helpers/typecheck.js";
import { cli, helloSource, makeProject, treeHashes, writeFiles } from "./helpers/workflow-project.js";

const twoPrograms = (t: ExecutionContext) =>
  makeProject(t, {
    "bpf/common.h": "#define VALUE 7\n",
    "bpf/a.bpf.c": helloSource({ header: "common.h" }),
    "bpf/b.bpf.c": helloSource({ value: "2" }),
    "bpf2ts.config.json": { target: "bpfel", programs: [{ source: "bpf/a.bpf.c" }, { source: "bpf/b.bpf.c", outputDir: "gen" }] },
  });

const counts = (stdout: string) => /generate: (\d+) generated, (\d+) up to date/.exec(stdout)?.slice(1).map(Number);

test("generates every program; a second run skips; a header change rebuilds only its includers", async (t) => {
  const dir = twoPrograms(t);
  const first = await cli(dir, ["generate"]);
  t.is(first.code, 0, first.stderr);
  t.deepEqual(counts(first.stdout), [2, 0]);
  // Plain lines (not a terminal): one per program, numbered, naming what was written.
  t.regex(first.stdout, /^\[\d\/2\] a: wrote bpf\/a\.ts, bpf\/a_bpfel\.o \(\d+\.\ds\)$/m);
  t.regex(first.stdout, /^\[\d\/2\] b: wrote gen\/b\.ts, gen\/b_bpfel\.o \(\d+\.\ds\)$/m);
  t.notRegex(first.stdout, /\x1b\[/);
  // What a config run writes compiles under tsc --strict (checked from a copy: the tree is hashed below).
  const copy = tempDir(t, "bpf2ts-workflow-tsc-");
  markEsm(copy);
  for (const f of ["bpf/a.ts", "gen/b.ts"]) writeFileSync(join(copy, f.replace("/", "_")), readFileSync(join(dir, f)));
  t.is(typeCheck([join(copy, "bpf_a.ts"), join(copy, "gen_b.ts")]), "");
  const after1 = treeHashes(dir);

  // From a subdirectory: the same config (found upwards), the same cache, paths shown from there.
  const second = await cli(join(dir, "bpf"), ["generate"]);
  t.is(second.code, 0);
  t.deepEqual(counts(second.stdout), [0, 2]);
  t.regex(second.stdout, /a: up to date/);
  t.deepEqual(treeHashes(dir), after1);

  // Touching a header without changing it: the hash is the same, still skipped.
  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, "bpf/common.h"), later, later);
  t.deepEqual(counts((await cli(dir, ["generate"])).stdout), [0, 2]);

  // Changing the header: a (which includes it) is rebuilt and its object changes; b is not.
  writeFileSync(join(dir, "bpf/common.h"), "#define VALUE 8\n");
  const third = await cli(dir, ["generate"]);
  t.deepEqual(counts(third.stdout), [1, 1]);
  t.regex(third.stdout, /a: wrote bpf\/a\.ts/);
  t.regex(third.stdout, /b: up to date/);
  const after3 = treeHashes(dir);
  t.not(after3["bpf/a_bpfel.o"], after1["bpf/a_bpfel.o"]);
  t.is(after3["gen/b_bpfel.o"], after1["gen/b_bpfel.o"]);

  // --force rebuilds everything; the output is byte-identical (deterministic).
  const forced = await cli(dir, ["generate", "--force"]);
  t.deepEqual(counts(forced.stdout), [2, 0]);
  t.deepEqual(treeHashes(dir), after3);

  // An output deleted or edited by hand is regenerated.
  rmSync(join(dir, "gen/b.ts"));
  writeFileSync(join(dir, "bpf/a.ts"), "// edited\n");
  const repaired = await cli(dir, ["generate"]);
  t.deepEqual(counts(repaired.stdout), [2, 0]);
  t.deepEqual(treeHashes(dir), after3);

  // Options are part of the key: new cflags rebuild (and here change the object).
  writeFiles(dir, { "bpf2ts.config.json": { target: "bpfel", cflags: "-DEXTRA=1", programs: [{ source: "bpf/a.bpf.c" }, { source: "bpf/b.bpf.c", outputDir: "gen" }] } });
  t.deepEqual(counts((await cli(dir, ["generate"])).stdout), [2, 0]);

  // Naming programs generates only those.
  writeFileSync(join(dir, "bpf/common.h"), "#define VALUE 9\n");
  const named = await cli(dir, ["generate", "b"]);
  t.deepEqual(counts(named.stdout), [0, 1]);
  t.notRegex(named.stdout, /\ba: /);
});

test("a failing program does not stop the others; clang's diagnostics and a summary are printed; exit 1", async (t) => {
  const dir = twoPrograms(t);
  writeFileSync(join(dir, "bpf/a.bpf.c"), helloSource({ header: "common.h" }).replace("counter++;", "counter++ oops;"));
  const r = await cli(dir, ["generate"]);
  t.is(r.code, 1);
  t.regex(r.stdout, /a: failed: clang: compiling bpf\/a\.bpf\.c for bpfel failed/);
  t.regex(r.stderr, /bpf\/a\.bpf\.c:\d+:\d+: error: /); // clang's own diagnostic, verbatim
  t.regex(r.stdout, /b: wrote gen\/b\.ts/);
  t.regex(r.stderr, /^bpf2ts: generate: 1 generated, 0 up to date, 1 failed \(a\)$/m);
  t.truthy(readFileSync(join(dir, "gen/b.ts"), "utf8"));
  t.throws(() => readFileSync(join(dir, "bpf/a.ts")));
});

test("runParallel: at most `concurrency` jobs at once, outcomes in job order, failures are outcomes", async (t) => {
  let active = 0;
  let peak = 0;
  const lines: string[] = [];
  const jobs = Array.from({ length: 7 }, (_, i) => ({
    name: `job${i}`,
    run: async (status: (s: string) => void) => {
      active++;
      peak = Math.max(peak, active);
      status("working");
      await new Promise((r) => setTimeout(r, 5 + ((i * 7) % 4) * 5));
      active--;
      if (i === 3) throw new Error("boom");
      return i * 10;
    },
  }));
  const outcomes = await runParallel(jobs, { concurrency: 3, progress: plainProgress((s) => lines.push(s), jobs.length) });
  t.is(peak, 3);
  t.deepEqual(outcomes.map((o) => o.name), jobs.map((j) => j.name));
  t.deepEqual(outcomes.map((o) => (o.ok ? o.value : "failed")), [0, 10, 20, "failed", 40, 50, 60]);
  t.is(lines.length, 7);
  t.deepEqual(lines.map((l) => /^\[(\d)\/7\]/.exec(l)?.[1]), ["1", "2", "3", "4", "5", "6", "7"]);
  t.true(lines.some((l) => l === "[" + (lines.findIndex((x) => x.includes("job3")) + 1) + "/7] job3: failed: boom\n"));
});

test("ttyProgress redraws one line per job in place and prints logs above the block", (t) => {
  let out = "";
  const p = ttyProgress((s) => (out += s), ["alpha", "b"], 80);
  p.start("alpha");
  p.status("alpha", "compiling");
  p.log("a warning");
  p.finish("alpha", "wrote alpha.ts", true);
  p.finish("b", "failed: nope", false);
  p.close();
  t.true(out.includes("\x1b[2A"), "moves the cursor up over the two lines");
  t.true(out.includes("\x1b[J" + "a warning\n"), "clears the block before a log line");
  // The final frame: both lines, final states.
  const last = out.slice(out.lastIndexOf("\x1b[2A"));
  t.regex(last, /✓ alpha  wrote alpha\.ts/);
  t.regex(last, /✗ b      failed: nope/);
});
