// Fast map paths: an mmapable array the program reads and writes while user space does the same
// through the mapped memory. The XDP program (run with BPF_PROG_TEST_RUN) sets
// vals[1] = vals[0] * 2 + 1 and counts its runs in vals[2].
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct val {
  __u64 x;
  __u32 tag;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 8);
  __type(key, __u32);
  __type(value, struct val);
} vals SEC(".maps");

SEC("xdp")
int mirror(struct xdp_md *ctx) {
  __u32 k0 = 0, k1 = 1, k2 = 2;
  struct val *a = bpf_map_lookup_elem(&vals, &k0);
  struct val *b = bpf_map_lookup_elem(&vals, &k1);
  struct val *n = bpf_map_lookup_elem(&vals, &k2);
  if (!a || !b || !n) return XDP_ABORTED;
  b->x = a->x * 2 + 1;
  b->tag = a->tag + 1;
  __sync_fetch_and_add(&n->x, 1);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
