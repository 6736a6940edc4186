// SPDX-License-Identifier: GPL-2.0
/*
 * netrecvlat: network receive latency, from a packet entering the stack (net/netif_receive_skb) to
 * its delivery to the socket (sock/sk_data_ready, the packet at the tail of the receive queue), by
 * protocol and port, reported only above a threshold. The arrival time is kept per sk_buff address
 * and forgotten when the buffer is freed (skb/kfree_skb, skb/consume_skb), so a recycled address never
 * inherits a stale time. Addresses and ports are read from the packet's headers (fixed wire offsets).
 * (skb/skb_copy_datagram_iovec would time the read by the application, but UDP copies linear
 * packets without it.)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "common.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

/** Only report packets that waited at least this many microseconds. */
const volatile __u64 min_lat_us = 0;
/** Only this transport protocol: 6 (TCP), 17 (UDP); 0: both. */
const volatile __u8 targ_protocol = 0;
/** Only packets to this (local, destination) port (0: any). */
const volatile __u16 targ_port = 0;

/** One packet delivered to its socket at least min_lat_us after it arrived. */
struct event {
	/** Kernel monotonic time of the delivery to the socket, in nanoseconds. */
	__u64 ts_ns;
	/**
	 * Arrival (netif_receive_skb) to delivery, in nanoseconds.
	 * @metric histogram log2 name=netrecvlat_latency_seconds labels=protocol unit=ns export=seconds help="Receive latency: arrival in the stack to delivery to the socket"
	 */
	__u64 delta_ns;
	/** Bytes in the packet's buffer when queued (transport payload, and headers still in it). */
	__u32 len;
	/** Address family: 2 (AF_INET) or 10 (AF_INET6). */
	__u16 family;
	/** Source (remote) port, host byte order. */
	__u16 sport;
	/** Destination (local) port, host byte order. */
	__u16 dport;
	/** 6 (TCP) or 17 (UDP). */
	__u8 protocol;
	__u8 __pad;
	/** Source address: 4 bytes for IPv4, 16 for IPv6, network byte order. */
	__u8 saddr[16];
	/** Destination address: 4 bytes for IPv4, 16 for IPv6, network byte order. */
	__u8 daddr[16];
};

/** Arrival time of each packet in the stack, by sk_buff address (LRU: never fills up). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} arrivals SEC(".maps");

/**
 * Slow deliveries, read by user space.
 * @metric counter name=netrecvlat_packets_total labels=protocol help="Packets delivered to a socket above the threshold, by protocol (6: TCP, 17: UDP)"
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/** A packet entered the network stack. */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(handle_receive, struct sk_buff *skb)
{
	__u64 key = (__u64)skb, ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&arrivals, &key, &ts, BPF_ANY);
	return 0;
}

/** Reads the family, protocol, addresses and ports from the packet's headers; false when not TCP/UDP over IP. */
static __always_inline bool read_headers(const struct sk_buff *skb, struct event *e)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header), th = BPF_CORE_READ(skb, transport_header);
	__u8 version = 0;
	__u16 ports[2];

	if (bpf_probe_read_kernel(&version, 1, head + nh))
		return false;
	version >>= 4;
	if (version == 4) {
		e->family = AF_INET;
		bpf_probe_read_kernel(&e->protocol, 1, head + nh + 9);
		bpf_probe_read_kernel(e->saddr, 4, head + nh + 12);
		bpf_probe_read_kernel(e->daddr, 4, head + nh + 16);
	} else if (version == 6) {
		e->family = AF_INET6;
		bpf_probe_read_kernel(&e->protocol, 1, head + nh + 6);
		bpf_probe_read_kernel(e->saddr, 16, head + nh + 8);
		bpf_probe_read_kernel(e->daddr, 16, head + nh + 24);
	} else {
		return false;
	}
	if (e->protocol != IPPROTO_TCP && e->protocol != IPPROTO_UDP)
		return false;
	if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
		return false;
	e->sport = bpf_ntohs(ports[0]);
	e->dport = bpf_ntohs(ports[1]);
	return true;
}

/**
 * A socket was told it has data: the packet just queued is the tail of its receive queue (UDP queues
 * it, TCP queues it unless it was merged into the tail already there, then both call sk_data_ready).
 */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(handle_data_ready, const struct sock *sk)
{
	struct sk_buff *skb = BPF_CORE_READ(sk, sk_receive_queue.prev);
	__u64 key = (__u64)skb, *arrived, now = bpf_ktime_get_ns(), delta;
	struct event *e;

	arrived = bpf_map_lookup_elem(&arrivals, &key);
	if (!arrived)
		return 0;
	delta = now - *arrived;
	bpf_map_delete_elem(&arrivals, &key);
	if (delta < min_lat_us * 1000)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost_events, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	if (!read_headers(skb, e) || (targ_protocol && targ_protocol != e->protocol) || (targ_port && targ_port != e->dport)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->ts_ns = now;
	e->delta_ns = delta;
	e->len = BPF_CORE_READ(skb, len);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/** A packet was dropped: forget it. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_kfree, struct sk_buff *skb)
{
	__u64 key = (__u64)skb;

	bpf_map_delete_elem(&arrivals, &key);
	return 0;
}

/** A packet was freed after use: forget it. */
SEC("tp_btf/consume_skb")
int BPF_PROG(handle_consume, struct sk_buff *skb)
{
	__u64 key = (__u64)skb;

	bpf_map_delete_elem(&arrivals, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
