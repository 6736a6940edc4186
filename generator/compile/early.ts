// Starting clang before the generator loads. `bpf2ts generate <stem> <source> …` spends its first
// tens of milliseconds loading the CLI (yargs, the bundle) before the pipeline spawns clang; bpf2go
// spawns it at once. So bin/bpf2ts.js, for the plain form of that command, works out the command
// line the pipeline will run (this module and clang.ts only) and starts clang right away. The pipeline
// adopts such a compile only when its own command line is exactly the same (clang.ts's compile); anything
// else is killed and removed when the command ends (discardEarlyCompiles), so a wrong guess costs a
// core for a moment, never a different result.

import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { childEnv, clangArgs, compileKey, locateClang, parseTargets, type RunResult } from "./clang.js";
import { registerEarlyCompile, type EarlyCompile } from "./early-registry.js";
import { splitShellWords } from "./shell-words.js";

// The registry (adoptEarlyCompile, discardEarlyCompiles) is early-registry.ts, which clang.ts reads
// without loading this module; compileKey is clang.ts's, beside the argv it keys.
export { adoptEarlyCompile, discardEarlyCompiles, type EarlyCompile } from "./early-registry.js";
export { compileKey } from "./clang.js";

// `generate` options that take a value, and those that do not (yargs booleans). Any other argument
// means a form this module does not guess for.
const VALUE_OPTIONS = new Set(["cc", "cflags", "target", "type", "output-dir", "output-stem", "event"]);
const FLAG_OPTIONS = new Set(["strip", "no-strip", "global-types", "no-global-types"]);

/**
 * For `generate <stem> <source> [options] [-- clang flags]` as the CLI would read it: starts clang for
 * each target. Does nothing for any other command line, or when clang cannot be found (the pipeline
 * then says why).
 */
export function startEarlyCompiles(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): void {
  if (args[0] !== "generate") return;
  const positional: string[] = [];
  const values = new Map<string, string>();
  let rest: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      rest = args.slice(i + 1);
      break;
    }
    if (!a.startsWith("-")) {
      positional.push(a);
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(a);
    if (!m) return;
    const [, name, inline] = m as unknown as [string, string, string | undefined];
    if (FLAG_OPTIONS.has(name) && inline === undefined) continue;
    if (!VALUE_OPTIONS.has(name) || values.has(name)) return;
    const value = inline ?? args[++i];
    if (value === undefined) return;
    values.set(name, value);
  }
  if (positional.length !== 2) return;
  try {
    const source = positional[1]!;
    const clang = locateClang({ ...(values.has("cc") && { cc: values.get("cc")! }), env }).path;
    const cflags = [...splitShellWords(values.get("cflags") ?? env.BPF2TS_CFLAGS ?? ""), ...rest];
    for (const target of parseTargets(values.get("target") ?? "bpfel,bpfeb")) {
      const key = compileKey(clang, resolve(cwd), { source, target, cflags });
      const dir = mkdtempSync(join(tmpdir(), "bpf2ts-"));
      const argv = clangArgs({ source, output: join(dir, "out.o"), depfile: join(dir, "out.d"), target, cflags, cwd });
      registerEarlyCompile(key, { dir, ...started(clang, argv, cwd, env) });
    }
  } catch {
    // Bad flags, no clang: the pipeline reports it as it always does.
  }
}

/** clang running, and its outcome as clang.ts's run() gives it. */
function started(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Omit<EarlyCompile, "dir"> {
  // PWD naming cwd, as run() has it: clang's output depends on it.
  const child = spawn(cmd, args, { cwd, env: childEnv(cwd, env), stdio: ["ignore", "pipe", "pipe"] });
  const result = new Promise<RunResult>((done, fail) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", fail);
    child.on("close", (code, signal) => done({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
  });
  result.catch(() => undefined); // an adopter that gets a failure runs clang itself
  return { result, kill: () => child.kill("SIGKILL") };
}
