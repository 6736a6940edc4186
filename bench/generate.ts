// Benchmark: the `bpf2ts` command against what a user compares it with, whole process each, paired
// runs in alternating order, medians with their spread (min–max):
//   - `generate` execsnoop, one target (x64) vs cilium/ebpf's bpf2go (Debian's 0.9.1, built here with
//     Go 1.19) `-target amd64`; both byte orders vs bpf2go's default bpfel,bpfeb (clang-19, llvm-strip-19)
//   - `bpf2ts --help` vs `node -e 0` (the start-up floor)
//   - every program of fixtures/corpus (libbpf-tools style), one `generate --target x64` each, vs
//     clang alone compiling the same file with the same flags.
// The one-target and corpus rows also print their floor: `node -e 0` then clang alone, which a node CLI
// cannot go under (clang starts only once node has), as a ratio to the reference.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clangArgs } from "../generator/compile/clang.js";
import { median, timeCommand } from "./util.js";

/** One comparison: our times and the reference's, in ms, paired. */
export interface GenerateRow {
  readonly what: string;
  readonly reference: string;
  readonly ours: readonly number[];
  readonly theirs: readonly number[];
  /** BENCH_BEFORE's times, paired with ours (a before/after comparison in the same run). */
  readonly before?: readonly number[];
  /** The goal for ours/theirs (lower is better), or an absolute goal in ms for ours. */
  readonly target: { ratio?: number; oursMs?: number };
  /** What no node CLI can go under, measured in the same run: node's start-up, then clang alone; as a ratio to the reference. */
  readonly floor?: { readonly what: string; readonly ratio: number };
}

export interface GenerateBenchResult {
  rows: GenerateRow[];
  notes: string[];
}

const root = fileURLToPath(new URL("../..", import.meta.url));
const gopath = "/usr/share/gocode";
const cc = "clang-19";

/** Builds bpf2go from Debian's golang-github-cilium-ebpf-dev sources; undefined when Go is missing. */
function buildBpf2go(dir: string): string | undefined {
  if (!existsSync(join(gopath, "src/github.com/cilium/ebpf/cmd/bpf2go"))) return undefined;
  const out = join(dir, "bpf2go");
  const r = spawnSync("go", ["build", "-o", out, "github.com/cilium/ebpf/cmd/bpf2go"], {
    env: { ...process.env, GOPATH: gopath, GO111MODULE: "off", GOFLAGS: "", GOCACHE: join(tmpdir(), "bpf2ts-bench-gocache") },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`bench: building bpf2go failed: ${r.stderr || r.error}`);
  return out;
}

/** `runs` rounds of every fn, each round starting with a different one; a warm-up of each first. */
function rounds(runs: number, fns: ReadonlyArray<() => number>): number[][] {
  for (const f of fns) f();
  const out = fns.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < fns.length; j++) {
      const k = (i + j) % fns.length;
      out[k]!.push(fns[k]!());
    }
  }
  return out;
}

const bpf2ts = join(root, "bin/bpf2ts.js");
// BENCH_BEFORE: another checkout's bin/bpf2ts.js, timed beside this one in the same rounds.
const before = process.env.BENCH_BEFORE;
const node = (args: string[], cwd = root) => timeCommand(process.execPath, args, { cwd }).ms;

