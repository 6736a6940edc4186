// `SEC()` names → program kind, libbpf program/attach type and attach target: the one table the
// generator (which writes the parsed target into each program's descriptor) and the runtime (which
// attaches from that target) share. Plain data and pure functions; nothing here loads the addon.
//
// In the order of libbpf's `section_defs` (libbpf.c), matched the way libbpf 1.x matches: a
// definition ending in "+" matches the name exactly or followed by "/extras"; one ending in "/"
// matches any name with that prefix; anything else must match exactly. The first match wins.

/**
 * How a program is attached, which decides the options `Program<K>.attach(opts)` takes. Kinds that
 * share an attach call and its options share a kind; hooks the runtime only attaches through libbpf's
 * own auto-attach (or not at all: sk_skb, struct_ops, lwt, …) are "other".
 */
export type ProgramKind =
  | "tracepoint"
  | "raw_tp"
  | "tp_btf"
  | "kprobe"
  | "kretprobe"
  | "uprobe"
  | "uretprobe"
  | "usdt"
  | "fentry"
  | "fexit"
  | "fmod_ret"
  | "freplace"
  | "perf_event"
  | "xdp"
  | "tc"
  | "socket"
  | "cgroup_skb"
  | "cgroup_sock"
  | "cgroup_sock_addr"
  | "cgroup_sockopt"
  | "cgroup_sysctl"
  | "cgroup_device"
  | "sock_ops"
  | "iter"
  | "syscall"
  | "lsm"
  | "lsm_cgroup"
  | "other";

/** Every program kind, in the order of the type above. */
export const programKinds: readonly ProgramKind[] = [
  "tracepoint", "raw_tp", "tp_btf", "kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "fentry", "fexit", "fmod_ret",
  "freplace", "perf_event", "xdp", "tc", "socket", "cgroup_skb", "cgroup_sock", "cgroup_sock_addr", "cgroup_sockopt",
  "cgroup_sysctl", "cgroup_device", "sock_ops", "iter", "syscall", "lsm", "lsm_cgroup", "other",
];

/** Kinds attached to a cgroup (`bpf_program__attach_cgroup`), with `{ cgroup? }` options. */
export const cgroupKinds: ReadonlySet<ProgramKind> = new Set<ProgramKind>([
  "cgroup_skb", "cgroup_sock", "cgroup_sock_addr", "cgroup_sockopt", "cgroup_sysctl", "cgroup_device", "sock_ops", "lsm_cgroup",
]);

/**
 * Where a program attaches, as far as its `SEC()` string says. Hooks that need a runtime object
 * (an interface, a cgroup, a socket) are `{ type: "none" }`; their attach type is on the program.
 */
export type AttachTarget =
  | { readonly type: "none" }
  /** `tracepoint/<category>/<event>` */
  | { readonly type: "tracepoint"; readonly category: string; readonly event: string }
  /** `raw_tp/<event>` */
  | { readonly type: "raw_tracepoint"; readonly event: string }
  /** A kernel BTF name: `tp_btf/<event>`, `fentry/<func>`, `lsm/<hook>`, `iter/<target>`, `freplace/<func>`. */
  | { readonly type: "btf"; readonly name: string }
  /** `kprobe/<func>[+<offset>]`, `kretprobe/<func>` */
  | { readonly type: "kprobe"; readonly function: string; readonly offset: number }
  /** `kprobe.multi/<glob>`, `kprobe.session/<glob>` */
  | { readonly type: "kprobe_multi"; readonly pattern: string }
  /** `ksyscall/<syscall>` */
  | { readonly type: "ksyscall"; readonly syscall: string }
  /** `uprobe/<binary>:<function>[+<offset>]` (function absent when an address is given) */
  | { readonly type: "uprobe"; readonly binary: string; readonly function?: string; readonly offset: number }
  /** `usdt/<binary>:<provider>:<probe>` */
  | { readonly type: "usdt"; readonly binary: string; readonly provider: string; readonly probe: string }
  /** `struct_ops/<member>` */
  | { readonly type: "struct_ops"; readonly member: string }
  /** `tc/ingress`, `tcx/egress`: the direction (the interface comes at attach time) */
  | { readonly type: "tc"; readonly direction: "ingress" | "egress" };

