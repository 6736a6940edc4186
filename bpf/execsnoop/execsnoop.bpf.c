// SPDX-License-Identifier: GPL-2.0
/*
 * execsnoop: every execve() on the system, with the parent pid, the argument vector and the return code.
 * The enter tracepoint captures argv into a per-thread slot; the exit tracepoint adds the return code and
 * the new command name, then publishes the event through the ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.h"

/* How many arguments are captured; the rest are counted in argsTruncated. */
#define MAX_ARGS 16
/* Bytes kept of each argument, NUL included. */
#define ARG_LEN 96

/** Only report processes whose parent has this tgid (0: everyone). */
const volatile __u32 targ_ppid = 0;
/** Only report this user id (-1: everyone). */
const volatile __s64 targ_uid = -1;
/** Only report commands whose name (after exec) starts with this ("": everyone). */
const volatile char targ_comm[TASK_COMM_LEN] = {};
/** Drop failed execs (negative return code). */
const volatile bool ignore_failed = false;

/** One completed execve() call. */
struct event {
	/** Kernel monotonic time at exit, in nanoseconds. */
	__u64 ts_ns;
	/** Process id (tgid) of the caller. */
	__u32 pid;
	/** Parent's process id, read through task->real_parent->tgid (CO-RE). */
	__u32 ppid;
	/** Real user id of the caller. */
	__u32 uid;
	/** execve() return code: 0, or a negative errno. */
	__s32 retval;
	/** Number of arguments captured in args. */
	__u32 args_count;
	/** Set when argv held more than MAX_ARGS arguments. */
	__u32 args_truncated;
	/** Command name after the exec (the program's basename). */
	char comm[TASK_COMM_LEN];
	/** The first MAX_ARGS arguments, each NUL-terminated and cut to ARG_LEN bytes. */
	char args[MAX_ARGS][ARG_LEN];
};

/**
 * Events of completed execs, read by user space.
 * @metric counter name=execsnoop_execs_total labels=comm help="Completed execve() calls by command name"
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/** Execs in flight, keyed by thread id: filled at enter, completed and removed at exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

/** Zeroed scratch space: an event is too large for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

/** Captures the caller and argv when execve() starts. */
SEC("tracepoint/syscalls/sys_enter_execve")
int handle_execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct task_struct *task;
	const char *const *argv;
	struct event *e;

	if (targ_uid >= 0 && (__u32)targ_uid != uid)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	if (targ_ppid && targ_ppid != ppid)
		return 0;

	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->ppid = ppid;
	e->uid = uid;
	e->retval = 0;
	e->args_count = 0;
	e->args_truncated = 0;
	/* Scratch is reused: clear it so no previous exec's argument bytes ride along. */
	for (int i = 0; i < sizeof(e->args) / sizeof(__u64); i++) {
		((__u64 *)e->args)[i] = 0;
		barrier_var(i); /* keeps clang from turning the loop into a memset BPF cannot call */
	}

	argv = (const char *const *)ctx->args[1];
	for (int i = 0; i < MAX_ARGS; i++) {
		const char *arg = NULL;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			goto done;
		if (bpf_probe_read_user_str(e->args[i], ARG_LEN, arg) < 0)
			goto done;
		e->args_count++;
	}
	/* All slots used: one more non-NULL pointer means argv was cut. */
	{
		const char *arg = NULL;

		if (!bpf_probe_read_user(&arg, sizeof(arg), &argv[MAX_ARGS]) && arg)
			e->args_truncated = 1;
	}
done:
	bpf_map_update_elem(&execs, &tid, e, BPF_ANY);
	return 0;
}

/** Completes the event with the return code and the new command name, and publishes it. */
SEC("tracepoint/syscalls/sys_exit_execve")
int handle_execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *stored, *e;
	__s32 ret = (__s32)ctx->ret;
	char comm[TASK_COMM_LEN];

	stored = bpf_map_lookup_elem(&execs, &tid);
	if (!stored)
		return 0;
	if (ignore_failed && ret < 0)
		goto cleanup;
	bpf_get_current_comm(comm, sizeof(comm));
	if (!comm_allowed(targ_comm, comm))
		goto cleanup;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&lost_events, 1);
	if (!e)
		goto cleanup;
	bpf_probe_read_kernel(e, sizeof(*e), stored);
	e->ts_ns = bpf_ktime_get_ns();
	e->retval = ret;
	__builtin_memcpy(e->comm, comm, sizeof(comm));
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
