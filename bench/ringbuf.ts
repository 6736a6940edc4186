// Ring-buffer consumer benchmark: bpf2ts (RingBuf + the generated BenchEvent codec) against the
// yardstick's C/libbpf consumer (`rbcons --method poll`, ring_buffer__poll) and Go/cilium-ebpf 0.9.1
// consumer (`gocons -variant decode`), all in one run, interleaved round by round, with the same
// producer (`rbprod`: BPF_PROG_TEST_RUN of a bpf_loop program emitting 64-byte events) and the same
// CPU pinning as the yardstick's run.sh (consumer on CPU 0, producer on CPU 1).
//
// Sections: `concurrent` (producer and consumer at once, block mode, adaptive wakeup — the main
// table), `drop` (the same, but a full ring loses events: drops show who keeps up) and `drain` (the
// producer pre-fills a large ring and exits; then the consumer drains it).
// The yardstick is copied to a temp dir and built there (its own directory is read-only).
//
//   node dist/bench/ringbuf.js            or   BENCH_ONLY=ringbuf npm run bench
//   env: RB_TOTAL (20000000, as the yardstick; short runs measure the JIT warming up) RB_RING (16777216) RB_ROUNDS (3) RB_DRAIN_TOTAL (5000000)
//        RB_DRAIN_RING (536870912) RB_SECTIONS ("concurrent drop drain") RB_CONS_CPU (0) RB_PROD_CPU (1)
//        RB_YARDSTICK (/work/shared/yardstick/ringbuf) RB_RECORD (1: also go-readinto vs bpf2ts-rec)
//        RB_PLAIN (0; 1: also bpf2ts-plain, the decoder with `u64 pad[3]` as a bigint[] instead of a
//        BigUint64Array: a measurement of what the typed array costs, not what bpf2ts generates)

import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const env = (k: string, d: string) => process.env[k] ?? d;

export interface RingbufBenchOptions {
  total: number;
  ring: number;
  rounds: number;
  drainTotal: number;
  drainRing: number;
  sections: string[];
  consCpu: number;
  prodCpu: number;
  yardstick: string;
  /** Also run go-readinto and bpf2ts-rec (RingBuf.onRecord) in every section. */
  withRecord: boolean;
  /** Also run bpf2ts-plain (consumer.ts `decode-plain`) in every section. */
  withPlain: boolean;
}

/** One RESULT line (and its PRODUCER line), parsed. */
export interface RunResult {
  section: string;
  consumer: string;
  ok: boolean;
  error?: string;
  fields: Record<string, string>;
  producer: Record<string, string>;
}

export interface ConsumerSummary {
  consumer: string;
  runs: number;
  /** Medians over the rounds. */
  eventsPerSecond: number;
  minEventsPerSecond: number;
  maxEventsPerSecond: number;
  cpuSeconds: number;
  /** Events per second of consumer CPU time: steadier than wall rate on a shared machine. */
  eventsPerCpuSecond: number;
  dropPct: number;
  /** Producer attempts per second of its loop: how fast the producer ran beside this consumer. */
  offeredPerSecond: number;
  gaps: number;
  ringFull: number;
  failures: number;
}

export interface SectionSummary {
  section: string;
  title: string;
  consumers: ConsumerSummary[];
  /** bpf2ts ÷ Go and bpf2ts ÷ C, on median events/s and on events per CPU-second. */
  ratios: { vsGo: number; vsC: number; vsGoCpu: number; vsCCpu: number; recVsGoReadinto: number; recVsC: number; plainVsGo: number };
}

export interface RingbufBenchResult {
  skipped?: string;
  options: RingbufBenchOptions;
  sections: SectionSummary[];
  runs: RunResult[];
  seconds: number;
}

function options(): RingbufBenchOptions {
  return {
    total: Number(env("RB_TOTAL", "20000000")),
    ring: Number(env("RB_RING", String(16 << 20))),
    rounds: Number(env("RB_ROUNDS", "3")),
    drainTotal: Number(env("RB_DRAIN_TOTAL", "5000000")),
    drainRing: Number(env("RB_DRAIN_RING", String(512 << 20))),
    sections: env("RB_SECTIONS", "concurrent drop drain").split(/[\s,]+/).filter(Boolean),
    consCpu: Number(env("RB_CONS_CPU", "0")),
    prodCpu: Number(env("RB_PROD_CPU", "1")),
    yardstick: env("RB_YARDSTICK", "/work/shared/yardstick/ringbuf"),
    withRecord: env("RB_RECORD", "1") !== "0",
    withPlain: env("RB_PLAIN", "0") === "1",
  };
}

