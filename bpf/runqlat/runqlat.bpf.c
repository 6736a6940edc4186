// SPDX-License-Identifier: GPL-2.0
/*
 * runqlat: scheduler run-queue latency, the time a task waits between becoming runnable (wakeup, or
 * preemption) and getting a CPU, as log2 histograms. Uses BTF-enabled tracepoints (tp_btf), which hand
 * the programs typed task_struct pointers.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"

/* task_struct->__state value of a task that is still runnable when switched out (preempted). */
#define TASK_RUNNING 0

/** Keep one histogram per process (keyed by tgid) instead of a single one (key 0). */
const volatile bool targ_per_process = false;
/** Keep one histogram per thread (keyed by pid) instead of a single one (key 0). */
const volatile bool targ_per_thread = false;
/** Bucket milliseconds instead of microseconds. */
const volatile bool targ_ms = false;
/** Only measure this process id (tgid; 0: everyone). */
const volatile __u32 targ_tgid = 0;

/** A log2 latency histogram: slots[i] counts waits in [2^i, 2^(i+1)) units. */
struct hist {
	/** Counts per power-of-two bucket. */
	__u32 slots[MAX_SLOTS];
	/** Command name of the task (when keyed per process or thread). */
	char comm[TASK_COMM_LEN];
};

/** When each task id became runnable, in kernel monotonic nanoseconds. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/**
 * Histograms: key 0 for the whole system, or a tgid/pid with targ_per_process/targ_per_thread.
 * @metric histogram log2 name=runqlat_latency_seconds labels=pid value=slots unit=us export=seconds help="Run-queue latency: time from wakeup to running (pid 0: the whole system)"
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

static __always_inline void trace_enqueue(__u32 tgid, __u32 pid)
{
	__u64 ts;

	if (!pid)
		return;
	if (targ_tgid && targ_tgid != tgid)
		return;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
}

/** A sleeping task was woken up. */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(handle_sched_wakeup, struct task_struct *p)
{
	trace_enqueue(p->tgid, p->pid);
	return 0;
}

/** A new task became runnable for the first time. */
SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(handle_sched_wakeup_new, struct task_struct *p)
{
	trace_enqueue(p->tgid, p->pid);
	return 0;
}

/** A CPU switched tasks: the incoming task's wait ends; a preempted outgoing task starts waiting. */
SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct hist *histp, zero = {}; /* 124 bytes: fits the stack, keeps .rodata free of scratch */
	__u64 *tsp, slot;
	__u32 pid, hkey;
	__s64 delta;

	if (BPF_CORE_READ(prev, __state) == TASK_RUNNING)
		trace_enqueue(prev->tgid, prev->pid);

	pid = next->pid;
	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &pid);
	if (delta < 0)
		return 0;

	hkey = targ_per_process ? next->tgid : targ_per_thread ? pid : 0;
	histp = bpf_map_lookup_elem(&hists, &hkey);
	if (!histp) {
		bpf_map_update_elem(&hists, &hkey, &zero, BPF_NOEXIST);
		histp = bpf_map_lookup_elem(&hists, &hkey);
		if (!histp)
			return 0;
		if (hkey)
			bpf_probe_read_kernel_str(histp->comm, sizeof(histp->comm), next->comm);
	}
	delta /= targ_ms ? 1000000U : 1000U;
	slot = log2_u64(delta);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&histp->slots[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
