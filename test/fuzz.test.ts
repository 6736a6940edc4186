// Serial: the CLI cases block the process while their child runs, which would skew the timing of
// the in-process cases.
//
// Fuzzing as tests: seeded mutants (byte flips, truncation, huge header fields, type cycles, deep
// chains — helpers/mutate.ts) of the fixture objects, the tracers' objects and a slice of this
// kernel's BTF, through the generator in-process, the CLI, and the runtime in child processes. Each
// must end in a module/spec/load or a clean error — never a crash, a signal or a hang. This is a
// bounded run; `npm run fuzz` runs 10,000 + 1,000 and keeps any failing input in fixtures/fuzz/,
// which the replay test below runs on every `npm test`. (test/corrupt.test.ts and
// model-corrupt.test.ts aim flips at the ELF/BTF reader and the model alone.)

import test from "ava";
import { deepChain, mutate, type Mutant } from "./helpers/mutate.js";
import { failed, fuzzSources, keptCrashes, label, runCli, runGenerator, runRuntime, type Outcome } from "./helpers/fuzz.js";
import { tempDir } from "./helpers/temp-dir.js";

const GENERATOR_MUTANTS = 300;
const CLI_MUTANTS = 4;
const RUNTIME_MUTANTS = 60;
const SEED = 0x11f0;

const sources = fuzzSources();
// Chains of up to 5,000 types, as in `npm run fuzz` (layout, names and vmlinux.h walk them without
// recursion: the slowest of 10,000 mutants took 370 ms).
const mutants = (n: number, pick = sources, seed = SEED): Mutant[] => Array.from({ length: n }, (_, i) => mutate(pick[i % pick.length]!, seed + i));

function summary(outcomes: readonly Outcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.verdict, (counts.get(o.verdict) ?? 0) + 1);
  const slowest = Math.max(...outcomes.map((o) => o.ms));
  return `${[...counts].map(([k, v]) => `${v} ${k}`).join(", ")}; slowest ${slowest.toFixed(0)} ms`;
}

// Recursion (stack overflows on deep chains) is counted here and asserted absent in the next test.
let generatorRun: Promise<{ list: Mutant[]; outcomes: Outcome[] }> | undefined;
const runGeneratorMutants = () => (generatorRun ??= (async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "bpf2ts-fuzz-gen-"));
  try {
    const list = mutants(GENERATOR_MUTANTS);
    const outcomes: Outcome[] = [];
    for (const m of list) outcomes.push(await runGenerator(m, dir));
    return { list, outcomes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})());

test.serial(`generator in-process: ${GENERATOR_MUTANTS} mutants end in a module or a clean error (no crash, no hang)`, async (t) => {
  const { list, outcomes } = await runGeneratorMutants();
  t.log(summary(outcomes));
  const bad = outcomes.map((o, i) => [o, list[i]!] as const).filter(([o]) => failed(o) || o.ms > 30_000);
  for (const [o, m] of bad) t.fail(`${label(m)}: ${o.verdict} after ${o.ms.toFixed(0)} ms: ${o.detail}`);
  t.true(outcomes.some((o) => o.verdict === "ok") && outcomes.some((o) => o.verdict === "clean"), "both outcomes reached");
});

// Issue 11 item 2: layout, names, declarators and vmlinux.h walk types iteratively or under MAX_DEPTH.
test.serial("generator in-process: no mutant and no deep chain overflows the stack (issue 11 item 2)", async (t) => {
  const { list, outcomes } = await runGeneratorMutants();
  const dir = tempDir(t, "bpf2ts-fuzz-chain-");
  const chains: Mutant[] = [];
  // 5,000 nested typedefs in kernel BTF: the vmlinux.h writer overflows its stack at once.
  const vmlinux = sources.find((s) => s.kind === "btf");
  const m = vmlinux && deepChain(vmlinux, 5000, "typedef");
  if (m) chains.push(m);
  const all = [...list.map((m, i) => [m, outcomes[i]!] as const)];
  for (const m of chains) all.push([m, await runGenerator(m, dir)]);
  for (const [m, o] of all) if (o.verdict === "recursion") t.fail(`${label(m)}: ${o.detail}`);
  t.pass();
});

test.serial(`CLI: ${CLI_MUTANTS} mutants through inspect and generate --obj (or vmlinux --btf) exit 0 or 1 with a message`, (t) => {
  const dir = tempDir(t, "bpf2ts-fuzz-cli-");
  const outcomes = mutants(CLI_MUTANTS, sources, SEED + 7000).map((m) => [m, runCli(m, dir)] as const);
  t.log(summary(outcomes.map(([, o]) => o)));
  for (const [m, o] of outcomes) if (failed(o)) t.fail(`${label(m)}: ${o.verdict}: ${o.detail}`);
  t.pass();
});

test.serial(`runtime in child processes: ${RUNTIME_MUTANTS} mutants of little-endian objects end in a spec/load or a BpfError, never a signal`, async (t) => {
  const dir = tempDir(t, "bpf2ts-fuzz-rt-");
  const le = sources.filter((s) => s.kind === "object" && s.littleEndian);
  const list = mutants(RUNTIME_MUTANTS, le, SEED + 9000);
  const outcomes = await runRuntime(list, dir);
  t.log(summary(outcomes));
  outcomes.forEach((o, i) => {
    if (failed(o)) t.fail(`${label(list[i]!)}: ${o.verdict}: ${o.detail}`);
  });
  t.true(outcomes.some((o) => o.verdict === "clean"), "the check or libbpf refused some");
});

test.serial("kept inputs (fixtures/fuzz/): every one ends cleanly in the generator, the CLI and the runtime", async (t) => {
  const kept = keptCrashes();
  t.true(kept.length > 0);
  const dir = tempDir(t, "bpf2ts-fuzz-kept-");
  for (const m of kept) {
    const gen = await runGenerator(m, dir);
    if (failed(gen)) t.fail(`${m.source}: generator: ${gen.verdict}: ${gen.detail}`);
    const cli = runCli(m, dir);
    if (failed(cli)) t.fail(`${m.source}: CLI: ${cli.verdict}: ${cli.detail}`);
    t.log(`${m.source}: generator ${gen.verdict} (${gen.detail.split("\n")[0]}), CLI ${cli.verdict}`);
  }
  const objects = kept.filter((m) => m.kind === "object");
  const outcomes = await runRuntime(objects, dir);
  outcomes.forEach((o, i) => {
    if (failed(o)) t.fail(`${objects[i]!.source}: runtime: ${o.verdict}: ${o.detail}`);
    else t.log(`${objects[i]!.source}: runtime ${o.verdict} (${o.detail})`);
  });
});
