// SPDX-License-Identifier: GPL-2.0
/*
 * hungtask: tasks stuck in uninterruptible sleep (D state) longer than a threshold, with their kernel
 * stacks, without kprobes. tp_btf/sched_switch notes when a task leaves the CPU in D state (and
 * forgets it when it runs again); a task iterator (iter/task), read from user space on a timer, walks
 * every task and writes one struct hung_task record per task in D state for at least min_blocked_ms.
 * Tasks already in D state when tracing started count from the first walk that sees them.
 * Metrics: each task found hung is counted once per sleep (by comm, in the iterator), and every
 * D-state sleep's length goes into a log2 histogram when the task runs again (in sched_switch).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"

#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_WAKEKILL 0x100
#define TASK_NOLOAD 0x400
#define STACK_DEPTH 32

/** Report tasks in D state for at least this many milliseconds. */
const volatile __u64 min_blocked_ms = 1000;
/** Also report killable sleeps (TASK_KILLABLE = D + WAKEKILL, e.g. a vfork parent), which the kernel's own hung-task check skips. */
const volatile bool include_killable = true;

/** One task in D state, written by the iterator. */
struct hung_task {
	/** How long it has been in D state, in nanoseconds (a lower bound for tasks that were already when tracing started). */
	__u64 blocked_ns;
	/** Thread id. */
	__u32 pid;
	/** Process id (tgid). */
	__u32 tgid;
	/** task_struct->__state (0x2 uninterruptible, | 0x100 killable). */
	__u32 state;
	/** Bytes of stack filled (8 per frame), or a negative errno. */
	__s32 stack_bytes;
	/** Command name. */
	char comm[TASK_COMM_LEN];
	/** Kernel stack, innermost frame first. */
	__u64 stack[STACK_DEPTH];
};

/** A task's current D-state sleep. */
struct blocked {
	/** Since when (kernel monotonic ns). */
	__u64 since;
	/** Already counted in hung_tasks (once per sleep). */
	__u64 counted;
};

/** The D-state sleep of each task in one, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct blocked);
} blocked_since SEC(".maps");

/** A command name, as a map key. */
struct comm_key {
	char comm[TASK_COMM_LEN];
};

/**
 * Tasks found in D state for at least min_blocked_ms, by command name.
 * @metric counter name=hungtask_hung_tasks_total labels=comm help="Tasks found in uninterruptible sleep (D state) for at least the threshold, by command; each sleep counted once"
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct comm_key);
	__type(value, __u64);
} hung_tasks SEC(".maps");

/** A log2 histogram: slots[i] counts sleeps of [2^i, 2^(i+1)) microseconds. */
struct hist {
	__u64 slots[MAX_SLOTS];
};

/**
 * How long D-state sleeps lasted (one entry, key 0), recorded when the task runs again.
 * @metric histogram log2 name=hungtask_blocked_seconds value=slots unit=us export=seconds help="Length of uninterruptible sleeps (D state), recorded when the task runs again; sleeps begun before tracing count from the first walk that saw them"
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} blocked_hist SEC(".maps");

/** The iterator's record being built (too big for the stack next to the iterator's own state). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hung_task);
} scratch SEC(".maps");

static __always_inline bool is_d_state(unsigned int state)
{
	if (!(state & TASK_UNINTERRUPTIBLE) || (state & TASK_NOLOAD))
		return false;
	return include_killable || !(state & TASK_WAKEKILL);
}

/**
 * Notes when a task leaves the CPU in D state; a task that runs again is no longer blocked, and its
 * sleep's length goes into the histogram.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct blocked b = {}, *was;
	struct hist *h;
	__u32 pid = prev->pid, zero = 0;
	__u64 slot;

	if (!preempt && is_d_state(BPF_CORE_READ(prev, __state))) {
		b.since = bpf_ktime_get_ns();
		bpf_map_update_elem(&blocked_since, &pid, &b, BPF_ANY);
	}
	pid = next->pid;
	was = bpf_map_lookup_elem(&blocked_since, &pid);
	if (!was)
		return 0;
	slot = log2_u64((bpf_ktime_get_ns() - was->since) / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	h = bpf_map_lookup_elem(&blocked_hist, &zero);
	if (h)
		__sync_fetch_and_add(&h->slots[slot], 1);
	bpf_map_delete_elem(&blocked_since, &pid);
	return 0;
}

/** Writes a hung_task record for every task in D state for at least min_blocked_ms. */
SEC("iter/task")
int dump_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u64 now = bpf_ktime_get_ns(), one = 1, *n;
	struct blocked fresh = { .since = now }, *b;
	struct comm_key key;
	struct hung_task *h;
	__u32 pid, zero = 0;

	if (!task || !is_d_state(task->__state))
		return 0;
	pid = task->pid;
	b = bpf_map_lookup_elem(&blocked_since, &pid);
	if (!b) {
		/* Blocked before tracing started: count from now on. */
		bpf_map_update_elem(&blocked_since, &pid, &fresh, BPF_NOEXIST);
		return 0;
	}
	if (now - b->since < min_blocked_ms * 1000000)
		return 0;
	if (!b->counted) {
		b->counted = 1;
		__builtin_memcpy(key.comm, task->comm, sizeof(key.comm));
		n = bpf_map_lookup_elem(&hung_tasks, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			bpf_map_update_elem(&hung_tasks, &key, &one, BPF_NOEXIST);
	}
	h = bpf_map_lookup_elem(&scratch, &zero);
	if (!h)
		return 0;
	h->blocked_ns = now - b->since;
	h->pid = pid;
	h->tgid = task->tgid;
	h->state = task->__state;
	__builtin_memcpy(h->comm, task->comm, sizeof(h->comm));
	h->stack_bytes = bpf_get_task_stack(task, h->stack, sizeof(h->stack), 0);
	bpf_seq_write(ctx->meta->seq, h, sizeof(*h));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
