// SPDX-License-Identifier: GPL-2.0
/* Perf buffer producers for test/events.test.ts.
 *
 * `flood` (a raw tracepoint program, run with BPF_PROG_TEST_RUN) writes args[0] samples (at most
 * MAX_FLOOD) with bpf_perf_event_output on the current CPU, numbered by `next_seq`; outputs the
 * kernel refused (perf ring full) are counted in `failed` and returned by the run, so the reader's
 * lost count can be checked.
 * `on_exec` writes one sample per exec on the system, with the real pid and comm.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define MAX_FLOOD 4096
#define KIND_FLOOD 1
#define KIND_EXEC 2
#define CHECK_MUL 0x9E3779B97F4A7C15ULL

/* 48 bytes */
struct ev_sample {
	__u64 seq;
	__u32 pid;
	__u32 kind;
	char comm[16];
	__u64 check;
	__u32 cpu;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} samples SEC(".maps");

__u64 next_seq;	 /* seq of the next flood sample */
__u64 failed;	 /* bpf_perf_event_output failures (ring full: the kernel counts them as lost) */
__u64 exec_seq;

SEC("raw_tp/sys_enter")
int flood(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 n = ctx->args[0];
	struct ev_sample s = {};
	int fails = 0;

	s.pid = bpf_get_current_pid_tgid() >> 32;
	s.kind = KIND_FLOOD;
	s.cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(s.comm, sizeof(s.comm));
	for (int i = 0; i < MAX_FLOOD; i++) {
		if (i >= n)
			break;
		s.seq = next_seq++;
		s.check = s.seq * CHECK_MUL;
		if (bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s))) {
			failed++;
			fails++;
		}
	}
	return fails;
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct ev_sample s = {};

	s.seq = __sync_fetch_and_add(&exec_seq, 1);
	s.pid = bpf_get_current_pid_tgid() >> 32;
	s.kind = KIND_EXEC;
	s.cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(s.comm, sizeof(s.comm));
	s.check = s.seq * CHECK_MUL;
	bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s));
	return 0;
}
