// SPDX-License-Identifier: GPL-2.0
/*
 * profile: on-CPU sampling. A perf_event program runs on each CPU at a fixed frequency, records the
 * kernel and user stacks of whatever runs there into a stack-trace map and counts identical samples.
 * User space symbolizes the stacks and prints them folded for flame graphs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

/* Frames kept per stack (the kernel's PERF_MAX_STACK_DEPTH). */
#define MAX_STACK_DEPTH 127

/** Only sample this process id (tgid; 0: everyone). */
const volatile __u32 targ_pid = 0;
/** Record user stacks only. */
const volatile bool user_stacks_only = false;
/** Record kernel stacks only. */
const volatile bool kernel_stacks_only = false;
/** Also count samples of the idle task (pid 0). */
const volatile bool include_idle = false;

/** Identity of a sample: who ran and with which stacks. Equal keys are counted together. */
struct key_t {
	/** Process id (tgid). */
	__u32 pid;
	/** Id of the user stack in stacks, or a negative errno when none was taken. */
	__s32 user_stack_id;
	/** Id of the kernel stack in stacks, or a negative errno when none was taken. */
	__s32 kern_stack_id;
	/** Command name. */
	char comm[TASK_COMM_LEN];
};

/** Stack traces (arrays of return addresses) by id. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/**
 * Samples per distinct (pid, stacks, comm).
 * @metric counter name=profile_samples_total labels=comm help="CPU samples by command name"
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

/** Samples not counted because the counts map was full (user space reports them as lost). */
__u64 lost_samples = 0;

/** Runs on every sample of the CPU clock. */
SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	struct key_t key = {};
	__u64 *count, one = 1;

	if (!include_idle && tid == 0)
		return 0;
	if (targ_pid && targ_pid != pid)
		return 0;

	key.pid = pid;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.user_stack_id = kernel_stacks_only ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	key.kern_stack_id = user_stacks_only ? -1 : bpf_get_stackid(ctx, &stacks, 0);

	count = bpf_map_lookup_elem(&counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) == -7 /* E2BIG: full */)
		__sync_fetch_and_add(&lost_samples, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
