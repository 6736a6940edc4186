// Object model on real clang output: programs and their SEC() classification (one program per
// entry of the runtime contract's section table), maps with every attribute, variables in each data section, license,
// and the errors for what libbpf rejects.

import test from "ava";
import { existsSync, readFileSync } from "node:fs";
import { Kind } from "@bpf2ts/runtime/object-file";
import { parseBtf } from "../generator/btf/index.js";
import { buildModel, mapTypeNames } from "../generator/model/model.js";
import { lookupType } from "../generator/btf/index.js";
import { NONE, sectionCases } from "./helpers/section-cases.js";
import { compileC } from "./helpers/compile-c.js";

test("map type names match the kernel's enum bpf_map_type", (t) => {
  const path = "/sys/kernel/btf/vmlinux";
  if (!existsSync(path)) {
    t.log(`${path} missing: the kernel has no BTF to compare with`);
    if (process.env.BPF2TS_REQUIRE_KERNEL === "1") t.fail("BPF2TS_REQUIRE_KERNEL=1 and no kernel BTF");
    else t.pass();
    return;
  }
  const btf = parseBtf(readFileSync(path), { file: path });
  const id = btf.byName("bpf_map_type").find((i) => btf.types[i]?.kind === Kind.Enum)!;
  const e = btf.types[id]!;
  if (e.kind !== Kind.Enum) return t.fail("enum bpf_map_type not found");
  let compared = 0;
  for (const v of e.values) {
    if (/DEPRECATED|__MAX/.test(v.name)) continue;
    const n = Number(v.value);
    if (n >= mapTypeNames.length) {
      t.log(`kernel map type ${v.name} (${n}) is newer than the table`);
      continue;
    }
    t.is(mapTypeNames[n] as string | undefined, v.name.replace(/^BPF_MAP_TYPE_/, "").toLowerCase(), v.name);
    compared++;
  }
  t.true(compared >= 30);
});

test("programs: every section kind from a real object", async (t) => {
  const source = sectionCases.map((c, i) => `SEC("${c.sec}") int prog_${String(i).padStart(3, "0")}(void *ctx) { return ${i}; }`).join("\n");
  const { elf, btf } = await compileC(source + '\nchar LICENSE[] SEC("license") = "Dual BSD/GPL";\n');
  const model = buildModel(elf, btf, { file: "sections.o" });
  t.is(model.programs.length, sectionCases.length);
  t.deepEqual(model.warnings.filter((w) => !/needs libbpf/.test(w)), []);
  sectionCases.forEach((c, i) => {
    const p = model.programs.find((x) => x.name === `prog_${String(i).padStart(3, "0")}`);
    if (!p) return t.fail(`program for ${c.sec} missing`);
    t.is(p.section, c.sec);
    t.is(p.kind, c.kind, c.sec);
    t.is(p.progType, c.progType, c.sec);
    t.is(p.attachType, c.attachType, c.sec);
    t.deepEqual(p.target, c.target ?? NONE, c.sec);
    t.is(p.autoAttach, c.autoAttach ?? false, c.sec);
    t.is(p.sleepable, c.sleepable ?? false, c.sec);
    t.true(p.autoload);
    t.is(p.instructions, 2, `${c.sec}: "r0 = i; exit" is two instructions`);
    t.is(btf.types[p.funcTypeId!]?.name, p.name);
  });
  t.is(model.license, "Dual BSD/GPL");
});

test("programs: SEC(\"?…\") is classified without the ? and not autoloaded", async (t) => {
  const { elf, btf } = await compileC(`SEC("?tp/sched/sched_switch") int optional(void *ctx) { return 0; }\nSEC("xdp") int always(void *ctx) { return 2; }\nchar L[] SEC("license") = "GPL";`);
  const model = buildModel(elf, btf);
  t.deepEqual(model.programs.map((p) => [p.name, p.section, p.kind, p.autoload]), [["always", "xdp", "xdp", true], ["optional", "?tp/sched/sched_switch", "tracepoint", false]]);
  t.deepEqual(model.programs[1]!.target, { type: "tracepoint", category: "sched", event: "sched_switch" });
  t.deepEqual(model.warnings, []);
});

