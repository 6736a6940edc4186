// SPDX-License-Identifier: GPL-2.0
/*
 * oomkill: processes chosen by the OOM killer (tracepoint oom/mark_victim), with their memory at the time
 * and the task that ran into the out-of-memory condition.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

/** One OOM kill. */
struct event {
	/** Kernel monotonic time, in nanoseconds. */
	__u64 ts_ns;
	/** Total virtual memory of the victim, in kB. */
	__u64 total_vm_kb;
	/** Resident anonymous memory of the victim, in kB. */
	__u64 anon_rss_kb;
	/** Resident file-backed memory of the victim, in kB. */
	__u64 file_rss_kb;
	/** Resident shared memory of the victim, in kB. */
	__u64 shmem_rss_kb;
	/** Page tables of the victim, in kB. */
	__u64 pgtables_kb;
	/** Process id of the victim. */
	__u32 victim_pid;
	/** User id of the victim. */
	__u32 victim_uid;
	/** Process id of the task that triggered the OOM (current at mark time). */
	__u32 trigger_pid;
	/** oom_score_adj of the victim. */
	__s16 oom_score_adj;
	__u16 __pad;
	/** Command name of the victim. */
	char victim_comm[TASK_COMM_LEN];
	/** Command name of the triggering task. */
	char trigger_comm[TASK_COMM_LEN];
};

/**
 * OOM kills, read by user space.
 * @metric counter name=oomkill_kills_total labels=comm=victim_comm help="Processes killed by the OOM killer"
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/** The OOM killer marked a victim. */
SEC("tracepoint/oom/mark_victim")
int handle_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	struct event *e;
	__u32 loc;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&lost_events, 1);
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->total_vm_kb = ctx->total_vm;
	e->anon_rss_kb = ctx->anon_rss;
	e->file_rss_kb = ctx->file_rss;
	e->shmem_rss_kb = ctx->shmem_rss;
	e->pgtables_kb = ctx->pgtables;
	e->victim_pid = ctx->pid;
	e->victim_uid = ctx->uid;
	e->trigger_pid = bpf_get_current_pid_tgid() >> 32;
	e->oom_score_adj = ctx->oom_score_adj;
	e->__pad = 0;
	/* comm is a __data_loc string: low 16 bits are its offset from the record start. */
	loc = ctx->__data_loc_comm;
	bpf_probe_read_kernel_str(e->victim_comm, sizeof(e->victim_comm), (void *)ctx + (loc & 0xFFFF));
	bpf_get_current_comm(e->trigger_comm, sizeof(e->trigger_comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
