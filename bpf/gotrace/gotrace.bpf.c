// SPDX-License-Identifier: GPL-2.0
/*
 * gotrace: the Go runtime of an unmodified Go binary seen from outside. Uprobes on runtime.newproc1
 * (goroutine creation: its entry and each of its RET instructions, as uretprobes break Go stacks),
 * runtime.casgstatus (goroutine state changes), runtime.mallocgc (heap allocations), the GC's phase
 * functions (cycle start, mark termination, sweep start, sweep drained) and the channel operations
 * runtime.chansend1/chanrecv1/chanrecv2 (entry and each RET, timing blocked operations) report
 * goroutine ids, read from `g` structures: the current g is in R14 under the amd64 Go register ABI
 * (Go ≥ 1.17), arguments arrive in RAX, RBX, RCX, …, results in RAX. Offsets into Go's structures
 * differ between Go versions and come from user space as constants (defaults: Go 1.19–1.20, amd64).
 * Every handler adds its own run time to `probe_stats`, the tracer's cost as seen from the kernel.
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
	/** A GC cycle starts (runtime.gcStart, once past its trigger test: runtime.gcBgMarkStartWorkers). */
	EVENT_GC_START = 4,
	/** Concurrent marking is done, mark termination begins (runtime.gcMarkTermination). */
	EVENT_GC_MARK_DONE = 5,
	/** Mark termination is done and sweeping starts (runtime.gcSweep): the end of the cycle proper. */
	EVENT_GC_SWEEP_START = 6,
	/** Every span is swept (runtime.freeSomeWbufs, called once the sweep list is drained). */
	EVENT_GC_SWEEP_DONE = 7,
	/** runtime.chansend1: `c <- v`. */
	EVENT_CHAN_SEND = 8,
	/** runtime.chanrecv1 (`<-c`) or runtime.chanrecv2 (`v, ok := <-c`, `for v := range c`). */
	EVENT_CHAN_RECV = 9,
	EVENT_KIND_COUNT = 10,
};

/** GC trigger kinds (runtime.gcTriggerKind), the first word of gcStart's argument. */
enum gc_trigger {
	/** The heap reached its goal. */
	GC_TRIGGER_HEAP = 0,
	/** Two minutes without a GC (forcegcperiod). */
	GC_TRIGGER_TIME = 1,
	/** runtime.GC() (or debug.FreeOSMemory). */
	GC_TRIGGER_CYCLE = 2,
	/** gcStart was not seen for this cycle (the tracer attached in between). */
	GC_TRIGGER_UNKNOWN = 255,
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
	 * changing state, for MALLOCGC the allocating one (0 when running on a system stack), for GC_START
	 * the one that started the cycle, for CHAN_* the sending or receiving one; for the other GC events
	 * the goroutine running the phase (0: the system stack).
	 */
	__s64 goid;
	/**
	 * NEWPROC: entry PC of the new goroutine's function; MALLOCGC: the allocated size in bytes;
	 * GC_START: the trigger (enum gc_trigger); CHAN_*: the channel's address (its runtime.hchan).
	 */
	__u64 arg;
	/**
	 * NEWPROC: the PC of the `go` statement; MALLOCGC: address of the allocated type (0: untyped);
	 * CHAN_*: the return address of the channel operation, in the function that does it.
	 */
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
	/** GC_*: the process's GC cycle, counted from 1 at the first cycle the tracer saw start. */
	__u32 gc_cycle;
	/**
	 * GC_MARK_DONE: time since the cycle started (concurrent mark); GC_SWEEP_START: time since the
	 * cycle started (the whole cycle up to sweeping); GC_SWEEP_DONE: time since sweeping started;
	 * CHAN_*: time spent in the operation (blocked, for an unbuffered or full/empty channel), ts_ns
	 * being its start. Nanoseconds.
	 */
	__u64 duration_ns;
};

/** Where a process's current GC cycle is (enum gc_phase in gc_state.phase). */
enum gc_phase {
	GC_PHASE_OFF = 0,
	GC_PHASE_MARK = 1,
	GC_PHASE_MARK_TERMINATION = 2,
	GC_PHASE_SWEEP = 3,
};

