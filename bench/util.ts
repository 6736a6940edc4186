// Small helpers shared by the benchmarks: timing whole processes, pinning them, taking medians.

import { execFileSync, spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync } from "node:fs";

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

/**
 * Runs `cmd args` pinned to `cpu` with taskset (util-linux), or as is where there is none, and
 * returns its stdout; throws on failure.
 */
export function runPinned(cpu: string, cmd: string, args: readonly string[] = []): string {
  const [file, argv] = existsSync("/usr/bin/taskset") ? ["/usr/bin/taskset", ["-c", cpu, cmd, ...args]] : [cmd, [...args]];
  return execFileSync(file, argv, { encoding: "utf8" });
}
