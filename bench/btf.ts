// Benchmark: parse /sys/kernel/btf/vmlinux, whole process each, bpf2ts vs bpftool.
//
//   node dist/bench/btf-parse-cli.js /sys/kernel/btf/vmlinux        (parse, print the type count)
//   bpftool btf dump file /sys/kernel/btf/vmlinux format raw > /dev/null
//
// Paired runs in alternating order, median wall time of each; target ratio ≤ 1.5.
// NODE_EXTRA_CA_CERTS is removed from the child's environment: when set (as on this machine) Node
// loads the whole CA bundle at startup (~60 ms), which has nothing to do with parsing BTF.

import { closeSync, existsSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { median, timeCommand } from "./util.js";

export interface BtfBenchResult {
  name: string;
  runs: number;
  oursMs: number;
  bpftoolMs: number;
  ratio: number;
  /** No target for vmlinux.h (NaN): reported for information. */
  target: number;
  types?: number;
  skipped?: string;
}

const cli = fileURLToPath(new URL("./btf-parse-cli.js", import.meta.url));
const headerCli = fileURLToPath(new URL("./vmlinux-h-cli.js", import.meta.url));

/** Times one whole process; its stdout goes to `stdout` (a pipe, returned, or an open fd). */
function timeRun(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdout: "pipe" | number = "pipe"): { ms: number; stdout: string } {
  return timeCommand(cmd, args, { env, stdio: ["ignore", stdout, "pipe"] });
}

export function runBtfBench(opts: { runs?: number; file?: string } = {}): BtfBenchResult {
  const file = opts.file ?? "/sys/kernel/btf/vmlinux";
  const runs = opts.runs ?? 11;
  const base: BtfBenchResult = { name: "btf-parse-vmlinux", runs, oursMs: NaN, bpftoolMs: NaN, ratio: NaN, target: 1.5 };
  if (!existsSync(file)) return { ...base, skipped: `${file} missing (kernel without CONFIG_DEBUG_INFO_BTF)` };
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const ours: number[] = [];
  const theirs: number[] = [];
  let types: number | undefined;
  const devNull = openSync("/dev/null", "w"); // bpftool's 10 MB of text go where the shell's `> /dev/null` sends them
  const runOurs = () => {
    const r = timeRun(process.execPath, [cli, file], env);
    types = Number(r.stdout.trim());
    ours.push(r.ms);
  };
  const runBpftool = () => theirs.push(timeRun("bpftool", ["btf", "dump", "file", file, "format", "raw"], env, devNull).ms);
  runOurs(); // warm the page cache and Node's own files, untimed
  ours.length = 0;
  runBpftool();
  theirs.length = 0;
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) { runOurs(); runBpftool(); }
    else { runBpftool(); runOurs(); }
  }
  closeSync(devNull);
  const oursMs = median(ours);
  const bpftoolMs = median(theirs);
  return { ...base, oursMs, bpftoolMs, ratio: oursMs / bpftoolMs, types };
}

/** vmlinux.h: `node dist/bench/vmlinux-h-cli.js` vs `bpftool btf dump file … format c`, both to /dev/null. */
export function runVmlinuxHeaderBench(opts: { runs?: number; file?: string } = {}): BtfBenchResult {
  const file = opts.file ?? "/sys/kernel/btf/vmlinux";
  const runs = opts.runs ?? 5;
  const base: BtfBenchResult = { name: "vmlinux-h", runs, oursMs: NaN, bpftoolMs: NaN, ratio: NaN, target: NaN };
  if (!existsSync(file)) return { ...base, skipped: `${file} missing (kernel without CONFIG_DEBUG_INFO_BTF)` };
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const devNull = openSync("/dev/null", "w");
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const a = () => ours.push(timeRun(process.execPath, [headerCli, file], env, devNull).ms);
      const b = () => theirs.push(timeRun("bpftool", ["btf", "dump", "file", file, "format", "c"], env, devNull).ms);
      if (i % 2 === 0) { a(); b(); } else { b(); a(); }
    }
  } finally {
    closeSync(devNull);
  }
  const oursMs = median(ours);
  const bpftoolMs = median(theirs);
  return { ...base, oursMs, bpftoolMs, ratio: oursMs / bpftoolMs };
}

function report(r: BtfBenchResult): string {
  if (r.skipped) return `btf: skipped: ${r.skipped}`;
  if (r.name === "vmlinux-h")
    return [
      `vmlinux.h from /sys/kernel/btf/vmlinux, median of ${r.runs} paired whole-process runs`,
      `  bpf2ts  (node dist/bench/vmlinux-h-cli.js)          ${r.oursMs.toFixed(1)} ms`,
      `  bpftool (btf dump file … format c)                  ${r.bpftoolMs.toFixed(1)} ms`,
      `  ratio ${r.ratio.toFixed(2)}× (no target)`,
    ].join("\n");
  return [
    `btf: parse /sys/kernel/btf/vmlinux (${r.types} types), median of ${r.runs} paired whole-process runs`,
    `  bpf2ts  (node dist/bench/btf-parse-cli.js)          ${r.oursMs.toFixed(1)} ms`,
    `  bpftool (btf dump file … format raw)                ${r.bpftoolMs.toFixed(1)} ms`,
    `  ratio ${r.ratio.toFixed(2)}× (target ≤ ${r.target}×) ${r.ratio <= r.target ? "OK" : "MISSED"}`,
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(report(runBtfBench({ runs: Number(process.env.BENCH_RUNS ?? 11) })));
  console.log(report(runVmlinuxHeaderBench()));
}

export { report as formatBtfBench };
