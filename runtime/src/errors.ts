// BpfError: the one error base of the runtime. Every kernel or libbpf failure it reports, with errno,
// the program or map it concerns, libbpf's explanation and (for loads) the full verifier log; the
// runtime's other errors (AddonError, EventReaderError, ElfSymbolsError, and the object-file reader's
// ObjectFileError: ElfError, BtfError) are subclasses that keep their own `name`.

import { existsSync } from "node:fs";

export interface BpfErrorFields {
  errno?: number;
  code?: string;
  /** The file concerned (an ELF image, the addon), as the caller named it. */
  file?: string;
  program?: string;
  map?: string;
  /** ELF section and BTF type id, for an object rejected before load (malformed or corrupted). */
  section?: string;
  typeId?: number;
  /** The full verifier log (loads) or what libbpf printed while failing. */
  log?: string;
  hint?: string;
  cause?: unknown;
}

/** `message` carries the log's tail and a hint. Subclasses set their own `name`. */
export class BpfError extends Error {
  override readonly name: string = "BpfError";
  /** Positive errno (EPERM = 1), 0 when the failure is not a syscall's. */
  readonly errno: number;
  /** "EPERM", "ENOENT", …, or "" without errno. */
  readonly code: string;
  readonly program?: string;
  readonly map?: string;
  readonly file?: string;
  readonly section?: string;
  readonly typeId?: number;
  readonly log: string;
  readonly hint?: string;

  constructor(message: string, fields: BpfErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.errno = fields.errno ?? 0;
    this.code = fields.code ?? "";
    if (fields.program !== undefined) this.program = fields.program;
    if (fields.map !== undefined) this.map = fields.map;
    if (fields.file !== undefined) this.file = fields.file;
    if (fields.section !== undefined) this.section = fields.section;
    if (fields.typeId !== undefined) this.typeId = fields.typeId;
    this.log = fields.log ?? "";
    if (fields.hint !== undefined) this.hint = fields.hint;
  }
}

/** Errno values used by the TypeScript side. */
export const errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  ENODEV: 19,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  EBUSY: 16,
  EINVAL: 22,
  ENOSPC: 28,
  E2BIG: 7,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
  ENOTSUPP: 524,
} as const;

const names: Record<number, string> = Object.fromEntries(Object.entries(errno).map(([k, v]) => [v, k]));

/** An error for a failed map/fd call that returned -errno. */
export function errnoError(context: string, ret: number, fields: Omit<BpfErrorFields, "errno" | "code"> = {}): BpfError {
  const e = -ret;
  const code = names[e] ?? `E${e}`;
  const hint = fields.hint ?? hintFor(e, "", context);
  return new BpfError(`${context}: ${code} (errno ${e})${hint ? `; ${hint}` : ""}`, { ...fields, errno: e, code, hint });
}

/** The error thrown when a closed object, map, link or program is used. */
export function closedError(what: string): BpfError {
  return new BpfError(`${what}: already closed`, { errno: errno.EBADF, code: "EBADF" });
}

const LOG_BEGIN = "-- BEGIN PROG LOAD LOG --";
const LOG_END = "-- END PROG LOAD LOG --";

/** The verifier log inside libbpf's output, if it printed one. */
export function verifierLog(libbpfText: string): string | undefined {
  const b = libbpfText.indexOf(LOG_BEGIN);
  if (b < 0) return undefined;
  const start = libbpfText.indexOf("\n", b) + 1;
  const end = libbpfText.indexOf(LOG_END, start);
  return libbpfText.slice(start, end < 0 ? undefined : end).replace(/\n$/, "");
}

/**
 * libbpf loads an object whose BTF the kernel refused without it ("BTF is optional, ignoring"), and
 * the load then fails further on, where the verifier needs the maps' BTF (spin locks, timers,
 * kptrs, graph roots): the hint names that cause.
 */
function btfRefusedHint(libbpfText: string): string | undefined {
  const refused = /Error loading \.BTF into kernel: (-?\d+)/.exec(libbpfText);
  if (!refused) return undefined;
  return `the kernel refused the object's BTF (${refused[1]}) and libbpf went on without it, so its maps have no BTF, which spin locks, timers, kptrs and list/rbtree heads need (\`bpftool -d prog loadall <object> <dir>\` prints the kernel's BTF log)`;
}

/** The program libbpf blamed ("prog 'name': failed to load"), if any. */
export function failedProgram(libbpfText: string): string | undefined {
  const m = /prog '([^']+)': (?:BPF program load failed|failed to load|-- BEGIN PROG LOAD LOG)/.exec(libbpfText);
  return m?.[1];
}

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

