// Maps of kernel objects, as cilium/ebpf's examples and libbpf's selftests write them: an array of
// arrays filled statically, a hash of hashes filled from user space, one whose template takes inner
// maps of any size (BPF_F_INNER_MAP), and a program array for tail calls. XDP programs run with
// BPF_PROG_TEST_RUN count into whichever inner maps the globals name, or jump.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct tally {
	__u64 count;
	__u32 last_slot;
};

struct counter {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counter_a SEC(".maps"), counter_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct counter);
} by_slot SEC(".maps") = {
	.values = { &counter_a, &counter_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 16);
		__type(key, __u32);
		__type(value, struct tally);
	});
} by_tenant SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(map_flags, BPF_F_INNER_MAP);
		__uint(max_entries, 1);
		__type(key, __u32);
		__type(value, __u32);
	});
} any_size SEC(".maps");

/* Set from user space before each run. */
__u32 slot;
__u32 tenant;
__u32 elem;

/* Runs that found no inner map for `tenant`. */
__u64 misses;
/*
 * The tenant's tally after the last run. (It also puts struct tally itself in BTF: used only by an
 * inner map's __type, clang would record just a forward declaration, and libbpf refuse the map.)
 */
struct tally last_tally;

SEC("xdp")
int bump(struct xdp_md *ctx)
{
	__u32 zero = 0, one = 1, s = slot, t = tenant, i = elem;
	__u64 *c;
	void *inner;

	inner = bpf_map_lookup_elem(&by_slot, &s);
	if (inner) {
		c = bpf_map_lookup_elem(inner, &zero);
		if (c)
			__sync_fetch_and_add(c, 1);
	}
	inner = bpf_map_lookup_elem(&by_tenant, &t);
	if (!inner) {
		__sync_fetch_and_add(&misses, 1);
	} else {
		struct tally *x = bpf_map_lookup_elem(inner, &one);
		if (x) {
			__sync_fetch_and_add(&x->count, 1);
			x->last_slot = s;
			last_tally = *x;
		} else {
			struct tally first = { .count = 1, .last_slot = s };
			bpf_map_update_elem(inner, &one, &first, BPF_NOEXIST);
			last_tally = first;
		}
	}
	inner = bpf_map_lookup_elem(&any_size, &t);
	if (inner) {
		__u32 *v = bpf_map_lookup_elem(inner, &i);
		if (v)
			__sync_fetch_and_add(v, 1);
	}
	return XDP_PASS;
}

SEC("xdp")
int tail_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int tail_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

/* Another program type: a program array takes only its owner's. */
SEC("socket")
int not_xdp(struct __sk_buff *skb)
{
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_drop },
};

__u32 jump;

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jumps, jump);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
