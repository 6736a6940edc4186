// Load knobs (LoadOptions.maps / programs) in the style of libbpf-tools: a stack-trace map sized at
// load, a map only an optional program uses, one hook in three variants (fentry, kprobe,
// tracepoint) of which user space loads one, and a tp_btf program retargeted at load.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

const volatile __u32 target_tgid = 0;

__s64 kernel_stack_id = -1;
__s64 user_stack_id = -1;
__u64 nanosleep_hits = 0;
__u32 nanosleep_variant = 0;
__u64 tp_btf_hits = 0;
__u32 tp_btf_tgid = 0;
__u32 tp_btf_parent = 0;
__u64 connect4_hits = 0;

/* No value_size: user space sets perf_max_stack_depth * sizeof(u64) before load. */
struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(key_size, sizeof(__u32));
  __uint(max_entries, 1024);
} stackmap SEC(".maps");

/* Used only by the optional program below. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __u64);
} optional_counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_kill")
int on_kill(void *ctx) {
  if ((__u32)bpf_get_current_pid_tgid() != target_tgid) return 0;
  long id = bpf_get_stackid(ctx, &stackmap, 0);
  if (id >= 0) kernel_stack_id = id;
  id = bpf_get_stackid(ctx, &stackmap, BPF_F_USER_STACK);
  if (id >= 0) user_stack_id = id;
  return 0;
}

SEC("?tracepoint/syscalls/sys_enter_kill")
int optional_counter(void *ctx) {
  __u32 key = 0;
  __u64 one = 1, *n = bpf_map_lookup_elem(&optional_counts, &key);
  if (n) __sync_fetch_and_add(n, 1);
  else bpf_map_update_elem(&optional_counts, &key, &one, BPF_ANY);
  return 0;
}

/* The parent of the process that sleeps is the test's process. */
static __always_inline bool child_of_target(void) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  return BPF_CORE_READ(task, real_parent, tgid) == target_tgid;
}

static __always_inline void hit(__u32 variant) {
  if (!child_of_target()) return;
  __sync_fetch_and_add(&nanosleep_hits, 1);
  nanosleep_variant = variant;
}

SEC("fentry/do_nanosleep")
int BPF_PROG(nanosleep_fentry) {
  hit(1);
  return 0;
}

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(nanosleep_kprobe) {
  hit(2);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_clock_nanosleep")
int nanosleep_tp(void *ctx) {
  hit(3);
  return 0;
}

/* Declared for fork; the test retargets it to sched_process_exec with attachTarget. */
SEC("tp_btf/sched_process_fork")
int on_task_event(u64 *ctx) {
  struct task_struct *task = bpf_get_current_task_btf();
  __u32 tgid = task->tgid, parent = task->real_parent->tgid;
  if (tgid != target_tgid && parent != target_tgid) return 0;
  __sync_fetch_and_add(&tp_btf_hits, 1);
  tp_btf_tgid = tgid;
  tp_btf_parent = parent;
  return 0;
}

/* A sock-addr hook (libbpf: CGROUP_SOCK_ADDR), attached to a cgroup. */
SEC("cgroup/connect4")
int on_connect4(struct bpf_sock_addr *ctx) {
  if (ctx->user_port == bpf_htons(47116)) __sync_fetch_and_add(&connect4_hits, 1);
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