/** Copies the yardstick to a writable temp dir (once per version of its sources) and builds it. */
function build(yardstick: string): string {
  const stamp = readdirSync(yardstick)
    .filter((f) => /\.(c|h|go)$|^Makefile$/.test(f))
    .map((f) => `${f}:${statSync(join(yardstick, f)).mtimeMs}`)
    .join(",");
  const dir = join(tmpdir(), `bpf2ts-rbbench-${Buffer.from(stamp).toString("base64url").slice(-16)}`);
  if (!existsSync(join(dir, "Makefile"))) {
    mkdirSync(dir, { recursive: true });
    cpSync(yardstick, dir, { recursive: true, filter: (src) => !src.includes("/results") && !src.endsWith(".gocache") });
    execFileSync("chmod", ["-R", "u+w", dir]);
  }
  execFileSync("make", ["-s", "-C", dir, "all"], { stdio: ["ignore", "ignore", "pipe"] });
  return dir;
}

function parseKv(line: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tok of (line ?? "").split(/\s+/).slice(1)) {
    const i = tok.indexOf("=");
    if (i > 0) out[tok.slice(0, i)] = tok.slice(i + 1);
  }
  return out;
}

/** Runs one consumer pinned with taskset, as run.sh's run_one does. */
function runOne(section: string, label: string, argv: string[], cwd: string, consCpu: number): RunResult {
  const r = spawnSync("taskset", ["-c", String(consCpu), ...argv], { cwd, encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 24 });
  const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
  const res = out.split("\n").filter((l) => l.startsWith("RESULT ")).at(-1);
  const prod = out.split("\n").filter((l) => l.startsWith("PRODUCER ")).at(-1);
  if (r.status !== 0 || !res) {
    return { section, consumer: label, ok: false, error: `exit ${r.status ?? r.signal}: ${out.replace(/\s+/g, " ").slice(0, 400)}`, fields: {}, producer: {} };
  }
  return { section, consumer: label, ok: true, fields: parseKv(res), producer: parseKv(prod) };
}

function summarize(section: string, title: string, runs: RunResult[], labels: string[]): SectionSummary {
  const present = labels.filter((c) => runs.some((r) => r.section === section && r.consumer === c));
  const consumers = present.map((c): ConsumerSummary => {
    const mine = runs.filter((r) => r.section === section && r.consumer === c);
    const ok = mine.filter((r) => r.ok);
    const num = (r: RunResult, k: string) => Number(r.fields[k] ?? 0);
    const eps = ok.map((r) => num(r, "ev_per_s"));
    return {
      consumer: c,
      runs: ok.length,
      eventsPerSecond: median(eps),
      minEventsPerSecond: Math.min(...eps, Infinity) === Infinity ? 0 : Math.min(...eps),
      maxEventsPerSecond: Math.max(...eps, 0),
      cpuSeconds: median(ok.map((r) => num(r, "cpu_s"))),
      eventsPerCpuSecond: median(ok.map((r) => (num(r, "cpu_s") > 0 ? num(r, "received") / num(r, "cpu_s") : 0))),
      dropPct: median(ok.map((r) => num(r, "drop_pct"))),
      offeredPerSecond: median(ok.map((r) => (Number(r.producer.secs ?? 0) > 0 ? Number(r.producer.attempts ?? 0) / Number(r.producer.secs) : 0))),
      gaps: median(ok.map((r) => num(r, "gaps"))),
      ringFull: median(ok.map((r) => Number(r.producer.stall_runs ?? 0))),
      failures: mine.length - ok.length,
    };
  });
  const by = (l: string) => consumers.find((c) => c.consumer === l);
  const ratio = (a: ConsumerSummary | undefined, b: ConsumerSummary | undefined, k: "eventsPerSecond" | "eventsPerCpuSecond") =>
    a && b && b[k] > 0 ? a[k] / b[k] : 0;
  const [ours, go, c, rec, goInto, plain] = [by("bpf2ts"), by("go-decode"), by("c-poll"), by("bpf2ts-rec"), by("go-readinto"), by("bpf2ts-plain")];
  return {
    section,
    title,
    consumers,
    ratios: {
      vsGo: ratio(ours, go, "eventsPerSecond"),
      vsC: ratio(ours, c, "eventsPerSecond"),
      vsGoCpu: ratio(ours, go, "eventsPerCpuSecond"),
      vsCCpu: ratio(ours, c, "eventsPerCpuSecond"),
      recVsGoReadinto: ratio(rec, goInto, "eventsPerSecond"),
      recVsC: ratio(rec, c, "eventsPerSecond"),
      plainVsGo: ratio(plain, go, "eventsPerSecond"),
    },
  };
}

