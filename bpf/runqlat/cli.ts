#!/usr/bin/env node
// runqlat: scheduler run-queue latency as bcc-style log2 histograms (bcc's runqlat, on bpf2ts).

import { type CliSpec, intOption, main, out, parseCli, toJson, untilStopped } from "../lib/cli.js";
import { startMetrics } from "../lib/metrics.js";
import { log2Histogram } from "../lib/format.js";
import { loadRunqlat, type RunqlatObjects, runqlatMetrics } from "./runqlat.js";

const spec = {
  name: "runqlat",
  summary: "Summarize run-queue (scheduler) latency as a histogram: time from wakeup to running.",
  options: {
    pid: { type: "string", short: "p", value: "PID", description: "only this process" },
    milliseconds: { type: "boolean", short: "m", description: "buckets in milliseconds (default: microseconds)" },
    pids: { type: "boolean", short: "P", description: "one histogram per process" },
    tids: { type: "boolean", short: "L", description: "one histogram per thread" },
    interval: { type: "string", short: "i", value: "SECONDS", description: "print and reset every SECONDS" },
  },
  examples: ["runqlat --duration 5", "runqlat --pids --milliseconds"],
} satisfies CliSpec;

function print(objs: RunqlatObjects, unit: string, json: boolean, perTask: string | undefined): void {
  const entries = [...objs.maps.hists.entries()].sort(([a], [b]) => a - b);
  for (const [key, h] of entries) {
    objs.maps.hists.delete(key);
    if (json) out(toJson({ ...(perTask && { [perTask]: key, comm: h.comm }), unit, slots: h.slots }));
    else {
      if (perTask) out(`\n${perTask} = ${key} ${h.comm}`);
      out(log2Histogram(h.slots, unit));
    }
  }
  if (entries.length === 0 && !json) out(log2Histogram([], unit));
}

main(spec.name, async () => {
  const v = parseCli(spec);
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const interval = intOption(v, "interval", 1, 86400);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const unit = v.milliseconds ? "msecs" : "usecs";
  const perTask = v.pids ? "pid" : v.tids ? "tid" : undefined;
  const objs = await loadRunqlat({
    constants: { ...(pid !== undefined && { targTgid: pid }), targMs: v.milliseconds === true, targPerProcess: v.pids === true, targPerThread: v.tids === true && !v.pids },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, runqlatMetrics, { ...(v.milliseconds === true && { overrides: { runqlat_latency_seconds: { unit: "ms" } } }) }).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) process.stderr.write("Tracing run queue latency... Ctrl-C to stop.\n");
    const timer = interval ? setInterval(() => print(objs, unit, v.json === true, perTask), interval * 1000) : undefined;
    await untilStopped(duration);
    clearInterval(timer);
    print(objs, unit, v.json === true, perTask);
  } finally {
    await metrics.close();
    objs.close();
  }
});
