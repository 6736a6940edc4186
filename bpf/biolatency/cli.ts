#!/usr/bin/env node
// biolatency: block device I/O latency as bcc-style log2 histograms, per disk and per operation on
// request (bcc's biolatency, on bpf2ts).

import { statSync } from "node:fs";
import { type CliSpec, intOption, main, out, parseCli, stringOption, toJson, untilStopped, UsageError } from "../lib/cli.js";
import { startMetrics } from "../lib/metrics.js";
import { log2Histogram } from "../lib/format.js";
import { loadBiolatency, type BiolatencyObjects, biolatencyMetrics } from "./biolatency.js";

const spec = {
  name: "biolatency",
  summary: "Summarize block device I/O latency as histograms: issue to completion, or queued to completion with --queued.",
  options: {
    queued: { type: "boolean", short: "Q", description: "include the time queued in the I/O scheduler (from insert, not issue)" },
    disks: { type: "boolean", short: "D", description: "one histogram per disk" },
    ops: { type: "boolean", short: "O", description: "one histogram per operation (read, write, flush, discard, …)" },
    disk: { type: "string", value: "DEV", description: "only this disk: a device node (/dev/vda) or MAJOR:MINOR" },
    milliseconds: { type: "boolean", short: "m", description: "buckets in milliseconds (default: microseconds)" },
    interval: { type: "string", short: "i", value: "SECONDS", description: "print and reset every SECONDS" },
  },
  examples: ["biolatency --duration 10 --disks", "biolatency --queued --ops --disk /dev/vda"],
} satisfies CliSpec;

/** REQ_OP_* names (include/linux/blk_types.h). */
const opNames: Readonly<Record<number, string>> = { 0: "read", 1: "write", 2: "flush", 3: "discard", 5: "secure-erase", 7: "zone-append", 9: "write-zeroes", 10: "zone-open", 11: "zone-close", 12: "zone-finish", 13: "zone-reset", 15: "zone-reset-all", 34: "drv-in", 35: "drv-out" };

function opName(op: number): string {
  return opNames[op] ?? `op-${op}`;
}

/** A disk as the kernel's dev_t (major << 20 | minor), from a device node or "MAJOR:MINOR". */
function parseDisk(value: string): number {
  const mm = /^(\d+):(\d+)$/.exec(value);
  if (mm) return (Number(mm[1]) << 20) | Number(mm[2]);
  let st;
  try {
    st = statSync(value);
  } catch (e) {
    throw new UsageError(`--disk: ${(e as Error).message}`);
  }
  if (!st.isBlockDevice()) throw new UsageError(`--disk: ${value} is not a block device`);
  // Node's rdev is the user-space encoding: major in bits 8–19, minor in bits 0–7 and 20–31.
  const major = (st.rdev >> 8) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  return (major << 20) | minor;
}

function print(objs: BiolatencyObjects, unit: string, json: boolean, disks: boolean, ops: boolean): void {
  const entries = [...objs.maps.hists.entries()].sort(([a], [b]) => a.major - b.major || a.minor - b.minor || a.op - b.op);
  for (const [key, h] of entries) {
    objs.maps.hists.delete(key);
    const labels = { ...(disks && { disk: h.disk, dev: `${key.major}:${key.minor}` }), ...(ops && { op: opName(key.op) }) };
    if (json) out(toJson({ ...labels, unit, slots: h.slots }));
    else {
      if (disks || ops) out(`\n${Object.entries(labels).map(([k, x]) => `${k} = ${x}`).join(", ")}`);
      out(log2Histogram(h.slots, unit));
    }
  }
  if (entries.length === 0 && !json) out(log2Histogram([], unit));
}

main(spec.name, async () => {
  const v = parseCli(spec);
  const interval = intOption(v, "interval", 1, 86400);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const disk = stringOption(v, "disk");
  const dev = disk === undefined ? undefined : parseDisk(disk);
  const unit = v.milliseconds ? "msecs" : "usecs";
  const objs = await loadBiolatency({
    constants: { targQueued: v.queued === true, targPerDisk: v.disks === true, targPerOp: v.ops === true, targMs: v.milliseconds === true, ...(dev !== undefined && { targDev: dev }) },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, biolatencyMetrics, { ...(v.milliseconds === true && { overrides: { biolatency_latency_seconds: { unit: "ms" } } }) }).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    // The insert tracepoint only matters when queue time is counted.
    objs.programs.handleRqIssue.attach();
    objs.programs.handleRqComplete.attach();
    if (v.queued) objs.programs.handleRqInsert.attach();
    if (!v.json) process.stderr.write("Tracing block device I/O... Ctrl-C to stop.\n");
    const timer = interval ? setInterval(() => print(objs, unit, v.json === true, v.disks === true, v.ops === true), interval * 1000) : undefined;
    await untilStopped(duration);
    clearInterval(timer);
    print(objs, unit, v.json === true, v.disks === true, v.ops === true);
  } finally {
    await metrics.close();
    objs.close();
  }
});