/** Whether the running kernel has kprobe events (CONFIG_KPROBE_EVENTS). */
export function kprobesAvailable(): boolean {
  return existsSync("/sys/kernel/tracing/kprobe_events") || existsSync("/sys/kernel/debug/tracing/kprobe_events");
}

/** A hint for the usual causes of `e` in `context`. */
export function hintFor(e: number, log: string, context: string): string | undefined {
  if (/kprobe|kretprobe/.test(context) && !kprobesAvailable())
    return "kprobes are not enabled in this kernel (CONFIG_KPROBE_EVENTS): use a tracepoint, raw_tp or tp_btf program instead";
  if (/unknown func|invalid func/.test(log)) return "the program calls a helper this kernel or program type does not have (kernel too old?)";
  if (/perf_event_open/.test(context) && e === errno.ENOENT) return "this perf event does not exist here (hardware counters are often missing in virtual machines): use the software cpu-clock event";
  if (/fentry|fexit|fmod_ret|lsm/.test(context) && (e === errno.EPERM || e === errno.ENOTSUPP || e === errno.EOPNOTSUPP || e === errno.EINVAL))
    return "BPF trampolines (fentry/fexit/lsm) are not allowed on this kernel (lockdown, missing CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS or BPF LSM not enabled)";
  if (/vmlinux|BTF/i.test(log) && (e === errno.ENOENT || e === errno.ESRCH)) return "kernel BTF is missing: the kernel needs CONFIG_DEBUG_INFO_BTF, or pass btfPath";
  if (/\battach cgroup\b/.test(context) && e === errno.EBADF) return "the path is not a cgroup v2 directory (cgroup v1 hierarchies cannot hold BPF programs): use one under cgroup2Root()";
  if (/\battach\b/.test(context) && (e === errno.EEXIST || e === errno.EBUSY)) {
    return "a program is already attached there (one XDP program per interface and mode; for tc, one per priority and handle): close the link that holds it, or attach elsewhere";
  }
  switch (e) {
    case errno.EPERM:
      return "run as root or with CAP_BPF and CAP_PERFMON (CAP_NET_ADMIN for networking); kernels before 5.11 also need a raised RLIMIT_MEMLOCK";
    case errno.EACCES:
      return log ? "the verifier rejected the program: see the log above (error.log has all of it)" : "permission denied (root/CAP_BPF, or the verifier rejected the program)";
    case errno.E2BIG:
      return "too large: program exceeds the verifier's limits, or a map/value size is over the kernel maximum";
    case errno.EINVAL:
      return log ? undefined : "invalid argument: a feature the kernel lacks (program or attach type), or a bad option";
    case errno.ENOTSUPP:
    case errno.EOPNOTSUPP:
      return "not supported by this kernel or program type";
    default:
      return undefined;
  }
}

interface NativeError {
  message?: string;
  errno?: number;
  code?: string;
  log?: string;
}

/**
 * Wraps an error thrown by the addon (errno/code/log fields) into a BpfError: message "context:
 * detail", the verifier log's tail (last 20 lines), and a hint. Non-native errors pass through.
 */
export function fromNative(
  e: unknown,
  fields: Omit<BpfErrorFields, "cause" | "errno" | "code" | "log"> & { context?: string; sectionOf?: (program: string) => string | undefined } = {},
): BpfError {
  if (e instanceof BpfError) return e;
  const n = (e ?? {}) as NativeError;
  if (typeof n.errno !== "number") {
    return new BpfError(`${fields.context ?? "bpf"}: ${n.message ?? String(e)}`, { ...fields, cause: e });
  }
  const raw = n.log ?? "";
  const vlog = verifierLog(raw);
  const log = vlog ?? raw;
  const program = fields.program ?? failedProgram(raw);
  const section = program ? fields.sectionOf?.(program) : undefined;
  const hint = fields.hint ?? btfRefusedHint(raw) ?? hintFor(n.errno, log, `${fields.context ?? ""} ${n.message ?? ""} ${section ?? ""}`);
  let message = n.message ?? "bpf";
  if (program && !message.includes(program)) message += ` (program ${program}${section ? `, SEC("${section}")` : ""})`;
  if (log.trim()) message += `\n${vlog ? "verifier log (tail)" : "libbpf said"}:\n${tail(log, 20)}`;
  if (hint) message += `\nhint: ${hint}`;
  const out: BpfErrorFields = { errno: n.errno, code: n.code ?? "", log, cause: e };
  if (program !== undefined) out.program = program;
  if (fields.map !== undefined) out.map = fields.map;
  if (hint !== undefined) out.hint = hint;
  return new BpfError(message, out);
}
