// SPDX-License-Identifier: GPL-2.0
/* Ring buffer producers for test/events.test.ts.
 *
 * `produce` (SEC("syscall"), run with BPF_PROG_TEST_RUN) emits `n` events per run with bpf_loop,
 * numbered by the global `next_seq`, so the reader can check payload and order. Flags select
 * variable-length records and discarded records. `on_exec` emits one event per exec on the system,
 * with the real pid and comm of the new program.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define KIND_PRODUCED 1
#define KIND_EXEC 2
#define CHECK_MUL 0x9E3779B97F4A7C15ULL

/* 40 bytes */
struct ev_event {
	__u64 seq;
	__u32 pid;
	__u32 kind;
	char comm[16];
	__u64 check; /* seq * CHECK_MUL: the payload arrived intact */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

#define F_DISCARD_ODD 1 /* reserve, then discard every event with an odd seq */
#define F_VARLEN 2	/* bpf_ringbuf_output of 8 + (seq % 8) * 8 bytes: u64 words seq, seq+1, ... */
#define F_DROP 4	/* a full ring loses the event (counted in `dropped`) instead of stopping the run */

/* BPF_PROG_TYPE_SYSCALL context, copied back out by BPF_PROG_TEST_RUN */
struct produce_args {
	__u32 n;	 /* in: events to attempt */
	__u32 flags;	 /* in: F_* */
	__u64 done;	 /* out: events submitted (or discarded) in this run */
	__u32 stalled;	 /* out: the run stopped because the ring was full */
	__u32 _pad;
};

__u64 next_seq;	 /* seq of the next produced event */
__u64 dropped;	 /* F_DROP: events lost to a full ring */
__u64 exec_seq;	 /* exec events so far */

struct loop_ctx {
	__u64 seq;
	__u64 done;
	__u32 flags;
	__u32 pid;
	__u32 stalled;
	__u32 _pad;
};

static long emit_one(__u64 i, struct loop_ctx *c)
{
	__u64 seq = c->seq;

	if (c->flags & F_VARLEN) {
		__u64 words[8];
		__u32 len = 8 + (seq & 7) * 8;

		for (int k = 0; k < 8; k++)
			words[k] = seq + k;
		if (bpf_ringbuf_output(&events, words, len, 0)) {
			if (!(c->flags & F_DROP)) {
				c->stalled = 1;
				return 1;
			}
			dropped++;
		}
		c->seq++;
		c->done++;
		return 0;
	}

	struct ev_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (!(c->flags & F_DROP)) {
			c->stalled = 1;
			return 1;
		}
		dropped++;
		c->seq++;
		return 0;
	}
	e->seq = seq;
	e->pid = c->pid;
	e->kind = KIND_PRODUCED;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->check = seq * CHECK_MUL;
	if ((c->flags & F_DISCARD_ODD) && (seq & 1))
		bpf_ringbuf_discard(e, 0);
	else
		bpf_ringbuf_submit(e, 0);
	c->seq++;
	c->done++;
	return 0;
}

SEC("syscall")
int produce(struct produce_args *a)
{
	struct loop_ctx c = {};

	c.seq = next_seq;
	c.flags = a->flags;
	c.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_loop(a->n, emit_one, &c, 0);
	next_seq = c.seq;
	a->done = c.done;
	a->stalled = c.stalled;
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct ev_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->seq = __sync_fetch_and_add(&exec_seq, 1);
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->kind = KIND_EXEC;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->check = e->seq * CHECK_MUL;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
