// Benchmark: `bpf2ts generate` vs cilium/ebpf's bpf2go (Debian's 0.9.1, built here with Go 1.19) on
// the same program with vmlinux.h, whole process each, median of paired runs in alternating order.
// Both compile for bpfel and bpfeb with clang-19 and strip with llvm-strip-19. Target ratio ≤ 1.5.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, timeCommand } from "./util.js";

export interface GenerateBenchResult {
  name: string;
  runs: number;
  oursMs: number;
  bpf2goMs: number;
  ratio: number;
  target: number;
  skipped?: string;
}

const root = fileURLToPath(new URL("../..", import.meta.url));
const gopath = "/usr/share/gocode";

/** Builds bpf2go from Debian's golang-github-cilium-ebpf-dev sources; undefined when Go is missing. */
function buildBpf2go(dir: string): string | undefined {
  if (!existsSync(join(gopath, "src/github.com/cilium/ebpf/cmd/bpf2go"))) return undefined;
  const out = join(dir, "bpf2go");
  const r = spawnSync("go", ["build", "-o", out, "github.com/cilium/ebpf/cmd/bpf2go"], {
    env: { ...process.env, GOPATH: gopath, GO111MODULE: "off", GOFLAGS: "", GOCACHE: join(tmpdir(), "bpf2ts-bench-gocache") },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`bench: building bpf2go failed: ${r.stderr || r.error}`);
  return out;
}

export function runGenerateBench(runs = Number(process.env.BENCH_RUNS ?? 5)): GenerateBenchResult {
  const name = "generate execsnoop (bpfel+bpfeb)";
  const work = mkdtempSync(join(tmpdir(), "bpf2ts-bench-gen-"));
  try {
    const bpf2go = buildBpf2go(work);
    if (!bpf2go) {
      return { name, runs: 0, oursMs: 0, bpf2goMs: 0, ratio: 0, target: 1.5, skipped: "golang-github-cilium-ebpf-dev is not installed" };
    }
    const source = join(root, "bpf/execsnoop/execsnoop.bpf.c");
    const cflags = [`-I${join(root, "bpf")}`, "-D__TARGET_ARCH_x86"];
    const goOut = join(work, "go");
    const tsOut = join(work, "ts");
    mkdirSync(goOut);
    mkdirSync(tsOut);
    const goRun = () =>
      timeCommand(bpf2go, ["-cc", "clang-19", "-strip", "llvm-strip-19", "execsnoop", source, "--", ...cflags], {
        cwd: goOut,
        env: { ...process.env, GOPACKAGE: "main" },
      }).ms;
    const tsRun = () =>
      timeCommand(process.execPath, [join(root, "bin/bpf2ts.js"), "generate", "execsnoop", source, "--cc", "clang-19", "--output-dir", tsOut, "--", ...cflags], {
        cwd: root,
      }).ms;
    goRun(); // warm the page cache for clang and the headers
    tsRun();
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      if (i % 2) {
        ours.push(tsRun());
        theirs.push(goRun());
      } else {
        theirs.push(goRun());
        ours.push(tsRun());
      }
    }
    const oursMs = median(ours);
    const bpf2goMs = median(theirs);
    return { name, runs, oursMs, bpf2goMs, ratio: oursMs / bpf2goMs, target: 1.5 };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = runGenerateBench();
  console.log(JSON.stringify(r, null, 2));
}
