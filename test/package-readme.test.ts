// The README of a --package names each event type as the generated module exports it: the name the
// emitter's layouts chose (typedef'd anonymous structs included), not one re-derived from C.

import test from "ava";
import { buildModel } from "../generator/model/model.js";
import { packageFiles } from "../generator/workflow/package.js";
import { generate } from "../generator/emit/files.js";
import { compileC } from "./helpers/compile-c.js";

const source = `
typedef struct { __u32 pid; char comm[16]; } snoop_event_t;
struct tagged { __u64 ts; };
snoop_event_t last_event; struct tagged last_stamp; /* keep both types in the object's BTF */
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } stamps SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_execve") int handle(void *ctx) {
  snoop_event_t *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (e) bpf_ringbuf_submit(e, 0);
  struct tagged *s = bpf_ringbuf_reserve(&stamps, sizeof(*s), 0);
  if (s) bpf_ringbuf_submit(s, 0);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

test("--package README: event types by the names the module exports", async (t) => {
  const { elf, btf, bytes } = await compileC(source);
  const model = buildModel(elf, btf, { file: "snoop.o", events: { events: "snoop_event_t", stamps: "struct tagged" } });
  const generated = generate({ stem: "snoop", version: "0.0.0", source: { name: "snoop.bpf.c", sha256: "0".repeat(64) }, targets: [{ target: "bpfel", model, object: bytes }] });
  const exported = [...String(generated.find((f) => f.path === "snoop.ts")!.contents).matchAll(/^export interface (\w+)/gm)].map((m) => m[1]!);
  const files = packageFiles({ stem: "snoop", generated: new Map(generated.map((f) => [f.path, f.contents])), model, bpf2tsVersion: "0.0.0", runtimeVersion: "0.0.0" });
  const readme = String(files.get("README.md"));
  const headings = [...readme.matchAll(/^### `(\w+)` \(from `maps\.(\w+)`/gm)].map((m) => [m[2], m[1]]);
  t.is(headings.length, 2, readme);
  for (const [, ts] of headings) t.true(exported.includes(ts!), `${ts} is exported by the module (${exported.join(", ")})`);
  t.deepEqual(Object.fromEntries(headings), { events: "SnoopSnoopEventT", stamps: "SnoopTagged" });
  t.regex(readme, /\| `events` \| `events` \| ringbuf \| events: `SnoopSnoopEventT` \|/);
});
