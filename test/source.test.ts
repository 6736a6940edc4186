// Source scan: event types of ring buffers and perf event arrays (table-driven over the ways C code
// writes them), doc comments, declared types, and the macro blanking that makes libbpf C parseable.

import test from "ava";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { blankMacros, scanSource } from "../generator/source/scan.js";
import { localIncludes, quoteIncludeDirs, scanSourceTree } from "../generator/source/tree.js";
import { tempDir } from "./helpers/temp-dir.js";

const MAPS = `
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 12); } rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, sizeof(int)); __uint(value_size, sizeof(int)); } perf SEC(".maps");
`;

const eventCases: ReadonlyArray<{ name: string; body: string; expect: Record<string, string> }> = [
  { name: "declaration with sizeof(*e)", body: "struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);", expect: { rb: "struct event" } },
  { name: "assignment after declaration", body: "struct event *e;\n e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);", expect: { rb: "struct event" } },
  { name: "cast", body: "void *p; p = (struct event *)bpf_ringbuf_reserve(&rb, 64, 0);", expect: { rb: "struct event" } },
  { name: "typedef pointer", body: "event_t *e = bpf_ringbuf_reserve(&rb, sizeof(event_t), 0);", expect: { rb: "event_t" } },
  { name: "void pointer, sizeof(struct)", body: "void *p = bpf_ringbuf_reserve(&rb, sizeof(struct event), 0);", expect: { rb: "struct event" } },
  { name: "void pointer, sizeof(typedef)", body: "void *p = bpf_ringbuf_reserve(&rb, sizeof(event_t), 0);", expect: { rb: "event_t" } },
  { name: "parenthesised map", body: "struct event *e = bpf_ringbuf_reserve((&rb), sizeof(*e), 0);", expect: { rb: "struct event" } },
  { name: "ringbuf_output of a local", body: "struct event ev = {};\n bpf_ringbuf_output(&rb, &ev, sizeof(ev), 0);", expect: { rb: "struct event" } },
  { name: "ringbuf_output of a pointer", body: "struct event *e = get();\n bpf_ringbuf_output(&rb, e, sizeof(*e), 0);", expect: { rb: "struct event" } },
  { name: "perf_event_output of a local", body: "struct event ev = {};\n bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &ev, sizeof(ev));", expect: { perf: "struct event" } },
  { name: "perf_event_output of a typedef local", body: "event_t ev;\n bpf_perf_event_output(ctx, &perf, 0xffffffffULL, &ev, sizeof(ev));", expect: { perf: "event_t" } },
  { name: "perf_event_output from a global", body: "bpf_perf_event_output(ctx, &perf, 0, &global_ev, sizeof(global_ev));", expect: { perf: "struct other" } },
  { name: "bpf_skb_output / bpf_xdp_output", body: "struct event ev = {};\n bpf_skb_output(ctx, &perf, 0, &ev, sizeof(ev));", expect: { perf: "struct event" } },
  { name: "union record", body: "union rec *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);", expect: { rb: "union rec" } },
  { name: "an int array is not a record type", body: "int vals[4];\n bpf_ringbuf_output(&rb, &vals, sizeof(vals), 0);", expect: {} },
  { name: "no call, no event", body: "int x = 1;", expect: {} },
];

for (const c of eventCases) {
  test(`events: ${c.name}`, (t) => {
    const src = `struct event { int pid; };\ntypedef struct event event_t;\nstruct other { long x; } global_ev;\nunion rec { int a; };\n${MAPS}
SEC("tp/a/b")
int prog(void *ctx) {
  ${c.body}
  return 0;
}`;
    const scan = scanSource(src, "events.bpf.c");
    t.deepEqual(scan.events, c.expect);
  });
}

