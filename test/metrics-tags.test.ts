// `@metric` tags: the grammar, validation against real BTF layouts (errors naming the map or field
// and the tag), and the emitted `<stem>Metrics` compiled with tsc --strict.

import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { moduleMetrics, parseMetricTags } from "../generator/layout/metric-tags.js";
import { buildModel } from "../generator/model/model.js";
import { memberName } from "../generator/layout/names.js";
import { layoutModule } from "../generator/layout/roots.js";
import { buildOutputs } from "../generator/pipeline/run.js";
import { compileC, PRELUDE } from "./helpers/compile-c.js";
import { makeTempDir, removeDir } from "./helpers/temp-dir.js";
import { markEsm, typeCheck } from "./helpers/typecheck.js";

const SOURCE = `
enum reason { R_NONE = 0, R_FULL = 2 };
struct key { __u32 pid; __u32 saddr; __u8 daddr6[16]; char comm[16]; enum reason why; __u64 cgroup; __u64 ip; };
struct stat { __u64 count; __u64 total_ns; __u32 slots[8]; };
struct event { __u64 lat_ns; __u32 pid; char comm[16]; };
struct event last_event; /* keeps struct event in the object's BTF (the pipeline gets it from a types-only compile) */
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 64); __type(key, struct key); __type(value, struct stat); } stats SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
SEC("tracepoint/x/y") int prog(void *ctx) {
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (e) bpf_ringbuf_submit(e, 0);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

async function layouts() {
  const obj = await compileC(SOURCE);
  const model = buildModel(obj.elf, obj.btf, { file: "t.bpf.c", events: { events: "struct event" } });
  const l = layoutModule("t", model, { globalTypes: false });
  return l.maps.map((m) => ({ ...m, ts: memberName(m.map.name) }));
}

const noDocs = { maps: {}, fields: {} };

test("parseMetricTags reads kinds, buckets, key=value and quoted help; the rest of the doc is the help", (t) => {
  const { tags, help } = parseMetricTags('Calls per key.\n@metric histogram log2 name=x_seconds unit=us export=seconds help="a, b = c"\nmore');
  t.is(help, "Calls per key. more");
  t.deepEqual(tags, [{ kind: "histogram", buckets: "log2", attrs: { name: "x_seconds", unit: "us", export: "seconds", help: "a, b = c" }, text: '@metric histogram log2 name=x_seconds unit=us export=seconds help="a, b = c"' }]);
  t.throws(() => parseMetricTags("@metric summary name=x"), { message: /kind must come first: counter, gauge or histogram, not "summary"/ });
  t.throws(() => parseMetricTags("@metric counter name=x colour=red"), { message: /unknown attribute "colour"/ });
  t.throws(() => parseMetricTags("@metric counter exp2 name=x"), { message: /unknown word "exp2"/ });
  t.throws(() => parseMetricTags('@metric counter name=x help="open'), { message: /cannot read/ });
});

test("valid tags become MetricSpecs: key labels with formats, per-field values, units, event metrics on maps and fields", async (t) => {
  const maps = await layouts();
  const specs = moduleMetrics("t.bpf.c", maps, {
    maps: {
      stats: [
        "@metric counter name=calls_total labels=pid,comm,why,src=saddr:ipv4,daddr6:ipv6,cgroup:cgroup,ip:ksym value=count",
        "@metric histogram log2 name=lat_seconds labels=pid value=slots unit=us export=seconds",
        "@metric histogram linear min=0 step=10 name=lin labels=pid value=slots sum=total_ns",
      ].join("\n"),
      counts: "Per slot.\n@metric gauge name=slot_value labels=slot",
      events: "@metric counter name=events_total labels=comm",
    },
    fields: { "event.lat_ns": "Latency.\n@metric histogram log2 name=event_lat_seconds labels=pid unit=ns export=seconds" },
  });
  t.deepEqual(specs.map((s) => [s.name, s.map, s.source, s.kind]), [
    ["slot_value", "counts", "map", "gauge"],
    ["events_total", "events", "event", "counter"],
    ["calls_total", "stats", "map", "counter"],
    ["lat_seconds", "stats", "map", "histogram"],
    ["lin", "stats", "map", "histogram"],
    ["event_lat_seconds", "events", "event", "histogram"],
  ]);
  const calls = specs.find((s) => s.name === "calls_total")!;
  t.deepEqual(calls.value, ["count"]);
  t.deepEqual(calls.labels, [
    { name: "pid", field: ["pid"], format: "number" },
    { name: "comm", field: ["comm"], format: "string" },
    { name: "why", field: ["why"], format: "enum", names: { "0": "R_NONE", "2": "R_FULL" } },
    { name: "src", field: ["saddr"], format: "ipv4" },
    { name: "daddr6", field: ["daddr6"], format: "ipv6" },
    { name: "cgroup", field: ["cgroup"], format: "cgroup" },
    { name: "ip", field: ["ip"], format: "ksym" },
  ]);
  t.deepEqual(specs.find((s) => s.name === "slot_value")!.labels, [{ name: "slot", field: [], format: "number" }]);
  t.is(specs.find((s) => s.name === "slot_value")!.help, "Per slot.");
  t.deepEqual(specs.find((s) => s.name === "lin")!.buckets, { type: "linear", min: 0, step: 10 });
  t.deepEqual(specs.find((s) => s.name === "lin")!.sum, ["totalNs"]);
  t.deepEqual(specs.find((s) => s.name === "event_lat_seconds")!.value, ["latNs"]);
});

test("a tag that does not fit the BTF layout is an error naming the file, the map or field, and the tag", async (t) => {
  const maps = await layouts();
  const bad = (doc: string, where: "stats" | "counts" | "events" = "stats") => () => moduleMetrics("t.bpf.c", maps, { ...noDocs, maps: { [where]: doc } });
  t.throws(bad("@metric counter name=c labels=nope value=count"), { message: /^t\.bpf\.c: map "stats": @metric counter name=c labels=nope value=count: label "nope" is not a key field: "nope" is not a field of struct key \(fields: pid, saddr, daddr6, comm, why, cgroup, ip\)$/ });
  t.throws(bad("@metric histogram log2 name=h value=count"), { message: /map "stats": .*a map histogram's value must be an array of integer buckets, not a int/ });
  t.throws(bad("@metric histogram log2 name=h"), { message: /not struct stat \(name the array with value=FIELD\)/ });
  t.throws(bad("@metric counter name=c"), { message: /a counter's value must be a number, not struct stat \(name a field with value=FIELD\)/ });
  t.throws(bad("@metric counter name=c value=count unit=furlongs"), { message: /map "stats": .*unknown unit "furlongs"/ });
  t.throws(bad("@metric counter name=c value=count unit=ns export=bytes"), { message: /cannot export ns as bytes/ });
  t.throws(bad("@metric counter name=c value=count labels=comm:ipv4"), { message: /label "comm": a string cannot be a ipv4 label/ });
  t.throws(bad("@metric counter name=c value=count labels=pid:colour"), { message: /unknown label format "colour"/ });
  t.throws(bad("@metric histogram name=h value=slots"), { message: /needs log2 or linear buckets/ });
  t.throws(bad("@metric histogram linear name=h value=slots"), { message: /linear buckets need step=N/ });
  t.throws(bad("@metric counter name=9bad value=count"), { message: /not a valid metric name/ });
  t.throws(bad("@metric counter value=count"), { message: /needs name=NAME/ });
  t.throws(bad("@metric counter name=c labels=a,b", "counts"), { message: /map "counts": .*the key is a single int: it gives one label/ });
  t.throws(bad("@metric histogram log2 name=h", "events"), { message: /map "events": .*an event histogram needs value=FIELD/ });
  t.throws(() => moduleMetrics("t.bpf.c", maps, { maps: { counts: "@metric gauge name=same", events: "@metric counter name=same" }, fields: {} }), { message: /metric "same" is declared twice/ });
  t.throws(() => moduleMetrics("t.bpf.c", maps, { maps: {}, fields: { "stat.count": "@metric counter name=x" } }), { message: /field stat\.count: .*struct stat is not the event type of a ring buffer/ });
});

test("generate emits <stem>Metrics typed by the object's map names, and it compiles with tsc --strict", async (t) => {
  const dir = makeTempDir("bpf2ts-metrics-tags-");
  t.teardown(() => removeDir(dir));
  const source = join(dir, "tagged.bpf.c");
  writeFileSync(source, `${PRELUDE}
