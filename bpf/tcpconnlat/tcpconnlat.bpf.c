// SPDX-License-Identifier: GPL-2.0
/*
 * tcpconnlat: TCP active-open latency, from connect() sending the SYN (CLOSE → SYN_SENT) to the
 * handshake completing (SYN_SENT → ESTABLISHED), IPv4 and IPv6, through the sock/inet_sock_set_state
 * tracepoint alone (libbpf-tools uses kprobes/fentry on tcp_v4_connect and tcp_rcv_state_process).
 * The process is recorded at SYN_SENT, which runs in connect()'s context; ESTABLISHED usually runs in
 * the receive softirq, in whichever task the CPU happened to run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

#define AF_INET 2
#define IPPROTO_TCP 6
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

/** Only report connects slower than this, in microseconds (0: all). */
const volatile __u64 targ_min_us = 0;
/** Only report connects made by this process id (tgid; 0: everyone). */
const volatile __u32 targ_tgid = 0;
/** Only report this address family: 2 (AF_INET), 10 (AF_INET6), 0: both. */
const volatile __u16 targ_family = 0;

/** Who started a connect and when: recorded at SYN_SENT, keyed by socket address. */
struct piddata {
	/** Command name of the connecting task. */
	char comm[TASK_COMM_LEN];
	/** Kernel monotonic time the SYN went out, in nanoseconds. */
	__u64 ts;
	/** Process id (tgid) of the connecting task. */
	__u32 tgid;
};

/** One completed TCP connect. */
struct event {
	/** Kernel monotonic time the handshake completed, in nanoseconds. */
	__u64 ts_ns;
	/**
	 * Connect latency (SYN_SENT → ESTABLISHED), in nanoseconds.
	 * @metric histogram log2 name=tcpconnlat_latency_seconds labels=family unit=ns export=seconds help="TCP connect latency, SYN_SENT to ESTABLISHED"
	 */
	__u64 delta_ns;
	/** Process id (tgid) that called connect(). */
	__u32 tgid;
	/** Address family: 2 (AF_INET) or 10 (AF_INET6). */
	__u16 family;
	/** Local port, host byte order. */
	__u16 lport;
	/** Remote port, host byte order. */
	__u16 dport;
	__u16 __pad[3];
	/** Local address: 4 bytes for IPv4, 16 for IPv6, network byte order. */
	__u8 saddr[16];
	/** Remote address: 4 bytes for IPv4, 16 for IPv6, network byte order. */
	__u8 daddr[16];
	/** Command name of the task that called connect(). */
	char comm[TASK_COMM_LEN];
};

/** Connects in flight, keyed by socket address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct piddata);
} start SEC(".maps");

/**
 * Completed connects, read by user space.
 * @metric counter name=tcpconnlat_connects_total labels=family help="Completed TCP connects by address family (2: IPv4, 10: IPv6)"
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/** Starts timing a connect at SYN_SENT; reports it at ESTABLISHED; forgets it when it fails. */
SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 skaddr = (__u64)ctx->skaddr, now, delta;
	struct piddata *pd, data = {};
	struct event *e;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (targ_family && targ_family != ctx->family)
		return 0;

	if (ctx->newstate == TCP_SYN_SENT) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (targ_tgid && targ_tgid != tgid)
			return 0;
		data.tgid = tgid;
		data.ts = bpf_ktime_get_ns();
		bpf_get_current_comm(data.comm, sizeof(data.comm));
		bpf_map_update_elem(&start, &skaddr, &data, BPF_ANY);
		return 0;
	}
	if (ctx->oldstate != TCP_SYN_SENT)
		return 0;

	pd = bpf_map_lookup_elem(&start, &skaddr);
	if (!pd)
		return 0;
	now = bpf_ktime_get_ns();
	delta = now - pd->ts;
	if (ctx->newstate != TCP_ESTABLISHED || delta < targ_min_us * 1000)
		goto cleanup;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost_events, 1);
		goto cleanup;
	}
	e->ts_ns = now;
	e->delta_ns = delta;
	e->tgid = pd->tgid;
	__builtin_memcpy(e->comm, pd->comm, sizeof(e->comm));
	/* The local port is only bound after SYN_SENT (inet_hash_connect): read both ends now. */
	e->family = ctx->family;
	e->lport = ctx->sport;
	e->dport = ctx->dport;
	__builtin_memset(e->__pad, 0, sizeof(e->__pad));
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (ctx->family == AF_INET) {
		bpf_probe_read_kernel(e->saddr, 4, ctx->saddr);
		bpf_probe_read_kernel(e->daddr, 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
	}
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&start, &skaddr);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
