// Kernel feature probes for the test suite: each program is loaded alone and attached once to learn
// whether this kernel runs that kind for real (not just whether the program type exists).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/do_nanosleep")
int BPF_PROG(probe_fentry) { return 0; }

SEC("tp_btf/sys_enter")
int BPF_PROG(probe_tp_btf, struct pt_regs *regs, long id) { return 0; }

SEC("iter/task")
int probe_iter(struct bpf_iter__task *ctx) { return 0; }

SEC("kprobe/do_nanosleep")
int probe_kprobe(struct pt_regs *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
