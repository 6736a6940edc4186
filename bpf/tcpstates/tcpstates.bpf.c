// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstates: every TCP state change (SYN_SENT → ESTABLISHED → …) with both endpoints, IPv4 and IPv6, and
 * how long the socket stayed in the state it left.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/** Only report this address family: 2 (AF_INET), 10 (AF_INET6), 0: both. */
const volatile __u16 targ_family = 0;
/** Only report sockets with this local port (0: any). */
const volatile __u16 targ_sport = 0;
/** Only report sockets with this remote port (0: any). */
const volatile __u16 targ_dport = 0;

/** One TCP state transition of one socket. */
struct event {
	/** Kernel address of the socket: identifies it across events. */
	__u64 skaddr;
	/** Kernel monotonic time of the change, in nanoseconds. */
	__u64 ts_ns;
	/**
	 * Time spent in oldstate, in nanoseconds (0 when the socket was first seen in this run).
	 * @metric histogram log2 name=tcpstates_state_duration_seconds labels=state=oldstate unit=ns export=seconds help="Time a socket spent in a state before leaving it"
	 */
	__u64 delta_ns;
	/** Process id current when the change happened (may be unrelated for softirq-driven changes). */
	__u32 pid;
	/** State left (TCP_ESTABLISHED = 1 … TCP_NEW_SYN_RECV = 12). */
	__s32 oldstate;
	/** State entered. */
	__s32 newstate;
	/** Address family: 2 (AF_INET) or 10 (AF_INET6). */
	__u16 family;
	/** Local port, host byte order. */
	__u16 sport;
	/** Remote port, host byte order. */
	__u16 dport;
	__u16 __pad;
	/** Local address: 4 bytes for IPv4, 16 for IPv6, network byte order. */
	__u8 saddr[16];
	/** Remote address: 4 bytes for IPv4, 16 for IPv6, network byte order. */
	__u8 daddr[16];
	/** Command name of the current task. */
	char comm[TASK_COMM_LEN];
};

/** When each socket entered its current state, keyed by socket address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} timestamps SEC(".maps");

/**
 * State changes, read by user space.
 * @metric counter name=tcpstates_transitions_total labels=oldstate,newstate help="TCP state transitions"
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/** Reports a TCP socket's state change and times the state it left. */
SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 skaddr = (__u64)ctx->skaddr, ts, *start;
	__u16 family = ctx->family, sport = ctx->sport, dport = ctx->dport;
	struct event *e;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (targ_family && targ_family != family)
		return 0;
	if (targ_sport && targ_sport != sport)
		return 0;
	if (targ_dport && targ_dport != dport)
		return 0;

	ts = bpf_ktime_get_ns();
	start = bpf_map_lookup_elem(&timestamps, &skaddr);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&lost_events, 1);
	if (e) {
		e->skaddr = skaddr;
		e->ts_ns = ts;
		e->delta_ns = start ? ts - *start : 0;
		e->pid = bpf_get_current_pid_tgid() >> 32;
		e->oldstate = ctx->oldstate;
		e->newstate = ctx->newstate;
		e->family = family;
		e->sport = sport;
		e->dport = dport;
		e->__pad = 0;
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
		if (family == AF_INET) {
			bpf_probe_read_kernel(e->saddr, 4, ctx->saddr);
			bpf_probe_read_kernel(e->daddr, 4, ctx->daddr);
		} else {
			bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
			bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
		}
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}

	if (ctx->newstate == 7 /* TCP_CLOSE */)
		bpf_map_delete_elem(&timestamps, &skaddr);
	else
		bpf_map_update_elem(&timestamps, &skaddr, &ts, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