/** Calls through helpers and macros, as libbpf-tools writes them (each case: file-scope definitions, then the program body). */
const wrapperCases: ReadonlyArray<{ name: string; defs: string; body: string; expect: Record<string, string> }> = [
  {
    name: "reserve_buf helper, assigned",
    defs: "static __always_inline void *reserve_buf(__u64 sz) { return bpf_ringbuf_reserve(&rb, sz, 0); }",
    body: "struct event *e;\n e = reserve_buf(sizeof(*e));",
    expect: { rb: "struct event" },
  },
  {
    name: "reserve_buf helper, declared, through a typedef",
    defs: "static __always_inline void *reserve_buf(__u64 sz) { void *p = bpf_ringbuf_reserve(&rb, sz, 0); return p; }",
    body: "event_t *e = reserve_buf(sizeof(*e));",
    expect: { rb: "event_t" },
  },
  {
    name: "the map passed to the helper",
    defs: "static void *reserve(void *map, __u64 sz) { return bpf_ringbuf_reserve(map, sz, 0); }",
    body: "struct event *e = reserve(&rb, sizeof(*e));",
    expect: { rb: "struct event" },
  },
  {
    name: "a helper of a helper",
    defs: "static void *reserve(void *map, __u64 sz) { return bpf_ringbuf_reserve(map, sz, 0); }\nstatic void *reserve_rb(__u64 n) { return reserve(&rb, n); }",
    body: "struct event *e = reserve_rb(sizeof(struct event));",
    expect: { rb: "struct event" },
  },
  {
    name: "submit_buf wrapping bpf_perf_event_output",
    defs: "static __always_inline long submit_buf(void *ctx, void *buf, __u64 sz) { return bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, buf, sz); }",
    body: "struct event ev = {};\n submit_buf(ctx, &ev, sizeof(ev));",
    expect: { perf: "struct event" },
  },
  {
    name: "a macro wrapping bpf_perf_event_output",
    defs: "#define SUBMIT(c, e) bpf_perf_event_output(c, &perf, BPF_F_CURRENT_CPU, e, sizeof(*(e)))",
    body: "struct event *e = get();\n SUBMIT(ctx, e);",
    expect: { perf: "struct event" },
  },
  {
    name: "an EVENT_SIZE macro names the type when the data pointer does not",
    defs: "#define BASE_SIZE(e) offsetof(typeof(*e), args)\n#define EVENT_SIZE(e) (BASE_SIZE(e) + e->args_size)",
    body: "struct event *e = get();\n bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, (void *)e, EVENT_SIZE(e));",
    expect: { perf: "struct event" },
  },
  {
    name: "a buffer cast to the record",
    defs: "",
    body: "void *buf = get();\n struct event *e = (struct event *)buf;\n bpf_ringbuf_output(&rb, buf, 64, 0);",
    expect: { rb: "struct event" },
  },
  {
    name: "a typedef of a pointer to the record",
    defs: "typedef struct event *event_p;\nstatic __always_inline void *reserve_buf(__u64 sz) { return bpf_ringbuf_reserve(&rb, sz, 0); }",
    body: "event_p e = reserve_buf(sizeof(*e));",
    expect: { rb: "struct event" },
  },
  {
    name: "a byte buffer is not a record type",
    defs: "",
    body: "__u8 *p = get();\n bpf_ringbuf_output(&rb, p, 8, 0);",
    expect: {},
  },
];

for (const c of wrapperCases) {
  test(`events through wrappers: ${c.name}`, (t) => {
    const src = `struct event { int pid; int args_size; char args[64]; };\ntypedef struct event event_t;\n${MAPS}\n${c.defs}
SEC("tp/a/b")
int prog(void *ctx) {
  ${c.body}
  return 0;
}`;
    const scan = scanSource(src, "wrap.bpf.c");
    t.deepEqual(scan.events, c.expect);
    if (Object.keys(c.expect).length > 0) t.deepEqual(scan.unfollowed, [], "nothing left unfollowed");
  });
}

test("events: a call the scan cannot follow is reported with its place and text", (t) => {
  const scan = scanSource(
    `${MAPS}\nstatic void send(void *ctx, void *p, __u32 n) { bpf_perf_event_output(ctx, &perf, 0, p, n); }\nSEC("xdp") int a(void *ctx) {\n  void *data = ctx;\n  bpf_ringbuf_output(&rb, data,\n      16, 0);\n  send(ctx, data, 4);\n  return 0;\n}`,
    "x.bpf.c",
  );
  t.deepEqual(scan.events, {});
  // The wrapper's own forwarding call is not reported: its call site is.
  t.deepEqual(scan.unfollowed, [
    { map: "rb", where: "x.bpf.c:8", call: "bpf_ringbuf_output(&rb, data, 16, 0)" },
    { map: "perf", where: "x.bpf.c:10", call: "send(ctx, data, 4)" },
  ]);
});

