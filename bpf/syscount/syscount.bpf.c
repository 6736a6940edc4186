// SPDX-License-Identifier: GPL-2.0
/*
 * syscount: system calls counted per syscall number and per process, with the time spent in them.
 * Counters live in per-CPU hash maps so the hot path never contends; user space sums the CPUs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

/** Only count this process id (tgid; 0: everyone). */
const volatile __u32 targ_pid = 0;
/** Only count calls that failed (negative return). */
const volatile bool filter_failed = false;
/** Only count this syscall number (-1: all). */
const volatile __s32 targ_syscall = -1;

/** What is accumulated for one syscall number on one CPU. */
struct syscall_stat {
	/** Completed calls. */
	__u64 count;
	/** Failed calls (negative return value). */
	__u64 errors;
	/** Time spent inside the calls, in nanoseconds. */
	__u64 total_ns;
};

/**
 * Calls per process id (tgid), per CPU.
 * @metric counter name=syscount_process_calls_total labels=pid help="System calls per process"
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} pid_counts SEC(".maps");

/**
 * Calls, errors and time per syscall number, per CPU.
 * @metric counter name=syscount_calls_total labels=syscall value=count help="Completed system calls"
 * @metric counter name=syscount_errors_total labels=syscall value=errors help="System calls that returned an error"
 * @metric counter name=syscount_time_seconds_total labels=syscall value=total_ns unit=ns export=seconds help="Time spent inside system calls"
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct syscall_stat);
} syscall_stats SEC(".maps");

/** Entry time of the syscall each thread is in, keyed by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/** Notes when a thread enters a syscall that passes the filters. */
SEC("tracepoint/raw_syscalls/sys_enter")
int handle_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 ts;

	if (targ_pid && targ_pid != id >> 32)
		return 0;
	if (targ_syscall >= 0 && ctx->id != targ_syscall)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

/** Counts the finished syscall for its process and its number. */
SEC("tracepoint/raw_syscalls/sys_exit")
int handle_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, pid = id >> 32, nr;
	__u64 *start_ts, *count, one = 1, delta;
	struct syscall_stat *stat, zero = {};

	start_ts = bpf_map_lookup_elem(&start, &tid);
	if (!start_ts)
		return 0;
	delta = bpf_ktime_get_ns() - *start_ts;
	bpf_map_delete_elem(&start, &tid);
	if (filter_failed && ctx->ret >= 0)
		return 0;

	count = bpf_map_lookup_elem(&pid_counts, &pid);
	if (count)
		*count += 1; /* per-CPU value: no other writer */
	else
		bpf_map_update_elem(&pid_counts, &pid, &one, BPF_NOEXIST);

	nr = (__u32)ctx->id;
	stat = bpf_map_lookup_elem(&syscall_stats, &nr);
	if (!stat) {
		bpf_map_update_elem(&syscall_stats, &nr, &zero, BPF_NOEXIST);
		stat = bpf_map_lookup_elem(&syscall_stats, &nr);
		if (!stat)
			return 0;
	}
	stat->count++;
	stat->total_ns += delta;
	if (ctx->ret < 0)
		stat->errors++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