export async function runRingbufBench(partial: Partial<RingbufBenchOptions> = {}): Promise<RingbufBenchResult> {
  const o = { ...options(), ...partial };
  const t0 = performance.now();
  const empty = (skipped: string): RingbufBenchResult => ({ skipped, options: o, sections: [], runs: [], seconds: 0 });
  if (process.getuid?.() !== 0) return empty("needs root (BPF_PROG_TEST_RUN, ring buffers)");
  if (!existsSync(join(o.yardstick, "rb.bpf.c"))) return empty(`no yardstick at ${o.yardstick}`);
  let dir: string;
  try {
    dir = build(o.yardstick);
  } catch (e) {
    return empty(`building the yardstick failed: ${(e as Error).message.split("\n")[0]}`);
  }
  const consumerJs = join(here, "ringbuf", "consumer.js");
  // bpf2ts-rec (RingBuf.onRecord, fields read in place) is shown next to go-readinto: the reader
  // without per-event objects. The ratios are taken on bpf2ts (decoded objects) vs go-decode.
  const labels = ["c-poll", "go-decode", "bpf2ts", "bpf2ts-plain", "go-readinto", "bpf2ts-rec"];
  const runs: RunResult[] = [];
  const sections: SectionSummary[] = [];
  const prod = String(o.prodCpu);

  const plan: Array<{ key: string; title: string; ring: number; total: number; extra: { c: string[]; go: string[]; node: string[] } }> = [];
  if (o.sections.includes("concurrent")) {
    plan.push({
      key: "concurrent",
      title: `Concurrent producer, block mode, adaptive wakeup: ${o.total} events, ring ${o.ring} B [MAIN TABLE]`,
      ring: o.ring,
      total: o.total,
      extra: { c: [], go: [], node: [] },
    });
  }
  if (o.sections.includes("drop")) {
    plan.push({
      key: "drop",
      title: `Drop mode (the producer never waits; lost events counted), adaptive wakeup: ${o.total} attempts, ring ${o.ring} B`,
      ring: o.ring,
      total: o.total,
      extra: { c: ["--drop"], go: ["-drop"], node: ["--drop"] },
    });
  }
  if (o.sections.includes("drain")) {
    plan.push({
      key: "drain",
      title: `Drain a pre-filled ring (no concurrent producer): ${o.drainTotal} events, ring ${o.drainRing} B`,
      ring: o.drainRing,
      total: o.drainTotal,
      extra: { c: ["--prefill"], go: ["-prefill"], node: ["--prefill"] },
    });
  }
  for (const p of plan) {
    for (let round = 0; round < o.rounds; round++) {
      runs.push(runOne(p.key, "c-poll", ["./rbcons", "--label", "c-poll", "--prod-cpu", prod, "--method", "poll", ...p.extra.c, "--ring", String(p.ring), "--total", String(p.total)], dir, o.consCpu));
      runs.push(runOne(p.key, "go-decode", ["./gocons", "-label", "go-decode", "-prod-cpu", prod, "-variant", "decode", ...p.extra.go, "-ring", String(p.ring), "-total", String(p.total)], join(dir, "gocons"), o.consCpu));
      runs.push(runOne(p.key, "bpf2ts", [process.execPath, consumerJs, "--dir", dir, "--label", "bpf2ts", "--prod-cpu", prod, "--variant", "decode", ...p.extra.node, "--ring", String(p.ring), "--total", String(p.total)], dir, o.consCpu));
      if (o.withPlain) {
        runs.push(runOne(p.key, "bpf2ts-plain", [process.execPath, consumerJs, "--dir", dir, "--label", "bpf2ts-plain", "--prod-cpu", prod, "--variant", "decode-plain", ...p.extra.node, "--ring", String(p.ring), "--total", String(p.total)], dir, o.consCpu));
      }
      if (o.withRecord) {
        runs.push(runOne(p.key, "go-readinto", ["./gocons", "-label", "go-readinto", "-prod-cpu", prod, "-variant", "readinto", ...p.extra.go, "-ring", String(p.ring), "-total", String(p.total)], join(dir, "gocons"), o.consCpu));
        runs.push(runOne(p.key, "bpf2ts-rec", [process.execPath, consumerJs, "--dir", dir, "--label", "bpf2ts-rec", "--prod-cpu", prod, "--variant", "record", ...p.extra.node, "--ring", String(p.ring), "--total", String(p.total)], dir, o.consCpu));
      }
    }
    sections.push(summarize(p.key, p.title, runs, labels));
  }
  return { options: o, sections, runs, seconds: (performance.now() - t0) / 1000 };
}

