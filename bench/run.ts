// `npm run bench`: every benchmark in one run, each against its reference measured in the same run,
// printed as ratios. Numbers are for this machine at this moment; targets are ratios, never absolute.
//
//   BENCH_ONLY=btf,generate npm run bench      run a subset

interface Bench {
  readonly key: string;
  readonly title: string;
  /** Loads the module and runs it; returns the printable report. */
  run(): Promise<string>;
}

const fmtMs = (ms: number) => `${ms.toFixed(0)} ms`;
const verdict = (ratio: number, target: number, lowerIsBetter: boolean) =>
  (lowerIsBetter ? ratio <= target : ratio >= target) ? "meets target" : "MISSES target";

const benches: Bench[] = [
  {
    key: "btf",
    title: "Parse /sys/kernel/btf/vmlinux: bpf2ts vs bpftool (whole process, lower is better, target ≤ 1.5×)",
    async run() {
      const { runBtfBench } = await import("./btf.js");
      const r = runBtfBench();
      if (r.skipped) return `skipped: ${r.skipped}`;
      return `bpf2ts ${fmtMs(r.oursMs)}, bpftool ${fmtMs(r.bpftoolMs)}, ratio ${r.ratio.toFixed(2)}× (${r.runs} paired runs) — ${verdict(r.ratio, r.target, true)}`;
    },
  },
  {
    key: "generate",
    title: "bpf2ts generate / --help vs bpf2go 0.9.1, node -e 0 and clang alone (whole process, medians with min–max, lower is better)",
    async run() {
      const { runGenerateBench, formatGenerateBench } = await import("./generate.js");
      return formatGenerateBench(runGenerateBench());
    },
  },
  {
    key: "decode",
    title: "Decode 64-byte events with a generated Struct codec (target ≥ 14 M events/s)",
    async run() {
      const { runDecodeBenchPinned, formatDecodeBench } = await import("./decode.js");
      const r = runDecodeBenchPinned();
      const m = (x: number) => (x / 1e6).toFixed(2);
      return `${formatDecodeBench(r)}\nmedian of ${r.runs} pinned processes (range ${m(r.minEventsPerCpuSecond)}–${m(r.maxEventsPerCpuSecond)} M events/s of CPU time) — ${r.eventsPerCpuSecond >= 14e6 ? "meets" : "MISSES"} target`;
    },
  },
  {
    key: "maps",
    title: "Hash map lookups/updates from user space: bpf2ts vs C/libbpf vs Go/cilium-ebpf (target ≥ 0.9× C)",
    async run() {
      const { runMapsBench, formatMapsBench } = await import("./maps.js");
      return formatMapsBench(await runMapsBench());
    },
  },
  {
    key: "metrics",
    title: "Metrics: a Prometheus scrape of a 10,000-entry hash map; per-event metric updates vs the decode rate without them",
    async run() {
      const { runMetricsBench, formatMetricsBench } = await import("./metrics.js");
      return formatMetricsBench(await runMetricsBench());
    },
  },
  {
    key: "ringbuf",
    title: "Ring-buffer consumption: bpf2ts vs C/libbpf vs Go/cilium-ebpf (goals: concurrent ≥ 2.0× Go; pre-filled decoded ≥ 1.5× Go; pre-filled in place ≥ 1.0× C)",
    async run() {
      const mod = (await import("./ringbuf.js")) as unknown as {
        runRingbufBench: () => Promise<unknown>;
        formatRingbufBench?: (r: unknown) => string;
      };
      const r = await mod.runRingbufBench();
      return mod.formatRingbufBench ? mod.formatRingbufBench(r) : JSON.stringify(r, null, 2);
    },
  },
];

const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
let failed = 0;
for (const b of benches) {
  if (only && !only.includes(b.key)) continue;
  console.log(`\n== ${b.title}`);
  try {
    console.log(await b.run());
  } catch (e) {
    failed++;
    console.log(`failed: ${(e as Error).message}`);
  }
}
process.exitCode = failed ? 1 : 0;
