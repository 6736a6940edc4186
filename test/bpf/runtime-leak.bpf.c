// Runtime leak test: a socket filter (cheap to attach and detach) that counts datagrams into a .bss
// global and a hash map, and a ring buffer map, so one cycle opens every kind of fd an object has.
// UAPI headers, not vmlinux.h: without CO-RE relocations libbpf never parses the kernel's BTF (about
// 40 ms a load), which keeps thousands of load cycles fast.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 packets = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __u64);
} lens SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

SEC("socket")
int count_packets(struct __sk_buff *skb) {
  __sync_fetch_and_add(&packets, 1);
  __u32 len = skb->len;
  __u64 one = 1, *v = bpf_map_lookup_elem(&lens, &len);
  if (v) __sync_fetch_and_add(v, 1);
  else bpf_map_update_elem(&lens, &len, &one, BPF_ANY);
  __u32 *e = bpf_ringbuf_reserve(&events, sizeof(__u32), 0);
  if (e) {
    *e = len;
    bpf_ringbuf_submit(e, 0);
  }
  return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
