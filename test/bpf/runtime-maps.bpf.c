// Runtime map tests: one map of each common type, and an XDP program (run with BPF_PROG_TEST_RUN)
// that updates them from the kernel side.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct pair {
  __u64 a;
  __u32 b;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct pair);
} hash SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __u64);
} arr SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u64);
} pcpu_hash SEC(".maps");

// A 4-byte value: per-CPU slots are still 8 bytes apart.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u32);
} pcpu_arr SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 128);
  __type(key, __u32);
  __type(value, __u64);
} lru SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned SEC(".maps");

SEC("xdp")
int bump(struct xdp_md *ctx) {
  __u32 k0 = 0, k1 = 1, k7 = 7;
  __u32 *c = bpf_map_lookup_elem(&pcpu_arr, &k0);
  if (c) *c += 1;
  __u64 one = 1, *h = bpf_map_lookup_elem(&pcpu_hash, &k7);
  if (h) *h += 1;
  else bpf_map_update_elem(&pcpu_hash, &k7, &one, BPF_NOEXIST);
  __u64 *a = bpf_map_lookup_elem(&arr, &k1);
  if (a) __sync_fetch_and_add(a, 1);
  struct pair *p = bpf_map_lookup_elem(&hash, &k7);
  if (p) {
    p->a += 1;
    p->b = 0xabcd;
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
