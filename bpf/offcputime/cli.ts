#!/usr/bin/env node
// offcputime: time blocked off CPU, summed by kernel + user stack and printed folded
// ("comm;f1;…;leaf MICROSECONDS"), the input of flamegraph.pl for off-CPU flame graphs (bcc's
// offcputime -f, on bpf2ts). Processes must still run when the result is printed for user frames to
// resolve.

import { type CliSpec, intOption, main, out, parseCli, reportLost, toJson, untilStopped, UsageError } from "../lib/cli.js";
import { startMetrics } from "../lib/metrics.js";
import { foldedLine, KernelSymbols, stackFrames, UserSymbols } from "../lib/symbolize.js";
import { loadOffcputime, offcputimeMetrics } from "./offcputime.js";

const spec = {
  name: "offcputime",
  summary: "Summarize time blocked off CPU by kernel and user stack, folded for flame graphs (values in microseconds).",
  options: {
    pid: { type: "string", short: "p", value: "PID", description: "only this process" },
    tid: { type: "string", short: "t", value: "TID", description: "only this thread" },
    "user-threads-only": { type: "boolean", short: "u", description: "only user threads" },
    "kernel-threads-only": { type: "boolean", short: "k", description: "only kernel threads" },
    state: { type: "string", short: "s", value: "STATE", description: "only blocks entered in this task state (1 interruptible, 2 uninterruptible, 0 preempted)" },
    "min-block-us": { type: "string", short: "m", value: "US", description: "only blocks of at least US microseconds (default 1)" },
    "max-block-us": { type: "string", short: "M", value: "US", description: "only blocks of at most US microseconds" },
  },
  examples: ["offcputime --duration 10 > off.folded && flamegraph.pl --color=io off.folded > off.svg", "offcputime --pid 1234 --min-block-us 1000 --json"],
} satisfies CliSpec;

/** Drops the leaf frames of the tracer itself (the stack is taken inside the sched_switch tracepoint). */
function withoutTracer(frames: string[]): string[] {
  let end = frames.length;
  while (end > 0 && /^(bpf_prog_|bpf_trace_run\d|__traceiter_|__bpf_trace_)/.test(frames[end - 1]!)) end--;
  return frames.slice(0, end);
}

main(spec.name, async () => {
  const v = parseCli(spec);
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const tid = intOption(v, "tid", 1, 2 ** 32 - 1);
  const state = intOption(v, "state", 0, 2 ** 31 - 1);
  const minUs = intOption(v, "min-block-us", 0);
  const maxUs = intOption(v, "max-block-us", 0);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  if (v["user-threads-only"] && v["kernel-threads-only"]) throw new UsageError("--user-threads-only and --kernel-threads-only exclude each other");
  if (minUs !== undefined && maxUs !== undefined && minUs > maxUs) throw new UsageError("--min-block-us is larger than --max-block-us");
  const objs = await loadOffcputime({
    constants: {
      ...(pid !== undefined && { targTgid: pid }),
      ...(tid !== undefined && { targPid: tid }),
      ...(state !== undefined && { targState: BigInt(state) }),
      ...(minUs !== undefined && { minBlockUs: BigInt(minUs) }),
      ...(maxUs !== undefined && { maxBlockUs: BigInt(maxUs) }),
      userThreadsOnly: v["user-threads-only"] === true,
      kernelThreadsOnly: v["kernel-threads-only"] === true,
    },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, offcputimeMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) process.stderr.write("Tracing off-CPU time (us)... Ctrl-C to stop.\n");
    await untilStopped(duration);
    const totals = [...objs.maps.info.entries()]; // before symbolizing, which takes a while
    // Symbolize while the traced processes still run: their mappings are read from /proc.
    const ksyms = new KernelSymbols();
    const usyms = new UserSymbols();
    const rows = totals
      .map(([key, val]) => ({ pid: key.tgid, tid: key.pid, comm: val.comm, frames: withoutTracer(stackFrames(objs.maps.stacks, key.tgid, key.userStackId, key.kernStackId, ksyms, usyms)), us: val.totalNs / 1000n, count: val.count }))
      .sort((a, b) => (b.us > a.us ? 1 : b.us < a.us ? -1 : 0));
    for (const r of rows) out(v.json ? toJson(r) : foldedLine(r.comm, r.frames, r.us));
    reportLost("blocks", objs.variables.lostBlocks.get());
  } finally {
    await metrics.close();
    objs.close();
  }
});
