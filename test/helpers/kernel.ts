// Kernel test helpers: a one-time probe of what this kernel can run, `requireFeature` for tests
// that need a feature, and compilers for test programs (BPF C with clang-19, user C with gcc, Go),
// cached by content hash in the OS temp dir so reruns cost nothing.

import type * as Runtime from "@bpf2ts/runtime";
import type { ObjectDescriptor } from "@bpf2ts/runtime";
import type { ExecutionContext } from "ava";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { multiarchInclude } from "../../generator/compile/clang.js";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
export const cacheDir = join(tmpdir(), "bpf2ts-test-cache");

/** Whether kernel tests must fail (not pass with a logged reason) when a feature is missing. */
export const requireKernel = process.env.BPF2TS_REQUIRE_KERNEL === "1";

export type Feature =
  | "root" | "bpf" | "btf" | "tracepoint" | "raw_tp" | "tp_btf" | "kprobe" | "uprobe" | "perf_event" | "xdp"
  | "tc" | "socket" | "cgroup_skb" | "iter" | "test_run" | "ringbuf" | "fentry" | "gcc" | "go" | "clang" | "iproute2";

export interface Probe {
  features: Record<Feature, boolean>;
  /** Why a feature is missing. */
  reasons: Partial<Record<Feature, string>>;
  summary: string;
}

// libbpf's program type names for the features above.
const progTypes = { socket: "socket_filter", kprobe: "kprobe", tracepoint: "tracepoint", xdp: "xdp", perf_event: "perf_event", cgroup_skb: "cgroup_skb", raw_tp: "raw_tracepoint", tc: "sched_cls" } as const;