test("events: helpers defined in a local header are followed where the source calls them", (t) => {
  const dir = tempDir(t, "bpf2ts-scan-wrap-");
  writeFileSync(join(dir, "compat.h"), `${MAPS}\nstatic __always_inline void *reserve_buf(__u64 size) { return bpf_ringbuf_reserve(&rb, size, 0); }\n`);
  writeFileSync(join(dir, "x.bpf.c"), `#include "compat.h"\nstruct event { int pid; };\nSEC("xdp") int a(void *ctx) { struct event *e = reserve_buf(sizeof(*e)); return 0; }\n`);
  const scan = scanSourceTree(join(dir, "x.bpf.c"), "x.bpf.c", (p) => readFileSync(p, "utf8"));
  t.deepEqual(scan.events, { rb: "struct event" });
});

test("events: a helper that returns the reservation gives its return type", (t) => {
  const scan = scanSource(
    `${MAPS}\nstatic __always_inline struct event *reserve_event(void) { return bpf_ringbuf_reserve(&rb, sizeof(struct event) + 0, 0); }\nstatic void *raw(void) { return bpf_ringbuf_reserve(&perf, 8, 0); }`,
    "x.c",
  );
  t.deepEqual(scan.events, { rb: "struct event" });
});

test("events: the first record type wins, a second one is a warning", (t) => {
  const scan = scanSource(
    `${MAPS}\nSEC("xdp") int a(void *ctx) { struct one *x = bpf_ringbuf_reserve(&rb, sizeof(*x), 0); return 0; }\nSEC("xdp") int b(void *ctx) { struct two *y = bpf_ringbuf_reserve(&rb, sizeof(*y), 0); return 0; }`,
    "x.c",
  );
  t.deepEqual(scan.events, { rb: "struct one" });
  t.is(scan.warnings.length, 1);
  t.regex(scan.warnings[0]!, /map "rb" receives both struct one and struct two \(line 6\)/);
});

test("events: locals of one function do not leak into another", (t) => {
  const scan = scanSource(
    `${MAPS}\nSEC("xdp") int a(void *ctx) { struct one *e = 0; return 0; }\nSEC("xdp") int b(void *ctx) { struct two *e = 0; e = bpf_ringbuf_reserve(&rb, 8, 0); return 0; }`,
    "x.c",
  );
  t.deepEqual(scan.events, { rb: "struct two" });
});

const DOCS = `
#include "vmlinux.h"

/** An exec event.
 *
 * Sent for each execve.
 */
struct event {
  /** Process id. */
  __u32 pid;
  // Command name,
  // NUL-padded.
  char comm[16];
  union {
    __u64 ns; /* nanoseconds */
    struct { __u32 lo, hi; } parts;
  } t;
  struct {
    /** hidden */
    int anon_member;
  };
  int undocumented;
};

// Kinds of events.
enum kind {
  /** started */
  KIND_START,
  KIND_STOP, // stopped
};

/// A point.
typedef struct { int x; int y; } point_t;

/** Packed. */
struct packed_one { char c; int i; } __attribute__((packed));

/* a plain comment is not documentation */
struct plain { int a; };

// far away

struct spaced { int a; };

/** Events to user space. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/** Only processes of this pid. */
const volatile int target_pid = 0;

int counter; // not a doc: trailing comments only document members

/**
 * Handles execve.
 */
SEC("tracepoint/syscalls/sys_enter_execve")
int handle_exec(struct trace_event_raw_sys_enter *ctx)
{
  return 0;
}

// Kprobe through the libbpf macro.
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(do_unlinkat, int dfd, struct filename *name)
{
  return 0;
}

#ifdef EXTRA
/** Inside an ifdef. */
SEC("xdp") int extra(struct xdp_md *ctx) { return 2; }
#endif

char LICENSE[] SEC("license") = "GPL";
`;

test("docs: types, fields, enum values, maps, variables and programs", (t) => {
  const scan = scanSource(DOCS, "docs.bpf.c");
  t.deepEqual(scan.docs.types, {
    event: "An exec event.\n\nSent for each execve.",
    kind: "Kinds of events.",
    point_t: "A point.",
    packed_one: "Packed.",
  });
  t.deepEqual(scan.docs.fields, {
    "event.pid": "Process id.",
    "event.comm": "Command name,\nNUL-padded.",
    "event.t.ns": "nanoseconds",
    "event.anon_member": "hidden",
    "kind.KIND_START": "started",
    "kind.KIND_STOP": "stopped",
  });
  t.deepEqual(scan.docs.maps, { events: "Events to user space." });
  t.deepEqual(scan.docs.variables, { target_pid: "Only processes of this pid." });
  t.deepEqual(scan.docs.programs, {
    handle_exec: "Handles execve.",
    do_unlinkat: "Kprobe through the libbpf macro.",
    extra: "Inside an ifdef.",
  });
});