/** A process's GC, as followed through the phase probes. */
struct gc_state {
	/** When the current cycle started. */
	__u64 start_ns;
	/** When its sweeping started. */
	__u64 sweep_start_ns;
	/** Cycles started since the tracer attached. */
	__u32 cycle;
	/** An enum gc_phase. */
	__u32 phase;
};

/** A goroutine of a process: the key of per-goroutine state that outlives a thread switch. */
struct goroutine_key {
	__u32 pid;
	__u32 __pad;
	__s64 goid;
};

/** A channel operation between its entry and its return. */
struct chan_call {
	__u64 start_ns;
	/** The runtime.hchan. */
	__u64 chan;
	/** Return address into the caller. */
	__u64 callsite;
	/** Run-time address of the probed function. */
	__u64 func_ip;
};

/** What one kind of probe has cost, per CPU. */
struct probe_stat {
	/** Handler runs. */
	__u64 runs;
	/** Nanoseconds spent in the handlers (bpf_ktime_get_ns at entry and exit). */
	__u64 ns;
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

/** Each traced process's GC, by pid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct gc_state);
} gc_states SEC(".maps");

/** The trigger of a gcStart call, until the same goroutine gets past the trigger test (or gives up). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct goroutine_key);
	__type(value, __u64);
} gc_triggers SEC(".maps");

/** Channel operations in flight (a blocked goroutine may resume on another thread): by goroutine. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct goroutine_key);
	__type(value, struct chan_call);
} chan_calls SEC(".maps");

/** The handlers' own cost, by event kind (the probes of an event kind add up). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EVENT_KIND_COUNT);
	__type(key, __u32);
	__type(value, struct probe_stat);
} probe_stats SEC(".maps");

/**
 * Events, read by user space.
 * @metric counter name=gotrace_events_total labels=kind help="Go runtime events by kind: goroutines created (EVENT_NEWPROC), status changes, allocations (EVENT_MALLOCGC), GC phases, channel operations"
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
	__uint(max_entries, EVENT_KIND_COUNT);
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

/* Whether this process is traced and the sampling for `kind` picks this event. */
static __always_inline bool wanted(enum event_kind kind)
{
	__u32 key = kind, *rate;

	if (targ_pid && targ_pid != bpf_get_current_pid_tgid() >> 32)
		return false;
	rate = bpf_map_lookup_elem(&sampling, &key);
	return !(rate && *rate > 1 && bpf_get_prandom_u32() % *rate);
}

/* Reserves an event with the common fields filled (NULL, counted as lost, when the ring is full). */
static __always_inline struct event *reserve_event(enum event_kind kind, __s64 goid)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct event *e;

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
	e->gc_cycle = 0;
	e->duration_ns = 0;
	return e;
}

/* Applies pid filter and sampling, then reserves an event with the common fields filled. */
static __always_inline struct event *start_event(enum event_kind kind, __s64 goid)
{
	return wanted(kind) ? reserve_event(kind, goid) : NULL;
}

/* Adds a handler run that began at `t0` to the probe_stats of `kind`. */
static __always_inline void account(enum event_kind kind, __u64 t0)
{
	__u32 key = kind;
	struct probe_stat *s = bpf_map_lookup_elem(&probe_stats, &key);

	if (s) {
		s->runs++;
		s->ns += bpf_ktime_get_ns() - t0;
	}
}

/* The probed process's goroutine `goid`, as a map key. */
static __always_inline struct goroutine_key goroutine(__s64 goid)
{
	struct goroutine_key k = { .pid = bpf_get_current_pid_tgid() >> 32, .goid = goid };

	return k;
}

/**
 * Entry of func newproc1(fn *funcval, callergp *g, callerpc uintptr) *g: notes the creator and the
 * function. The event is sent from the RET probes, once the new goroutine has its id.
 */
SEC("uprobe")
int handle_newproc1(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns(), id = bpf_get_current_pid_tgid(), fn = ctx->ax;
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
	account(EVENT_NEWPROC, t0);
	return 0;
}

/** A RET instruction of newproc1: RAX holds the new g, whose goid is assigned by now. */
SEC("uprobe")
int handle_newproc1_return(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns();
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
	account(EVENT_NEWPROC, t0);
	return 0;
}

