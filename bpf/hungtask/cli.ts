#!/usr/bin/env node
// hungtask: reports tasks stuck in uninterruptible sleep (D state) longer than a threshold, with their
// kernel stacks — what the kernel's khungtaskd warns about, without kprobes: a sched_switch tracepoint
// and a task iterator walked every --interval seconds.

import { type CliSpec, intOption, main, out, parseCli, toJson, untilStopped } from "../lib/cli.js";
import { clock } from "../lib/format.js";
import { startMetrics, type TracerMetrics } from "../lib/metrics.js";
import { KernelSymbols } from "../lib/symbolize.js";
import { hungtaskMetrics, loadHungtask } from "./hungtask.js";
import { stackOf, walkTasks } from "./walk.js";

const spec = {
  name: "hungtask",
  summary: "Report tasks in uninterruptible sleep (D state) longer than a threshold, with their kernel stacks.",
  options: {
    "min-ms": { type: "string", short: "m", value: "MS", description: "report tasks blocked at least MS milliseconds (default 1000)" },
    interval: { type: "string", short: "i", value: "SECONDS", description: "walk the tasks every SECONDS (default 1)" },
    "no-killable": { type: "boolean", short: "K", description: "skip killable sleeps (D + WAKEKILL), as the kernel's own check does" },
  },
  examples: ["hungtask --min-ms 5000", "hungtask --json --interval 10"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const minMs = intOption(v, "min-ms", 0) ?? 1000;
  const interval = intOption(v, "interval", 1, 86400) ?? 1;
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const objs = await loadHungtask({ constants: { minBlockedMs: BigInt(minMs), includeKillable: v["no-killable"] !== true } });
  let metrics: TracerMetrics | undefined;
  try {
    objs.programs.handleSchedSwitch.attach();
    const iter = objs.programs.dumpTasks.attach();
    // Served once the programs are attached (a scrape then sees every sleep that starts after it);
    // hungtask_hung_tasks_total grows as the walks below find hung tasks.
    metrics = await startMetrics(v, spec.name, objs.maps, hungtaskMetrics);
    const ksyms = new KernelSymbols();
    if (!v.json) process.stderr.write(`Reporting tasks in D state for ${minMs} ms or more, every ${interval} s... Ctrl-C to stop.\n`);
    const walk = (): void => {
      for (const t of walkTasks(iter)) {
        const stack = stackOf(t).map((ip) => ksyms.lookup(ip) ?? `0x${ip.toString(16)}`);
        const ms = Number(t.blockedNs) / 1e6;
        if (v.json) out(toJson({ time: new Date().toISOString(), pid: t.pid, tgid: t.tgid, comm: t.comm, state: t.state, ms, stack }));
        else out(`${clock()} ${t.comm} pid ${t.pid} tgid ${t.tgid} blocked ${(ms / 1000).toFixed(1)} s (state 0x${t.state.toString(16)})\n${stack.map((f) => `    ${f}`).join("\n")}`);
      }
    };
    const timer = setInterval(walk, interval * 1000);
    await untilStopped(duration);
    clearInterval(timer);
  } finally {
    await metrics?.close();
    objs.close();
  }
});