struct event { __u64 lat_ns; char comm[16]; };
/**
 * Calls per pid.
 * @metric counter name=tagged_calls_total labels=pid help="Calls, per process"
 */
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } calls SEC(".maps");
/** @metric counter name=tagged_events_total labels=comm */
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
SEC("tracepoint/x/y") int prog(void *ctx) {
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (e) bpf_ringbuf_submit(e, 0);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`);
  const out = await buildOutputs({ stem: "tagged", source, target: "bpfel", outputDir: dir, cwd: dir });
  const ts = out.files.find((f) => f.path === "tagged.ts")!.contents as string;
  t.regex(ts, /export const taggedMetrics: readonly MetricSpec<keyof TaggedObjects\["maps"\]>\[\] = \[\n  \{ name: "tagged_calls_total", kind: "counter", help: "Calls, per process", map: "calls", source: "map", labels: \[\{ name: "pid", field: \[\], format: "number" \}\] \},\n  \{ name: "tagged_events_total", kind: "counter", help: "tagged_events_total", map: "events", source: "event", labels: \[\{ name: "comm", field: \["comm"\], format: "string" \}\] \},\n\];/);
  t.regex(ts, /^ {2}type MetricSpec,$/m);
  for (const f of out.files) writeFileSync(join(dir, f.path), f.contents);
  // A wrong map name must not type-check: the entry is typed by the object's maps.
  writeFileSync(join(dir, "use.ts"), `import type { MetricSpec } from "@bpf2ts/runtime";\nimport { taggedMetrics, type TaggedObjects } from "./tagged.js";\nconst ok: readonly MetricSpec<keyof TaggedObjects["maps"]>[] = taggedMetrics;\nconst bad: MetricSpec<keyof TaggedObjects["maps"]> = { ...taggedMetrics[0]!, map: "nope" };\nexport { ok, bad };\n`);
  markEsm(dir);
  const diagnostics = typeCheck([join(dir, "tagged.ts"), join(dir, "use.ts")]);
  t.regex(diagnostics, /use\.ts.*Type '"nope"' is not assignable to type '"calls" \| "events"'/s);
  t.notRegex(diagnostics, /tagged\.ts/);
});
