// SPDX-License-Identifier: GPL-2.0
/* Large-record producer for test/runtime-ringbuf-4g.test.ts: pushes more than 4 GiB through a 1 MiB
 * ring in a few thousand runs, so the reader's consumer_pos crosses 2^32.
 *
 * `fill` (SEC("syscall"), run with BPF_PROG_TEST_RUN) reserves RECORD_SIZE-byte records until `n`
 * were submitted or a reservation fails, and reports the kernel's own view of the ring
 * (bpf_ringbuf_query) so the test can compare consumer_pos with the reader's position. Only the
 * first and last 8 bytes of each record are written: reserving is O(1) whatever the size.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* 200008 bytes with the header: not a divisor of 2^32, so the crossing falls inside a record, and
 * records straddle the end of the ring at ever-changing offsets. */
#define RECORD_SIZE 200000
#define TAIL_MUL 0x9E3779B97F4A7C15ULL

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} big SEC(".maps");

/* BPF_PROG_TYPE_SYSCALL context, copied back out by BPF_PROG_TEST_RUN */
struct fill_args {
	__u64 seq;	/* in: seq of the first record; out: seq of the next one */
	__u32 n;	/* in: records to attempt */
	__u32 done;	/* out: records submitted */
	__u32 failed;	/* out: reservations refused (the run stops at the first) */
	__u32 _pad;
	__u64 cons_pos; /* out: the kernel's consumer_pos when the run started */
	__u64 prod_pos; /* out: the kernel's producer_pos when the run ended */
};

static long fill_one(__u64 i, struct fill_args *a)
{
	__u64 *rec = bpf_ringbuf_reserve(&big, RECORD_SIZE, 0);

	if (!rec) {
		a->failed++;
		return 1;
	}
	rec[0] = a->seq;
	rec[RECORD_SIZE / 8 - 1] = a->seq * TAIL_MUL; /* the whole record is in place, wrap included */
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	a->seq++;
	a->done++;
	return 0;
}

SEC("syscall")
int fill(struct fill_args *ctx)
{
	struct fill_args a = {};

	a.seq = ctx->seq;
	a.cons_pos = bpf_ringbuf_query(&big, BPF_RB_CONS_POS);
	bpf_loop(ctx->n, fill_one, &a, 0);
	a.prod_pos = bpf_ringbuf_query(&big, BPF_RB_PROD_POS);
	ctx->seq = a.seq;
	ctx->done = a.done;
	ctx->failed = a.failed;
	ctx->cons_pos = a.cons_pos;
	ctx->prod_pos = a.prod_pos;
	return 0;
}