test("programs: unknown sections are kind other with a warning; .text functions are not programs", async (t) => {
  const { elf, btf } = await compileC(`
    __attribute__((noinline)) int helper(int x) { return x * 3; }
    SEC("my/custom") int custom(void *ctx) { return helper(2); }
  `);
  const model = buildModel(elf, btf, { file: "custom.o" });
  t.deepEqual(model.programs.map((p) => [p.name, p.kind, p.progType]), [["custom", "other", "unspec"]]);
  t.true(model.programs[0]!.instructions > 2);
  t.is(model.warnings.length, 2);
  t.regex(model.warnings[0]!, /custom\.o: program "custom": section "my\/custom" is not one libbpf knows/);
  t.regex(model.warnings[1]!, /custom\.o: no license section/);
  t.is(model.license, undefined);
});

test("programs: a static program is an error naming it and its section", async (t) => {
  const { elf, btf } = await compileC(`SEC("xdp") static int hidden(void *ctx) { return 2; }`);
  const err = t.throws(() => buildModel(elf, btf, { file: "static.o" }));
  t.is(err?.name, "ModelError");
  t.regex(err!.message, /static\.o: program "hidden" in section "xdp" is static/);
  t.like(err, { file: "static.o", section: "xdp", symbol: "hidden" });
});

const MAPS = `
struct event { __u32 pid; char comm[16]; };
struct key { __u32 a; __u16 b; };
/** The hash. */
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, struct key); __type(value, __u64);
         __uint(map_flags, 1); __uint(pinning, LIBBPF_PIN_BY_NAME); __uint(numa_node, 0); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 4); __uint(key_size, 4); __uint(value_size, 24); } sized SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 16); __type(key, int); __type(value, struct event); __uint(map_extra, 7); } lru SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, sizeof(int)); __uint(value_size, sizeof(int)); } perf SEC(".maps");
struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, __u32); } inner_a SEC(".maps"), inner_b SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS); __uint(max_entries, 4); __type(key, int); __array(values, struct inner); } outer SEC(".maps") = { .values = { [0] = &inner_a, [3] = &inner_b } };
SEC("tp/a/b") int tail(void *ctx) { return 0; }
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 2); __type(key, __u32); __array(values, int (void *)); } jumps SEC(".maps") = { .values = { [1] = (void *)&tail } };
SEC("tp/a/c") int use(void *ctx) {
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (e) bpf_ringbuf_submit(e, 0);
  return 0;
}
`;

test("maps: every attribute, inner maps and initial values", async (t) => {
  const { elf, btf } = await compileC(MAPS);
  const model = buildModel(elf, btf, { file: "maps.o" });
  const byName = Object.fromEntries(model.maps.map((m) => [m.name, m]));
  t.deepEqual(model.maps.map((m) => m.name), ["counts", "events", "inner_a", "inner_b", "jumps", "lru", "outer", "perf", "sized"]);

  const counts = byName.counts!;
  t.like(counts, { type: "hash", typeNumber: 1, keySize: 8, valueSize: 8, maxEntries: 1024, flags: 1, pinning: "by_name", numaNode: 0 });
  t.is(btf.types[counts.keyTypeId!]?.kind, Kind.Struct);
  t.is(btf.types[counts.keyTypeId!]?.name, "key");
  t.is(btf.types[counts.valueTypeId!]?.name, "__u64");
  t.is(btf.types[counts.varTypeId]?.name, "counts");
  t.is(btf.types[counts.defTypeId]?.kind, Kind.Struct);

  t.like(byName.sized, { type: "percpu_array", keySize: 4, valueSize: 24, maxEntries: 4, pinning: "none", flags: 0 });
  t.is(byName.sized!.keyTypeId, undefined);
  t.like(byName.lru, { type: "lru_hash", keySize: 4, valueSize: 20, mapExtra: 7n });
  t.like(byName.events, { type: "ringbuf", maxEntries: 65536, keySize: 0, valueSize: 0 });
  t.like(byName.perf, { type: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 0 });

  const outer = byName.outer!;
  t.like(outer, { type: "hash_of_maps", maxEntries: 4, keySize: 4, valueSize: 4 }, "libbpf's value_size for __array(values, …)");
  t.like(outer.inner, { type: "array", maxEntries: 1, keySize: 4, valueSize: 4 });
  t.deepEqual(outer.initialValues, [{ index: 0, name: "inner_a" }, { index: 3, name: "inner_b" }]);
  t.like(byName.jumps, { type: "prog_array", keySize: 4, valueSize: 4, maxEntries: 2 });
  t.deepEqual(byName.jumps!.initialValues, [{ index: 1, name: "tail" }]);

  t.true(model.warnings.some((w) => /map "events" \(ringbuf\): event type unknown/.test(w)));
});