function has(cmd: string, args: string[] = ["--version"]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

let probed: Probe | undefined;

/**
 * Probes the kernel once per process: libbpf loads a trivial program of each type
 * (libbpf_probe_bpf_prog_type), kprobe_events and BTF are looked up, and fentry is tried for real
 * (load + attach of a tiny fentry program).
 */
export async function probeKernel(): Promise<Probe> {
  if (probed) return probed;
  const f = {} as Record<Feature, boolean>;
  const why: Partial<Record<Feature, string>> = {};
  const set = (k: Feature, ok: boolean, reason: string) => {
    f[k] = ok;
    if (!ok) why[k] = reason;
  };
  set("root", process.getuid?.() === 0, "tests must run as root");
  set("clang", has("clang-19"), "clang-19 is not installed (apt-get install clang-19)");
  set("gcc", has("gcc"), "gcc is not installed");
  set("go", has("go", ["version"]), "go is not installed (apt-get install golang-go)");
  set("iproute2", has("ip", ["-V"]), "ip (iproute2) is not installed");
  set("btf", existsSync("/sys/kernel/btf/vmlinux"), "no /sys/kernel/btf/vmlinux (kernel without CONFIG_DEBUG_INFO_BTF)");
  let rt: typeof Runtime | undefined;
  try {
    rt = await import("@bpf2ts/runtime");
    rt.libbpfVersion();
  } catch (e) {
    rt = undefined;
    set("bpf", false, `runtime did not load: ${(e as Error).message}`);
  }
  if (rt) {
    const prog = (t: string) => rt!.haveProgramType(t);
    set("bpf", prog(progTypes.socket), "the bpf() syscall is not usable (not root, or BPF disabled)");
    for (const [k, t] of [["socket", progTypes.socket], ["tracepoint", progTypes.tracepoint], ["xdp", progTypes.xdp], ["perf_event", progTypes.perf_event], ["cgroup_skb", progTypes.cgroup_skb], ["raw_tp", progTypes.raw_tp], ["tc", progTypes.tc]] as const) {
      set(k, f.bpf && prog(t), `program type ${k} does not load on this kernel`);
    }
    set("test_run", f.xdp, "BPF_PROG_TEST_RUN needs XDP programs");
    set("ringbuf", f.bpf && rt.haveMapType("ringbuf"), "BPF_MAP_TYPE_RINGBUF is not available (kernel < 5.8)");
    const tracing = f.bpf && f.btf && f.clang;
    const tpBtf = tracing ? tryAttach(rt, "probe_tp_btf") : "no BTF or clang";
    set("tp_btf", tpBtf === true, `tp_btf programs do not attach: ${tpBtf}`);
    const iter = tracing ? tryAttach(rt, "probe_iter") : "no BTF or clang";
    set("iter", iter === true, `BPF iterators do not attach: ${iter}`);
    const kprobeEvents = existsSync("/sys/kernel/tracing/kprobe_events") || existsSync("/sys/kernel/debug/tracing/kprobe_events");
    const kprobe = f.bpf && f.clang ? tryAttach(rt, "probe_kprobe") : "no bpf or clang";
    set("kprobe", kprobe === true, `kprobes do not attach${kprobeEvents ? "" : " (no kprobe_events: CONFIG_KPROBE_EVENTS)"}: ${kprobe}`);
    const uprobeEvents = existsSync("/sys/bus/event_source/devices/uprobe/type");
    set("uprobe", f.bpf && prog(progTypes.kprobe) && uprobeEvents, "uprobes are not available (no /sys/bus/event_source/devices/uprobe)");
    const fentry = tracing ? tryAttach(rt, "probe_fentry") : "no BTF or clang";
    set("fentry", fentry === true, `fentry/fexit do not attach on this kernel: ${fentry}`);
  } else {
    for (const k of ["socket", "tracepoint", "xdp", "perf_event", "cgroup_skb", "raw_tp", "tc", "test_run", "ringbuf", "tp_btf", "iter", "kprobe", "uprobe", "fentry"] as const) set(k, false, why.bpf!);
  }
  const yes = Object.entries(f).filter(([, v]) => v).map(([k]) => k);
  const no = Object.entries(f).filter(([, v]) => !v).map(([k]) => k);
  probed = { features: f, reasons: why, summary: `kernel probe: can run ${yes.join(" ")}; cannot: ${no.join(" ") || "none"}` };
  if (!printed) {
    printed = true;
    console.error(probed.summary);
  }
  return probed;
}
let printed = false;

/** Loads probe.bpf.c's `program` alone and attaches it: true, or the error's first line. */
function tryAttach(rt: typeof Runtime, program: string): true | string {
  try {
    const obj = rt.loadObjectSync(descriptor("probe", compileBpf("probe.bpf.c")), { programs: [program] });
    try {
      obj.programs[program]!.attachAuto().close();
      return true;
    } finally {
      obj.close();
    }
  } catch (e) {
    return ((e as Error).message ?? String(e)).split("\n")[0]!;
  }
}

/**
 * For a test that needs `feature`: true if present. Otherwise logs why and fails the test when
 * BPF2TS_REQUIRE_KERNEL=1, or passes it with the reason in the log (the feature itself is never
 * claimed to work).
 */
/** Why `feature` is missing (undefined when present), from the probe. */
export async function missingReason(feature: Feature): Promise<string | undefined> {
  const p = await probeKernel();
  return p.features[feature] ? undefined : p.reasons[feature] ?? "missing";
}

export async function requireFeature(t: ExecutionContext, ...features: Feature[]): Promise<boolean> {
  const p = await probeKernel();
  const missing = features.filter((x) => !p.features[x]);
  if (missing.length === 0) return true;
  const reason = missing.map((m) => `${m}: ${p.reasons[m] ?? "missing"}`).join("; ");
  t.log(`cannot run: ${reason}`);
  if (requireKernel) t.fail(`required kernel feature missing (BPF2TS_REQUIRE_KERNEL=1): ${reason}`);
  else t.pass(`skipped: ${reason}`);
  return false;
}

function hashOf(...parts: (string | Buffer)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 24);
}

