// The kernel's "possible" CPUs: per-CPU map values have one slot per possible CPU (not online).

import { readFileSync } from "node:fs";

/** Parses a CPU list like "0-3,5,7-8" into the CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`parse cpu list: bad range "${part}" in "${text.trim()}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

let possible: number[] | undefined;
let online: number[] | undefined;

/** CPUs listed in /sys/devices/system/cpu/possible. */
export function possibleCpus(): readonly number[] {
  possible ??= parseCpuList(readFileSync("/sys/devices/system/cpu/possible", "utf8"));
  return possible;
}

/**
 * Number of per-CPU value slots: the kernel sizes them by num_possible_cpus(), the weight of the
 * possible mask (slot i belongs to the i-th possible CPU).
 */
export function possibleCpuCount(): number {
  return Math.max(1, possibleCpus().length);
}

/** CPUs listed in /sys/devices/system/cpu/online (perf events open only on these). */
export function onlineCpus(): readonly number[] {
  online ??= parseCpuList(readFileSync("/sys/devices/system/cpu/online", "utf8"));
  return online;
}