test("maps: --event overrides resolve against BTF, unknown maps are errors", async (t) => {
  const { elf, btf } = await compileC(MAPS);
  const model = buildModel(elf, btf, { file: "maps.o", events: { perf: "struct event", events: "struct event" } });
  const perf = model.maps.find((m) => m.name === "perf")!;
  t.deepEqual(perf.event, { cType: "struct event", typeId: lookupType(btf, "struct event"), origin: "override" });
  // struct event is lru's value type, so the object's BTF has it.
  t.is(btf.types[perf.event!.typeId!]?.name, "event");
  t.deepEqual(model.missingTypes, []);
  t.false(model.warnings.some((w) => /event type unknown/.test(w)));
  const notEvents = t.throws(() => buildModel(elf, btf, { file: "maps.o", events: { lru: "struct event" } }));
  t.regex(notEvents!.message, /--event lru=struct event: map "lru" is a lru_hash map, not a ring buffer or perf event array/);
  const err = t.throws(() => buildModel(elf, btf, { file: "maps.o", events: { nope: "struct event" } }));
  t.regex(err!.message, /--event nope=struct event: the object has no map "nope"/);
});

test("maps: a type used only through bpf_ringbuf_reserve is reported missing", async (t) => {
  const { elf, btf } = await compileC(`
    struct only_reserved { __u64 ts; };
    struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(".maps");
    SEC("tp/a/b") int p(void *ctx) { struct only_reserved *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0); if (e) bpf_ringbuf_submit(e, 0); return 0; }
  `);
  const model = buildModel(elf, btf, { events: { rb: "struct only_reserved" }, types: ["only_reserved"] });
  t.deepEqual(model.missingTypes, ["only_reserved", "struct only_reserved"]);
  t.is(model.maps[0]!.event?.typeId, undefined);
});

test("maps: struct_ops variables become struct_ops maps", async (t) => {
  const { elf, btf } = await compileC(`
    struct my_ops { int (*init)(void); int x; long y; };
    SEC("struct_ops/init") int my_init(void) { return 0; }
    SEC(".struct_ops.link") struct my_ops linked = { .init = (void *)my_init, .x = 3 };
    SEC(".struct_ops") struct my_ops plain = { .init = (void *)my_init, .x = 4 };
    char L[] SEC("license") = "GPL";
  `);
  const model = buildModel(elf, btf);
  t.deepEqual(model.maps.map((m) => [m.name, m.type, m.typeNumber, m.keySize, m.valueSize, m.maxEntries, m.flags]), [
    ["linked", "struct_ops", 26, 4, 24, 1, 1 << 13],
    ["plain", "struct_ops", 26, 4, 24, 1, 0],
  ]);
  t.is(btf.types[model.maps[0]!.valueTypeId!]?.name, "my_ops");
  t.deepEqual(model.programs.map((p) => [p.name, p.progType, p.target]), [["my_init", "struct_ops", { type: "struct_ops", member: "init" }]]);
  t.deepEqual(model.variables, [], "struct_ops sections are not variables");
});

test("maps: the legacy maps section is rejected with a clear message", async (t) => {
  const { elf, btf } = await compileC(`
    struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
    struct bpf_map_def SEC("maps") old = { .type = 1, .key_size = 4, .value_size = 4, .max_entries = 1 };
    SEC("xdp") int p(void *ctx) { return 2; }
  `);
  const err = t.throws(() => buildModel(elf, btf, { file: "legacy.o" }));
  t.is(err?.name, "ModelError");
  t.regex(err!.message, /legacy\.o: legacy "maps" section \(struct bpf_map_def\) is not supported/);
  t.like(err, { section: "maps" });
});

test("maps: a bad attribute names the map, member and type id", async (t) => {
  const { elf, btf } = await compileC(`
    struct { __uint(type, BPF_MAP_TYPE_HASH); int max_entries; } bad SEC(".maps");
    SEC("xdp") int p(void *ctx) { return 2; }
  `);
  const err = t.throws(() => buildModel(elf, btf, { file: "bad.o" }));
  t.is(err?.name, "ModelError");
  t.regex(err!.message, /bad\.o: \.maps: map "bad" member "max_entries": expected __uint\(\)/);
  t.like(err, { file: "bad.o", section: ".maps", member: "max_entries" });
  t.is(typeof (err as { typeId?: number }).typeId, "number");
});

