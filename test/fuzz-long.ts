// `npm run fuzz`: the long run of the fuzz tests (test/fuzz.test.ts runs a bounded number on every
// `npm test`). 10,000 mutants through the generator in-process and 1,000 through the runtime in
// child processes by default (FUZZ_GENERATOR, FUZZ_RUNTIME, FUZZ_CLI, FUZZ_SEED change that;
// FUZZ_CHECK=0 runs the runtime without its check, to see what libbpf alone does); every
// failing input is kept in fixtures/fuzz/ (with a .json saying what it is), where the replay test
// runs it forever after. Exits 1 when something failed.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mutate, type Mutant } from "./helpers/mutate.js";
import { failed, fuzzSources, keepCrash, label, runCli, runGenerator, runRuntime, type Outcome } from "./helpers/fuzz.js";

const count = (name: string, d: number) => Number(process.env[name] ?? d);
const GENERATOR = count("FUZZ_GENERATOR", 10_000);
const RUNTIME = count("FUZZ_RUNTIME", 1_000);
const CLI = count("FUZZ_CLI", 50);
const SEED = count("FUZZ_SEED", 0x5eed0000);

const sources = fuzzSources();
const dir = mkdtempSync(join(tmpdir(), "bpf2ts-fuzz-"));
let failures = 0;

function report(what: string, list: readonly Mutant[], outcomes: readonly Outcome[], ms: number): void {
  const counts = new Map<string, number>();
  outcomes.forEach((o, i) => {
    counts.set(o.verdict, (counts.get(o.verdict) ?? 0) + 1);
    if (failed(o)) {
      failures++;
      const kept = keepCrash(list[i]!, what, o);
      console.log(`FAIL ${what}: ${label(list[i]!)}: ${o.verdict}: ${o.detail.split("\n")[0]} (kept as ${kept})`);
    }
  });
  const slowest = outcomes.reduce((a, o) => Math.max(a, o.ms), 0);
  console.log(`${what}: ${outcomes.length} mutants in ${(ms / 1000).toFixed(1)} s: ${[...counts].map(([k, v]) => `${v} ${k}`).join(", ")}; slowest ${slowest.toFixed(0)} ms`);
}

try {
  console.log(`sources: ${sources.map((s) => s.name).join(", ")}`);
  let start = performance.now();
  const gen = Array.from({ length: GENERATOR }, (_, i) => mutate(sources[i % sources.length]!, SEED + i));
  const genOut: Outcome[] = [];
  for (const [i, m] of gen.entries()) {
    genOut.push(await runGenerator(m, dir));
    if ((i + 1) % 1000 === 0) console.log(`  generator: ${i + 1}/${GENERATOR}`);
  }
  report("generator", gen, genOut, performance.now() - start);

  start = performance.now();
  const le = sources.filter((s) => s.kind === "object" && s.littleEndian);
  const rt = Array.from({ length: RUNTIME }, (_, i) => mutate(le[i % le.length]!, SEED + 500_000 + i));
  report(process.env.FUZZ_CHECK === "0" ? "runtime with check: false (libbpf alone)" : "runtime", rt, await runRuntime(rt, dir), performance.now() - start);

  start = performance.now();
  const cli = Array.from({ length: CLI }, (_, i) => mutate(sources[i % sources.length]!, SEED + 900_000 + i));
  report("cli", cli, cli.map((m) => runCli(m, dir)), performance.now() - start);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failures ? 1 : 0;
