// SPDX-License-Identifier: GPL-2.0
/*
 * opensnoop: openat() calls with the path, the flags and the outcome. Enter and exit are paired through
 * a hash map keyed by thread id, so the event carries both the arguments and the result.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

/* Bytes kept of the path, NUL included. */
#define NAME_MAX_LEN 256

/** Only report this process id (tgid; 0: everyone). */
const volatile __u32 targ_pid = 0;
/** Only report this user id (-1: everyone). */
const volatile __s64 targ_uid = -1;
/** Only report commands whose name starts with this ("": everyone). */
const volatile char targ_comm[TASK_COMM_LEN] = {};
/** Only report failed opens. */
const volatile bool targ_failed = false;

/** The arguments of an openat() in flight. */
struct args_t {
	/** User-space address of the path. */
	__u64 fname;
	/** open(2) flags (O_RDONLY, O_CREAT, …). */
	__s32 flags;
	/** Mode for O_CREAT. */
	__u32 mode;
};

/** One completed openat() call. */
struct event {
	/** Kernel monotonic time at exit, in nanoseconds. */
	__u64 ts_ns;
	/** Process id (tgid). */
	__u32 pid;
	/** Thread id. */
	__u32 tid;
	/** Real user id. */
	__u32 uid;
	/** The new file descriptor, or -1 when the open failed. */
	__s32 fd;
	/** errno when the open failed, otherwise 0. */
	__s32 err;
	/** open(2) flags. */
	__s32 flags;
	/** Mode for O_CREAT. */
	__u32 mode;
	/** Command name of the caller. */
	char comm[TASK_COMM_LEN];
	/** The path as passed to openat(), cut to NAME_MAX_LEN bytes. */
	char fname[NAME_MAX_LEN];
};

/** Opens in flight, keyed by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args_t);
} start SEC(".maps");

/**
 * Completed opens, read by user space.
 * @metric counter name=opensnoop_opens_total labels=comm help="Completed open() calls by command name"
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/** Remembers the path pointer and flags of an openat() that passes the filters. */
SEC("tracepoint/syscalls/sys_enter_openat")
int handle_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args_t args = {};
	char comm[TASK_COMM_LEN];

	if (targ_pid && targ_pid != id >> 32)
		return 0;
	if (targ_uid >= 0 && (__u32)targ_uid != (__u32)bpf_get_current_uid_gid())
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	if (!comm_allowed(targ_comm, comm))
		return 0;

	args.fname = ctx->args[1];
	args.flags = (__s32)ctx->args[2];
	args.mode = (__u32)ctx->args[3];
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

/** Pairs the result with the stored arguments and publishes the event. */
SEC("tracepoint/syscalls/sys_exit_openat")
int handle_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args_t *args;
	struct event *e;
	__s32 ret = (__s32)ctx->ret;

	args = bpf_map_lookup_elem(&start, &tid);
	if (!args)
		return 0;
	if (targ_failed && ret >= 0)
		goto cleanup;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&lost_events, 1);
	if (!e)
		goto cleanup;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->fd = ret >= 0 ? ret : -1;
	e->err = ret >= 0 ? 0 : -ret;
	e->flags = args->flags;
	e->mode = args->mode;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)args->fname) < 0)
		e->fname[0] = '\0';
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
