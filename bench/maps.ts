// Hash-map lookups and updates from user space: bpf2ts against C over libbpf and Go over
// cilium/ebpf 0.9.1 (/work/shared/yardstick/maps, built and run in the same bench run). Same shape
// as the yardstick: 4-byte key, 16-byte value, 1024 keys in a 4096-entry hash, 2 M operations.
// Each side runs as its own process pinned to the same CPU (MAPS_CPU, default 0), bpf2ts too
// (`node dist/bench/maps.js --rates N` prints its rates as JSON), so none shares its CPU with the
// bench process or migrates mid-run. MAPS_ROUNDS (9): interleaved rounds, reported as medians with
// their range; ratios are taken round by round. MAPS_BASELINE: another build's dist/bench/maps.js,
// run in the same rounds (before/after a change in one run).

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { codecs, createMap, type ArrayMap, type HashMap } from "@bpf2ts/runtime";
import { median, runPinned } from "./util.js";
// The fixture's `struct val { __u64 a, b; }` with its codec as `bpf2ts generate` emits it, so the
// benchmark measures what a user's generated module does.
import { type BenchVal as Val, BenchVal } from "../fixtures/golden/bench/bench.js";

export interface OpsRate {
  lookupPerSec: number;
  updatePerSec: number;
}

/** bpf2ts's other paths, per entry: batch calls over the 1024 keys, and a BPF_F_MMAPABLE array. */
export interface FastRates {
  batchLookupPerSec: number;
  batchUpdatePerSec: number;
  batchDeletePerSec: number;
  mmapGetPerSec: number;
  mmapSetPerSec: number;
  /** The same array without BPF_F_MMAPABLE: a syscall per access. */
  arrayGetPerSec: number;
  arraySetPerSec: number;
}


const YARDSTICK = "/work/shared/yardstick/maps";

/**
 * MAPS_CLOCK: "cpu" (default) times every side by its process's CPU time (user + system, all
 * threads), so time spent waiting for a CPU on a shared machine is left out; the yardsticks' copies
 * are built to do the same. "wall": wall-clock time, as the yardsticks are written.
 */
const cpuClock = (process.env.MAPS_CLOCK ?? "cpu") !== "wall";

