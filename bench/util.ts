// Small helpers shared by the benchmarks: timing whole processes and taking medians.

import { spawnSync, type SpawnSyncOptions } from "node:child_process";

/** The median of `xs`; 0 for none (a consumer with no successful run). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return 0;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * Runs a command to completion and returns its wall time in ms and its stdout (stdout is discarded
 * unless `opts.stdio` says otherwise); throws with its stderr on failure.
 */
export function timeCommand(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): { ms: number; stdout: string } {
  const start = performance.now();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], ...opts, encoding: "utf8" });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`bench: ${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr || r.error}`);
  return { ms, stdout: r.stdout ?? "" };
}