export interface SectionDef {
  /** libbpf's pattern (`tracepoint+`, `cgroup_skb/ingress`, …). */
  readonly sec: string;
  readonly kind: ProgramKind;
  /** libbpf program type, lower case without `BPF_PROG_TYPE_`. */
  readonly progType: string;
  /** Expected attach type, lower case without `BPF_`. */
  readonly attachType?: string;
  readonly sleepable?: boolean;
  /** libbpf auto-attaches it (`bpf_program__attach`) given the section's extras. */
  readonly autoAttach?: boolean;
  /** How to read the part after "<prefix>/" (a fixed target for exact names like `tc/ingress`). */
  readonly target?: (extras: string) => AttachTarget;
  /** Oldest libbpf that knows the definition, when newer than the 1.1 the runtime links against. */
  readonly libbpf?: string;
}

const NONE: AttachTarget = { type: "none" };

function tracepoint(extras: string): AttachTarget {
  const slash = extras.indexOf("/");
  if (slash <= 0 || slash === extras.length - 1) return NONE;
  return { type: "tracepoint", category: extras.slice(0, slash), event: extras.slice(slash + 1) };
}

const rawTracepoint = (extras: string): AttachTarget => (extras ? { type: "raw_tracepoint", event: extras } : NONE);
const btfName = (extras: string): AttachTarget => (extras ? { type: "btf", name: extras } : NONE);

/** `func[+offset]` as libbpf's `attach_kprobe` reads it. */
function kprobe(extras: string): AttachTarget {
  if (!extras) return NONE;
  const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(extras);
  if (!m) return NONE;
  return { type: "kprobe", function: m[1]!, offset: m[2] ? Number(m[2]) : 0 };
}

/** `binary:function[+offset]` or `binary:address`, as libbpf's `attach_uprobe` reads it. */
function uprobe(extras: string): AttachTarget {
  const colon = extras.lastIndexOf(":");
  if (colon <= 0) return NONE;
  const binary = extras.slice(0, colon);
  const rest = extras.slice(colon + 1);
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(rest)) return { type: "uprobe", binary, offset: Number(rest) };
  const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(rest);
  if (!m) return NONE;
  return { type: "uprobe", binary, function: m[1]!, offset: m[2] ? Number(m[2]) : 0 };
}

/** `binary:provider:probe`; the binary may itself hold ':' so split from the right. */
function usdt(extras: string): AttachTarget {
  const parts = extras.split(":");
  if (parts.length < 3) return NONE;
  const probe = parts.pop()!;
  const provider = parts.pop()!;
  return { type: "usdt", binary: parts.join(":"), provider, probe };
}

const kprobeMulti = (extras: string): AttachTarget => (extras ? { type: "kprobe_multi", pattern: extras } : NONE);
const ksyscall = (extras: string): AttachTarget => (extras ? { type: "ksyscall", syscall: extras } : NONE);
const structOps = (extras: string): AttachTarget => (extras ? { type: "struct_ops", member: extras } : NONE);
const tcIngress = (): AttachTarget => ({ type: "tc", direction: "ingress" });
const tcEgress = (): AttachTarget => ({ type: "tc", direction: "egress" });

const cgroup = (sec: string, kind: ProgramKind, progType: string, attachType: string, libbpf?: string): SectionDef => ({
  sec, kind, progType, attachType, ...(libbpf !== undefined && { libbpf }),
});
const sockAddr = (sec: string, attachType: string, libbpf?: string): SectionDef => cgroup(sec, "cgroup_sock_addr", "cgroup_sock_addr", attachType, libbpf);

