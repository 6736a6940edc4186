// The Linux capabilities a BPF object needs, derived from its program types and map types the way
// the kernel checks them (kernel/bpf/syscall.c: `bpf_prog_load`, `map_create`; the perf and netlink
// paths that attach). Plain data: deployment files (a DaemonSet's securityContext) are written from
// it, so a tracer asks for what its programs need and nothing more.

export interface CapabilityNeed {
  /** `CAP_BPF`, `CAP_PERFMON`, `CAP_NET_ADMIN`, … */
  readonly capability: string;
  /** Why, in one line (shown in manifests and READMEs). */
  readonly reason: string;
}

/** What every object needs: creating maps and loading programs, and the verifier's full instruction set. */
export const baseCapabilities: readonly CapabilityNeed[] = [
  { capability: "CAP_BPF", reason: "bpf(): create maps, load BTF and programs" },
  {
    capability: "CAP_PERFMON",
    reason: "tracing program types and perf events (kprobe, tracepoint, perf_event, uprobe); the verifier allows pointer arithmetic and bpf_probe_read_kernel",
  },
];

// The kernel's `is_net_admin_prog_type`: program types whose load needs CAP_NET_ADMIN.
const netAdminProgTypes = new Set([
  "sched_cls", "sched_act", "xdp", "lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local", "sk_skb", "sk_msg", "lirc_mode2",
  "flow_dissector", "cgroup_device", "cgroup_sock", "cgroup_sock_addr", "cgroup_sockopt", "cgroup_sysctl", "sock_ops",
  "ext", "netfilter",
]);

// `map_create`: map types that need CAP_NET_ADMIN.
const netAdminMapTypes = new Set(["sockmap", "sockhash", "devmap", "devmap_hash", "xskmap"]);

/**
 * The capabilities beyond `baseCapabilities` that programs of these libbpf program types (lower case,
 * without `BPF_PROG_TYPE_`, as `SectionDef.progType`) and maps of these types (`MapDescriptor.type`)
 * need, each once, sorted by capability.
 */
export function capabilitiesFor(progTypes: Iterable<string>, mapTypes: Iterable<string> = []): CapabilityNeed[] {
  const needs = new Map<string, string[]>();
  const add = (capability: string, reason: string) => {
    const reasons = needs.get(capability) ?? [];
    if (!reasons.includes(reason)) reasons.push(reason);
    needs.set(capability, reasons);
  };
  for (const t of new Set(progTypes)) {
    if (netAdminProgTypes.has(t)) {
      const why = t === "xdp" ? "attach XDP to an interface (netlink)" : t === "sched_cls" || t === "sched_act" ? "attach to tc (netlink or tcx)" : t.startsWith("cgroup_") || t === "sock_ops" ? "attach to a cgroup" : "load";
      add("CAP_NET_ADMIN", `${t} programs: ${why}`);
    }
    if (t === "cgroup_skb") add("CAP_NET_ADMIN", "cgroup_skb programs: attach to a cgroup");
  }
  for (const t of new Set(mapTypes)) {
    if (netAdminMapTypes.has(t)) add("CAP_NET_ADMIN", `${t} maps`);
  }
  return [...needs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([capability, reasons]) => ({ capability, reason: reasons.join("; ") }));
}