test("docs: CRLF line endings read the same", (t) => {
  const lf = scanSource(DOCS, "docs.bpf.c");
  const crlf = scanSource(DOCS.replace(/\n/g, "\r\n"), "docs.bpf.c");
  t.deepEqual(crlf.docs, lf.docs);
  t.deepEqual(crlf.declaredTypes, lf.declaredTypes);
});

test("declared types and sections", (t) => {
  const scan = scanSource(DOCS, "docs.bpf.c");
  t.deepEqual(scan.declaredTypes, ["enum kind", "point_t", "struct event", "struct packed_one", "struct plain", "struct spaced"]);
  t.deepEqual(scan.sections, {
    events: ".maps",
    handle_exec: "tracepoint/syscalls/sys_enter_execve",
    do_unlinkat: "kprobe/do_unlinkat",
    extra: "xdp",
  });
});

test("map definitions and CO-RE views of kernel types are not declared types (unless used as data)", (t) => {
  const scan = scanSource(
    `struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct data); } a SEC(".maps"), b SEC(".maps");
struct outer { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 2); __type(key, u32); __array(values, struct inner); } o SEC(".maps");
struct data { u64 n; };
struct empty {};
struct task_struct___o { volatile long state; } __attribute__((preserve_access_index));
struct task_struct___x { unsigned int __state; };
struct request_view { struct gendisk *rq_disk; } __attribute__((preserve_access_index));
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
struct pushed { int x; };
#pragma clang attribute pop
#pragma clang attribute push (__attribute__((aligned(8))), apply_to = record)
struct aligned_one { int y; };
#pragma clang attribute pop
`,
    "maps.bpf.c",
  );
  t.deepEqual(scan.declaredTypes, ["struct aligned_one", "struct data", "struct empty"]);
});

