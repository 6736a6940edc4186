#!/usr/bin/env node
// syscount: counts system calls per syscall (with errors and time) or per process, and prints the top
// entries when it stops or every --interval seconds (bcc's syscount, on bpf2ts).

import { readFileSync } from "node:fs";
import { type CliSpec, intOption, main, out, parseCli, stringOption, toJson, untilStopped, UsageError } from "../lib/cli.js";
import { startMetrics } from "../lib/metrics.js";
import { duration as fmtDuration, sumCpus } from "../lib/format.js";
import { syscallName, syscallNumber } from "../lib/syscalls.js";
import { loadSyscount, type SyscountObjects, syscountMetrics } from "./syscount.js";

const spec = {
  name: "syscount",
  summary: "Count system calls per syscall (calls, errors, total time) or per process.",
  options: {
    pid: { type: "string", short: "p", value: "PID", description: "only this process" },
    syscall: { type: "string", short: "s", value: "NAME|NR", description: "only this syscall" },
    failed: { type: "boolean", short: "x", description: "only failed calls" },
    process: { type: "boolean", short: "P", description: "count per process instead of per syscall" },
    top: { type: "string", short: "T", value: "N", description: "print the top N entries (default 10)" },
    interval: { type: "string", short: "i", value: "SECONDS", description: "print and reset every SECONDS" },
  },
  examples: ["syscount --duration 5", "syscount --process --top 5"],
} satisfies CliSpec;

interface SyscallRow {
  nr: number;
  name: string;
  count: bigint;
  errors: bigint;
  totalNs: bigint;
}

/** Per-syscall totals over all CPUs, biggest count first; the map is cleared when `reset`. */
function syscallRows(objs: SyscountObjects, reset = false): SyscallRow[] {
  const rows: SyscallRow[] = [];
  for (const [nr, perCpu] of objs.maps.syscallStats.entries()) {
    rows.push({
      nr,
      name: syscallName(nr),
      count: sumCpus(perCpu.map((s) => s.count)),
      errors: sumCpus(perCpu.map((s) => s.errors)),
      totalNs: sumCpus(perCpu.map((s) => s.totalNs)),
    });
    if (reset) objs.maps.syscallStats.delete(nr);
  }
  return rows.sort((a, b) => (b.count > a.count ? 1 : b.count < a.count ? -1 : a.nr - b.nr));
}

/** Per-process totals over all CPUs, biggest first. */
function processRows(objs: SyscountObjects, reset = false): Array<{ pid: number; count: bigint }> {
  const rows: Array<{ pid: number; count: bigint }> = [];
  for (const [pid, perCpu] of objs.maps.pidCounts.entries()) {
    rows.push({ pid, count: sumCpus(perCpu) });
    if (reset) objs.maps.pidCounts.delete(pid);
  }
  return rows.sort((a, b) => (b.count > a.count ? 1 : b.count < a.count ? -1 : a.pid - b.pid));
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "[exited]";
  }
}

function print(objs: SyscountObjects, perProcess: boolean, top: number, json: boolean, reset: boolean): void {
  if (perProcess) {
    const rows = processRows(objs, reset).slice(0, top);
    if (json) for (const r of rows) out(toJson({ pid: r.pid, comm: commOf(r.pid), count: r.count }));
    else {
      out(`${"PID".padEnd(8)} ${"COMM".padEnd(16)} ${"COUNT".padStart(10)}`);
      for (const r of rows) out(`${String(r.pid).padEnd(8)} ${commOf(r.pid).padEnd(16)} ${String(r.count).padStart(10)}`);
    }
    return;
  }
  const rows = syscallRows(objs, reset).slice(0, top);
  if (json) for (const r of rows) out(toJson(r));
  else {
    out(`${"SYSCALL".padEnd(22)} ${"COUNT".padStart(10)} ${"ERRORS".padStart(8)} ${"TIME".padStart(10)}`);
    for (const r of rows) out(`${r.name.padEnd(22)} ${String(r.count).padStart(10)} ${String(r.errors).padStart(8)} ${fmtDuration(r.totalNs).padStart(10)}`);
  }
}

main(spec.name, async () => {
  const v = parseCli(spec);
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const top = intOption(v, "top", 1, 100000) ?? 10;
  const interval = intOption(v, "interval", 1, 86400);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const sc = stringOption(v, "syscall");
  let nr: number | undefined;
  if (sc !== undefined) {
    nr = /^\d+$/.test(sc) ? Number(sc) : syscallNumber(sc);
    if (nr === undefined) throw new UsageError(`--syscall: unknown syscall ${JSON.stringify(sc)}`);
  }
  const objs = await loadSyscount({
    constants: { ...(pid !== undefined && { targPid: pid }), ...(nr !== undefined && { targSyscall: nr }), filterFailed: v.failed === true },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, syscountMetrics, { relabel: { syscall: (n) => syscallName(Number(n)) } }).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) process.stderr.write("Tracing syscalls... Ctrl-C to stop.\n");
    const timer = interval ? setInterval(() => print(objs, v.process === true, top, v.json === true, true), interval * 1000) : undefined;
    await untilStopped(duration);
    clearInterval(timer);
    print(objs, v.process === true, top, v.json === true, false);
  } finally {
    await metrics.close();
    objs.close();
  }
});
