// The smallest fentry program: loaded and attached once by the kernel probe to learn whether BPF
// trampolines work on this kernel.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/do_nanosleep")
int BPF_PROG(probe_fentry) { return 0; }

char LICENSE[] SEC("license") = "GPL";