/** func casgstatus(gp *g, oldval, newval uint32) */
SEC("uprobe")
int handle_casgstatus(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns();
	struct event *e;

	e = start_event(EVENT_CASGSTATUS, read_goid(ctx->ax));
	if (e) {
		e->func_ip = ctx->ip;
		e->old_status = (__u32)ctx->bx;
		e->new_status = (__u32)ctx->cx;
		bpf_ringbuf_submit(e, 0);
	}
	account(EVENT_CASGSTATUS, t0);
	return 0;
}

/** func mallocgc(size uintptr, typ *_type, needzero bool) unsafe.Pointer */
SEC("uprobe")
int handle_mallocgc(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns(), size = ctx->ax;
	struct event *e;

	if (size < min_alloc_size)
		return 0;
	e = start_event(EVENT_MALLOCGC, read_goid(ctx->r14));
	if (e) {
		e->arg = size;
		e->pc = ctx->bx;
		e->func_ip = ctx->ip;
		bpf_ringbuf_submit(e, 0);
	}
	account(EVENT_MALLOCGC, t0);
	return 0;
}

/*
 * GC cycles. Uretprobes are unsafe in Go (the runtime moves stacks and walks return addresses), so a
 * phase ends where the next phase's function is entered; each process's cycle is followed in
 * gc_states. The phases run one after another in the runtime, so the state needs no atomics.
 */

/* Sends a GC event of the process's current cycle, with the duration of the phase just ended. */
static __always_inline void gc_event(enum event_kind kind, struct gc_state *gc, __u64 now, __u64 since, __u64 trigger, __u64 ip, __s64 goid)
{
	struct event *e = start_event(kind, goid);

	if (!e)
		return;
	e->ts_ns = now;
	e->arg = trigger;
	e->func_ip = ip;
	e->gc_cycle = gc->cycle;
	e->duration_ns = since ? now - since : 0;
	bpf_ringbuf_submit(e, 0);
}

/*
 * func gcStart(trigger gcTrigger): gcTrigger{kind, now, n} arrives in RAX, RBX, RCX. gcStart may
 * return without starting a cycle (another goroutine won), so only the trigger is noted here.
 */
SEC("uprobe")
int handle_gc_start(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns(), trigger = ctx->ax;
	struct goroutine_key key;

	if (targ_pid && targ_pid != bpf_get_current_pid_tgid() >> 32)
		return 0;
	key = goroutine(read_goid(ctx->r14));
	bpf_map_update_elem(&gc_triggers, &key, &trigger, BPF_ANY);
	account(EVENT_GC_START, t0);
	return 0;
}

/* Called by gcStart, on the same goroutine, once it has passed the trigger test: a cycle starts. */
SEC("uprobe")
int handle_gc_bg_mark_start_workers(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns(), trigger = GC_TRIGGER_UNKNOWN, *noted;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct gc_state fresh = {}, *gc;
	struct goroutine_key key;
	__s64 goid;

	if (targ_pid && targ_pid != pid)
		return 0;
	goid = read_goid(ctx->r14);
	key = goroutine(goid);
	noted = bpf_map_lookup_elem(&gc_triggers, &key);
	if (noted) {
		trigger = *noted;
		bpf_map_delete_elem(&gc_triggers, &key);
	}
	gc = bpf_map_lookup_elem(&gc_states, &pid);
	if (!gc) {
		bpf_map_update_elem(&gc_states, &pid, &fresh, BPF_NOEXIST);
		gc = bpf_map_lookup_elem(&gc_states, &pid);
		if (!gc)
			return 0;
	}
	gc->cycle++;
	gc->start_ns = t0;
	gc->sweep_start_ns = 0;
	gc->phase = GC_PHASE_MARK;
	gc_event(EVENT_GC_START, gc, t0, 0, trigger, ctx->ip, goid);
	account(EVENT_GC_START, t0);
	return 0;
}

/* Moves the process's cycle from phase `from` to `to`; NULL when it is not in `from` (not seen start). */
static __always_inline struct gc_state *gc_advance(__u32 from, __u32 to)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct gc_state *gc;

	if (targ_pid && targ_pid != pid)
		return NULL;
	gc = bpf_map_lookup_elem(&gc_states, &pid);
	if (!gc || gc->phase != from)
		return NULL;
	gc->phase = to;
	return gc;
}

