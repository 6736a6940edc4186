// SPDX-License-Identifier: GPL-2.0
/*
 * dropwatch: packets the kernel frees because it dropped them, with the drop reason (enum
 * skb_drop_reason), the protocol, the freeing function and the kernel stack that led there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

#define MAX_STACK_DEPTH 127

/** Only report this drop reason (0: all except SKB_NOT_DROPPED_YET). */
const volatile __u32 targ_reason = 0;
/** Only report this ethertype in host byte order (0x0800 IPv4, 0x86dd IPv6; 0: all). */
const volatile __u16 targ_protocol = 0;

/** One dropped packet. */
struct event {
	/** Kernel monotonic time, in nanoseconds. */
	__u64 ts_ns;
	/** Kernel address of the freed sk_buff. */
	__u64 skbaddr;
	/** Address of the kernel function that dropped it. */
	__u64 location;
	/** Why the kernel dropped it (enum skb_drop_reason; 2 NOT_SPECIFIED, 3 NO_SOCKET, …). */
	__u32 reason;
	/** Process id current at the drop (often unrelated: drops happen in softirq). */
	__u32 pid;
	/** Id of the kernel stack in stacks, or a negative errno. */
	__s32 stack_id;
	/** Ethertype of the packet, host byte order. */
	__u16 protocol;
	__u16 __pad;
	/** Command name of the current task. */
	char comm[TASK_COMM_LEN];
};

/** Kernel stacks of the drops. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/** Drop events, read by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/**
 * Drops counted per reason, for a cheap summary without reading every event.
 * @metric counter name=dropwatch_drops_total labels=reason help="Packets dropped, by drop reason"
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} reason_counts SEC(".maps");

/** An sk_buff is freed as dropped. */
SEC("tracepoint/skb/kfree_skb")
int handle_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	__u32 reason = ctx->reason;
	__u16 protocol = ctx->protocol; /* the tracepoint already stores ntohs(skb->protocol) */
	struct event *e;
	__u64 *count;

	if (reason == SKB_NOT_DROPPED_YET || reason == SKB_CONSUMED)
		return 0;
	if (targ_reason && targ_reason != reason)
		return 0;
	if (targ_protocol && targ_protocol != protocol)
		return 0;

	count = bpf_map_lookup_elem(&reason_counts, &reason);
	if (count)
		*count += 1;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&lost_events, 1);
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->skbaddr = (__u64)ctx->skbaddr;
	e->location = (__u64)ctx->location;
	e->reason = reason;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->stack_id = bpf_get_stackid(ctx, &stacks, 0);
	e->protocol = protocol;
	e->__pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
