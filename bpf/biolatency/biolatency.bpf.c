// SPDX-License-Identifier: GPL-2.0
/*
 * biolatency: block I/O latency as log2 histograms, optionally one per disk and per operation (read,
 * write, flush, discard, …). Issue-to-completion by default (the time the device takes); with
 * targ_queued (and handle_rq_insert attached) queued-to-completion, which adds the time spent in the
 * I/O scheduler. BTF-enabled tracepoints hand over the struct request itself, keying requests by
 * address.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"

#define REQ_OP_MASK 0xff
#define DISK_NAME_LEN 32

/** Time from insertion into the queue (needs handle_rq_insert attached), not from issue to the device. */
const volatile bool targ_queued = false;
/** One histogram per disk. */
const volatile bool targ_per_disk = false;
/** One histogram per operation (REQ_OP_READ 0, REQ_OP_WRITE 1, REQ_OP_FLUSH 2, REQ_OP_DISCARD 3, …). */
const volatile bool targ_per_op = false;
/** Bucket milliseconds instead of microseconds. */
const volatile bool targ_ms = false;
/** Only this disk, as the kernel's dev_t (major << 20 | minor; 0: every disk). */
const volatile __u32 targ_dev = 0;

/** What a histogram covers: a disk and an operation, each 0 when not split by it. */
struct hist_key {
	/** Disk major number (0 unless per disk). */
	__u32 major;
	/** Disk minor number of the whole disk (0 unless per disk). */
	__u32 minor;
	/** REQ_OP_* of the requests (0 unless per operation). */
	__u32 op;
};

/** A log2 latency histogram: slots[i] counts requests in [2^i, 2^(i+1)) units. */
struct hist {
	/** Counts per power-of-two bucket. */
	__u32 slots[MAX_SLOTS];
	/** Name of the disk (per disk only), e.g. "vda", "loop3". */
	char disk[DISK_NAME_LEN];
};

/** When each request in flight started, keyed by its address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} start SEC(".maps");

/**
 * Histograms by disk and operation.
 * @metric histogram log2 name=biolatency_latency_seconds labels=major,minor,op value=slots unit=us export=seconds help="Block I/O latency by disk (major, minor) and operation; 0 when not split"
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, struct hist);
} hists SEC(".maps");

static __always_inline struct gendisk *disk_of(struct request *rq)
{
	return BPF_CORE_READ(rq, q, disk);
}

static __always_inline __u32 dev_of(struct gendisk *disk)
{
	return disk ? ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor) : 0;
}

static __always_inline int trace_start(struct request *rq, bool issue)
{
	__u64 key = (__u64)rq, ts;

	/* Queued mode: a request that went through the scheduler was timed at insert already. */
	if (issue && targ_queued && BPF_CORE_READ(rq, q, elevator) && bpf_map_lookup_elem(&start, &key))
		return 0;
	if (targ_dev && dev_of(disk_of(rq)) != targ_dev)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &ts, BPF_ANY);
	return 0;
}

/** A request entered the I/O scheduler's queue (queued mode only). */
SEC("tp_btf/block_rq_insert")
int BPF_PROG(handle_rq_insert, struct request *rq)
{
	return trace_start(rq, false);
}

/** A request was handed to the device driver. */
SEC("tp_btf/block_rq_issue")
int BPF_PROG(handle_rq_issue, struct request *rq)
{
	return trace_start(rq, true);
}

/** A request completed: its latency goes into its disk's and operation's histogram. */
SEC("tp_btf/block_rq_complete")
int BPF_PROG(handle_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq, *tsp, slot;
	struct hist_key hkey = {};
	struct hist *histp, zero = {};
	struct gendisk *disk;
	__s64 delta;

	tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0;
	delta = (__s64)(bpf_ktime_get_ns() - *tsp);
	bpf_map_delete_elem(&start, &key);
	if (delta < 0)
		return 0;

	disk = disk_of(rq);
	if (targ_per_disk && disk) {
		hkey.major = BPF_CORE_READ(disk, major);
		hkey.minor = BPF_CORE_READ(disk, first_minor);
	}
	if (targ_per_op)
		hkey.op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;

	histp = bpf_map_lookup_elem(&hists, &hkey);
	if (!histp) {
		if (targ_per_disk && disk)
			bpf_probe_read_kernel_str(zero.disk, sizeof(zero.disk), disk->disk_name);
		bpf_map_update_elem(&hists, &hkey, &zero, BPF_NOEXIST);
		histp = bpf_map_lookup_elem(&hists, &hkey);
		if (!histp)
			return 0;
	}
	delta /= targ_ms ? 1000000U : 1000U;
	slot = log2_u64(delta);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&histp->slots[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
