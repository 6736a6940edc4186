// The compiles bin/bpf2ts.js started before the generator loaded (early.ts), by key (clang.ts's
// compileKey), for the pipeline to adopt. Apart from early.ts so that clang.ts reads it without
// loading the starter.

import { rmSync } from "node:fs";
import type { RunResult } from "./clang.js";

export interface EarlyCompile {
  /** The temporary directory clang writes `out.o` and `out.d` into. */
  readonly dir: string;
  readonly result: Promise<RunResult>;
  kill(): void;
}

// One registry per process, shared by this module's copies (bin loads tsc's output, the CLI its bundle).
const registry = ((globalThis as Record<symbol, unknown>)[Symbol.for("bpf2ts.earlyCompiles")] ??= new Map()) as Map<string, EarlyCompile>;

/** The early compile with exactly this key, taken out of the registry (the caller owns its directory). */
export function adoptEarlyCompile(key: string): EarlyCompile | undefined {
  const found = registry.get(key);
  registry.delete(key);
  return found;
}

/** Records a compile started early, for the pipeline to adopt by its key. */
export function registerEarlyCompile(key: string, c: EarlyCompile): void {
  registry.set(key, c);
}

/** Kills the early compiles nobody adopted and removes their directories. */
export function discardEarlyCompiles(): void {
  for (const c of registry.values()) {
    c.kill();
    rmSync(c.dir, { recursive: true, force: true });
  }
  registry.clear();
}