/* func gcMarkTermination(): marking is complete (gcMarkDone decided so), the world is stopped. */
SEC("uprobe")
int handle_gc_mark_termination(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns();
	struct gc_state *gc = gc_advance(GC_PHASE_MARK, GC_PHASE_MARK_TERMINATION);

	if (gc) {
		gc_event(EVENT_GC_MARK_DONE, gc, t0, gc->start_ns, 0, ctx->ip, read_goid(ctx->r14));
		account(EVENT_GC_MARK_DONE, t0);
	}
	return 0;
}

/* func gcSweep(mode gcMode), from mark termination on the system stack: the new sweep cycle begins. */
SEC("uprobe")
int handle_gc_sweep(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns();
	struct gc_state *gc = gc_advance(GC_PHASE_MARK_TERMINATION, GC_PHASE_SWEEP);

	if (gc) {
		gc->sweep_start_ns = t0;
		gc_event(EVENT_GC_SWEEP_START, gc, t0, gc->start_ns, 0, ctx->ip, read_goid(ctx->r14));
		account(EVENT_GC_SWEEP_START, t0);
	}
	return 0;
}

/*
 * func freeSomeWbufs(preemptible bool) bool: called (repeatedly) by the background sweeper, or by
 * gcSweep in blocking mode, once the sweep list is drained; the first call of a cycle ends sweeping.
 */
SEC("uprobe")
int handle_free_some_wbufs(struct pt_regs *ctx)
{
	__u64 t0 = bpf_ktime_get_ns();
	struct gc_state *gc = gc_advance(GC_PHASE_SWEEP, GC_PHASE_OFF);

	if (gc) {
		gc_event(EVENT_GC_SWEEP_DONE, gc, t0, gc->sweep_start_ns, 0, ctx->ip, read_goid(ctx->r14));
		account(EVENT_GC_SWEEP_DONE, t0);
	}
	return 0;
}

/*
 * Channel operations: func chansend1(c *hchan, elem unsafe.Pointer), chanrecv1(c, elem) and
 * chanrecv2(c, elem) (received bool). The entry notes the channel, sampled there; each RET sends the
 * event with the time spent, which covers blocking: the goroutine parks inside and may come back on
 * another thread, so calls are keyed by goroutine.
 */
static __always_inline int chan_entry(struct pt_regs *ctx, enum event_kind kind)
{
	__u64 t0 = bpf_ktime_get_ns();
	struct chan_call call = { .start_ns = t0, .chan = ctx->ax, .func_ip = ctx->ip };
	struct goroutine_key key;

	if (!wanted(kind))
		return 0;
	bpf_probe_read_user(&call.callsite, sizeof(call.callsite), (void *)ctx->sp);
	key = goroutine(read_goid(ctx->r14));
	bpf_map_update_elem(&chan_calls, &key, &call, BPF_ANY);
	account(kind, t0);
	return 0;
}

static __always_inline int chan_return(struct pt_regs *ctx, enum event_kind kind)
{
	__u64 t0 = bpf_ktime_get_ns();
	__s64 goid = read_goid(ctx->r14);
	struct goroutine_key key = goroutine(goid);
	struct chan_call *call;
	struct event *e;

	call = bpf_map_lookup_elem(&chan_calls, &key);
	if (!call)
		return 0;
	e = reserve_event(kind, goid);
	if (e) {
		e->ts_ns = call->start_ns;
		e->duration_ns = t0 - call->start_ns;
		e->arg = call->chan;
		e->pc = call->callsite;
		e->func_ip = call->func_ip;
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&chan_calls, &key);
	account(kind, t0);
	return 0;
}

SEC("uprobe")
int handle_chansend(struct pt_regs *ctx)
{
	return chan_entry(ctx, EVENT_CHAN_SEND);
}

SEC("uprobe")
int handle_chansend_return(struct pt_regs *ctx)
{
	return chan_return(ctx, EVENT_CHAN_SEND);
}

SEC("uprobe")
int handle_chanrecv(struct pt_regs *ctx)
{
	return chan_entry(ctx, EVENT_CHAN_RECV);
}

SEC("uprobe")
int handle_chanrecv_return(struct pt_regs *ctx)
{
	return chan_return(ctx, EVENT_CHAN_RECV);
}

char LICENSE[] SEC("license") = "GPL";
