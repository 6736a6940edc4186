// The workflow commands of the CLI — `generate` with no source (every configured program), `check`,
// `watch`, `init`, `vmlinux` — as yargs command modules registered by cli.ts. Each handler is a thin
// layer over generate-all.ts, check.ts, watch.ts, init.ts and vmlinux.ts.

import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import type { Argv } from "yargs";
import type { ProgramCheck } from "../workflow/check.js";
import { CONFIG_FILE, ConfigError, findConfig, selectPrograms, type Config } from "../workflow/config.js";
import { Bpf2tsError, UsageError } from "../errors.js";
import { runParallel, plainProgress, ttyProgress, type Job, type Progress } from "../workflow/parallel.js";

// What a command runs is imported by its handler: the CLI loads only the stages of the command given.
const checkStage = () => import("../workflow/check.js");

/** The running kernel's BTF (as vmlinux.ts reads it; not imported from there to keep --help light). */
const KERNEL_BTF = "/sys/kernel/btf/vmlinux";

export interface WorkflowIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Live progress display; default: stderr is a terminal and env CI is unset. */
  readonly isTTY?: boolean;
}

/** Some programs failed or are stale; the message is the summary line (exit code 1). */
export class WorkflowError extends Bpf2tsError {
  override name = "WorkflowError";
}

const asList = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/**
 * Whether a live display fits: a terminal (not CI, not TERM=dumb) tall enough for one line per
 * program, since lines scrolled off the top can no longer be redrawn.
 */
const isTTY = (io: WorkflowIo, lines = 0): boolean =>
  io.isTTY ?? (process.stderr.isTTY === true && !io.env.CI && io.env.TERM !== "dumb" && lines < (process.stderr.rows || 24) - 1);

function progressFor(io: WorkflowIo, names: readonly string[]): Progress {
  return isTTY(io, names.length) ? ttyProgress(io.stderr, names, process.stderr.columns || 100) : plainProgress(io.stdout, names.length, io.stderr);
}

function jobsOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--jobs: expected a positive integer, got ${String(v)}`);
  return n;
}

/** Options shared by the commands that read the config. */
export function configOptions(y: Argv): Argv {
  return y
    .option("config", { type: "string", describe: "config file (default: bpf2ts.config.json, or the \"bpf2ts\" field of package.json, here or above)" })
    .option("jobs", { alias: "j", type: "number", describe: `programs run at once (default: ${availableParallelism()}, the core count)` });
}

/** `bpf2ts generate` with no source: every configured program (or those named). */
export async function generateConfigured(argv: Record<string, unknown>, stems: readonly string[], io: WorkflowIo): Promise<void> {
  // Per-program options on the command line would be silently ignored here: say where they belong.
  const single = ["cc", "cflags", "type", "event", "output-stem", "makebase", "package", "name", "version"].filter((k) => argv[k] !== undefined);
  if (asList(argv["--"]).length) single.push("-- <clang flags>");
  if (single.length) {
    throw new UsageError(`generate: ${single.map((k) => (k.startsWith("-") ? k : `--${k}`)).join(", ")} ${single.length > 1 ? "apply" : "applies"} to one program (bpf2ts generate <stem> <file.bpf.c>); for configured programs put ${single.length > 1 ? "them" : "it"} in the config`);
  }
  const jobs = jobsOption(argv.jobs);
  const config = findConfig(io.cwd, argv.config as string | undefined);
  const programs = selectPrograms(config, stems);
  const progress = progressFor(io, programs.map((p) => p.stem));
  const { generateAll } = await import("../workflow/generate-all.js");
  let outcomes;
  try {
    outcomes = await generateAll(config, programs, { force: argv.force === true, env: io.env, progress, cwd: io.cwd, ...(jobs !== undefined && { jobs }) });
  } finally {
    progress.close();
  }
  const failed = outcomes.filter((o) => !o.ok);
  const generated = outcomes.filter((o) => o.ok && o.value.status === "generated").length;
  const skipped = outcomes.length - failed.length - generated;
  const summary = `${generated} generated, ${skipped} up to date${failed.length ? `, ${failed.length} failed (${failed.map((f) => f.name).join(", ")})` : ""}`;
  if (failed.length) throw new WorkflowError(`generate: ${summary}`);
  io.stdout(`generate: ${summary}\n`);
}

export function checkCommand(io: WorkflowIo) {
  return {
    command: "check [programs..]",
    describe: "regenerate in memory and compare with the files on disk (exit 1 when any differ): the configured programs, or the generated modules under the given paths",
    builder: (y: Argv) =>
      configOptions(y)
        .positional("programs", { type: "string", array: true, describe: "stems of configured programs, or files and directories holding generated modules (default: the config's programs; without a config, every module under the current directory)" })
        .option("obj", { type: "boolean", default: false, describe: "generate from the committed objects instead of compiling (CI without clang)" })
        .option("diff-lines", { type: "number", default: 200, describe: "diff lines shown per stale file" })
        .example("$0 check", "fails when a .bpf.c changed but its generated files were not regenerated")
        .example("$0 check src", "checks every module bpf2ts generated under src/, each from the build record in its header (no config needed)")
        .example("$0 check --obj", "checks the TypeScript against the committed objects; no clang needed"),
    handler: async (argv: Record<string, unknown>) => {
      const jobs = jobsOption(argv.jobs);
      const diffLines = Number(argv.diffLines ?? 200);
      if (!Number.isInteger(diffLines) || diffLines < 0) throw new UsageError(`check: --diff-lines: expected a whole number of lines, got ${String(argv.diffLines)}`);
      const obj = argv.obj === true;
      const jobList = await checkJobs(argv, io, obj);
      const names = jobList.map((j) => j.name);
      // A live display on a terminal only: in CI the report below is the whole output.
      const progress = isTTY(io, names.length) ? ttyProgress(io.stderr, names, process.stderr.columns || 100) : undefined;
      let outcomes;
      try {
        outcomes = await runParallel(jobList, {
          ...(jobs !== undefined && { concurrency: jobs }),
          ...(progress && { progress }),
          describe: (o) => (!o.ok ? "cannot regenerate" : (o.value as ProgramCheck).files.length ? `${(o.value as ProgramCheck).files.length} file(s) differ` : "up to date"),
        });
      } finally {
        progress?.close();
      }
      const checks: ProgramCheck[] = [];
      const failed: string[] = [];
      for (const o of outcomes) {
        if (o.ok) {
          checks.push(o.value);
          continue;
        }
        const stderr = (o.error as { stderr?: unknown }).stderr;
        if (typeof stderr === "string" && stderr.trim()) io.stderr(stderr.endsWith("\n") ? stderr : stderr + "\n");
        const message = (o.error as Error)?.message ?? String(o.error);
        io.stderr(message.startsWith(`${o.name}: `) ? `${message}\n` : `${o.name}: cannot regenerate: ${message}\n`);
        failed.push(o.name);
      }
      const stale = checks.filter((c) => c.files.length > 0);
      const { formatReport } = await checkStage();
      io.stdout(formatReport(stale, io.cwd, diffLines));
      const what = (n: number) => `${n} ${jobList.kind}${n > 1 ? "s" : ""}`;
      if (stale.length || failed.length) {
        const files = stale.reduce((n, c) => n + c.files.length, 0);
        const regenerate = stale.every((c) => c.regenerate) ? `regenerate with ${stale.map((c) => `\`${c.regenerate}\``).join(", ")}` : "run `bpf2ts generate`";
        const parts = [
          ...(stale.length ? [`${stale.length} of ${what(jobList.length)} out of date (${files} file${files > 1 ? "s" : ""}: ${stale.map((c) => c.stem).join(", ")}); ${regenerate} and commit the result`] : []),
          ...(failed.length ? [`${failed.length} could not be regenerated (${failed.join(", ")})`] : []),
        ];
        // Objects differ byte for byte between clang builds: point CI at --obj.
        const objectsOnly = stale.length > 0 && stale.every((c) => c.files.every((f) => f.state === "stale" && (f.path.endsWith(".o") || f.path.endsWith("_types.btf"))));
        if (objectsOnly && !obj) parts.push("only objects differ: if this clang is not the one that built them, use `bpf2ts check --obj`");
        throw new WorkflowError(`check: ${parts.join("; ")}`);
      }
      io.stdout(`check: ${what(jobList.length)} up to date${obj ? " (from committed objects)" : ""}\n`);
    },
  };
}

/**
 * What `check` compares: the programs of the config (all, or the stems given), or — when paths are
 * given, or there is no config — every generated module under those paths (default: the current
 * directory), each regenerated from the build record in its header.
 */
async function checkJobs(argv: Record<string, unknown>, io: WorkflowIo, obj: boolean): Promise<Array<Job<ProgramCheck>> & { kind: string }> {
  const args = asList(argv.programs);
  const paths = args.filter((a) => existsSync(resolve(io.cwd, a)));
  const withKind = (jobs: Array<Job<ProgramCheck>>, kind: string) => Object.assign(jobs, { kind });
  let config: Config | undefined;
  if (paths.length === 0) {
    try {
      config = findConfig(io.cwd, argv.config as string | undefined);
    } catch (e) {
      // No config at all: the modules' own records. A config that exists but is broken is an error.
      if (!(e instanceof ConfigError) || argv.config !== undefined || configExists(io.cwd)) throw e;
      if (args.length > 0) throw new UsageError(`check: ${args.join(", ")}: no such file or directory (and no config whose programs ${args.length > 1 ? "they" : "it"} could name)`);
    }
  } else if (paths.length < args.length) {
    throw new UsageError(`check: give either configured program stems or paths of generated modules, not both (no such file: ${args.filter((a) => !paths.includes(a)).join(", ")})`);
  }
  if (config) {
    const c = config;
    const programs = selectPrograms(c, args);
    const { checkProgram } = await checkStage();
    return withKind(programs.map((p) => ({ name: p.stem, run: () => checkProgram(c, p, { obj, env: io.env }) })), "program");
  }
  const roots = paths.length ? paths.map((p) => resolve(io.cwd, p)) : [io.cwd];
  const { checkModule, findGeneratedModules } = await checkStage();
  const modules = await findGeneratedModules(roots);
  if (modules.length === 0) {
    throw new WorkflowError(`check: no module generated by bpf2ts under ${roots.map((r) => relativeTo(io.cwd, r)).join(", ")}${paths.length ? "" : ", and no config (bpf2ts.config.json, or a \"bpf2ts\" field in package.json)"}`);
  }
  return withKind(modules.map((m) => ({ name: relativeTo(io.cwd, m), run: () => checkModule(m, { obj, env: io.env, cwd: io.cwd }) })), "module");
}

/** Whether a config file or a package.json with a "bpf2ts" field is at `cwd` or above (up to the first package.json). */
function configExists(cwd: string): boolean {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, CONFIG_FILE))) return true;
    if (existsSync(join(dir, "package.json"))) {
      try {
        return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { bpf2ts?: unknown }).bpf2ts !== undefined;
      } catch {
        return true; // unreadable: let findConfig's error say so
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

export const relativeTo = (cwd: string, p: string): string => relative(cwd, p) || p;

export function watchCommand(io: WorkflowIo) {
  return {
    command: "watch [programs..]",
    describe: "generate the configured programs, then regenerate each when its source or a header it includes changes",
    builder: (y: Argv) =>
      configOptions(y)
        .positional("programs", { type: "string", array: true, describe: "stems of the programs to watch (default: all)" })
        .option("debounce", { type: "number", default: 150, describe: "quiet milliseconds after a change before rebuilding" }),
    handler: async (argv: Record<string, unknown>) => {
      const jobs = jobsOption(argv.jobs);
      const debounceMs = Number(argv.debounce ?? 150);
      if (!(debounceMs >= 0)) throw new UsageError(`watch: --debounce: expected milliseconds (0 or more), got ${String(argv.debounce)}`);
      const { startWatch } = await import("../workflow/watch.js");
      const watcher = startWatch({
        cwd: io.cwd,
        env: io.env,
        ...(argv.config !== undefined && { config: String(argv.config) }),
        stems: asList(argv.programs),
        debounceMs,
        ...(jobs !== undefined && { jobs }),
        stdout: io.stdout,
        stderr: io.stderr,
      });
      // Runs until SIGINT/SIGTERM; a config error before the first build ends it at once.
      await new Promise<void>((resolveStop, rejectStop) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void watcher.close().then(() => resolveStop());
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
        watcher.ready.catch((e: unknown) => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void watcher.close();
          rejectStop(e);
        });
      });
      io.stdout("watch: stopped\n");
    },
  };
}

export function initCommand(io: WorkflowIo) {
  return {
    command: "init <name>",
    describe: "scaffold a tracer: bpf/<name>.bpf.c, bpf/vmlinux.h, src/<name>-main.mts, npm scripts and config (empty directory or existing project)",
    builder: (y: Argv) =>
      y
        .positional("name", { type: "string", describe: "the tracer's name (lowercase C identifier)" })
        .option("dir", { type: "string", default: ".", describe: "the project directory" })
        .option("btf", { type: "string", describe: `BTF for vmlinux.h (default ${KERNEL_BTF})` })
        .option("vmlinux", { type: "boolean", default: true, describe: "write bpf/vmlinux.h (--no-vmlinux to skip)" })
        .option("force", { type: "boolean", default: false, describe: "replace files that exist" })
        .example("$0 init opensnoop", "then: npm install && npm run build && sudo npm start"),
    handler: async (argv: Record<string, unknown>) => {
      const { initProject } = await import("../workflow/init.js");
      const r = await initProject({
        name: String(argv.name),
        dir: resolve(io.cwd, String(argv.dir ?? ".")),
        ...(argv.btf !== undefined && { btf: resolve(io.cwd, String(argv.btf)) }),
        vmlinux: argv.vmlinux !== false,
        force: argv.force === true,
        env: io.env,
      });
      for (const n of r.notes) io.stderr(`note: ${n}\n`);
      for (const f of r.written) io.stdout(`wrote ${relativeTo(io.cwd, f)}\n`);
      const cd = relative(io.cwd, resolve(io.cwd, String(argv.dir ?? ".")));
      const run = (s: string) => (s === "start" ? "npm start" : `npm run ${s}`);
      const steps: Array<[string, string]> = [
        ...(cd ? [[`cd ${cd}`, ""] as [string, string]] : []),
        ["npm install", "# bpf2ts, the runtime, typescript"],
        [run(r.scripts.build), "# bpf2ts generate, then tsc"],
        [`sudo ${run(r.scripts.start)}`, "# load, attach, print events (Ctrl-C stops)"],
        [run(r.scripts.watch), "# regenerate as you edit the C"],
      ];
      const width = Math.max(...steps.map(([c]) => c.length)) + 2;
      io.stdout(`\nnext:\n${steps.map(([c, why]) => `  ${why ? c.padEnd(width) + why : c}`).join("\n")}\n`);
    },
  };
}

export function vmlinuxCommand(io: WorkflowIo) {
  return {
    command: "vmlinux",
    describe: "write vmlinux.h (every kernel type, for CO-RE programs) from kernel BTF",
    builder: (y: Argv) =>
      y
        .option("btf", { type: "string", default: KERNEL_BTF, describe: "raw BTF, or an ELF file with a .BTF section" })
        .option("output", { alias: "o", type: "string", describe: "output file (default: stdout)" }),
    handler: async (argv: Record<string, unknown>) => {
      const btf = resolve(io.cwd, String(argv.btf ?? KERNEL_BTF));
      const { vmlinuxHeader, writeAtomically } = await import("../workflow/vmlinux.js");
      const h = await vmlinuxHeader(btf);
      if (h.note) io.stderr(`note: ${h.note}\n`);
      if (argv.output === undefined) {
        io.stdout(h.text);
        return;
      }
      const out = resolve(io.cwd, String(argv.output));
      await writeAtomically(out, h.text);
      io.stderr(`wrote ${relativeTo(io.cwd, out)} (${h.text.split("\n").length - 1} lines, from ${btf})\n`);
    },
  };
}
