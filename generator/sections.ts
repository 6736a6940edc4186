// `SEC()` names → program kind, libbpf program/attach type and attach target.
//
// One table in the order of libbpf's `section_defs` (libbpf.c), matched the way libbpf 1.x matches:
// a definition ending in "+" matches the name exactly or followed by "/extras"; one ending in "/"
// matches any name with that prefix; anything else must match exactly. The first match wins.

import type { AttachTarget, ProgramKind } from "./model.js";

interface SectionDef {
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
  /** How to read the part after "<prefix>/". */
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

const cgroup = (sec: string, kind: ProgramKind, progType: string, attachType: string): SectionDef => ({ sec, kind, progType, attachType });

/** libbpf's `section_defs`, plus the definitions newer libbpf releases added. */
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
  { sec: "uprobe.multi+", kind: "uprobe", progType: "kprobe", attachType: "trace_uprobe_multi", autoAttach: true, target: uprobe, libbpf: "1.3" },
  { sec: "uretprobe.multi+", kind: "uretprobe", progType: "kprobe", attachType: "trace_uprobe_multi", autoAttach: true, target: uprobe, libbpf: "1.3" },
  { sec: "ksyscall+", kind: "kprobe", progType: "kprobe", autoAttach: true, target: ksyscall },
  { sec: "kretsyscall+", kind: "kretprobe", progType: "kprobe", autoAttach: true, target: ksyscall },
  { sec: "usdt+", kind: "other", progType: "kprobe", autoAttach: true, target: usdt },
  { sec: "usdt.s+", kind: "other", progType: "kprobe", sleepable: true, autoAttach: true, target: usdt, libbpf: "1.3" },
  { sec: "tc/ingress", kind: "tc", progType: "sched_cls", attachType: "tcx_ingress", libbpf: "1.3" },
  { sec: "tc/egress", kind: "tc", progType: "sched_cls", attachType: "tcx_egress", libbpf: "1.3" },
  { sec: "tcx/ingress", kind: "tc", progType: "sched_cls", attachType: "tcx_ingress", libbpf: "1.3" },
  { sec: "tcx/egress", kind: "tc", progType: "sched_cls", attachType: "tcx_egress", libbpf: "1.3" },
  { sec: "tc", kind: "tc", progType: "sched_cls" },
  { sec: "classifier", kind: "tc", progType: "sched_cls" },
  { sec: "action", kind: "other", progType: "sched_act" },
  { sec: "netkit/primary", kind: "other", progType: "sched_cls", attachType: "netkit_primary", libbpf: "1.4" },
  { sec: "netkit/peer", kind: "other", progType: "sched_cls", attachType: "netkit_peer", libbpf: "1.4" },
  { sec: "tracepoint+", kind: "tracepoint", progType: "tracepoint", autoAttach: true, target: tracepoint },
  { sec: "tp+", kind: "tracepoint", progType: "tracepoint", autoAttach: true, target: tracepoint },
  { sec: "raw_tracepoint+", kind: "raw_tp", progType: "raw_tracepoint", autoAttach: true, target: rawTracepoint },
  { sec: "raw_tp+", kind: "raw_tp", progType: "raw_tracepoint", autoAttach: true, target: rawTracepoint },
  { sec: "raw_tracepoint.w+", kind: "raw_tp", progType: "raw_tracepoint_writable", autoAttach: true, target: rawTracepoint },
  { sec: "raw_tp.w+", kind: "raw_tp", progType: "raw_tracepoint_writable", autoAttach: true, target: rawTracepoint },
  { sec: "tp_btf+", kind: "tp_btf", progType: "tracing", attachType: "trace_raw_tp", autoAttach: true, target: btfName },
  { sec: "fentry+", kind: "fentry", progType: "tracing", attachType: "trace_fentry", autoAttach: true, target: btfName },
  { sec: "fmod_ret+", kind: "other", progType: "tracing", attachType: "modify_return", autoAttach: true, target: btfName },
  { sec: "fexit+", kind: "fexit", progType: "tracing", attachType: "trace_fexit", autoAttach: true, target: btfName },
  { sec: "fentry.s+", kind: "fentry", progType: "tracing", attachType: "trace_fentry", sleepable: true, autoAttach: true, target: btfName },
  { sec: "fmod_ret.s+", kind: "other", progType: "tracing", attachType: "modify_return", sleepable: true, autoAttach: true, target: btfName },
  { sec: "fexit.s+", kind: "fexit", progType: "tracing", attachType: "trace_fexit", sleepable: true, autoAttach: true, target: btfName },
  { sec: "freplace+", kind: "other", progType: "ext", autoAttach: true, target: btfName },
  { sec: "lsm+", kind: "lsm", progType: "lsm", attachType: "lsm_mac", autoAttach: true, target: btfName },
  { sec: "lsm.s+", kind: "lsm", progType: "lsm", attachType: "lsm_mac", sleepable: true, autoAttach: true, target: btfName },
  { sec: "lsm_cgroup+", kind: "lsm", progType: "lsm", attachType: "lsm_cgroup", target: btfName },
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
  { sec: "sockops", kind: "other", progType: "sock_ops", attachType: "cgroup_sock_ops" },
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
  cgroup("cgroup/bind4", "other", "cgroup_sock_addr", "cgroup_inet4_bind"),
  cgroup("cgroup/bind6", "other", "cgroup_sock_addr", "cgroup_inet6_bind"),
  cgroup("cgroup/connect4", "other", "cgroup_sock_addr", "cgroup_inet4_connect"),
  cgroup("cgroup/connect6", "other", "cgroup_sock_addr", "cgroup_inet6_connect"),
  { ...cgroup("cgroup/connect_unix", "other", "cgroup_sock_addr", "cgroup_unix_connect"), libbpf: "1.3" },
  cgroup("cgroup/sendmsg4", "other", "cgroup_sock_addr", "cgroup_udp4_sendmsg"),
  cgroup("cgroup/sendmsg6", "other", "cgroup_sock_addr", "cgroup_udp6_sendmsg"),
  cgroup("cgroup/recvmsg4", "other", "cgroup_sock_addr", "cgroup_udp4_recvmsg"),
  cgroup("cgroup/recvmsg6", "other", "cgroup_sock_addr", "cgroup_udp6_recvmsg"),
  cgroup("cgroup/getpeername4", "other", "cgroup_sock_addr", "cgroup_inet4_getpeername"),
  cgroup("cgroup/getpeername6", "other", "cgroup_sock_addr", "cgroup_inet6_getpeername"),
  cgroup("cgroup/getsockname4", "other", "cgroup_sock_addr", "cgroup_inet4_getsockname"),
  cgroup("cgroup/getsockname6", "other", "cgroup_sock_addr", "cgroup_inet6_getsockname"),
  cgroup("cgroup/sysctl", "other", "cgroup_sysctl", "cgroup_sysctl"),
  cgroup("cgroup/getsockopt", "other", "cgroup_sockopt", "cgroup_getsockopt"),
  cgroup("cgroup/setsockopt", "other", "cgroup_sockopt", "cgroup_setsockopt"),
  cgroup("cgroup/dev", "other", "cgroup_device", "cgroup_device"),
  { sec: "struct_ops+", kind: "other", progType: "struct_ops", target: structOps },
  { sec: "struct_ops.s+", kind: "other", progType: "struct_ops", sleepable: true, target: structOps, libbpf: "1.3" },
  { sec: "sk_lookup", kind: "other", progType: "sk_lookup", attachType: "sk_lookup" },
  { sec: "netfilter", kind: "other", progType: "netfilter", attachType: "netfilter", libbpf: "1.2" },
];

/** libbpf's `sec_def_matches`. */
function matches(def: string, name: string): boolean {
  if (def.endsWith("/")) return name.startsWith(def);
  if (def.endsWith("+")) {
    const prefix = def.slice(0, -1);
    return name === prefix || name.startsWith(prefix + "/");
  }
  return name === def;
}

export interface SectionInfo {
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
  const def = sectionDefs.find((d) => matches(d.sec, name));
  if (!def) return undefined;
  const prefixLength = def.sec.endsWith("+") ? def.sec.length - 1 : def.sec.length;
  const extras = name.length > prefixLength ? name.slice(prefixLength + 1) : "";
  const target = def.target ? def.target(extras) : NONE;
  return {
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
