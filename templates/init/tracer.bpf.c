// SPDX-License-Identifier: GPL-2.0
/*
 * {{name}}: reports every execve() on the system with the caller's pid, uid and command name and the
 * program being executed. Scaffolded by `bpf2ts init`: edit it, and `npm run watch` regenerates
 * src/{{name}}.ts as you save.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/** Only report this process id (0: every process). Set from TypeScript before load. */
const volatile __u32 target_pid = 0;

/** One execve() call. */
struct event {
	/** Process id (tgid) of the caller. */
	__u32 pid;
	/** Real user id of the caller. */
	__u32 uid;
	/** Command name of the caller, before the exec. */
	char comm[16];
	/** Path of the program being executed, as passed to execve(). */
	char filename[128];
};

/** Events for user space, in order. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full. */
__u64 dropped = 0;

/** Publishes one event per execve() call. */
SEC("tracepoint/syscalls/sys_enter_execve")
int handle_execve(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (target_pid && pid != target_pid)
		return 0;

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = pid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
