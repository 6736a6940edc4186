// What the running kernel supports, asked the way libbpf asks: by loading a trivial program of the
// type (or creating a map of the type) and seeing whether the kernel accepts it; and whether a
// kernel function or tracepoint can be hooked, asked the way libbpf-tools' trace_helpers ask.

import { existsSync, readFileSync } from "node:fs";
import { addon } from "./addon.js";
import { mapTypeNames } from "./contract/maps.js";

// enum bpf_prog_type (include/uapi/linux/bpf.h), for the names people use.
const programTypes: Record<string, number> = {
  socket_filter: 1, kprobe: 2, sched_cls: 3, sched_act: 4, tracepoint: 5, xdp: 6, perf_event: 7,
  cgroup_skb: 8, cgroup_sock: 9, lwt_in: 10, sock_ops: 13, sk_skb: 14, cgroup_device: 15, sk_msg: 16,
  raw_tracepoint: 17, cgroup_sock_addr: 18, sk_reuseport: 21, flow_dissector: 22, cgroup_sysctl: 23,
  raw_tracepoint_writable: 24, cgroup_sockopt: 25, tracing: 26, struct_ops: 27, ext: 28, lsm: 29,
  sk_lookup: 30, syscall: 31,
};
// Map types by the contract's list of libbpf's names (`mapTypeNames[n]` names BPF_MAP_TYPE n).
const mapTypes: Record<string, number> = Object.fromEntries(mapTypeNames.map((name, n) => [name, n]).filter(([name]) => name !== "unspec"));

function number(table: Record<string, number>, t: string | number, what: string): number {
  const n = typeof t === "number" ? t : table[t];
  if (n === undefined) throw new TypeError(`${what}: unknown type "${t}" (known: ${Object.keys(table).join(", ")})`);
  return n;
}

/** The kernel's number for a map type name. */
export function mapTypeNumber(type: string | number): number {
  return number(mapTypes, type, "map type");
}

/** Whether the kernel loads programs of `type` (libbpf name like "xdp", or the enum number). */
export function haveProgramType(type: string | number): boolean {
  return addon().probeProgType(number(programTypes, type, "haveProgramType")) === 1;
}

/** Whether the kernel creates maps of `type` ("ringbuf", … or the enum number). */
export function haveMapType(type: string | number): boolean {
  return addon().probeMapType(number(mapTypes, type, "haveMapType")) === 1;
}

let batchOps: boolean | undefined;

/**
 * Whether the kernel has the batch map commands (BPF_MAP_{LOOKUP,UPDATE,DELETE}_BATCH, 5.6+): one
 * BPF_MAP_UPDATE_BATCH on a scratch hash map. Without them the batch methods go one key at a time.
 */
export function haveMapBatchOps(): boolean {
  if (batchOps !== undefined) return batchOps;
  const a = addon();
  let fd: number;
  try {
    fd = a.mapCreate(mapTypes.hash!, "probe_batch", 4, 4, 1, 0);
  } catch {
    return (batchOps = false);
  }
  try {
    return (batchOps = a.mapUpdateBatch(fd, new Uint8Array(4), new Uint8Array(4), 1, 0)[0] === 0);
  } finally {
    a.closeFd(fd);
  }
}

/** Whether programs of `progType` may call helper number `helper`. */
export function haveHelper(progType: string | number, helper: number): boolean {
  return addon().probeHelper(number(programTypes, progType, "haveHelper"), helper) === 1;
}

/** The libbpf version the addon was built against ("v1.1"). */
export function libbpfVersion(): string {
  return addon().libbpfVersion;
}

// ---------------------------------------------------------------------------------------------------
// Choosing between variants of one hook at load (libbpf-tools' trace_helpers): fentry when the
// kernel allows it, else a kprobe, else a tracepoint.

/** tracefs, wherever it is mounted. */
const tracefsRoots = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** Whether kernel function `name` is in the kernel's BTF (vmlinux, or `module`'s) as a FUNC. */
export function haveKernelFunction(name: string, module?: string): boolean {
  return addon().kernelFunctionId(name, module) > 0;
}

/**
 * Whether an fentry/fexit program can attach to `func` (libbpf-tools' `fentry_can_attach`): the
 * kernel's BTF has the FUNC and a trial fentry program on it loads and attaches. False where the
 * kernel refuses trampolines (EPERM under lockdown, no CONFIG_FUNCTION_TRACER, …).
 */
export function fentryCanAttach(func: string, module?: string): boolean {
  return addon().probeFentry(func, module) === 1;
}

/**
 * Whether a kprobe can be placed on `func` (libbpf-tools' `kprobe_exists`): the kernel has kprobe
 * events and lists the function as traceable (`available_filter_functions`, else `/proc/kallsyms`).
 */
export function kprobeExists(func: string): boolean {
  const root = tracefsRoots.find((r) => existsSync(`${r}/kprobe_events`));
  if (root === undefined) return false;
  // "func", or "func [module]" for functions of modules.
  const listed = (text: string, re: RegExp) => re.test(text);
  const name = func.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  try {
    return listed(readFileSync(`${root}/available_filter_functions`, "utf8"), new RegExp(`^${name}(?: \\[\\S+\\])?$`, "m"));
  } catch {
    // Not readable (lockdown): the symbol table says whether the function exists at all.
  }
  try {
    return listed(readFileSync("/proc/kallsyms", "utf8"), new RegExp(`^[0-9a-f]+ [tT] ${name}(?:\\s|$)`, "m"));
  } catch {
    return false;
  }
}

/** Whether tracepoint `category:event` exists (its tracefs `format` file, as libbpf-tools checks). */
export function tracepointExists(category: string, event: string): boolean {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(event)) return false;
  return tracefsRoots.some((r) => existsSync(`${r}/events/${category}/${event}/format`));
}
