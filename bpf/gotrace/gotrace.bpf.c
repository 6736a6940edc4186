// SPDX-License-Identifier: GPL-2.0
/*
 * gotrace: the Go runtime of an unmodified Go binary seen from outside. Uprobes on runtime.newproc1
 * (goroutine creation: its entry and each of its RET instructions, as uretprobes break Go stacks),
 * runtime.casgstatus (goroutine state changes) and runtime.mallocgc (heap allocations) report
 * goroutine ids, read from `g` structures: the current g is in R14 under the amd64 Go register ABI
 * (Go ≥ 1.17), arguments arrive in RAX, RBX, RCX, …, results in RAX. Offsets into Go's structures
 * differ between Go versions and come from user space as constants (defaults: Go 1.19–1.20, amd64).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

/** Byte offset of goid in runtime.g (152 for Go 1.19 amd64; read it from the binary's DWARF). */
const volatile __u32 goid_offset = 152;
/** Only trace this process id (tgid; 0: every process running the probed binary). */
const volatile __u32 targ_pid = 0;
/** Only report mallocgc calls of at least this many bytes. */
const volatile __u64 min_alloc_size = 0;

/** What a Go runtime event is. */
enum event_kind {
	/** runtime.newproc1: a goroutine creates another. */
	EVENT_NEWPROC = 1,
	/** runtime.casgstatus: a goroutine changes state. */
	EVENT_CASGSTATUS = 2,
	/** runtime.mallocgc: a heap allocation. */
	EVENT_MALLOCGC = 3,
};

/** Goroutine states (runtime2.go); a state may carry the 0x1000 _Gscan bit. */
enum goroutine_status {
	G_IDLE = 0,
	G_RUNNABLE = 1,
	G_RUNNING = 2,
	G_SYSCALL = 3,
	G_WAITING = 4,
	G_DEAD = 6,
	G_COPYSTACK = 8,
	G_PREEMPTED = 9,
};

/** One Go runtime event. */
struct event {
	/** Kernel monotonic time, in nanoseconds. */
	__u64 ts_ns;
	/**
	 * The goroutine concerned: for NEWPROC the creating goroutine (callergp), for CASGSTATUS the one
	 * changing state, for MALLOCGC the allocating one (0 when running on a system stack).
	 */
	__s64 goid;
	/** NEWPROC: entry PC of the new goroutine's function; MALLOCGC: the allocated size in bytes. */
	__u64 arg;
	/** NEWPROC: the PC of the `go` statement; MALLOCGC: address of the allocated type (0: untyped). */
	__u64 pc;
	/** NEWPROC: the id of the goroutine created (read from newproc1's result). */
	__s64 new_goid;
	/**
	 * Run-time address of the probed function's entry: against its link-time address it gives the load
	 * base of a position-independent binary, even after the process has exited.
	 */
	__u64 func_ip;
	/** Process id (tgid). */
	__u32 pid;
	/** Thread id (the M running the goroutine). */
	__u32 tid;
	/** Which runtime function fired. */
	enum event_kind kind;
	/** CASGSTATUS: the state left (a goroutine_status, maybe with the 0x1000 _Gscan bit). */
	__u32 old_status;
	/** CASGSTATUS: the state entered. */
	__u32 new_status;
	__u32 __pad;
};

/** A newproc1 call between its entry and its return, keyed by thread id (it runs on the system stack). */
struct newproc_call {
	/** Goroutine executing the `go` statement. */
	__s64 parent_goid;
	/** Entry PC of the new goroutine's function. */
	__u64 fn;
	/** PC of the `go` statement. */
	__u64 callerpc;
	/** Run-time address of newproc1. */
	__u64 func_ip;
};

/** newproc1 calls in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct newproc_call);
} newprocs SEC(".maps");

/**
 * Events, read by user space.
 * @metric counter name=gotrace_events_total labels=kind help="Go runtime events: goroutines created (EVENT_NEWPROC), status changes, allocations (EVENT_MALLOCGC)"
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/**
 * Sampling, set from user space at any time: index = event kind, value N = report one event in N
 * (0 or 1: every event).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} sampling SEC(".maps");

static __always_inline __s64 read_goid(__u64 g)
{
	__s64 goid = 0;

	if (g)
		bpf_probe_read_user(&goid, sizeof(goid), (void *)(g + goid_offset));
	return goid;
}

/* Applies pid filter and sampling, then reserves an event with the common fields filled. */
static __always_inline struct event *start_event(enum event_kind kind, __s64 goid)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 key = kind, *rate;
	struct event *e;

	if (targ_pid && targ_pid != id >> 32)
		return NULL;
	rate = bpf_map_lookup_elem(&sampling, &key);
	if (rate && *rate > 1 && bpf_get_prandom_u32() % *rate)
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&lost_events, 1);
	if (!e)
		return NULL;
	e->ts_ns = bpf_ktime_get_ns();
	e->goid = goid;
	e->arg = 0;
	e->pc = 0;
	e->new_goid = 0;
	e->func_ip = 0;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->kind = kind;
	e->old_status = 0;
	e->new_status = 0;
	e->__pad = 0;
	return e;
}

/**
 * Entry of func newproc1(fn *funcval, callergp *g, callerpc uintptr) *g: notes the creator and the
 * function. The event is sent from the RET probes, once the new goroutine has its id.
 */
SEC("uprobe")
int handle_newproc1(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), fn = ctx->ax;
	__u32 tid = (__u32)id;
	struct newproc_call call = {};

	if (targ_pid && targ_pid != id >> 32)
		return 0;
	call.parent_goid = read_goid(ctx->bx);
	call.callerpc = ctx->cx;
	call.func_ip = ctx->ip;
	if (fn)
		bpf_probe_read_user(&call.fn, sizeof(call.fn), (void *)fn); /* funcval.fn */
	bpf_map_update_elem(&newprocs, &tid, &call, BPF_ANY);
	return 0;
}

/** A RET instruction of newproc1: RAX holds the new g, whose goid is assigned by now. */
SEC("uprobe")
int handle_newproc1_return(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct newproc_call *call;
	struct event *e;

	call = bpf_map_lookup_elem(&newprocs, &tid);
	if (!call)
		return 0;
	e = start_event(EVENT_NEWPROC, call->parent_goid);
	if (e) {
		e->arg = call->fn;
		e->pc = call->callerpc;
		e->new_goid = read_goid(ctx->ax);
		e->func_ip = call->func_ip;
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&newprocs, &tid);
	return 0;
}

/** func casgstatus(gp *g, oldval, newval uint32) */
SEC("uprobe")
int handle_casgstatus(struct pt_regs *ctx)
{
	struct event *e;

	e = start_event(EVENT_CASGSTATUS, read_goid(ctx->ax));
	if (!e)
		return 0;
	e->func_ip = ctx->ip;
	e->old_status = (__u32)ctx->bx;
	e->new_status = (__u32)ctx->cx;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/** func mallocgc(size uintptr, typ *_type, needzero bool) unsafe.Pointer */
SEC("uprobe")
int handle_mallocgc(struct pt_regs *ctx)
{
	__u64 size = ctx->ax;
	struct event *e;

	if (size < min_alloc_size)
		return 0;
	e = start_event(EVENT_MALLOCGC, read_goid(ctx->r14));
	if (!e)
		return 0;
	e->arg = size;
	e->pc = ctx->bx;
	e->func_ip = ctx->ip;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
