// SPDX-License-Identifier: GPL-2.0
/*
 * httptrace: latency of the requests a Go net/http server handles, without touching the server. A uprobe
 * at the entry of net/http.serverHandler.ServeHTTP remembers the request per goroutine; uprobes placed
 * on each RET instruction of that function (uretprobes corrupt Go's moving stacks) complete it. Go's
 * register ABI (amd64, Go ≥ 1.17): R14 = current g; receiver in RAX, the ResponseWriter interface in
 * RBX (itab) + RCX (data), *Request in RDI. Struct offsets come from user space (defaults: Go 1.19).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"

#define METHOD_LEN 8
#define PATH_LEN 128

/** Byte offset of goid in runtime.g. */
const volatile __u32 goid_offset = 152;
/** Byte offset of Method (a string) in net/http.Request. */
const volatile __u32 req_method_offset = 0;
/** Byte offset of URL (*url.URL) in net/http.Request. */
const volatile __u32 req_url_offset = 16;
/** Byte offset of Path (a string) in net/url.URL. */
const volatile __u32 url_path_offset = 56;
/** Byte offset of status (int) in net/http.response. */
const volatile __u32 resp_status_offset = 120;
/** Address of go.itab.*net/http.response,net/http.ResponseWriter: status is only read when the writer is one (0: never read). */
const volatile __u64 response_itab = 0;
/** Only trace this process id (tgid; 0: every process running the probed binary). */
const volatile __u32 targ_pid = 0;
/** Only report requests that took at least this long, in nanoseconds. */
const volatile __u64 min_duration_ns = 0;

/** Identifies a request in flight: a goroutine of a process. */
struct request_key {
	/** Process id (tgid). */
	__u32 pid;
	__u32 __pad;
	/** Goroutine serving the request. */
	__s64 goid;
};

/** A request in flight, noted at ServeHTTP entry. */
struct http_request {
	/** Kernel monotonic time at entry, in nanoseconds. */
	__u64 start_ns;
	/** Itab of the ResponseWriter interface. */
	__u64 writer_itab;
	/** Data pointer of the ResponseWriter interface (a *response for HTTP/1). */
	__u64 writer;
	/** Request method, e.g. "GET". */
	char method[METHOD_LEN];
	/** Request path, cut to PATH_LEN - 1 bytes. */
	char path[PATH_LEN];
};

/** One request served. */
struct event {
	/** Kernel monotonic time at completion, in nanoseconds. */
	__u64 ts_ns;
	/**
	 * Time spent in ServeHTTP, in nanoseconds.
	 * @metric histogram log2 name=httptrace_request_duration_seconds labels=method,route=path,status unit=ns export=seconds help="HTTP request latency (ServeHTTP)"
	 */
	__u64 duration_ns;
	/** Goroutine that served the request. */
	__s64 goid;
	/** Process id (tgid). */
	__u32 pid;
	/** HTTP status written by the handler (0: unknown or never written, which net/http sends as 200). */
	__u32 status;
	/** Request method, e.g. "GET". */
	char method[METHOD_LEN];
	/** Request path. */
	char path[PATH_LEN];
};

/** Requests in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request_key);
	__type(value, struct http_request);
} inflight SEC(".maps");

/** Zeroed scratch space for building a request. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_request);
} scratch SEC(".maps");

/** Completed requests, read by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Events dropped because the ring buffer was full (user space reports them as lost). */
__u64 lost_events = 0;

/* Copies a Go string (pointer + length, no NUL) into a NUL-terminated buffer of size n. */
static __always_inline void read_go_string(char *dst, __u32 n, __u64 str_addr)
{
	__u64 s[2] = {}; /* data, len */
	__u64 len;

	dst[0] = '\0';
	if (bpf_probe_read_user(s, sizeof(s), (void *)str_addr))
		return;
	len = s[1];
	if (len > n - 1)
		len = n - 1;
	len &= 0xFF; /* a bound the verifier can see; n ≤ 256 */
	if (len && !bpf_probe_read_user(dst, len, (void *)s[0]))
		dst[len & (n - 1)] = '\0';
}

static __always_inline bool request_key_of(struct request_key *key, struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	key->pid = id >> 32;
	key->__pad = 0;
	key->goid = 0;
	if (targ_pid && targ_pid != key->pid)
		return false;
	bpf_probe_read_user(&key->goid, sizeof(key->goid), (void *)(ctx->r14 + goid_offset));
	return true;
}

/** Entry of serverHandler.ServeHTTP(rw ResponseWriter, req *Request). */
SEC("uprobe")
int handle_serve_http(struct pt_regs *ctx)
{
	struct request_key key;
	struct http_request *r;
	__u64 req = ctx->di, url = 0;
	__u32 zero = 0;

	if (!request_key_of(&key, ctx))
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	r->start_ns = bpf_ktime_get_ns();
	r->writer_itab = ctx->bx;
	r->writer = ctx->cx;
	read_go_string(r->method, METHOD_LEN, req + req_method_offset);
	r->path[0] = '\0';
	if (!bpf_probe_read_user(&url, sizeof(url), (void *)(req + req_url_offset)) && url)
		read_go_string(r->path, PATH_LEN, url + url_path_offset);
	bpf_map_update_elem(&inflight, &key, r, BPF_ANY);
	return 0;
}

/** A RET instruction of serverHandler.ServeHTTP: the handler is done. */
SEC("uprobe")
int handle_serve_http_return(struct pt_regs *ctx)
{
	struct request_key key;
	struct http_request *r;
	struct event *e;
	__u64 now = bpf_ktime_get_ns(), status = 0;

	if (!request_key_of(&key, ctx))
		return 0;
	r = bpf_map_lookup_elem(&inflight, &key);
	if (!r)
		return 0;
	if (now - r->start_ns < min_duration_ns)
		goto cleanup;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&lost_events, 1);
	if (!e)
		goto cleanup;
	e->ts_ns = now;
	e->duration_ns = now - r->start_ns;
	e->goid = key.goid;
	e->pid = key.pid;
	if (response_itab && r->writer_itab == response_itab && r->writer)
		bpf_probe_read_user(&status, sizeof(status), (void *)(r->writer + resp_status_offset));
	e->status = (__u32)status;
	__builtin_memcpy(e->method, r->method, METHOD_LEN);
	bpf_probe_read_kernel(e->path, PATH_LEN, r->path);
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&inflight, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
