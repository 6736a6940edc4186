/* Helpers shared by the bpf2ts tracer collection. Header-only; every tracer includes vmlinux.h first. */
#ifndef BPF2TS_TRACERS_COMMON_H
#define BPF2TS_TRACERS_COMMON_H

#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16

/* Number of buckets in the log2 histograms (2^0 .. 2^(MAX_SLOTS-1)); matches bcc/libbpf-tools. */
#define MAX_SLOTS 27

/* floor(log2(v)) for v > 0, 0 for v == 0: the bucket a latency falls into. Branch-free enough for the verifier. */
static __always_inline __u64 log2_u32(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u64 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

/*
 * True when `comm` passes a `targ_comm` filter: an empty filter passes everything, otherwise the
 * NUL-terminated prefix must match byte for byte.
 */
static __always_inline bool comm_allowed(const volatile char *filter, const char *comm)
{
	if (filter[0] == '\0')
		return true;
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (filter[i] != comm[i])
			return false;
		if (filter[i] == '\0')
			break;
	}
	return true;
}

#endif
