// Runtime tests: one program per attach kind, each recording what it saw in globals or maps so the
// test can check the values are the real ones (pids, arguments, payloads, counts).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include <bpf/usdt.bpf.h>

const volatile __u32 target_tgid = 0;

__u64 raw_tp_count = 0;
__u64 raw_tp_last_id = 0;
__u64 tp_btf_count = 0;
__u64 tp_btf_last_id = 0;
__u64 uprobe_count = 0;
__s64 uprobe_a = 0, uprobe_b = 0;
__u32 uprobe_pid = 0;
__u64 uprobe_cookie = 0;
__u64 uretprobe_count = 0;
__s64 uretprobe_ret = 0;
__u64 usdt_count = 0;
__s64 usdt_a = 0, usdt_b = 0;
__u32 usdt_pid = 0;
__u64 usdt_cookie_seen = 0;
__u64 perf_samples = 0;
__u64 perf_target_samples = 0;
__u64 xdp_packets = 0;
__u64 xdp_bytes = 0;
__u64 tc_packets = 0;
__u64 socket_seen = 0;
__u64 socket_dropped = 0;
__u64 kprobe_hits = 0;
__u64 cgroup_packets = 0;
__s64 user_stack_id = -1;
__s64 kernel_stack_id = -1;

struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 1024);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

static __always_inline bool is_target(void) {
  // The main thread only (its tid is the tgid): Node's other threads make syscalls of their own.
  return (__u32)bpf_get_current_pid_tgid() == target_tgid;
}

// raw_tp/sys_enter: args are (struct pt_regs *regs, long id).
SEC("raw_tp/sys_enter")
int on_raw_sys_enter(struct bpf_raw_tracepoint_args *ctx) {
  if (!is_target()) return 0;
  __sync_fetch_and_add(&raw_tp_count, 1);
  raw_tp_last_id = ctx->args[1];
  return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_btf_sys_enter, struct pt_regs *regs, long id) {
  if (!is_target()) return 0;
  __sync_fetch_and_add(&tp_btf_count, 1);
  tp_btf_last_id = id;
  return 0;
}

SEC("uprobe")
int BPF_KPROBE(on_add, long a, long b) {
  __sync_fetch_and_add(&uprobe_count, 1);
  uprobe_a = a;
  uprobe_b = b;
  uprobe_pid = bpf_get_current_pid_tgid() >> 32;
  uprobe_cookie = bpf_get_attach_cookie(ctx);
  return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_add_ret, long ret) {
  __sync_fetch_and_add(&uretprobe_count, 1);
  uretprobe_ret = ret;
  return 0;
}

SEC("usdt")
int BPF_USDT(on_tick, long a, long b) {
  __sync_fetch_and_add(&usdt_count, 1);
  usdt_a = a;
  usdt_b = b;
  usdt_pid = bpf_get_current_pid_tgid() >> 32;
  usdt_cookie_seen = bpf_usdt_cookie(ctx);
  return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx) {
  __sync_fetch_and_add(&perf_samples, 1);
  if (is_target()) {
    __sync_fetch_and_add(&perf_target_samples, 1);
    /* Keep the last ids that were stored: without BPF_F_REUSE_STACKID a bucket holding another stack
     * answers -EEXIST, and a stored bucket is never overwritten, so a kept id stays valid. */
    long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    if (id >= 0)
      user_stack_id = id;
    id = bpf_get_stackid(ctx, &stacks, 0);
    if (id >= 0)
      kernel_stack_id = id;
  }
  return 0;
}

// XDP: counts packets and bytes, and (to prove data_out) overwrites the first payload byte after a
// 4-byte "XDP!" marker with '#'.
SEC("xdp")
int on_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  __sync_fetch_and_add(&xdp_packets, 1);
  __sync_fetch_and_add(&xdp_bytes, (__u64)(end - data));
  unsigned char *p = data;
  if (p + 5 <= (unsigned char *)end && p[0] == 'X' && p[1] == 'D' && p[2] == 'P' && p[3] == '!') {
    p[4] = '#';
    return XDP_DROP;
  }
  return XDP_PASS;
}

// tc: counts UDP packets to port 47111 on the interface it is attached to.
SEC("tc")
int on_tc(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(0x0800)) return 0;  // TC_ACT_OK
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end || ip->protocol != 17) return 0;
  struct udphdr *udp = (void *)ip + ip->ihl * 4;
  if ((void *)(udp + 1) > end) return 0;
  if (udp->dest == bpf_htons(47111)) __sync_fetch_and_add(&tc_packets, 1);
  return 0;
}

// Socket filter on a UDP socket: drops datagrams whose payload starts with "DROP".
SEC("socket")
int on_socket(struct __sk_buff *skb) {
  char head[4] = {};
  __sync_fetch_and_add(&socket_seen, 1);
  // For a UDP socket filter, offset 0 is the UDP header; the payload starts 8 bytes in.
  if (bpf_skb_load_bytes(skb, 8, head, 4) == 0 && head[0] == 'D' && head[1] == 'R' && head[2] == 'O' && head[3] == 'P') {
    __sync_fetch_and_add(&socket_dropped, 1);
    return 0;
  }
  return skb->len;
}

// cgroup_skb egress: counts UDP datagrams to port 47115 leaving the cgroup; lets everything pass.
SEC("cgroup_skb/egress")
int on_cgroup_egress(struct __sk_buff *skb) {
  struct iphdr ip;
  if (bpf_skb_load_bytes(skb, 0, &ip, sizeof ip) || ip.version != 4 || ip.protocol != 17) return 1;
  struct udphdr udp;
  if (bpf_skb_load_bytes(skb, ip.ihl * 4, &udp, sizeof udp)) return 1;
  if (udp.dest == bpf_htons(47115)) __sync_fetch_and_add(&cgroup_packets, 1);
  return 1;
}

SEC("iter/task")
int on_task(struct bpf_iter__task *ctx) {
  struct task_struct *task = ctx->task;
  if (!task || task->tgid != (int)target_tgid) return 0;
  BPF_SEQ_PRINTF(ctx->meta->seq, "%d %s\n", task->pid, task->comm);
  return 0;
}

// A syscall program run with BPF_PROG_TEST_RUN: reads its context and writes a result into it.
struct add_args {
  __u64 a;
  __u64 b;
  __u64 sum;
};

SEC("syscall")
int add_ctx(struct add_args *ctx) {
  ctx->sum = ctx->a + ctx->b;
  return (int)(ctx->a * 2);
}

SEC("kprobe/do_nanosleep")
int on_kprobe(struct pt_regs *ctx) {
  __sync_fetch_and_add(&kprobe_hits, 1);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
