// A hash of maps declared without __array(values, …), as older code does: libbpf cannot create it
// until user space gives it an inner map template (bpf_map__set_inner_map_fd).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} no_template SEC(".maps");

__u64 found;

SEC("xdp")
int probe(struct xdp_md *ctx)
{
	__u32 k = 1, zero = 0;
	void *inner = bpf_map_lookup_elem(&no_template, &k);
	__u64 *v;

	if (!inner)
		return XDP_PASS;
	v = bpf_map_lookup_elem(inner, &zero);
	if (v)
		found = *v;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