/** libbpf 1.1's `section_defs`, plus the definitions newer libbpf releases added (marked `libbpf`). */
export const sectionDefs: readonly SectionDef[] = [
  { sec: "socket", kind: "socket", progType: "socket_filter" },
  { sec: "sk_reuseport/migrate", kind: "other", progType: "sk_reuseport", attachType: "sk_reuseport_select_or_migrate" },
  { sec: "sk_reuseport", kind: "other", progType: "sk_reuseport", attachType: "sk_reuseport_select" },
  { sec: "kprobe+", kind: "kprobe", progType: "kprobe", autoAttach: true, target: kprobe },
  { sec: "uprobe+", kind: "uprobe", progType: "kprobe", autoAttach: true, target: uprobe },
  { sec: "uprobe.s+", kind: "uprobe", progType: "kprobe", sleepable: true, autoAttach: true, target: uprobe },
  { sec: "kretprobe+", kind: "kretprobe", progType: "kprobe", autoAttach: true, target: kprobe },
  { sec: "uretprobe+", kind: "uretprobe", progType: "kprobe", autoAttach: true, target: uprobe },
  { sec: "uretprobe.s+", kind: "uretprobe", progType: "kprobe", sleepable: true, autoAttach: true, target: uprobe },
  { sec: "kprobe.multi+", kind: "kprobe", progType: "kprobe", attachType: "trace_kprobe_multi", autoAttach: true, target: kprobeMulti },
  { sec: "kretprobe.multi+", kind: "kretprobe", progType: "kprobe", attachType: "trace_kprobe_multi", autoAttach: true, target: kprobeMulti },
  { sec: "kprobe.session+", kind: "kprobe", progType: "kprobe", attachType: "trace_kprobe_session", autoAttach: true, target: kprobeMulti, libbpf: "1.5" },
  { sec: "uprobe.multi+", kind: "uprobe", progType: "kprobe", attachType: "trace_uprobe_multi", autoAttach: true, target: uprobe, libbpf: "1.3" },
  { sec: "uretprobe.multi+", kind: "uretprobe", progType: "kprobe", attachType: "trace_uprobe_multi", autoAttach: true, target: uprobe, libbpf: "1.3" },
  { sec: "uprobe.session+", kind: "uprobe", progType: "kprobe", attachType: "trace_uprobe_session", autoAttach: true, target: uprobe, libbpf: "1.6" },
  { sec: "uprobe.multi.s+", kind: "uprobe", progType: "kprobe", attachType: "trace_uprobe_multi", sleepable: true, autoAttach: true, target: uprobe, libbpf: "1.3" },
  { sec: "uretprobe.multi.s+", kind: "uretprobe", progType: "kprobe", attachType: "trace_uprobe_multi", sleepable: true, autoAttach: true, target: uprobe, libbpf: "1.3" },
  { sec: "uprobe.session.s+", kind: "uprobe", progType: "kprobe", attachType: "trace_uprobe_session", sleepable: true, autoAttach: true, target: uprobe, libbpf: "1.6" },
  { sec: "ksyscall+", kind: "kprobe", progType: "kprobe", autoAttach: true, target: ksyscall },
  { sec: "kretsyscall+", kind: "kretprobe", progType: "kprobe", autoAttach: true, target: ksyscall },
  { sec: "usdt+", kind: "usdt", progType: "kprobe", autoAttach: true, target: usdt },
  { sec: "usdt.s+", kind: "usdt", progType: "kprobe", sleepable: true, autoAttach: true, target: usdt, libbpf: "1.3" },
  { sec: "tc/ingress", kind: "tc", progType: "sched_cls", attachType: "tcx_ingress", target: tcIngress, libbpf: "1.3" },
  { sec: "tc/egress", kind: "tc", progType: "sched_cls", attachType: "tcx_egress", target: tcEgress, libbpf: "1.3" },
  { sec: "tcx/ingress", kind: "tc", progType: "sched_cls", attachType: "tcx_ingress", target: tcIngress, libbpf: "1.3" },
  { sec: "tcx/egress", kind: "tc", progType: "sched_cls", attachType: "tcx_egress", target: tcEgress, libbpf: "1.3" },
  { sec: "tc", kind: "tc", progType: "sched_cls" },
  { sec: "classifier", kind: "tc", progType: "sched_cls" },
  // A tc action, not a classifier: it cannot be attached as a tc filter, so it is not "tc".
  { sec: "action", kind: "other", progType: "sched_act" },
  { sec: "netkit/primary", kind: "other", progType: "sched_cls", attachType: "netkit_primary", libbpf: "1.3" },
  { sec: "netkit/peer", kind: "other", progType: "sched_cls", attachType: "netkit_peer", libbpf: "1.3" },
  { sec: "tracepoint+", kind: "tracepoint", progType: "tracepoint", autoAttach: true, target: tracepoint },
  { sec: "tp+", kind: "tracepoint", progType: "tracepoint", autoAttach: true, target: tracepoint },
  { sec: "raw_tracepoint+", kind: "raw_tp", progType: "raw_tracepoint", autoAttach: true, target: rawTracepoint },
  { sec: "raw_tp+", kind: "raw_tp", progType: "raw_tracepoint", autoAttach: true, target: rawTracepoint },
  { sec: "raw_tracepoint.w+", kind: "raw_tp", progType: "raw_tracepoint_writable", autoAttach: true, target: rawTracepoint },
  { sec: "raw_tp.w+", kind: "raw_tp", progType: "raw_tracepoint_writable", autoAttach: true, target: rawTracepoint },
  { sec: "tp_btf+", kind: "tp_btf", progType: "tracing", attachType: "trace_raw_tp", autoAttach: true, target: btfName },
  { sec: "fentry+", kind: "fentry", progType: "tracing", attachType: "trace_fentry", autoAttach: true, target: btfName },
  { sec: "fmod_ret+", kind: "fmod_ret", progType: "tracing", attachType: "modify_return", autoAttach: true, target: btfName },
  { sec: "fexit+", kind: "fexit", progType: "tracing", attachType: "trace_fexit", autoAttach: true, target: btfName },
  { sec: "fentry.s+", kind: "fentry", progType: "tracing", attachType: "trace_fentry", sleepable: true, autoAttach: true, target: btfName },
  { sec: "fmod_ret.s+", kind: "fmod_ret", progType: "tracing", attachType: "modify_return", sleepable: true, autoAttach: true, target: btfName },
  { sec: "fexit.s+", kind: "fexit", progType: "tracing", attachType: "trace_fexit", sleepable: true, autoAttach: true, target: btfName },
  { sec: "freplace+", kind: "freplace", progType: "ext", autoAttach: true, target: btfName },
  { sec: "lsm+", kind: "lsm", progType: "lsm", attachType: "lsm_mac", autoAttach: true, target: btfName },
  { sec: "lsm.s+", kind: "lsm", progType: "lsm", attachType: "lsm_mac", sleepable: true, autoAttach: true, target: btfName },
  { sec: "lsm_cgroup+", kind: "lsm_cgroup", progType: "lsm", attachType: "lsm_cgroup", target: btfName },
  { sec: "iter+", kind: "iter", progType: "tracing", attachType: "trace_iter", autoAttach: true, target: btfName },
  { sec: "iter.s+", kind: "iter", progType: "tracing", attachType: "trace_iter", sleepable: true, autoAttach: true, target: btfName },
  { sec: "syscall", kind: "syscall", progType: "syscall", sleepable: true },
  { sec: "xdp.frags/devmap", kind: "xdp", progType: "xdp", attachType: "xdp_devmap" },
  { sec: "xdp/devmap", kind: "xdp", progType: "xdp", attachType: "xdp_devmap" },
  { sec: "xdp.frags/cpumap", kind: "xdp", progType: "xdp", attachType: "xdp_cpumap" },
  { sec: "xdp/cpumap", kind: "xdp", progType: "xdp", attachType: "xdp_cpumap" },
  { sec: "xdp.frags", kind: "xdp", progType: "xdp", attachType: "xdp" },
  { sec: "xdp", kind: "xdp", progType: "xdp", attachType: "xdp" },
  { sec: "perf_event", kind: "perf_event", progType: "perf_event" },
  { sec: "lwt_in", kind: "other", progType: "lwt_in" },
  { sec: "lwt_out", kind: "other", progType: "lwt_out" },
  { sec: "lwt_xmit", kind: "other", progType: "lwt_xmit" },
  { sec: "lwt_seg6local", kind: "other", progType: "lwt_seg6local" },
  cgroup("sockops", "sock_ops", "sock_ops", "cgroup_sock_ops"),
  { sec: "sk_skb/stream_parser", kind: "other", progType: "sk_skb", attachType: "sk_skb_stream_parser" },
  { sec: "sk_skb/stream_verdict", kind: "other", progType: "sk_skb", attachType: "sk_skb_stream_verdict" },
  { sec: "sk_skb", kind: "other", progType: "sk_skb" },
  { sec: "sk_msg", kind: "other", progType: "sk_msg", attachType: "sk_msg_verdict" },
  { sec: "lirc_mode2", kind: "other", progType: "lirc_mode2", attachType: "lirc_mode2" },
  { sec: "flow_dissector", kind: "other", progType: "flow_dissector", attachType: "flow_dissector" },
  cgroup("cgroup_skb/ingress", "cgroup_skb", "cgroup_skb", "cgroup_inet_ingress"),
  cgroup("cgroup_skb/egress", "cgroup_skb", "cgroup_skb", "cgroup_inet_egress"),
  { sec: "cgroup/skb", kind: "cgroup_skb", progType: "cgroup_skb" },
  cgroup("cgroup/sock_create", "cgroup_sock", "cgroup_sock", "cgroup_inet_sock_create"),
  cgroup("cgroup/sock_release", "cgroup_sock", "cgroup_sock", "cgroup_inet_sock_release"),
  cgroup("cgroup/sock", "cgroup_sock", "cgroup_sock", "cgroup_inet_sock_create"),
  cgroup("cgroup/post_bind4", "cgroup_sock", "cgroup_sock", "cgroup_inet4_post_bind"),
  cgroup("cgroup/post_bind6", "cgroup_sock", "cgroup_sock", "cgroup_inet6_post_bind"),
  sockAddr("cgroup/bind4", "cgroup_inet4_bind"),
  sockAddr("cgroup/bind6", "cgroup_inet6_bind"),
  sockAddr("cgroup/connect4", "cgroup_inet4_connect"),
  sockAddr("cgroup/connect6", "cgroup_inet6_connect"),
  sockAddr("cgroup/connect_unix", "cgroup_unix_connect", "1.3"),
  sockAddr("cgroup/sendmsg4", "cgroup_udp4_sendmsg"),
  sockAddr("cgroup/sendmsg6", "cgroup_udp6_sendmsg"),
  sockAddr("cgroup/sendmsg_unix", "cgroup_unix_sendmsg", "1.3"),
  sockAddr("cgroup/recvmsg4", "cgroup_udp4_recvmsg"),
  sockAddr("cgroup/recvmsg6", "cgroup_udp6_recvmsg"),
  sockAddr("cgroup/recvmsg_unix", "cgroup_unix_recvmsg", "1.3"),
  sockAddr("cgroup/getpeername4", "cgroup_inet4_getpeername"),
  sockAddr("cgroup/getpeername6", "cgroup_inet6_getpeername"),
  sockAddr("cgroup/getpeername_unix", "cgroup_unix_getpeername", "1.3"),
  sockAddr("cgroup/getsockname4", "cgroup_inet4_getsockname"),
  sockAddr("cgroup/getsockname6", "cgroup_inet6_getsockname"),
  sockAddr("cgroup/getsockname_unix", "cgroup_unix_getsockname", "1.3"),
  cgroup("cgroup/sysctl", "cgroup_sysctl", "cgroup_sysctl", "cgroup_sysctl"),
  cgroup("cgroup/getsockopt", "cgroup_sockopt", "cgroup_sockopt", "cgroup_getsockopt"),
  cgroup("cgroup/setsockopt", "cgroup_sockopt", "cgroup_sockopt", "cgroup_setsockopt"),
  cgroup("cgroup/dev", "cgroup_device", "cgroup_device", "cgroup_device"),
  { sec: "struct_ops+", kind: "other", progType: "struct_ops", target: structOps },
  { sec: "struct_ops.s+", kind: "other", progType: "struct_ops", sleepable: true, target: structOps, libbpf: "1.2" },
  { sec: "sk_lookup", kind: "other", progType: "sk_lookup", attachType: "sk_lookup" },
  { sec: "netfilter", kind: "other", progType: "netfilter", attachType: "netfilter", libbpf: "1.3" },
];

