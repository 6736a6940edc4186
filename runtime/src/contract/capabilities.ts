// The Linux capabilities a BPF object needs, derived from its program types and map types the way
// the kernel checks them (kernel/bpf/syscall.c: `bpf_prog_load`, `map_create`; the perf and netlink
// paths that attach). Plain data: deployment files (a DaemonSet's securityContext) are written from
// it, so a tracer asks for what its programs need and nothing more.

import type { ProgramKind } from "./sections.js";

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

/** A program as far as capabilities go: its kind and libbpf program type (lower case, without `BPF_PROG_TYPE_`). */
export interface ProgramCapabilityInput {
  readonly kind: ProgramKind;
  readonly progType: string;
}

/**
 * The capabilities beyond `baseCapabilities` that these programs and maps of these types
 * (`MapDescriptor.type`) need, each once, sorted by capability.
 */
export function capabilitiesFor(programs: Iterable<ProgramCapabilityInput>, mapTypes: Iterable<string> = []): CapabilityNeed[] {
  const needs = new Map<string, string[]>();
  const add = (capability: string, reason: string) => {
    const reasons = needs.get(capability) ?? [];
    if (!reasons.includes(reason)) reasons.push(reason);
    needs.set(capability, reasons);
  };
  const list = [...programs];
  // Measured on Linux 6.18: perf_event_open of the uprobe PMU fails with EACCES holding CAP_BPF +
  // CAP_PERFMON and succeeds with CAP_SYS_ADMIN (the kernel's uprobe PMU checks CAP_SYS_ADMIN,
  // where the kprobe PMU accepts CAP_PERFMON). test/tracers-caps.test.ts shows both.
  if (list.some((p) => p.kind === "uprobe" || p.kind === "uretprobe" || p.kind === "usdt")) add("CAP_SYS_ADMIN", "uprobe and USDT programs: the kernel's uprobe perf PMU requires CAP_SYS_ADMIN to open a probe (CAP_PERFMON is not enough)");
  for (const t of new Set(list.map((p) => p.progType))) {
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