/** Milliseconds on the chosen clock. */
function clock(): number {
  if (!cpuClock) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// The timed loops are functions of their own, warmed up before timing, so each is measured as
// optimised code rather than as the on-stack replacement of one bigger function.
function lookups(m: HashMap<number, Val>, n: number): Val | undefined {
  let last: Val | undefined;
  for (let i = 0; i < n; i++) last = m.get(i & 1023);
  return last;
}

function updates(m: HashMap<number, Val>, v: Val, values: readonly bigint[], n: number): void {
  for (let i = 0; i < n; i++) {
    v.a = values[i & 1023]!;
    m.set(i & 1023, v);
  }
}

function bpf2tsRates(n: number): OpsRate {
  const m = createMap<HashMap<number, Val>>({ type: "hash", name: "bench", keySize: 4, valueSize: 16, maxEntries: 4096 }, { key: codecs.u32, value: BenchVal });
  try {
    const v: Val = { a: 1n, b: 2n };
    for (let k = 0; k < 1024; k++) m.set(k, v);
    // A different value per key, as the yardsticks write `v.a = i`; made before timing, because
    // BigInt(i) in the loop would time V8's BigInt allocation (~50 ns), not the map.
    const values = Array.from({ length: 1024 }, (_, k) => BigInt(k));
    // Like the yardsticks: each lookup decodes into a value (Go: a struct), nothing more.
    let t = clock();
    const last = lookups(m, n);
    const lookup = (clock() - t) / 1000;
    t = clock();
    updates(m, v, values, n);
    const update = (clock() - t) / 1000;
    if (last?.b !== 2n || m.get(5)?.a !== 5n) throw new Error("bench: the map holds the wrong values");
    return { lookupPerSec: n / lookup, updatePerSec: n / update };
  } finally {
    m.close();
  }
}

function arrayGets(m: ArrayMap<Val>, n: number): Val | undefined {
  let last: Val | undefined;
  for (let i = 0; i < n; i++) last = m.get(i & 1023);
  return last;
}

function arraySets(m: ArrayMap<Val>, v: Val, values: readonly bigint[], n: number): void {
  for (let i = 0; i < n; i++) {
    v.a = values[i & 1023]!;
    m.set(i & 1023, v);
  }
}

const BPF_F_MMAPABLE = 1 << 10;

function fastRates(n: number): FastRates {
  const timed = (fn: () => void, count: number) => {
    const t = clock();
    fn();
    return count / ((clock() - t) / 1000);
  };
  const values = Array.from({ length: 1024 }, (_, k) => BigInt(k));
  const entries = values.map((a, k) => [k, { a, b: 2n }] as [number, Val]);
  const keys = entries.map(([k]) => k);
  const rounds = Math.max(1, Math.floor(n / 1024));
  const h = createMap<HashMap<number, Val>>({ type: "hash", name: "bench_batch", keySize: 4, valueSize: 16, maxEntries: 4096 }, { key: codecs.u32, value: BenchVal });
  let batchLookupPerSec: number, batchUpdatePerSec: number;
  let deleteMs = 0;
  try {
    batchUpdatePerSec = timed(() => {
      for (let r = 0; r < rounds; r++) h.updateBatch(entries);
    }, rounds * 1024);
    batchLookupPerSec = timed(() => {
      for (let r = 0; r < rounds; r++) if (h.lookupBatch({ batchSize: 1024 }).length !== 1024) throw new Error("bench: lookupBatch lost entries");
    }, rounds * 1024);
    for (let r = 0; r < rounds; r++) {
      const t = clock();
      if (h.deleteBatch(keys) !== 1024) throw new Error("bench: deleteBatch missed entries");
      deleteMs += clock() - t;
      h.updateBatch(entries);
    }
  } finally {
    h.close();
  }
  const arrays = [BPF_F_MMAPABLE, 0].map((flags) => {
    const a = createMap<ArrayMap<Val>>({ type: "array", name: "bench_arr", keySize: 4, valueSize: 16, maxEntries: 1024, flags }, { value: BenchVal });
    try {
      if (a.mapped !== (flags !== 0)) throw new Error("bench: the array map is not accessed as expected");
      const v: Val = { a: 1n, b: 2n };
      const count = flags ? n * 10 : n; // a mapped access takes nanoseconds: more of them to time
      arraySets(a, v, values, Math.min(count, 100_000)); // warm up
      arrayGets(a, Math.min(count, 100_000));
      const set = timed(() => arraySets(a, v, values, count), count);
      const get = timed(() => arrayGets(a, count), count);
      if (a.get(5)?.a !== 5n) throw new Error("bench: the array holds the wrong values");
      return { get, set };
    } finally {
      a.close();
    }
  });
  return {
    batchLookupPerSec,
    batchUpdatePerSec,
    batchDeletePerSec: (rounds * 1024) / (deleteMs / 1000),
    mmapGetPerSec: arrays[0]!.get,
    mmapSetPerSec: arrays[0]!.set,
    arrayGetPerSec: arrays[1]!.get,
    arraySetPerSec: arrays[1]!.set,
  };
}

const cpu = process.env.MAPS_CPU ?? "0";

/** `cmd args` pinned to the bench CPU; its stdout. */
const pinned = (cmd: string, args: string[] = []) => runPinned(cpu, cmd, args);

/** Makes the scratch copy's C and Go programs time by their process's CPU time, as bpf2ts does. */
function timeByCpu(dir: string): void {
  const edit = (file: string, f: (text: string) => string) => writeFileSync(file, f(readFileSync(file, "utf8")));
  edit(join(dir, "lookup.c"), (c) => c.replaceAll("CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID"));
  edit(join(dir, "go/main.go"), (g) => g.replaceAll("time.Now()", "cpuNow(time.Now())").replaceAll("time.Since(t)", "cpuNow(time.Now()).Sub(t)"));
  writeFileSync(
    join(dir, "go/cputime.go"),
    `package main

import (
\t"syscall"
\t"time"
)

// cpuNow: this process's CPU time (user + system) as a time, for the bench's CPU clock.
func cpuNow(time.Time) time.Time {
\tvar ru syscall.Rusage
\tsyscall.Getrusage(syscall.RUSAGE_SELF, &ru)
\treturn time.Unix(0, syscall.TimevalToNsec(ru.Utime)+syscall.TimevalToNsec(ru.Stime))
}
`,
  );
}

/** Builds the yardstick in a scratch copy (the shared directory stays untouched); returns its runners. */
function yardstick(notes: string[]): { c?: () => OpsRate | undefined; go?: () => OpsRate | undefined } {
  if (!existsSync(YARDSTICK)) {
    notes.push(`no yardstick at ${YARDSTICK}`);
    return {};
  }
  const dir = join(tmpdir(), "bpf2ts-yardstick-maps");
  mkdirSync(dir, { recursive: true });
  cpSync(YARDSTICK, dir, { recursive: true });
  if (cpuClock) timeByCpu(dir);
  const parse = (text: string, who: string): OpsRate | undefined => {
    const m = new RegExp(`${who} lookup ([\\d.]+) ops/s.*update ([\\d.]+) ops/s`).exec(text);
    return m ? { lookupPerSec: Number(m[1]), updatePerSec: Number(m[2]) } : undefined;
  };
  const out: { c?: () => OpsRate | undefined; go?: () => OpsRate | undefined } = {};
  try {
    execFileSync("make", ["-s", "lookup"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    out.c = () => parse(pinned(join(dir, "lookup")), "C");
  } catch (e) {
    notes.push(`C yardstick failed to build: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    execFileSync("make", ["-s", "go/gomap"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    out.go = () => parse(pinned(join(dir, "go/gomap")), "Go");
  } catch (e) {
    notes.push(`Go yardstick failed to build: ${(e as Error).message.split("\n")[0]}`);
  }
  return out;
}

/** Median and range of one quantity over the rounds. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(xs: readonly number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

type Ops = { lookup: Spread; update: Spread };

export interface MapsBenchResult {
  rounds: number;
  bpf2ts: Ops;
  /** Another bpf2ts build run in the same rounds (MAPS_BASELINE: its dist/bench/maps.js), e.g. before a change. */
  baseline?: Ops & { path: string };
  c?: Ops;
  go?: Ops;
  /** Per round, bpf2ts's rate over the reference's in that round (so slow spells of the machine cancel). */
  vsC?: Ops;
  vsGo?: Ops;
  baselineVsC?: Ops;
  fast: { [K in keyof FastRates]: Spread };
  /** Why a yardstick could not run. */
  notes: string[];
}

/**
 * Runs bpf2ts, C and Go in turn, `rounds` times (MAPS_ROUNDS, 9), each a process of its own pinned to
 * one CPU; reports medians with their range and per-round ratios. `baseline`: another build's
 * dist/bench/maps.js, run in the same rounds (a before/after in one run).
 */
export async function runMapsBench(opts: { ops?: number; rounds?: number; baseline?: string } = {}): Promise<MapsBenchResult> {
  const n = opts.ops ?? 2_000_000;
  const rounds = opts.rounds ?? Number(process.env.MAPS_ROUNDS ?? 9);
  const baselinePath = opts.baseline ?? process.env.MAPS_BASELINE;
  const notes: string[] = [];
  const ys = yardstick(notes);
  const run = (script: string) => JSON.parse(pinned(process.execPath, [script, "--rates", String(n)])) as OpsRate & { fast: FastRates };
  const rows: Record<string, OpsRate[]> = { bpf2ts: [], baseline: [], c: [], go: [] };
  const fast: FastRates[] = [];
  for (let i = 0; i < rounds; i++) {
    const o = run(fileURLToPath(import.meta.url));
    rows.bpf2ts!.push(o);
    fast.push(o.fast);
    if (baselinePath) rows.baseline!.push(run(baselinePath));
    for (const [who, y] of [["c", ys.c], ["go", ys.go]] as const) {
      try {
        const r = y?.();
        if (r) rows[who]!.push(r);
      } catch (e) {
        notes.push(`${who} yardstick run failed: ${(e as Error).message.split("\n")[0]}`);
      }
    }
  }
  const ops = (xs: OpsRate[]): Ops | undefined => (xs.length ? { lookup: spread(xs.map((x) => x.lookupPerSec)), update: spread(xs.map((x) => x.updatePerSec)) } : undefined);
  // Ratios of the same round; a round whose reference failed has none.
  const ratios = (a: OpsRate[], b: OpsRate[]): Ops | undefined => (a.length === b.length && b.length ? ops(a.map((x, i) => ({ lookupPerSec: x.lookupPerSec / b[i]!.lookupPerSec, updatePerSec: x.updatePerSec / b[i]!.updatePerSec }))) : undefined);
  const fastKeys = Object.keys(fast[0]!) as Array<keyof FastRates>;
  return {
    rounds,
    bpf2ts: ops(rows.bpf2ts!)!,
    baseline: baselinePath ? { ...ops(rows.baseline!)!, path: baselinePath } : undefined,
    c: ops(rows.c!),
    go: ops(rows.go!),
    vsC: ratios(rows.bpf2ts!, rows.c!),
    vsGo: ratios(rows.bpf2ts!, rows.go!),
    baselineVsC: baselinePath ? ratios(rows.baseline!, rows.c!) : undefined,
    fast: Object.fromEntries(fastKeys.map((k) => [k, spread(fast.map((f) => f[k]))])) as MapsBenchResult["fast"],
    notes: [...new Set(notes)],
  };
}

const rate = (x: number) => `${(x / 1e6).toFixed(2)} M/s (${(1e9 / x).toFixed(0)} ns)`;
const fmt = (s: Spread) => `${rate(s.median)} [${(s.min / 1e6).toFixed(2)}–${(s.max / 1e6).toFixed(2)}]`;
const fmtRatio = (s: Spread) => `${s.median.toFixed(2)}× [${s.min.toFixed(2)}–${s.max.toFixed(2)}]`;

export function formatMapsBench(r: MapsBenchResult): string {
  const lines = [`maps: hash map, 4-byte key, 16-byte value, 1024 keys, user-space ops; medians [min–max] of ${r.rounds} interleaved rounds, each process pinned to CPU ${cpu}, timed by ${cpuClock ? "its CPU time (MAPS_CLOCK=wall: wall clock)" : "the wall clock"}`];
  const row = (who: string, x: Ops | undefined) => {
    if (x) lines.push(`  ${who.padEnd(9)} lookup ${fmt(x.lookup)}   update ${fmt(x.update)}`);
  };
  row("bpf2ts", r.bpf2ts);
  row("baseline", r.baseline);
  row("C", r.c);
  row("Go", r.go);
  const ratio = (who: string, x: Ops | undefined, goal = "") => {
    if (x) lines.push(`  ${who}, same round: lookup ${fmtRatio(x.lookup)}, update ${fmtRatio(x.update)}${goal}`);
  };
  const verdict = (x: Ops | undefined) => (x ? ` — ${x.lookup.median >= 0.9 && x.update.median >= 0.9 ? "meets" : "MISSES"} target ≥ 0.9×` : "");
  ratio("bpf2ts / C", r.vsC, verdict(r.vsC));
  ratio("bpf2ts / Go", r.vsGo);
  if (r.baseline) {
    ratio("baseline / C", r.baselineVsC);
    lines.push(`  baseline: ${r.baseline.path}`);
  }
  const f = r.fast;
  const vsC = (x: Spread, base: Spread | undefined) => (base ? ` = ${(x.median / base.median).toFixed(2)}× C's single op` : "");
  lines.push(`  bpf2ts batch, per entry (1024 per call): lookupBatch ${fmt(f.batchLookupPerSec)}${vsC(f.batchLookupPerSec, r.c?.lookup)}; updateBatch ${fmt(f.batchUpdatePerSec)}${vsC(f.batchUpdatePerSec, r.c?.update)}; deleteBatch ${fmt(f.batchDeletePerSec)}`);
  lines.push(`  bpf2ts array, 16-byte value, 1024 entries: BPF_F_MMAPABLE get ${fmt(f.mmapGetPerSec)}, set ${fmt(f.mmapSetPerSec)}; syscalls get ${fmt(f.arrayGetPerSec)}, set ${fmt(f.arraySetPerSec)} (mapped ${(f.mmapGetPerSec.median / f.arrayGetPerSec.median).toFixed(0)}× / ${(f.mmapSetPerSec.median / f.arraySetPerSec.median).toFixed(0)}×)`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rates = process.argv.indexOf("--rates");
  if (rates > 0) {
    const n = Number(process.argv[rates + 1]);
    bpf2tsRates(Math.min(n, 200_000)); // warm up the JIT
    console.log(JSON.stringify({ ...bpf2tsRates(n), fast: fastRates(n) }));
  } else {
    console.log(formatMapsBench(await runMapsBench()));
  }
}
