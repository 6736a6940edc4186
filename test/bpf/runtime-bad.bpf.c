// Runtime test: a program the verifier rejects (it reads a hash map value without a NULL check).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} vals SEC(".maps");

SEC("xdp")
int bad_deref(struct xdp_md *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&vals, &k);
  return *v ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
