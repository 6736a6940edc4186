#!/usr/bin/env node
// softirqs: time spent in each soft-interrupt vector, as totals or log2 latency zones (bcc's
// softirqs, on bpf2ts). Counters are per CPU in the kernel and summed here.

import { type CliSpec, intOption, main, out, parseCli, toJson, untilStopped } from "../lib/cli.js";
import { startMetrics } from "../lib/metrics.js";
import { duration as fmtDuration, log2Histogram, sumCpus } from "../lib/format.js";
import { loadSoftirqs, type SoftirqsObjects, softirqsMetrics } from "./softirqs.js";

/** Soft-interrupt vector names, by number (include/linux/interrupt.h). */
const vectorNames = ["hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu"];

const spec = {
  name: "softirqs",
  summary: "Summarize time spent in soft interrupts, per vector (totals, or latency distributions with --dist).",
  options: {
    dist: { type: "boolean", short: "D", description: "show a log2 latency histogram per vector" },
    nanoseconds: { type: "boolean", short: "N", description: "histogram buckets in nanoseconds (default: microseconds)" },
    cpu: { type: "string", short: "C", value: "CPU", description: "only this CPU" },
    interval: { type: "string", short: "i", value: "SECONDS", description: "print and reset every SECONDS" },
  },
  examples: ["softirqs --duration 5", "softirqs --dist --duration 10"],
} satisfies CliSpec;

function print(objs: SoftirqsObjects, dist: boolean, unit: string, json: boolean, reset: boolean): void {
  const rows = [];
  for (let vec = 0; vec < vectorNames.length; vec++) {
    const perCpu = objs.maps.stats.get(vec);
    if (!perCpu) continue;
    const slots = new Array<number>(perCpu[0]?.slots.length ?? 0).fill(0);
    for (const s of perCpu) s.slots.forEach((n, i) => (slots[i]! += n));
    rows.push({
      vector: vectorNames[vec]!,
      count: sumCpus(perCpu.map((s) => s.count)),
      totalNs: sumCpus(perCpu.map((s) => s.totalNs)),
      maxNs: perCpu.reduce((m, s) => (s.maxNs > m ? s.maxNs : m), 0n),
      slots,
    });
    if (reset) objs.maps.stats.set(vec, perCpu.map((s) => ({ ...s, count: 0n, totalNs: 0n, maxNs: 0n, slots: new Uint32Array(s.slots.length) })));
  }
  const active = rows.filter((r) => r.count > 0n);
  if (json) {
    for (const r of active) out(toJson(dist ? { ...r, unit } : { vector: r.vector, count: r.count, totalNs: r.totalNs, maxNs: r.maxNs }));
    return;
  }
  if (dist) {
    for (const r of active) out(`\nsoftirq = ${r.vector}\n${log2Histogram(r.slots, unit)}`);
    return;
  }
  out(`${"SOFTIRQ".padEnd(10)} ${"COUNT".padStart(10)} ${"TOTAL".padStart(10)} ${"MAX".padStart(10)}`);
  for (const r of active.sort((a, b) => (b.totalNs > a.totalNs ? 1 : -1))) {
    out(`${r.vector.padEnd(10)} ${String(r.count).padStart(10)} ${fmtDuration(r.totalNs).padStart(10)} ${fmtDuration(r.maxNs).padStart(10)}`);
  }
}

main(spec.name, async () => {
  const v = parseCli(spec);
  const cpu = intOption(v, "cpu", 0, 4095);
  const interval = intOption(v, "interval", 1, 86400);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const unit = v.nanoseconds ? "nsecs" : "usecs";
  const objs = await loadSoftirqs({ constants: { targNs: v.nanoseconds === true, targCpu: cpu ?? -1 } });
  const metrics = await startMetrics(v, spec.name, objs.maps, softirqsMetrics, { relabel: { vector: (n) => vectorNames[Number(n)] ?? String(n) }, ...(v.nanoseconds === true && { overrides: { softirqs_latency_seconds: { unit: "ns" } } }) }).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) process.stderr.write("Tracing soft irq event time... Ctrl-C to stop.\n");
    const timer = interval ? setInterval(() => print(objs, v.dist === true, unit, v.json === true, true), interval * 1000) : undefined;
    await untilStopped(duration);
    clearInterval(timer);
    print(objs, v.dist === true, unit, v.json === true, false);
  } finally {
    await metrics.close();
    objs.close();
  }
});
