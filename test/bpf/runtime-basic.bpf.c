// Runtime test: a tracepoint on openat filtered by a .rodata constant, counting into .bss/.data
// globals and a hash map keyed by thread id, and copying the opened path.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;
const volatile __u64 magic = 0;

__u64 open_count = 0;
char last_path[64] = {};
__u64 data_marker = 0x1122334455667788ULL;
__u64 magic_seen = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u64);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  if ((__u32)(id >> 32) != target_tgid) return 0;
  __sync_fetch_and_add(&open_count, 1);
  magic_seen = magic;
  bpf_probe_read_user_str(last_path, sizeof last_path, (const char *)ctx->args[1]);
  __u32 tid = (__u32)id;
  __u64 one = 1, *v = bpf_map_lookup_elem(&counts, &tid);
  if (v) __sync_fetch_and_add(v, 1);
  else bpf_map_update_elem(&counts, &tid, &one, BPF_NOEXIST);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