test("maps: an inner map whose value struct BTF has only as a forward declaration is an error saying why", async (t) => {
  // As libbpf also refuses ("can't determine value size"): clang records the struct only as a FWD.
  const { elf, btf } = await compileC(`
    struct tally { __u64 count; };
    struct {
      __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
      __uint(max_entries, 4);
      __type(key, __u32);
      __array(values, struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, struct tally); });
    } outer SEC(".maps");
    SEC("xdp") int p(void *ctx) { return 2; }
  `);
  const err = t.throws(() => buildModel(elf, btf, { file: "fwd.o" }));
  t.is(err?.name, "BtfError");
  t.regex(err!.message, /fwd\.o: \.maps: map "outer": BTF type id \d+: FWD 'tally' has no size: clang recorded only a forward declaration, as the object uses it only through pointers; use the type by value/);
});

test("variables: .rodata, .data, .bss and custom sections with real offsets", async (t) => {
  const { elf, btf } = await compileC(`
    const volatile __u32 target_pid = 0;
    const volatile __u64 min_ns = 1000;
    __u64 total = 5;
    __u32 flag = 1;
    __u64 zeroed;
    char buf[32];
    static __u32 hidden_counter;
    int custom_a SEC(".data.custom") = 1;
    __u64 custom_b SEC(".data.custom") = 2;
    const volatile char ro_name[8] SEC(".rodata.names") = "x";
    extern int LINUX_KERNEL_VERSION __attribute__((section(".kconfig"), weak));
    SEC("xdp") int p(void *ctx) { hidden_counter++; zeroed += total + flag + custom_a + custom_b + target_pid + min_ns + buf[1] + ro_name[0] + LINUX_KERNEL_VERSION; return 2; }
  `);
  const model = buildModel(elf, btf, { file: "vars.o" });
  const rows = model.variables.map((v) => [v.section, v.name, v.size, v.constant, v.linkage]).sort((x, y) => (x[0] !== y[0] ? (x[0]! < y[0]! ? -1 : 1) : x[1]! < y[1]! ? -1 : 1));
  t.deepEqual(rows, [
    [".bss", "buf", 32, false, "global"],
    [".bss", "hidden_counter", 4, false, "static"],
    [".bss", "zeroed", 8, false, "global"],
    [".data", "flag", 4, false, "global"],
    [".data", "total", 8, false, "global"],
    [".data.custom", "custom_a", 4, false, "global"],
    [".data.custom", "custom_b", 8, false, "global"],
    [".rodata", "min_ns", 8, true, "global"],
    [".rodata", "target_pid", 4, true, "global"],
    [".rodata.names", "ro_name", 8, true, "global"],
  ]);
  // Sorted by section then offset; inside each section the variables tile without overlap.
  for (let i = 1; i < model.variables.length; i++) {
    const [p, q] = [model.variables[i - 1]!, model.variables[i]!];
    if (p.section === q.section) t.true(p.offset + p.size <= q.offset, `${p.name} and ${q.name} overlap`);
    else t.true(p.section < q.section);
  }
  for (const v of model.variables) t.true(v.offset + v.size <= elf.section(v.section)!.size, `${v.name} inside ${v.section}`);
  // Each offset is where the bytes are: the initial values read back at the model's offsets.
  const read = (name: string) => {
    const v = model.variables.find((x) => x.name === name)!;
    const bytes = elf.section(v.section)!.data();
    const dv = new DataView(bytes.buffer, bytes.byteOffset + v.offset, v.size);
    return v.size === 8 ? dv.getBigUint64(0, true) : BigInt(dv.getUint32(0, true));
  };
  t.is(read("total"), 5n);
  t.is(read("flag"), 1n);
  t.is(read("custom_a"), 1n);
  t.is(read("custom_b"), 2n);
  t.is(read("min_ns"), 1000n);
  t.is(read("target_pid"), 0n);
  t.deepEqual(model.externs.map((e) => [e.section, e.name]), [[".kconfig", "LINUX_KERNEL_VERSION"]]);
});

test("big-endian objects read the same model", async (t) => {
  const le = await compileC(MAPS, { endian: "bpfel" });
  const be = await compileC(MAPS, { endian: "bpfeb" });
  const a = buildModel(le.elf, le.btf, { file: "x.o" });
  const b = buildModel(be.elf, be.btf, { file: "x.o" });
  t.true(a.littleEndian);
  t.false(b.littleEndian);
  const strip = (m: typeof a) => ({ programs: m.programs, maps: m.maps, variables: m.variables });
  t.deepEqual(strip(b), strip(a));
});