test("blankMacros keeps every offset and line, and ignores comments and strings", (t) => {
  const src = `struct { __uint(type, X(1, (2))); __type(key, int); } m SEC(".maps");\n// SEC("no")\nchar *s = "__uint(a, b)";\nSEC("tp/x/y")\nint f(void) { return 0; }`;
  const { text, secs } = blankMacros(src);
  t.is(text.length, src.length);
  t.deepEqual(text.split("\n").length, src.split("\n").length);
  t.notRegex(text, /__uint\(type|__type\(key|SEC\("\.maps"\)|SEC\("tp/);
  t.regex(text, /\/\/ SEC\("no"\)/);
  t.regex(text, /"__uint\(a, b\)"/);
  t.deepEqual(secs.map((s) => s.name), [".maps", "tp/x/y"]);
  t.is(blankMacros("static __always_inline int g(void);").text, "static                 int g(void);");
  t.is(blankMacros("int my__always_inline_x;").text, "int my__always_inline_x;");
  t.is(src.slice(secs[1]!.start, secs[1]!.end), 'SEC("tp/x/y")');
});

test("a large source parses (beyond tree-sitter's default buffer)", (t) => {
  const filler = Array.from({ length: 4000 }, (_, i) => `struct s${i} { int a; long b; };`).join("\n");
  const scan = scanSource(`${filler}\n${MAPS}\nSEC("xdp") int p(void *ctx) { struct s3999 *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0); return 0; }`, "big.c");
  t.true(filler.length > 100_000);
  t.is(scan.declaredTypes.length, 4000);
  t.deepEqual(scan.events, { rb: "struct s3999" });
});

test("garbage input yields an empty scan, not an exception", (t) => {
  const scan = scanSource("}}}{{{ ))) SEC( /* unterminated", "junk.c");
  t.deepEqual(scan.events, {});
  t.deepEqual(scan.declaredTypes, []);
});

test("scanSourceTree: local headers add types and docs; the source wins; big headers and cycles are fine", (t) => {
  const dir = tempDir(t, "bpf2ts-scan-tree-");
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "prog.bpf.c"), `#include "vmlinux.h"\n#include "prog.h"\n#include <bpf/bpf_helpers.h>\n/** From the source. */\nstruct shared { int a; };\n${MAPS}\nSEC("xdp") int p(void *ctx) { struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0); return 0; }\n`);
  writeFileSync(join(dir, "prog.h"), `#pragma once\n#include "sub/more.h"\n/** An event, declared in a header. */\nstruct event {\n  /** Pid. */\n  int pid;\n};\n/** From the header. */\nstruct shared { int a; };\n`);
  writeFileSync(join(dir, "sub", "more.h"), `#include "../prog.h"\n// Deep.\nenum deep { D1 };\n`);
  writeFileSync(join(dir, "vmlinux.h"), `struct huge { int x; };\n` + " ".repeat(600 * 1024));
  const reads: string[] = [];
  const scan = scanSourceTree(join(dir, "prog.bpf.c"), "bpf/prog.bpf.c", (p) => {
    reads.push(p.slice(dir.length + 1));
    try {
      return readFileSync(p, "utf8");
    } catch {
      return undefined;
    }
  });
  t.deepEqual(reads, ["prog.bpf.c", "vmlinux.h", "prog.h", "sub/more.h", "prog.h"]);
  t.deepEqual(scan.declaredTypes, ["enum deep", "struct event", "struct shared"]);
  t.deepEqual(scan.events, { rb: "struct event" });
  t.deepEqual(scan.docs.types, { event: "An event, declared in a header.", shared: "From the source.", deep: "Deep." });
  t.deepEqual(scan.docs.fields, { "event.pid": "Pid." });
  t.is(scan.file, "bpf/prog.bpf.c");
  t.deepEqual(localIncludes('#include "a.h"\n  # include "b/c.h"\n#include <d.h>\n// #include "e.h"'), ["a.h", "b/c.h"]);
});

test("scanSourceTree: quoted includes are found as clang finds them: next to the includer, then -iquote, then -I; their helpers are followed", (t) => {
  const dir = tempDir(t, "bpf2ts-scan-include-");
  for (const d of ["tool", "quote", "common", "other"]) mkdirSync(join(dir, d));
  writeFileSync(join(dir, "tool", "tool.bpf.c"), `#include "compat.h"\n#include "local.h"\n#include "both.h"\n${MAPS}\nSEC("xdp") int p(void *ctx) { struct event *e; e = reserve_buf(sizeof(*e)); return 0; }\n`);
  writeFileSync(join(dir, "tool", "local.h"), "struct local_one { int a; };\n");
  writeFileSync(join(dir, "common", "compat.h"), "static __always_inline void *reserve_buf(__u64 sz) { return bpf_ringbuf_reserve(&rb, sz, 0); }\nstruct event { int pid; };\n");
  writeFileSync(join(dir, "common", "local.h"), "struct not_this_one { int a; };\n");
  writeFileSync(join(dir, "quote", "both.h"), "struct from_quote { int a; };\n");
  writeFileSync(join(dir, "common", "both.h"), "struct from_common { int a; };\n");
  const flags = ["-I", "other", "-Icommon/", "-iquote", "quote", "-O2", "--include-directory=nowhere"];
  const dirs = quoteIncludeDirs(flags, dir);
  t.deepEqual(dirs.map((d) => d.shown), ["quote", "other", "common", "nowhere"]);
  t.deepEqual(dirs.map((d) => d.path), ["quote", "other", "common", "nowhere"].map((d) => join(dir, d)));
  const shown: string[] = [];
  const scan = scanSourceTree(join(dir, "tool", "tool.bpf.c"), "tool/tool.bpf.c", (p) => {
    try {
      const text = readFileSync(p, "utf8");
      shown.push(p.slice(dir.length + 1));
      return text;
    } catch {
      return undefined;
    }
  }, dirs);
  t.deepEqual(shown, ["tool/tool.bpf.c", "common/compat.h", "tool/local.h", "quote/both.h"]);
  t.deepEqual(scan.events, { rb: "struct event" }, "the reserve helper of a header found through -I is followed");
  t.deepEqual(scan.declaredTypes, ["struct local_one"], "types of shared headers (found through -iquote/-I) are emitted only where used");
  // Without the directories, only the includer's own directory is searched.
  t.deepEqual(scanSourceTree(join(dir, "tool", "tool.bpf.c"), "tool/tool.bpf.c", (p) => { try { return readFileSync(p, "utf8"); } catch { return undefined; } }).declaredTypes, ["struct local_one"]);
});
