// libbpf-bootstrap's sockfilter, reduced: a socket program on a raw packet socket sends each IPv4
// frame's protocol, addresses and ports through a ring buffer (user space never reads the socket).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_HLEN 14
#define ETH_P_IP 0x0800

struct frame {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 protocol;
	__u32 len;
	__u32 pkt_type;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} frames SEC(".maps");

SEC("socket")
int on_frame(struct __sk_buff *skb)
{
	__u16 proto;
	__u8 verlen, ip_proto;
	__u16 ports[2];
	struct frame *f;

	if (bpf_skb_load_bytes(skb, 12, &proto, 2) || bpf_ntohs(proto) != ETH_P_IP)
		return 0;
	f = bpf_ringbuf_reserve(&frames, sizeof(*f), 0);
	if (!f)
		return 0;
	bpf_skb_load_bytes(skb, ETH_HLEN, &verlen, 1);
	bpf_skb_load_bytes(skb, ETH_HLEN + 9, &ip_proto, 1);
	bpf_skb_load_bytes(skb, ETH_HLEN + 12, &f->saddr, 4);
	bpf_skb_load_bytes(skb, ETH_HLEN + 16, &f->daddr, 4);
	if (bpf_skb_load_bytes(skb, ETH_HLEN + ((verlen & 0xf) << 2), ports, 4))
		ports[0] = ports[1] = 0;
	f->sport = bpf_ntohs(ports[0]);
	f->dport = bpf_ntohs(ports[1]);
	f->protocol = ip_proto;
	f->len = skb->len;
	f->pkt_type = skb->pkt_type;
	bpf_ringbuf_submit(f, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