export function formatRingbufBench(r: RingbufBenchResult): string {
  if (r.skipped) return `skipped: ${r.skipped}`;
  const lines: string[] = [];
  const f = (n: number, d = 0) => n.toFixed(d);
  for (const s of r.sections) {
    lines.push(`-- ${s.title}`);
    lines.push(`${"consumer".padEnd(11)} ${"runs".padStart(4)} ${"events/s".padStart(10)} ${"(min - max)".padStart(23)} ${"drop%".padStart(6)} ${"cpu_s".padStart(6)} ${"ev/cpu-s".padStart(10)} ${"ring-full".padStart(9)} ${"offered/s".padStart(10)} ${"gaps".padStart(9)}`);
    for (const c of s.consumers) {
      lines.push(
        `${c.consumer.padEnd(11)} ${String(c.runs).padStart(4)} ${f(c.eventsPerSecond).padStart(10)} ${`(${f(c.minEventsPerSecond)} - ${f(c.maxEventsPerSecond)})`.padStart(23)} ${f(c.dropPct, 3).padStart(6)} ${f(c.cpuSeconds, 3).padStart(6)} ${f(c.eventsPerCpuSecond).padStart(10)} ${f(c.ringFull).padStart(9)} ${f(c.offeredPerSecond).padStart(10)} ${f(c.gaps).padStart(9)}${c.failures ? `  (${c.failures} failed)` : ""}`,
      );
    }
    // Issue 13's goals: decoded with a concurrent producer ≥ 2.0× Go; a pre-filled drain decoded
    // ≥ 1.5× Go and in place ≥ 1.0× C. Drop mode is context, printed without verdicts.
    const v = (x: number, t: number | undefined) => (t === undefined ? "" : ` (goal ≥ ${f(t, 1)}: ${x >= t ? "meets" : "MISSES"})`);
    const goals = { concurrent: { go: 2.0 }, drain: { go: 1.5, recC: 1.0 } }[s.section as "concurrent" | "drain"] as { go?: number; recC?: number } | undefined;
    lines.push(
      `ratios: bpf2ts/Go ${f(s.ratios.vsGo, 2)}×${v(s.ratios.vsGo, goals?.go)}, bpf2ts/C ${f(s.ratios.vsC, 2)}×; per CPU-second: /Go ${f(s.ratios.vsGoCpu, 2)}×, /C ${f(s.ratios.vsCCpu, 2)}×`,
    );
    if (s.ratios.plainVsGo > 0) {
      lines.push(`pad as bigint[] instead of BigUint64Array (measurement only): bpf2ts-plain/Go ${f(s.ratios.plainVsGo, 2)}×`);
    }
    if (s.ratios.recVsGoReadinto > 0) {
      lines.push(`in place (no object per event): bpf2ts-rec/go-readinto ${f(s.ratios.recVsGoReadinto, 2)}×, bpf2ts-rec/C ${f(s.ratios.recVsC, 2)}×${v(s.ratios.recVsC, goals?.recC)}`);
    }
    lines.push("");
  }
  for (const run of r.runs.filter((x) => !x.ok)) lines.push(`FAILED ${run.section} ${run.consumer}: ${run.error}`);
  lines.push(`consumer pinned to CPU ${r.options.consCpu}, producer to CPU ${r.options.prodCpu}; events/s = received / (sentinel time - first event time), medians of ${r.options.rounds} interleaved rounds; ev/cpu-s = received / consumer CPU seconds; ring-full = producer runs that hit a full ring (0 = not consumer-limited); offered/s = producer attempts / its loop time, which each consumer changes: its consumer_pos stores and the wakeups it asks for slow the producer, so in drop mode a consumer that slows the producer less sees more attempts and a larger drop% for the same events/s. ${f(r.seconds, 0)} s in all.`);
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const r = await runRingbufBench();
  console.log(formatRingbufBench(r));
}
