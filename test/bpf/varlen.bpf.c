// SPDX-License-Identifier: GPL-2.0
/* Records of any length, for test/events-varlen.test.ts.
 *
 * `emit` (raw_tp, run with BPF_PROG_TEST_RUN) fills one `struct vl_event` with known values and
 * submits its first `len` bytes (ctx->args[0]) to the ring buffer `rb` or (args[1] == 1) the perf
 * event array `pb`, the way libbpf-tools submit `EVENT_SIZE(e)`: a string or array cut to its length,
 * a record that ends before a later field, or (len > sizeof) a record longer than the struct whose
 * tail is `struct vl_long`'s `extra`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct vl_point {
	__s32 x;
	__s32 y;
};

/* 96 bytes */
struct vl_event {
	__u64 seq;		/* 0 */
	__u32 len;		/* 8: the length submitted */
	__u32 pid;		/* 12 */
	char comm[16];		/* 16 */
	__u64 ts;		/* 32 */
	__u16 ports[4];		/* 40 */
	struct vl_point where;	/* 48 */
	char args[40];		/* 56: cut to what it holds, as execsnoop's args */
};

/* A record longer than its event type: the event, then bytes the reader reaches as its tail. */
struct vl_long {
	struct vl_event e;
	__u8 extra[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

__u64 next_seq;

#define EVENT_SIZE(len) (len)

SEC("raw_tp/sys_enter")
int emit(struct bpf_raw_tracepoint_args *ctx)
{
	struct vl_long r = {};
	__u64 len = ctx->args[0];
	struct vl_event *e = &r.e;

	if (len > sizeof(r))
		return -1;
	e->seq = next_seq++;
	e->len = len;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	__builtin_memcpy(e->comm, "varlen-comm-0123", 16); /* all 16 bytes, no NUL */
	e->ts = 0x1122334455667788ULL;
	e->ports[0] = 80;
	e->ports[1] = 443;
	e->ports[2] = 8080;
	e->ports[3] = 65535;
	e->where.x = -7;
	e->where.y = 9;
	__builtin_memcpy(e->args, "hello world, how are you today? fine!!!", 40);
	for (int i = 0; i < 32; i++)
		r.extra[i] = i * 3 + 1;
	if (ctx->args[1] == 1)
		return bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &r, EVENT_SIZE(len));
	return bpf_ringbuf_output(&rb, &r, EVENT_SIZE(len), 0);
}
