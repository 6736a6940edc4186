// Keyless maps: a queue and a stack of structs, and a bloom filter of ports. An XDP program run with
// BPF_PROG_TEST_RUN pushes the next sample into both and asks the filter about `probe_port`.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct pkt_sample {
	__u32 seq;
	__u16 port;
	__u16 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, struct pkt_sample);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__type(value, struct pkt_sample);
} lifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__uint(map_extra, 3); /* hash functions */
	__type(value, __u16);
} blocked SEC(".maps");

__u32 next_seq;
__u16 probe_port;
/* Set when the filter says probe_port may be in it; a popped sample from user space lands here. */
__u32 maybe_blocked;
struct pkt_sample taken;

SEC("xdp")
int produce(struct xdp_md *ctx)
{
	struct pkt_sample s = { .seq = ++next_seq, .port = 1000 + next_seq, .flags = 7 };
	__u16 port = probe_port;

	bpf_map_push_elem(&fifo, &s, 0);
	bpf_map_push_elem(&lifo, &s, 0);
	maybe_blocked = bpf_map_peek_elem(&blocked, &port) == 0;
	return XDP_PASS;
}

SEC("xdp")
int consume(struct xdp_md *ctx)
{
	if (bpf_map_pop_elem(&fifo, &taken))
		taken.seq = 0;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
