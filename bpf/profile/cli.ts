#!/usr/bin/env node
// profile: samples on-CPU stacks at a fixed frequency and prints them folded ("comm;f1;f2;…;leaf N"),
// the input of flamegraph.pl and speedscope. Kernel frames come from /proc/kallsyms (suffixed "_[k]"),
// user frames from the ELF symbols of each sampled process's mappings, JIT frames from
// /tmp/perf-PID.map (node --perf-basic-prof). Processes must still run when the profile is printed.

import { type CliSpec, intOption, main, out, parseCli, reportLost, toJson, untilStopped, UsageError } from "../lib/cli.js";
import { startMetrics } from "../lib/metrics.js";
import { foldedLine, KernelSymbols, stackFrames, UserSymbols } from "../lib/symbolize.js";
import { loadProfile, type ProfileObjects, profileMetrics } from "./profile.js";

const spec = {
  name: "profile",
  summary: "Sample on-CPU stacks (kernel and user) and print them folded for flame graphs.",
  options: {
    pid: { type: "string", short: "p", value: "PID", description: "only this process" },
    frequency: { type: "string", short: "F", value: "HZ", description: "samples per second per CPU (default 49)" },
    "user-only": { type: "boolean", short: "U", description: "user stacks only" },
    "kernel-only": { type: "boolean", short: "K", description: "kernel stacks only" },
    idle: { type: "boolean", short: "I", description: "include the idle task" },
  },
  examples: ["profile --duration 10 > out.folded && flamegraph.pl out.folded > cpu.svg", "profile --pid 1234 --json"],
} satisfies CliSpec;

interface FoldedStack {
  pid: number;
  comm: string;
  /** Root first, leaf last; kernel frames end in "_[k]". */
  frames: string[];
  count: bigint;
}

/** Reads the sample counts and symbolizes their stacks. */
function foldedStacks(objs: ProfileObjects, ksyms: KernelSymbols, usyms: UserSymbols): FoldedStack[] {
  const out: FoldedStack[] = [];
  for (const [key, count] of objs.maps.counts.entries()) {
    out.push({ pid: key.pid, comm: key.comm, frames: stackFrames(objs.maps.stacks, key.pid, key.userStackId, key.kernStackId, ksyms, usyms), count });
  }
  return out;
}

main(spec.name, async () => {
  const v = parseCli(spec);
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const frequency = intOption(v, "frequency", 1, 100000) ?? 49;
  const duration = intOption(v, "duration", 0, 86400 * 365);
  if (v["user-only"] && v["kernel-only"]) throw new UsageError("--user-only and --kernel-only exclude each other");
  const objs = await loadProfile({
    constants: {
      ...(pid !== undefined && { targPid: pid }),
      userStacksOnly: v["user-only"] === true,
      kernelStacksOnly: v["kernel-only"] === true,
      includeIdle: v.idle === true,
    },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, profileMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    // One sampling perf event per online CPU (the runtime opens and attaches them).
    objs.programs.doSample.attach({ event: "cpu-clock", frequency });
    if (!v.json) process.stderr.write(`Sampling at ${frequency} Hz per CPU... Ctrl-C to stop.\n`);
    await untilStopped(duration);
    const ksyms = new KernelSymbols();
    const usyms = new UserSymbols();
    // Symbolize while the sampled processes still run: their mappings are read from /proc.
    const stacks = foldedStacks(objs, ksyms, usyms).sort((a, b) => (b.count > a.count ? 1 : b.count < a.count ? -1 : 0));
    for (const s of stacks) {
      if (v.json) out(toJson(s));
      else out(foldedLine(s.comm, s.frames, s.count));
    }
    reportLost("samples", objs.variables.lostSamples.get());
  } finally {
    await metrics.close();
    objs.close();
  }
});
