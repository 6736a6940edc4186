// BTF parser: real objects and vmlinux against bpftool's raw dump, hand-built blobs for every kind,
// error cases, and the helpers (resolve, sizeof, alignof, cDeclaration).

import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readElf } from "@bpf2ts/runtime/object-file";
import { parseBtf, resolve, sizeof, alignof, isPacked, cDeclaration, Kind, type ParsedBtf, type Type } from "../generator/btf/index.js";
import { parseBtfExt, coreReloCounts } from "../generator/btf/ext.js";
import { formatRaw, formatRawType, splitRaw } from "./helpers/bpftool-raw.js";
import { BtfBuilder } from "./helpers/btf-builder.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const objects = ["kinds", "minimal"].flatMap((stem) => ["bpfel", "bpfeb"].map((target) => `fixtures/objects/${stem}.${target}.o`));
const VMLINUX = "/sys/kernel/btf/vmlinux";
const requireKernel = process.env.BPF2TS_REQUIRE_KERNEL === "1";

function objectBtf(rel: string): ParsedBtf {
  const elf = readElf(readFileSync(root + rel), rel);
  return parseBtf(elf.section(".BTF")!.data(), { file: rel, section: ".BTF" });
}

function bpftoolRaw(file: string, cwd = root): string {
  return execFileSync("bpftool", ["btf", "dump", "file", file, "format", "raw"], { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
}

/** Compares every type block with bpftool's, reporting the first differences by id. */
function compareWithBpftool(t: import("ava").ExecutionContext, btf: ParsedBtf, raw: string): void {
  const expected = splitRaw(raw);
  t.is(btf.types.length - 1, expected.size, "type count");
  const diffs: string[] = [];
  for (let id = 1; id < btf.types.length && diffs.length < 5; id++) {
    const ours = formatRawType(btf, btf.types[id]!);
    if (ours !== expected.get(id)) diffs.push(`ours:\n${ours}\nbpftool:\n${expected.get(id)}`);
  }
  t.deepEqual(diffs, []);
}

for (const rel of objects) {
  test(`${rel}: every type matches bpftool's raw dump`, (t) => {
    compareWithBpftool(t, objectBtf(rel), bpftoolRaw(rel));
  });
}

test("bpfel and bpfeb objects give identical graphs", (t) => {
  for (const stem of ["kinds", "minimal"]) {
    const el = objectBtf(`fixtures/objects/${stem}.bpfel.o`);
    const be = objectBtf(`fixtures/objects/${stem}.bpfeb.o`);
    t.true(el.littleEndian);
    t.false(be.littleEndian);
    t.is(formatRaw(el), formatRaw(be));
  }
});

test("the kinds object holds every kind clang emits", (t) => {
  const btf = objectBtf("fixtures/objects/kinds.bpfel.o");
  const kinds = new Set(btf.types.map((x) => x.kind));
  for (const k of [Kind.Int, Kind.Ptr, Kind.Array, Kind.Struct, Kind.Union, Kind.Enum, Kind.Enum64, Kind.Fwd, Kind.Typedef,
    Kind.Volatile, Kind.Const, Kind.Restrict, Kind.Func, Kind.FuncProto, Kind.Var, Kind.Datasec, Kind.Float, Kind.DeclTag, Kind.TypeTag])
    t.true(kinds.has(k), `kind ${k}`);
});

test("vmlinux: every type matches bpftool's raw dump", (t) => {
  if (!existsSync(VMLINUX)) {
    t.log(`kernel feature missing: ${VMLINUX} (CONFIG_DEBUG_INFO_BTF)`);
    if (requireKernel) t.fail("BPF2TS_REQUIRE_KERNEL=1 but the kernel has no BTF");
    else t.pass();
    return;
  }
  const start = performance.now();
  const btf = parseBtf(readFileSync(VMLINUX), { file: VMLINUX });
  t.log(`parsed ${btf.types.length - 1} types in ${(performance.now() - start).toFixed(0)} ms`);
  compareWithBpftool(t, btf, bpftoolRaw(VMLINUX));
  const task = btf.types[btf.byName("task_struct").find((id) => btf.types[id]!.kind === Kind.Struct)!]!;
  t.is(sizeof(btf, task.id), (task as { size: number }).size);
});

test(".BTF.ext: func_info, line_info and CO-RE relocations of both byte orders", (t) => {
  const results = ["bpfel", "bpfeb"].map((target) => {
    const rel = `fixtures/objects/kinds.${target}.o`;
    const elf = readElf(readFileSync(root + rel), rel);
    const btf = parseBtf(elf.section(".BTF")!.data(), { file: rel });
    const ext = parseBtfExt(elf.section(".BTF.ext")!.data(), btf, { file: rel });
    return { btf, ext };
  });
  t.deepEqual(results[0]!.ext, results[1]!.ext);
  const { btf, ext } = results[0]!;
  const funcs = ext.funcInfo.map((s) => `${s.section}:${s.records.map((r) => btf.types[r.typeId]!.name).join(",")}`).sort();
  t.deepEqual(funcs, [".text:helper", "raw_tp/sched_switch:handle_switch", "tracepoint/syscalls/sys_enter_execve:handle_exec"]);
  t.deepEqual([...coreReloCounts(ext)], [["raw_tp/sched_switch", 3]]);
  const relos = ext.coreRelos[0]!.records;
  t.true(relos.every((r) => btf.types[r.typeId]!.name === "task_like"));
  t.deepEqual(relos.map((r) => `${r.kindName} ${r.accessStr}`).sort(), ["field_byte_offset 0:0", "field_byte_offset 0:1", "field_exists 0:1"]);
  t.true(ext.lineInfo.every((s) => s.records.every((r) => r.fileName.endsWith("kinds.bpf.c") && r.lineNum > 0)));
});

// ---- hand-built blobs ----

const orders = [true, false] as const;

function build(fill: (b: BtfBuilder) => void, le: boolean): ParsedBtf {
  const b = new BtfBuilder();
  fill(b);
  return parseBtf(b.build(le), { file: "built" });
}

/** A type's own fields (lists included), for deepEqual. */
function plain(t: Type): Record<string, unknown> {
  const o: Record<string, unknown> = { ...t };
  if (t.kind === Kind.Struct || t.kind === Kind.Union) o.members = t.members.map((m) => ({ ...m }));
  if (t.kind === Kind.Enum || t.kind === Kind.Enum64) { o.values = t.values.map((v) => ({ ...v })); o.signed = t.signed; }
  if (t.kind === Kind.FuncProto) o.params = t.params.map((p) => ({ ...p }));
  if (t.kind === Kind.Datasec) o.vars = t.vars.map((v) => ({ ...v }));
  return o;
}

const kindCases: { title: string; fill: (b: BtfBuilder) => void; id: number; expect: Record<string, unknown> }[] = [
  { title: "INT signed char", fill: (b) => b.int("char", 1, { signed: true, char: true }), id: 1,
    expect: { kind: Kind.Int, id: 1, name: "char", size: 1, signed: true, char: true, bool: false, bitOffset: 0, bits: 8 } },
  { title: "INT bool", fill: (b) => b.int("_Bool", 1, { bool: true }), id: 1,
    expect: { kind: Kind.Int, id: 1, name: "_Bool", size: 1, signed: false, char: false, bool: true, bitOffset: 0, bits: 8 } },
  { title: "INT __int128", fill: (b) => b.int("__int128", 16, { signed: true }), id: 1,
    expect: { kind: Kind.Int, id: 1, name: "__int128", size: 16, signed: true, char: false, bool: false, bitOffset: 0, bits: 128 } },
  { title: "PTR to void", fill: (b) => b.ref(Kind.Ptr, 0), id: 1, expect: { kind: Kind.Ptr, id: 1, name: "", type: 0 } },
  { title: "ARRAY", fill: (b) => { b.int("int", 4); b.array(1, 1, 7); }, id: 2,
    expect: { kind: Kind.Array, id: 2, name: "", type: 1, indexType: 1, nelems: 7 } },
  { title: "STRUCT with kind_flag bitfields", id: 2,
    fill: (b) => { b.int("unsigned int", 4); b.composite(Kind.Struct, "s", 4, [{ name: "a", type: 1, bitOffset: 0, bitSize: 3 }, { name: "b", type: 1, bitOffset: 3, bitSize: 29 }], 1); },
    expect: { kind: Kind.Struct, id: 2, name: "s", size: 4, members: [{ name: "a", type: 1, bitOffset: 0, bitSize: 3 }, { name: "b", type: 1, bitOffset: 3, bitSize: 29 }] } },
  { title: "STRUCT with legacy (kind_flag 0) INT-encoded bitfields is normalised", id: 4,
    fill: (b) => {
      b.int("unsigned int", 4);
      b.int("unsigned int", 4, { bits: 5, offset: 2 });
      b.ref(Kind.Typedef, 2, "u5");
      b.composite(Kind.Struct, "legacy", 8, [{ name: "plain", type: 1, bitOffset: 0 }, { name: "bf", type: 3, bitOffset: 32 }]);
    },
    expect: { kind: Kind.Struct, id: 4, name: "legacy", size: 8, members: [{ name: "plain", type: 1, bitOffset: 0, bitSize: 0 }, { name: "bf", type: 3, bitOffset: 34, bitSize: 5 }] } },
  { title: "UNION with anonymous member", id: 2,
    fill: (b) => { b.int("int", 4, { signed: true }); b.composite(Kind.Union, "", 4, [{ name: "", type: 1, bitOffset: 0 }, { name: "x", type: 1, bitOffset: 0 }]); },
    expect: { kind: Kind.Union, id: 2, name: "", size: 4, members: [{ name: "", type: 1, bitOffset: 0, bitSize: 0 }, { name: "x", type: 1, bitOffset: 0, bitSize: 0 }] } },
  { title: "ENUM signed", id: 1, fill: (b) => b.enum32("e", 4, [["NEG", -5], ["MAX", 0x7fffffff]], true),
    expect: { kind: Kind.Enum, id: 1, name: "e", size: 4, signed: true, values: [{ name: "NEG", value: -5n }, { name: "MAX", value: 0x7fffffffn }] } },
  { title: "ENUM unsigned", id: 1, fill: (b) => b.enum32("u", 4, [["BIG", 0xffffffff]]),
    expect: { kind: Kind.Enum, id: 1, name: "u", size: 4, signed: false, values: [{ name: "BIG", value: 0xffffffffn }] } },
  { title: "ENUM64 signed and unsigned", id: 2,
    fill: (b) => { b.enum64("u64e", [["TOP", 0xffffffffffffffffn]]); b.enum64("s64e", [["MINUS", -1n], ["LOW", -(2n ** 63n)]], true); },
    expect: { kind: Kind.Enum64, id: 2, name: "s64e", size: 8, signed: true, values: [{ name: "MINUS", value: -1n }, { name: "LOW", value: -(2n ** 63n) }] } },
  { title: "FWD union", id: 1, fill: (b) => b.fwd("u", true), expect: { kind: Kind.Fwd, id: 1, name: "u", union: true } },
  { title: "TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG chain", id: 5,
    fill: (b) => { b.ref(Kind.Ptr, 0); b.ref(Kind.Restrict, 1); b.ref(Kind.Const, 2); b.ref(Kind.Volatile, 3); b.ref(Kind.TypeTag, 4, "user"); },
    expect: { kind: Kind.TypeTag, id: 5, name: "user", type: 4 } },
  { title: "FUNC and variadic FUNC_PROTO", id: 3,
    fill: (b) => { b.int("int", 4, { signed: true }); b.proto(1, [["fmt", 1], ["", 0]]); b.func("printk", 2, 2); },
    expect: { kind: Kind.Func, id: 3, name: "printk", type: 2, linkage: 2 } },
  { title: "FUNC_PROTO params", id: 2,
    fill: (b) => { b.int("int", 4, { signed: true }); b.proto(1, [["fmt", 1], ["", 0]]); },
    expect: { kind: Kind.FuncProto, id: 2, name: "", returnType: 1, params: [{ name: "fmt", type: 1 }, { name: "", type: 0 }] } },
  { title: "VAR and DATASEC", id: 3,
    fill: (b) => { b.int("int", 4); b.variable("counter", 1, 1); b.datasec(".bss", 8, [[2, 4, 4]]); },
    expect: { kind: Kind.Datasec, id: 3, name: ".bss", size: 8, vars: [{ type: 2, offset: 4, size: 4 }] } },
  { title: "VAR linkage", id: 2, fill: (b) => { b.int("int", 4); b.variable("v", 1, 2); },
    expect: { kind: Kind.Var, id: 2, name: "v", type: 1, linkage: 2 } },
  { title: "FLOAT", id: 1, fill: (b) => b.float("long double", 16), expect: { kind: Kind.Float, id: 1, name: "long double", size: 16 } },
  { title: "DECL_TAG on a member", id: 3,
    fill: (b) => { b.int("int", 4); b.composite(Kind.Struct, "s", 4, [{ name: "x", type: 1, bitOffset: 0 }]); b.declTag("tag", 2, 0); },
    expect: { kind: Kind.DeclTag, id: 3, name: "tag", type: 2, componentIdx: 0 } },
  { title: "DECL_TAG on the type", id: 2, fill: (b) => { b.int("int", 4); b.declTag("whole", 1, -1); },
    expect: { kind: Kind.DeclTag, id: 2, name: "whole", type: 1, componentIdx: -1 } },
  { title: "non-ASCII names decode as UTF-8", id: 1, fill: (b) => b.int("naïve_int", 4), 
    expect: { kind: Kind.Int, id: 1, name: "naïve_int", size: 4, signed: false, char: false, bool: false, bitOffset: 0, bits: 32 } },
];

for (const c of kindCases)
  for (const le of orders)
    test(`built ${le ? "LE" : "BE"}: ${c.title}`, (t) => {
      const btf = build(c.fill, le);
      t.is(btf.littleEndian, le);
      t.deepEqual(plain(btf.types[c.id]!), c.expect);
    });

const errorCases: { title: string; blob: () => Uint8Array; match: RegExp; typeId?: number }[] = [
  { title: "bad magic", blob: () => { const x = new BtfBuilder().build(); x[0] = 0; return x; }, match: /bad magic/ },
  { title: "version 2", blob: () => { const x = new BtfBuilder().build(); x[2] = 2; return x; }, match: /unsupported version 2/ },
  { title: "header truncated", blob: () => new BtfBuilder().build().subarray(0, 10), match: /header truncated/ },
  { title: "string section past end", blob: () => { const b = new BtfBuilder(); b.int("int", 4); return b.build().subarray(0, 30); }, match: /extends past end of blob/ },
  { title: "unknown kind", blob: () => { const b = new BtfBuilder(); b.int("int", 4); b.raw("x", 25, 0, 0, 0); return b.build(); }, match: /type 2: unknown kind 25/, typeId: 2 },
  { title: "reference past the last type", blob: () => { const b = new BtfBuilder(); b.int("int", 4); b.ref(Kind.Ptr, 9); b.ref(Kind.Ptr, 1); return b.build(); }, match: /type 2: refers to type 9, but there are only 4 types/, typeId: 2 },
  { title: "member type past the last type", blob: () => { const b = new BtfBuilder(); b.composite(Kind.Struct, "s", 4, [{ name: "m", type: 40, bitOffset: 0 }]); return b.build(); }, match: /type 1: refers to type 40/, typeId: 1 },
  { title: "name past string section", blob: () => { const b = new BtfBuilder(); b.raw(5000, Kind.Int, 0, 0, 4, [32]); return b.build(); }, match: /type 1: name offset 0x1388 is outside the string section/, typeId: 1 },
  { title: "member name past string section", blob: () => { const b = new BtfBuilder(); b.int("int", 4); b.raw("s", Kind.Struct, 1, 0, 4, [999, 1, 0]); return b.build(); }, match: /type 2: member 0 name offset/, typeId: 2 },
  { title: "record with more members than bytes", blob: () => { const b = new BtfBuilder(); b.raw("s", Kind.Struct, 1000, 0, 4, [0, 0, 0]); return b.build(); }, match: /type 1: STRUCT record truncated/, typeId: 1 },
  { title: "INT with impossible size", blob: () => { const b = new BtfBuilder(); b.int("i", 3); return b.build(); }, match: /type 1: INT size 3/, typeId: 1 },
  { title: "INT bits wider than size", blob: () => { const b = new BtfBuilder(); b.int("i", 4, { bits: 40 }); return b.build(); }, match: /type 1: INT bits 40/, typeId: 1 },
];

for (const c of errorCases)
  test(`built: error on ${c.title}`, (t) => {
    const err = t.throws(() => parseBtf(c.blob(), { file: "bad.o", section: ".BTF" }));
    t.is(err?.name, "BtfError");
    t.regex(err!.message, /^bad\.o: section \.BTF: /);
    t.regex(err!.message, c.match);
    t.is((err as unknown as { typeId?: number }).typeId, c.typeId);
    t.is((err as unknown as { file?: string }).file, "bad.o");
  });

test("lists are built on first read; enum values and datasec vars survive a spread", (t) => {
  const btf = build((b) => {
    b.int("int", 4);
    b.enum32("e", 4, [["A", 1]]);
    b.variable("v", 1, 1);
    b.datasec(".data", 4, [[3, 0, 4]]);
    b.composite(Kind.Struct, "s", 4, [{ name: "x", type: 1, bitOffset: 0 }]);
  }, true);
  const e = btf.types[2]!;
  t.deepEqual(({ ...e } as { values?: unknown }).values, [{ name: "A", value: 1n }]);
  t.deepEqual(({ ...btf.types[4]! } as { vars?: unknown }).vars, [{ type: 3, offset: 0, size: 4 }]);
  const s = btf.types[5] as Type & { members: readonly unknown[] };
  t.is(s.members, s.members, "built once, then cached");
  t.deepEqual(s.members, [{ name: "x", type: 1, bitOffset: 0, bitSize: 0 }]);
});

test("a blob at an unaligned offset parses the same (copied once, not misread)", (t) => {
  for (const le of orders) {
    const b = new BtfBuilder();
    b.int("int", 4, { signed: true });
    b.composite(Kind.Struct, "s", 8, [{ name: "a", type: 1, bitOffset: 0 }, { name: "b", type: 1, bitOffset: 32 }]);
    const blob = b.build(le);
    const shifted = new Uint8Array(blob.length + 3);
    shifted.set(blob, 3);
    t.is(formatRaw(parseBtf(shifted.subarray(3))), formatRaw(parseBtf(blob)));
  }
});

test("split BTF continues ids and strings from its base", (t) => {
  const base = new BtfBuilder();
  base.int("int", 4, { signed: true });
  base.composite(Kind.Struct, "task", 4, [{ name: "pid", type: 1, bitOffset: 0 }]);
  const baseBtf = parseBtf(base.build(), { file: "vmlinux" });
  const split = new BtfBuilder({ firstId: 3, strBase: baseBtf.strings.end });
  split.ref(Kind.Ptr, 2);
  split.composite(Kind.Struct, "mod_thing", 8, [{ name: "owner", type: 3, bitOffset: 0 }]);
  const btf = parseBtf(split.build(), { file: "mod", base: baseBtf });
  t.is(btf.types.length, 5);
  t.is(btf.firstId, 3);
  t.is(cDeclaration(btf, 4, "x"), "struct mod_thing x");
  t.is(cDeclaration(btf, btf.byName("mod_thing")[0]!), "struct mod_thing");
  t.is(cDeclaration(btf, (btf.types[4] as unknown as { members: { type: number }[] }).members[0]!.type), "struct task *");
  t.deepEqual(btf.byName("task"), [2]);
});

// ---- helpers ----

test("cDeclaration spells C declarations", (t) => {
  const btf = objectBtf("fixtures/objects/kinds.bpfel.o");
  const event = btf.types[btf.byName("event").find((id) => btf.types[id]!.kind === Kind.Struct)!] as Type & { members: readonly { name: string; type: number }[] };
  const decl = Object.fromEntries(event.members.map((m) => [m.name, cDeclaration(btf, m.type, m.name)]));
  t.is(cDeclaration(btf, event.id), "struct event");
  t.is(decl.pid, "u32_t pid");
  t.is(decl.comm, "char comm[16]");
  t.is(decl.matrix, "int matrix[2][3]");
  t.is(decl.cv, "const volatile int cv");
  t.is(decl.op, "struct opaque *op");
  t.is(decl.fu, "union fwd_union *fu");
  t.is(decl.callback, "int (*callback)(int, const char *restrict, ...)");
  t.is(decl.noargs, "void (*noargs)(void)");
  t.is(decl.uptr, "char *uptr");
  t.is(decl.flex, "unsigned char flex[]");
  t.is(cDeclaration(btf, event.members.find((m) => m.name === "flex")!.type, "flex", { zeroLength: "[0]" }), "unsigned char flex[0]", "C headers keep the size");
  const comm = event.members.find((m) => m.name === "comm")!;
  t.is(cDeclaration(btf, comm.type), "char[16]");
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  const td = b.ref(Kind.Typedef, u32, "u32");
  const p = b.ref(Kind.Ptr, td);
  const cp = b.ref(Kind.Const, p);
  const arr = b.array(p, u32, 4);
  const parr = b.ref(Kind.Ptr, arr);
  const built = parseBtf(b.build());
  t.is(cDeclaration(built, p), "u32 *");
  t.is(cDeclaration(built, cp, "x"), "u32 *const x");
  t.is(cDeclaration(built, arr, "a"), "u32 *a[4]");
  t.is(cDeclaration(built, parr, "pa"), "u32 *(*pa)[4]");
  t.is(cDeclaration(built, u32), "unsigned int");
});

test("resolve, sizeof, alignof and isPacked", (t) => {
  const btf = objectBtf("fixtures/objects/kinds.bpfeb.o");
  const struct = (name: string) => btf.byName(name).find((id) => btf.types[id]!.kind === Kind.Struct)!;
  t.is(sizeof(btf, struct("event")), 240);
  t.is(alignof(btf, struct("event")), 16, "holds an __int128, which clang aligns to 16");
  t.is(sizeof(btf, struct("packed")), 7);
  t.is(alignof(btf, struct("packed")), 1);
  t.true(isPacked(btf, struct("packed")));
  t.false(isPacked(btf, struct("event")));
  t.is(sizeof(btf, struct("bits")), 8);
  t.is(alignof(btf, struct("bits")), 8);
  const target = btf.byName("target_pid").find((id) => btf.types[id]!.kind === Kind.Var)!;
  const varType = (btf.types[target] as { type: number }).type;
  t.is(resolve(btf, varType).name, "unsigned int");
  t.is(sizeof(btf, target), 4);
  const matrix = (btf.types[struct("event")] as { members: readonly { name: string; type: number }[] }).members.find((m) => m.name === "matrix")!;
  t.is(sizeof(btf, matrix.type), 24);
  t.is(alignof(btf, matrix.type), 4);
  const fwd = btf.byName("opaque")[0]!;
  const err = t.throws(() => sizeof(btf, fwd));
  t.is(err?.name, "BtfError");
  // A typedef cycle (corrupted input) ends in an error, not a hang.
  const b = new BtfBuilder();
  b.ref(Kind.Typedef, 2, "a");
  b.ref(Kind.Typedef, 1, "b");
  const cyc = parseBtf(b.build());
  t.is(t.throws(() => resolve(cyc, 1))?.name, "BtfError");
  t.is(t.throws(() => sizeof(cyc, 1))?.name, "BtfError");
  t.is(cDeclaration(cyc, 1), "a");
  const selfPtr = new BtfBuilder();
  selfPtr.ref(Kind.Ptr, 1);
  t.is(t.throws(() => cDeclaration(parseBtf(selfPtr.build()), 1))?.name, "BtfError");
});

// ---- .BTF.ext errors ----

const extCases: { title: string; patch: (b: Uint8Array, v: DataView, le: boolean) => Uint8Array; match: RegExp }[] = [
  { title: "truncated header", patch: (b) => b.subarray(0, 10), match: /header truncated \(size 10, need 24\)/ },
  { title: "bad magic", patch: (b) => { b[0] = 0x12; return b; }, match: /bad magic/ },
  { title: "func_info past end", patch: (b, v, le) => { v.setUint32(12, 0xffff, le); return b; }, match: /func_info extends past end of section/ },
  { title: "record size too small", patch: (b, v, le) => { v.setUint32(v.getUint32(4, le) + v.getUint32(16, le), 4, le); return b; }, match: /line_info: record size 4 is invalid \(minimum 16\)/ },
  { title: "record count past end", patch: (b, v, le) => { const o = v.getUint32(4, le) + v.getUint32(8, le) + 4; v.setUint32(o + 4, 1000, le); return b; }, match: /func_info: 1000 records for .* extend past end of block/ },
  { title: "section name outside the strings", patch: (b, v, le) => { const o = v.getUint32(4, le) + v.getUint32(8, le) + 4; v.setUint32(o, 0xfffffff, le); return b; }, match: /func_info section name: string offset 0xfffffff is not in the \.BTF string section/ },
];

for (const c of extCases)
  for (const target of ["bpfel", "bpfeb"])
    test(`.BTF.ext ${target}: error on ${c.title}`, (t) => {
      const rel = `fixtures/objects/kinds.${target}.o`;
      const elf = readElf(readFileSync(root + rel), rel);
      const btf = parseBtf(elf.section(".BTF")!.data());
      const bytes = new Uint8Array(elf.section(".BTF.ext")!.data());
      const patched = c.patch(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), target === "bpfel");
      const err = t.throws(() => parseBtfExt(patched, btf, { file: "x.o" }));
      t.is(err?.name, "BtfError");
      t.regex(err!.message, /^x\.o: section \.BTF\.ext: /);
      t.regex(err!.message, c.match);
    });
