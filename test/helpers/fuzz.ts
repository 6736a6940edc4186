// The fuzz harness shared by test/fuzz.test.ts (a bounded run on every `npm test`) and
// test/fuzz-long.ts (`npm run fuzz`): where mutants come from, and how each consumer — the generator
// in-process, the CLI, the runtime in child processes — is run on them and its outcome judged.
//
// Outcomes: "ok" (a module, a spec, a load), "clean" (an error meant for users: ObjectFileError,
// a bpf2ts error, a BpfError), or a failure: "recursion" (a stack overflow, issue 11 item 2),
// "crash" (any other exception, a signal, an internal error), "hang".

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ObjectFileError } from "@bpf2ts/runtime/object-file";
import { isBpf2tsError } from "../../generator/errors.js";
import { buildOutputs } from "../../generator/pipeline/run.js";
import { readBtfFile } from "../../generator/workflow/vmlinux.js";
import { formatCHeader } from "../../generator/workflow/vmlinux-h.js";
import { btfSlice, objectSource, type FuzzSource, type Mutant } from "./mutate.js";

export const root = fileURLToPath(new URL("../../..", import.meta.url));
export const CRASH_DIR = join(root, "fixtures/fuzz");
const BIN = join(root, "bin/bpf2ts.js");
const CHILD = fileURLToPath(new URL("./fuzz-runtime-child.js", import.meta.url));

export type Verdict = "ok" | "clean" | "recursion" | "crash" | "hang";
export interface Outcome {
  readonly verdict: Verdict;
  readonly detail: string;
  readonly ms: number;
}
export const failed = (o: Outcome) => o.verdict === "recursion" || o.verdict === "crash" || o.verdict === "hang";

/** The inputs: the fixture objects, the tracers' objects, and a slice of this kernel's BTF. */
export function fuzzSources(): FuzzSource[] {
  const objects: string[] = [];
  for (const dir of ["fixtures/objects", ...readdirSync(join(root, "fixtures/golden")).map((d) => `fixtures/golden/${d}`), ...readdirSync(join(root, "bpf")).map((d) => `bpf/${d}`)]) {
    if (!existsSync(join(root, dir)) || !statDir(join(root, dir))) continue;
    for (const f of readdirSync(join(root, dir)).sort()) if (f.endsWith(".o")) objects.push(`${dir}/${f}`);
  }
  const out = objects.map((p) => objectSource(join(root, p), p));
  if (existsSync("/sys/kernel/btf/vmlinux")) out.push(btfSlice(new Uint8Array(readFileSync("/sys/kernel/btf/vmlinux")), 3000, "vmlinux[1..3000]"));
  return out;
}

function statDir(p: string): boolean {
  try {
    return readdirSync(p).length >= 0;
  } catch {
    return false;
  }
}

export const label = (m: Pick<Mutant, "source" | "seed" | "what">) => `${m.source} seed ${m.seed} (${m.what})`;

function judge(e: unknown): { verdict: Verdict; detail: string } {
  const err = e as Error;
  if (e instanceof ObjectFileError || isBpf2tsError(e)) return { verdict: "clean", detail: `${err.name}: ${err.message.split("\n")[0]}` };
  if (e instanceof RangeError && /call stack/.test(err.message)) return { verdict: "recursion", detail: `${err.message} at ${frames(err)}` };
  return { verdict: "crash", detail: `${err?.name}: ${err?.message}\n${err?.stack ?? ""}` };
}

/** The generator's own frames of a stack (where the recursion is). */
function frames(e: Error): string {
  const files = (e.stack ?? "").split("\n").map((l) => /generator\/([\w/-]+\.js)/.exec(l)?.[1]).filter((x): x is string => !!x);
  return [...new Set(files)].slice(0, 3).join(", ") || "?";
}

/** The generator in-process: model, layout and emitted module for an object; vmlinux.h for BTF. */
export async function runGenerator(m: Mutant, dir: string): Promise<Outcome> {
  const file = join(dir, m.kind === "object" ? "mutant.o" : "mutant.btf");
  writeFileSync(file, m.bytes);
  const start = performance.now();
  try {
    if (m.kind === "object") await buildOutputs({ stem: "fuzz", objects: [file], cwd: dir });
    else formatCHeader(await readBtfFile(file));
    return { verdict: "ok", detail: "", ms: performance.now() - start };
  } catch (e) {
    return { ...judge(e), ms: performance.now() - start };
  }
}

