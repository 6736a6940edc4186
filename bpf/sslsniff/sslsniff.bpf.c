// SPDX-License-Identifier: GPL-2.0
/*
 * sslsniff: the plaintext of TLS connections made through OpenSSL, caught where it enters and leaves
 * the library. Uprobes on SSL_write/SSL_read (and their _ex variants) remember the buffer per thread;
 * the uretprobes copy what the call actually wrote or read, cut to targ_max_data bytes, into a ring
 * buffer record sized to the data (bpf_ringbuf_output from a per-CPU scratch event), with the call's
 * latency. User space attaches the probes to a libssl (libssl.so.3) it finds or is given.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "common.h"

/* libbpf 1.1 has no BPF_UPROBE/BPF_URETPROBE: BPF_KPROBE/BPF_KRETPROBE read the same registers. */

/* Most plaintext bytes one record carries (the data array's size). */
#define MAX_DATA 8192

/** Plaintext bytes kept per call (at most 8192: the data array's size); the rest is counted, not copied. */
const volatile __u32 targ_max_data = MAX_DATA;
/** Only trace this process id (tgid; 0: every process using the probed libssl). */
const volatile __u32 targ_tgid = 0;
/** Only trace this user id (-1: every user). */
const volatile __s64 targ_uid = -1;

/** A call in flight, noted at entry. */
struct call {
	/** The SSL * the call works on: identifies the connection. */
	__u64 ssl;
	/** The caller's plaintext buffer. */
	__u64 buf;
	/** SSL_{read,write}_ex: where the byte count is stored (0 for SSL_read/SSL_write, which return it). */
	__u64 count_ptr;
	/** Kernel monotonic time at entry, in nanoseconds. */
	__u64 start_ns;
};

/** One SSL_read/SSL_write that moved data; the record is cut after data_len bytes of data. */
struct event {
	/** Kernel monotonic time at return, in nanoseconds. */
	__u64 ts_ns;
	/** Time the call took, in nanoseconds. */
	__u64 delta_ns;
	/** The SSL * of the connection (pairs requests with responses). */
	__u64 ssl;
	/** Process id (tgid). */
	__u32 pid;
	/** Thread id. */
	__u32 tid;
	/** User id. */
	__u32 uid;
	/** Bytes the call read or wrote. */
	__u32 len;
	/** Bytes of them in data (len cut to targ_max_data). */
	__u32 data_len;
	/** 0: read (received plaintext), 1: write (plaintext to send). */
	__u8 is_write;
	/** 1 when the call was SSL_read_ex/SSL_write_ex. */
	__u8 is_ex;
	__u8 __pad[2];
	/** Command name. */
	char comm[TASK_COMM_LEN];
	/** The plaintext, data_len bytes. */
	__u8 data[MAX_DATA];
};

/** Calls in flight, by thread (pid_tgid). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct call);
} calls SEC(".maps");

/** Where a record is built before it is copied, cut to size, into the ring buffer (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

/**
 * Plaintext records, read by user space.
 * @metric counter name=sslsniff_calls_total labels=comm,is_write help="OpenSSL reads (is_write 0) and writes (1) by command"
 * @metric counter name=sslsniff_bytes_total labels=comm,is_write value=len unit=bytes help="Plaintext bytes read and written through OpenSSL by command"
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

/** Records dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

static __always_inline int enter(void *ssl, const void *buf, size_t *count_ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {};

	if (targ_tgid && targ_tgid != id >> 32)
		return 0;
	if (targ_uid != -1 && (__u32)targ_uid != (__u32)bpf_get_current_uid_gid())
		return 0;
	c.ssl = (__u64)ssl;
	c.buf = (__u64)buf;
	c.count_ptr = (__u64)count_ptr;
	c.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret, bool is_write)
{
	__u64 id = bpf_get_current_pid_tgid(), count = 0, now = bpf_ktime_get_ns();
	__u32 zero = 0, n;
	struct call *c;
	struct event *e;

	c = bpf_map_lookup_elem(&calls, &id);
	if (!c)
		return 0;
	if (c->count_ptr) {
		/* _ex: 1 on success, the count stored through the pointer. */
		if (ret == 1)
			bpf_probe_read_user(&count, sizeof(size_t), (void *)c->count_ptr);
	} else if (ret > 0) {
		count = ret;
	}
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!count || !e)
		goto cleanup;

	n = count < targ_max_data ? count : targ_max_data;
	if (n > MAX_DATA)
		n = MAX_DATA;
	e->ts_ns = now;
	e->delta_ns = now - c->start_ns;
	e->ssl = c->ssl;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->len = count;
	e->data_len = n;
	e->is_write = is_write;
	e->is_ex = c->count_ptr != 0;
	e->__pad[0] = e->__pad[1] = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user(e->data, n, (void *)c->buf))
		n = e->data_len = 0;
	if (bpf_ringbuf_output(&events, e, __builtin_offsetof(struct event, data) + n, 0))
		__sync_fetch_and_add(&lost_events, 1);
cleanup:
	bpf_map_delete_elem(&calls, &id);
	return 0;
}

/** Entry of SSL_read(ssl, buf, num) and SSL_write(ssl, buf, num). */
SEC("uprobe")
int BPF_KPROBE(handle_entry, void *ssl, const void *buf, int num)
{
	return enter(ssl, buf, 0);
}

/** Entry of SSL_read_ex(ssl, buf, num, &readbytes) and SSL_write_ex(ssl, buf, num, &written). */
SEC("uprobe")
int BPF_KPROBE(handle_entry_ex, void *ssl, const void *buf, size_t num, size_t *count)
{
	return enter(ssl, buf, count);
}

/** Return of SSL_read or SSL_read_ex: the buffer now holds the received plaintext. */
SEC("uretprobe")
int BPF_KRETPROBE(handle_read_return, long ret)
{
	return leave((int)ret, false);
}

/** Return of SSL_write or SSL_write_ex. */
SEC("uretprobe")
int BPF_KRETPROBE(handle_write_return, long ret)
{
	return leave((int)ret, true);
}

char LICENSE[] SEC("license") = "GPL";
