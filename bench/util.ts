// Small helpers shared by the benchmarks: timing whole processes and taking medians.

import { spawnSync, type SpawnSyncOptions } from "node:child_process";

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs a command to completion and returns its wall time in ms; throws with its stderr on failure. */
export function timeCommand(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): number {
  const start = performance.now();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], ...opts, encoding: "utf8" });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`bench: ${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr || r.error}`);
  return ms;
}
