// SPDX-License-Identifier: GPL-2.0
/*
 * softirqs: time spent in each soft-interrupt vector (TIMER, NET_RX, SCHED, RCU, …), as counts, totals and
 * log2 latency zones, accumulated in a per-CPU array indexed by vector so no CPU waits for another.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

/* Soft-interrupt vectors in this kernel (enum NR_SOFTIRQS). */
#define NR_VECTORS 10

/** Bucket latencies in nanoseconds instead of microseconds. */
const volatile bool targ_ns = false;
/** Only measure this CPU (-1: all). */
const volatile __s32 targ_cpu = -1;

/** What one CPU accumulated for one softirq vector. */
struct softirq_stat {
	/** Handler runs. */
	__u64 count;
	/** Time inside the handler, in nanoseconds. */
	__u64 total_ns;
	/** Longest single run, in nanoseconds. */
	__u64 max_ns;
	/** log2 latency zones: slots[i] counts runs in [2^i, 2^(i+1)) µs (ns with targ_ns). */
	__u32 slots[MAX_SLOTS];
};

/** Entry time of the softirq running on this CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/**
 * Statistics per vector (index = vector number: 0 HI, 1 TIMER, 2 NET_TX, 3 NET_RX, …), per CPU.
 * @metric counter name=softirqs_total labels=vector value=count help="Soft-interrupt handler runs"
 * @metric counter name=softirqs_time_seconds_total labels=vector value=total_ns unit=ns export=seconds help="Time spent in soft-interrupt handlers"
 * @metric histogram log2 name=softirqs_latency_seconds labels=vector value=slots unit=us export=seconds help="Soft-interrupt handler run time"
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_VECTORS);
	__type(key, __u32);
	__type(value, struct softirq_stat);
} stats SEC(".maps");

static __always_inline bool cpu_allowed(void)
{
	return targ_cpu < 0 || (__u32)targ_cpu == bpf_get_smp_processor_id();
}

/** A softirq handler starts on this CPU. */
SEC("tracepoint/irq/softirq_entry")
int handle_softirq_entry(struct trace_event_raw_softirq *ctx)
{
	__u32 zero = 0;
	__u64 *ts;

	if (!cpu_allowed())
		return 0;
	ts = bpf_map_lookup_elem(&start, &zero);
	if (ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

/** The handler ended: account its run time to its vector. */
SEC("tracepoint/irq/softirq_exit")
int handle_softirq_exit(struct trace_event_raw_softirq *ctx)
{
	__u32 zero = 0, vec = ctx->vec;
	struct softirq_stat *stat;
	__u64 *ts, delta, slot;

	if (!cpu_allowed() || vec >= NR_VECTORS)
		return 0;
	ts = bpf_map_lookup_elem(&start, &zero);
	if (!ts || !*ts)
		return 0;
	delta = bpf_ktime_get_ns() - *ts;
	*ts = 0;
	stat = bpf_map_lookup_elem(&stats, &vec);
	if (!stat)
		return 0;
	stat->count++;
	stat->total_ns += delta;
	if (delta > stat->max_ns)
		stat->max_ns = delta;
	slot = log2_u64(targ_ns ? delta : delta / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	stat->slots[slot]++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
