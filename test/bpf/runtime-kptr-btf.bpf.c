// A spin lock and a kptr in a map value: the verifier needs the map's BTF. Where the kernel refuses
// the object's BTF (libbpf 1.1 then goes on without it), the load fails on the spin lock.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define __kptr __attribute__((btf_type_tag("kptr")))

struct locked {
	struct bpf_spin_lock lock;
	struct task_struct __kptr *task;
	__u64 hits;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct locked);
} values SEC(".maps");

SEC("xdp")
int count(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct locked *v = bpf_map_lookup_elem(&values, &k);

	if (v) {
		bpf_spin_lock(&v->lock);
		v->hits++;
		bpf_spin_unlock(&v->lock);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