/** The CLI: `inspect` and `generate --obj` (objects) or `vmlinux --btf` (BTF), exit 0 or 1 with a message. */
export function runCli(m: Mutant, dir: string): Outcome {
  const file = join(dir, m.kind === "object" ? "mutant.o" : "mutant.btf");
  writeFileSync(file, m.bytes);
  const commands = m.kind === "object" ? [["inspect", file], ["generate", "fuzz", "--obj", file, "--output-dir", join(dir, "out")]] : [["vmlinux", "--btf", file, "-o", join(dir, "vmlinux.h")]];
  const start = performance.now();
  let verdict: Verdict = "ok";
  let detail = "";
  for (const argv of commands) {
    const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: "utf8", timeout: 60_000 });
    const shown = `bpf2ts ${argv.join(" ")}`;
    if (r.error || r.signal) return { verdict: r.signal === "SIGTERM" ? "hang" : "crash", detail: `${shown}: ${r.signal ?? r.error?.message}`, ms: performance.now() - start };
    if (/internal error|Maximum call stack/.test(r.stderr)) return { verdict: /call stack/.test(r.stderr) ? "recursion" : "crash", detail: `${shown}: exit ${r.status}: ${r.stderr.trim()}`, ms: performance.now() - start };
    if (r.status !== 0 && r.status !== 1) return { verdict: "crash", detail: `${shown}: exit ${r.status}: ${r.stderr.trim()}`, ms: performance.now() - start };
    if (r.status === 1) {
      if (!/^bpf2ts: \S/.test(r.stderr)) return { verdict: "crash", detail: `${shown}: exit 1 without a message: ${r.stderr}`, ms: performance.now() - start };
      verdict = "clean";
      detail = r.stderr.split("\n")[0]!;
    }
  }
  return { verdict, detail, ms: performance.now() - start };
}

/**
 * The runtime on `mutants` (little-endian objects): objectSpec, then loadObject and close, in child
 * processes, many mutants per child. A child killed by a signal (or silent past `hangMs`) fails the
 * mutant it was on; the next child resumes after it.
 */
export async function runRuntime(mutants: readonly Mutant[], dir: string, hangMs = 60_000): Promise<Outcome[]> {
  const files = mutants.map((m, i) => {
    const f = join(dir, `runtime-${i}.o`);
    writeFileSync(f, m.bytes);
    return f;
  });
  const outcomes: Outcome[] = new Array(mutants.length);
  let next = 0;
  while (next < files.length) {
    const list = join(dir, "runtime-list.json");
    writeFileSync(list, JSON.stringify(files.slice(next)));
    const offset = next;
    const ended = await new Promise<{ code: number | null; signal: string | null; at: number; hung: boolean }>((resolve) => {
      const child = spawn(process.execPath, [CHILD, list], { stdio: ["ignore", "pipe", "pipe"] });
      let at = offset;
      let started = performance.now();
      let buffered = "";
      let stderr = "";
      let hung = false;
      const watchdog = setInterval(() => {
        if (performance.now() - started > hangMs) {
          hung = true;
          child.kill("SIGKILL");
        }
      }, 250);
      child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      child.stdout.on("data", (d: Buffer) => {
        buffered += d.toString();
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const msg = JSON.parse(line) as { begin?: number; end?: number; verdict?: Verdict; detail?: string; ms?: number };
          if (msg.begin !== undefined) {
            at = offset + msg.begin;
            started = performance.now();
          } else if (msg.end !== undefined) {
            outcomes[offset + msg.end] = { verdict: msg.verdict!, detail: msg.detail ?? "", ms: msg.ms ?? 0 };
            at = offset + msg.end + 1;
          }
        }
      });
      child.on("close", (code, signal) => {
        clearInterval(watchdog);
        if (signal || code !== 0) {
          if (at < files.length && outcomes[at] === undefined)
            outcomes[at] = { verdict: hung ? "hang" : "crash", detail: `child ${hung ? `silent for ${hangMs} ms, killed` : `ended by ${signal ?? `exit ${code}`}`}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`, ms: 0 };
        }
        resolve({ code, signal, at, hung });
      });
    });
    next = ended.code === 0 && !ended.signal ? files.length : ended.at + 1;
  }
  return outcomes;
}

/** Keeps a failing input as a fixture the replay test runs forever after; returns its path. */
export function keepCrash(m: Mutant, consumer: string, o: Outcome): string {
  mkdirSync(CRASH_DIR, { recursive: true });
  const stem = `${m.source.replace(/[^A-Za-z0-9]+/g, "-")}-seed${m.seed}`;
  const file = join(CRASH_DIR, `${stem}${m.kind === "object" ? ".o" : ".btf"}`);
  writeFileSync(file, m.bytes);
  writeFileSync(join(CRASH_DIR, `${stem}.json`), JSON.stringify({ source: m.source, seed: m.seed, mutation: m.what, consumer, verdict: o.verdict, detail: o.detail.split("\n")[0] }, null, 2) + "\n");
  return file;
}

/** The inputs kept in fixtures/fuzz/ (crashes found before, and hand-made hostile objects). */
export function keptCrashes(): Mutant[] {
  if (!existsSync(CRASH_DIR)) return [];
  return readdirSync(CRASH_DIR)
    .filter((f) => f.endsWith(".o") || f.endsWith(".btf"))
    .sort()
    .map((f) => ({ source: `fixtures/fuzz/${f}`, kind: f.endsWith(".o") ? "object" : "btf", seed: 0, what: "kept input", bytes: new Uint8Array(readFileSync(join(CRASH_DIR, f))) }) as Mutant);
}