/** Writes `data` to `path` atomically (ava runs test files in parallel processes). */
function writeAtomic(path: string, data: Buffer | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** A vmlinux.h include dir: the tracers' bpf/vmlinux.h, or one dumped from the running kernel. */
export function vmlinuxDir(): string {
  if (existsSync(join(repoRoot, "bpf/vmlinux.h"))) return join(repoRoot, "bpf");
  const dir = join(cacheDir, "vmlinux");
  if (!existsSync(join(dir, "vmlinux.h"))) {
    const h = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], { maxBuffer: 1 << 28 });
    writeAtomic(join(dir, "vmlinux.h"), h);
  }
  return dir;
}

/**
 * Compiles test/bpf/<file> (or an absolute path) with clang-19 for bpfel, cached by content hash.
 * Returns the object bytes.
 */
export function compileBpf(file: string, extraFlags: string[] = []): Buffer {
  const src = resolve(join(repoRoot, "test/bpf"), file);
  const inc = vmlinuxDir();
  // The multiarch directory, as generate adds it: Debian's <asm/…> (usdt.bpf.h includes <linux/errno.h>).
  const args = ["-O2", "-g", "-target", "bpfel", "-D__TARGET_ARCH_x86", "-I", join(repoRoot, "test/bpf"), "-I", inc, ...multiarchInclude(), ...extraFlags];
  // Keyed by the source, the flags and the headers it may include (vmlinux.h can be regenerated).
  const headers = [join(inc, "vmlinux.h"), ...readdirSync(join(repoRoot, "test/bpf")).filter((f) => f.endsWith(".h")).map((f) => join(repoRoot, "test/bpf", f))];
  const stamp = headers.map((h) => (existsSync(h) ? `${h}:${statSync(h).size}:${statSync(h).mtimeMs}` : "")).join(",");
  const out = join(cacheDir, "bpf", `${basename(file, ".c")}-${hashOf(readFileSync(src), args.join(" "), stamp)}.o`);
  if (!existsSync(out)) {
    const tmp = `${out}.${process.pid}.tmp.o`;
    mkdirSync(dirname(out), { recursive: true });
    execFileSync("clang-19", [...args, "-c", src, "-o", tmp], { stdio: ["ignore", "ignore", "pipe"] });
    renameSync(tmp, out);
  }
  return readFileSync(out);
}

/** Builds a C program from source text with gcc (-O0 -g, symbols kept), cached; returns its path. */
export function buildC(name: string, source: string, flags: string[] = []): string {
  const out = join(cacheDir, "bin", `${name}-${hashOf(source, flags.join(" "))}`);
  if (!existsSync(out)) {
    const src = `${out}.${process.pid}.c`;
    writeAtomic(src, source);
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync("gcc", ["-O0", "-g", "-fno-inline", "-o", tmp, src, ...flags], { stdio: ["ignore", "ignore", "pipe"] });
    renameSync(tmp, out);
  }
  return out;
}

/** Builds a Go 1.19 program (GOPATH mode, no modules) from source text, cached; returns its path. */
export function buildGo(name: string, source: string): string {
  const out = join(cacheDir, "bin", `${name}-go-${hashOf(source)}`);
  if (!existsSync(out)) {
    const dir = join(cacheDir, "gosrc", `${name}-${process.pid}`);
    writeAtomic(join(dir, "main.go"), source);
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync("go", ["build", "-o", tmp, "."], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, GOPATH: "/usr/share/gocode", GO111MODULE: "off", GOFLAGS: "", GOCACHE: join(cacheDir, "gocache") },
    });
    renameSync(tmp, out);
  }
  return out;
}

/** A hand-written descriptor for a compiled test object (programs and maps found by C name). */
export function descriptor(name: string, object: Uint8Array, extra: Partial<ObjectDescriptor> = {}): ObjectDescriptor {
  return { name, objects: { le: object }, programs: {}, maps: {}, ...extra };
}

/** Open fds of this process. */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/**
 * Milliseconds this thread has spent runnable but waiting for a CPU, from /proc schedstat
 * (0 where the kernel does not keep it: the delays are then taken as measured).
 */
export function waitedForCpuMs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[1]) / 1e6;
  } catch {
    return 0;
  }
}
