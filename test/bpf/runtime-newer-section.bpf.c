// A program whose section only a newer libbpf knows (tcx, libbpf 1.3): the runtime's libbpf 1.1
// refuses the load, and the error should say which libbpf the section needs.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tcx/ingress")
int tcx_in(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