/** libbpf's `sec_def_matches`. */
export function sectionMatches(def: string, name: string): boolean {
  if (def.endsWith("/")) return name.startsWith(def);
  if (def.endsWith("+")) {
    const prefix = def.slice(0, -1);
    return name === prefix || name.startsWith(prefix + "/");
  }
  return name === def;
}

export interface SectionInfo {
  /** The table entry that matched (`tracepoint+`, `cgroup/bind4`, …). */
  readonly def: string;
  readonly kind: ProgramKind;
  readonly progType: string;
  readonly attachType?: string;
  readonly sleepable: boolean;
  readonly autoAttach: boolean;
  readonly target: AttachTarget;
  /** Set when libbpf 1.1 (the runtime's) would not recognise the section. */
  readonly needsLibbpf?: string;
}

/**
 * Classifies a `SEC()` string; `undefined` when libbpf knows no such section. A leading "?" (libbpf ≥
 * 1.0: the program is not loaded unless asked for) is not part of the name matched.
 */
export function parseSection(section: string): SectionInfo | undefined {
  const name = section.startsWith("?") ? section.slice(1) : section;
  const def = sectionDefs.find((d) => sectionMatches(d.sec, name));
  if (!def) return undefined;
  const prefixLength = def.sec.endsWith("+") ? def.sec.length - 1 : def.sec.length;
  const extras = name.length > prefixLength ? name.slice(prefixLength + 1) : "";
  const target = def.target ? def.target(extras) : NONE;
  return {
    def: def.sec,
    kind: def.kind,
    progType: def.progType,
    ...(def.attachType !== undefined && { attachType: def.attachType }),
    sleepable: def.sleepable ?? false,
    // Auto-attach needs the extras (a bare `SEC("kprobe")` must be attached by hand).
    autoAttach: (def.autoAttach ?? false) && target.type !== "none",
    target,
    ...(def.libbpf !== undefined && { needsLibbpf: def.libbpf }),
  };
}