/** `onRow`: each row as soon as it is measured (the whole bench takes minutes). */
export function runGenerateBench(runs = Number(process.env.BENCH_RUNS ?? 7), onRow?: (row: GenerateRow) => void): GenerateBenchResult {
  const work = mkdtempSync(join(tmpdir(), "bpf2ts-bench-gen-"));
  const rows: GenerateRow[] = [];
  const add = (row: GenerateRow) => {
    rows.push(row);
    onRow?.(row);
  };
  const notes: string[] = [];
  try {
    // `floor`: timed in the same rounds, reported as a ratio to the reference (pair by pair).
    const withBefore = (ours: (bin: string) => () => number, theirs: () => number, floor?: { what: string; run: () => number }) => {
      const [a, b, ...rest] = rounds(runs, [ours(bpf2ts), theirs, ...(floor ? [floor.run] : []), ...(before ? [ours(before)] : [])]);
      const floorTimes = floor ? rest.shift()! : undefined;
      const c = rest[0];
      return {
        ours: a!,
        theirs: b!,
        ...(c && { before: c }),
        ...(floor && { floor: { what: floor.what, ratio: median(floorTimes!.map((x, i) => x / b![i]!)) } }),
      };
    };
    const help = withBefore((bin) => () => node([bin, "--help"]), () => node(["-e", "0"]));
    add({ what: "bpf2ts --help", reference: "node -e 0", ...help, target: { oursMs: 80 } });

    const bpf2go = buildBpf2go(work);
    const source = join(root, "bpf/execsnoop/execsnoop.bpf.c");
    const cflags = [`-I${join(root, "bpf")}`, "-D__TARGET_ARCH_x86"];
    const goOut = join(work, "go");
    const tsOut = join(work, "ts");
    mkdirSync(goOut);
    mkdirSync(tsOut);
    if (!bpf2go) {
      notes.push("bpf2go rows skipped: golang-github-cilium-ebpf-dev (and golang-go) are not installed");
    } else {
      for (const [what, tsTarget, goTarget, ratio] of [
        ["generate execsnoop, one target", "x64", "amd64", 1.0],
        ["generate execsnoop, bpfel+bpfeb", "bpfel,bpfeb", "bpfel,bpfeb", 0.8],
      ] as const) {
        const goRun = () =>
          timeCommand(bpf2go, ["-cc", cc, "-strip", "llvm-strip-19", "-target", goTarget, "execsnoop", source, "--", ...cflags], {
            cwd: goOut,
            env: { ...process.env, GOPACKAGE: "main" },
          }).ms;
        const tsRun = (bin: string) => () => node([bin, "generate", "execsnoop", source, "--cc", cc, "--target", tsTarget, "--output-dir", tsOut, "--", ...cflags]);
        add({ what, reference: `bpf2go 0.9.1 -target ${goTarget}`, ...withBefore(tsRun, goRun, tsTarget === "x64" ? oneTargetFloor(work, source, cflags) : undefined), target: { ratio } });
      }
    }

    const corpus = join(root, "fixtures/corpus");
    // BENCH_CORPUS=N: the first N programs only (a busy machine).
    const all = existsSync(corpus) ? readdirSync(corpus).filter((t) => existsSync(join(corpus, t, `${t}.bpf.c`))).sort() : [];
    const tools = all.slice(0, Number(process.env.BENCH_CORPUS ?? all.length));
    if (tools.length === 0) {
      notes.push("many-programs row skipped: no fixtures/corpus");
    } else {
      // One round over the corpus (each program once each way, order alternating): per program the
      // pair runs back to back, so load changes hit both.
      const includes = ["-I", join(root, "bpf"), "-I", join(corpus, "include")];
      const ours: number[] = [];
      const theirs: number[] = [];
      const was: number[] = [];
      tools.forEach((tool, i) => {
        const src = join(corpus, tool, `${tool}.bpf.c`);
        const out = join(work, "corpus", tool);
        const tsRun = (bin: string) => () => node([bin, "generate", tool, src, "--cc", cc, "--target", "x64", "--output-dir", out, "--", ...includes]);
        // clang with the command line bpf2ts runs (its reproducibility and include flags too), alone.
        const clangArgv = clangArgs({ source: src, output: join(work, `${tool}.o`), depfile: join(work, `${tool}.d`), target: { endian: "bpfel", arch: "x86" }, cflags: includes, cwd: root });
        const clangRun = () => timeCommand(cc, clangArgv, { cwd: root }).ms;
        const fns = [tsRun(bpf2ts), clangRun, ...(before ? [tsRun(before)] : [])];
        const times = new Array<number>(fns.length);
        for (let j = 0; j < fns.length; j++) {
          const k = (i + j) % fns.length;
          times[k] = fns[k]!();
        }
        ours.push(times[0]!);
        theirs.push(times[1]!);
        if (before) was.push(times[2]!);
      });
      const nodeMs = median(help.theirs);
      const floor = { what: `node -e 0 (${nodeMs.toFixed(0)} ms) before each clang`, ratio: median(theirs.map((c) => (nodeMs + c) / c)) };
      add({ what: `generate each of ${tools.length} corpus programs (x64)`, reference: "clang alone, same file and flags", ours, theirs, ...(before && { before: was }), target: { ratio: 1.2 }, floor });
    }
    return { rows, notes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * One target's floor: `node -e 0`, then clang alone running bpf2ts's command line for that target,
 * as a node CLI must run them (clang cannot start before node has).
 */
function oneTargetFloor(work: string, source: string, cflags: readonly string[]): { what: string; run: () => number } {
  const argv = clangArgs({ source, output: join(work, "floor.o"), depfile: join(work, "floor.d"), target: { endian: "bpfel", arch: "x86" }, cflags, cwd: root });
  return { what: "node -e 0, then clang alone", run: () => node(["-e", "0"]) + timeCommand(cc, argv, { cwd: root }).ms };
}

const spread = (xs: readonly number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

export function formatGenerateBench(r: GenerateBenchResult): string {
  const lines: string[] = [];
  for (const row of r.rows) {
    const o = median(row.ours);
    const t = median(row.theirs);
    // Per-pair ratios: their median and spread say more than the ratio of medians on a busy machine.
    const ratios = row.ours.map((x, i) => x / row.theirs[i]!);
    const ratio = median(ratios);
    const total = row.ours.length > 10 ? `, total ${(sum(row.ours) / 1000).toFixed(1)} s vs ${(sum(row.theirs) / 1000).toFixed(1)} s (${(sum(row.ours) / sum(row.theirs)).toFixed(2)}×)` : "";
    const goal =
      row.target.oursMs !== undefined
        ? `goal ≤ ${row.target.oursMs} ms: ${o <= row.target.oursMs ? "meets" : "MISSES"} (over node -e 0: ${(o - t).toFixed(0)} ms)`
        : `goal ≤ ${row.target.ratio}×: ${ratio <= row.target.ratio! ? "meets" : "MISSES"}`;
    const was = row.before
      ? `; before (BENCH_BEFORE) ${median(row.before).toFixed(0)} ms (${spread(row.before)}), ratio ${median(row.before.map((x, i) => x / row.theirs[i]!)).toFixed(2)}×${row.before.length > 10 ? `, total ${(sum(row.before) / 1000).toFixed(1)} s` : ""}`
      : "";
    const floor = row.floor ? `; floor: ${row.floor.what} = ${row.floor.ratio.toFixed(2)}×` : "";
    lines.push(
      `${row.what}: bpf2ts ${o.toFixed(0)} ms (${spread(row.ours)}), ${row.reference} ${t.toFixed(0)} ms (${spread(row.theirs)}), ratio ${ratio.toFixed(2)}× (pairs ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}, n=${row.ours.length})${total}${was}${floor} — ${goal}`,
    );
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { notes } = runGenerateBench(undefined, (row) => console.log(formatGenerateBench({ rows: [row], notes: [] })));
  for (const n of notes) console.log(`note: ${n}`);
}
