// SPDX-License-Identifier: GPL-2.0
/*
 * offcputime: time tasks spend blocked (off CPU), summed by kernel + user stack, for off-CPU flame
 * graphs. At sched_switch the outgoing task's stacks and the time are recorded; when the task is
 * switched back in, the time it was away is added to the total of those stacks (only blocks within
 * [min_block_us, max_block_us] count).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"

/* Frames kept per stack (the kernel's PERF_MAX_STACK_DEPTH). */
#define MAX_STACK_DEPTH 127
/* task_struct->flags bit of kernel threads. */
#define PF_KTHREAD 0x00200000

/** Only this process id (tgid; 0: everyone). */
const volatile __u32 targ_tgid = 0;
/** Only this thread id (0: every thread). */
const volatile __u32 targ_pid = 0;
/** Only user threads (no kernel threads). */
const volatile bool user_threads_only = false;
/** Only kernel threads. */
const volatile bool kernel_threads_only = false;
/** Only tasks that left the CPU in this state (task_struct->__state: 1 interruptible, 2 uninterruptible; -1: any, including preempted). */
const volatile __s64 targ_state = -1;
/** Only count blocks of at least this many microseconds. */
const volatile __u64 min_block_us = 1;
/** Only count blocks of at most this many microseconds. */
const volatile __u64 max_block_us = -1ULL;

/** What the off-CPU time is summed by: the thread and the stacks it blocked with. */
struct key_t {
	/** Process id (tgid). */
	__u32 tgid;
	/** Thread id. */
	__u32 pid;
	/** Id of the user stack in stacks, or a negative errno (kernel threads: -1). */
	__s32 user_stack_id;
	/** Id of the kernel stack in stacks, or a negative errno. */
	__s32 kern_stack_id;
};

/** Off-CPU time of one key. */
struct val_t {
	/** Total blocked time, in nanoseconds. */
	__u64 total_ns;
	/** Number of blocks counted. */
	__u64 count;
	/** Command name of the thread. */
	char comm[TASK_COMM_LEN];
};

/** A task that is off CPU now: since when, and with which stacks. */
struct start_t {
	struct key_t key;
	/** Kernel monotonic time it was switched out, in nanoseconds. */
	__u64 ts;
	/** Command name when it was switched out. */
	char comm[TASK_COMM_LEN];
};

/** Stack traces (arrays of return addresses) by id. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/** Tasks switched out, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct start_t);
} start SEC(".maps");

/**
 * Off-CPU totals by thread and stacks.
 * @metric counter name=offcputime_seconds_total labels=tgid value=total_ns unit=ns export=seconds help="Time blocked off CPU, by process"
 * @metric counter name=offcputime_blocks_total labels=tgid value=count help="Blocks off CPU counted, by process"
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct key_t);
	__type(value, struct val_t);
} info SEC(".maps");

/** Blocks not counted because the info map was full (user space reports them as lost). */
__u64 lost_blocks = 0;

static __always_inline bool allow_record(struct task_struct *t)
{
	if (!t->pid)
		return false; /* the idle task does not block */
	if (targ_tgid && targ_tgid != t->tgid)
		return false;
	if (targ_pid && targ_pid != t->pid)
		return false;
	if (user_threads_only && (t->flags & PF_KTHREAD))
		return false;
	if (kernel_threads_only && !(t->flags & PF_KTHREAD))
		return false;
	if (targ_state != -1 && (__s64)BPF_CORE_READ(t, __state) != targ_state)
		return false;
	return true;
}

/** The outgoing task starts waiting (its stacks are taken now: it is still current); the incoming one's wait ends. */
SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct start_t *sp, s = {};
	struct val_t *vp, zero = {};
	__u32 pid;
	__s64 delta;

	if (allow_record(prev)) {
		pid = prev->pid;
		s.key.tgid = prev->tgid;
		s.key.pid = pid;
		s.key.user_stack_id = (prev->flags & PF_KTHREAD) ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
		s.key.kern_stack_id = bpf_get_stackid(ctx, &stacks, 0);
		s.ts = bpf_ktime_get_ns();
		bpf_probe_read_kernel_str(s.comm, sizeof(s.comm), prev->comm);
		bpf_map_update_elem(&start, &pid, &s, BPF_ANY);
	}

	pid = next->pid;
	sp = bpf_map_lookup_elem(&start, &pid);
	if (!sp)
		return 0;
	delta = (__s64)(bpf_ktime_get_ns() - sp->ts);
	if (delta < 0 || delta / 1000 < min_block_us || delta / 1000 > max_block_us)
		goto cleanup;
	vp = bpf_map_lookup_elem(&info, &sp->key);
	if (!vp) {
		__builtin_memcpy(zero.comm, sp->comm, sizeof(zero.comm));
		if (bpf_map_update_elem(&info, &sp->key, &zero, BPF_NOEXIST) == -7 /* E2BIG: full */)
			__sync_fetch_and_add(&lost_blocks, 1);
		vp = bpf_map_lookup_elem(&info, &sp->key);
		if (!vp)
			goto cleanup;
	}
	__sync_fetch_and_add(&vp->total_ns, delta);
	__sync_fetch_and_add(&vp->count, 1);
cleanup:
	bpf_map_delete_elem(&start, &pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
