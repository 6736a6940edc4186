// vmlinux.h writer: the header compiles with clang for the BPF target, and clang's sizeof/offsetof
// of every struct checked agree with BTF (the oracle: clang itself, through _Static_assert).

import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readElf } from "@bpf2ts/runtime/object-file";
import { parseBtf, Kind, type Btf, type ParsedBtf } from "../generator/btf/index.js";
import { formatCHeader } from "../generator/workflow/vmlinux-h.js";
import { BtfBuilder } from "./helpers/btf-builder.js";
import { makeTempDir, removeDir, tempDir } from "./helpers/temp-dir.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const VMLINUX = "/sys/kernel/btf/vmlinux";
const requireKernel = process.env.BPF2TS_REQUIRE_KERNEL === "1";
const CLANG = process.env.BPF2TS_CC ?? "clang-19";

/** Compiles `source` next to `header` (as vmlinux.h) for the BPF target; returns clang's diagnostics or throws them. */
function compile(header: string, source: string): string {
  const dir = makeTempDir("bpf2ts-vmlinux-h-");
  try {
    writeFileSync(join(dir, "vmlinux.h"), header);
    writeFileSync(join(dir, "test.bpf.c"), source);
    return execFileSync(CLANG, ["-target", "bpf", "-O2", "-g", "-Werror", "-Wno-pedantic", "-c", "test.bpf.c", "-o", "test.o", "-I/usr/include/bpf", `-I${dir}`],
      { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`clang failed:\n${(e as { stderr?: string }).stderr ?? e}`);
  } finally {
    removeDir(dir);
  }
}

/**
 * `_Static_assert`s on size and member offsets (non-bitfield, named) of the given structs/unions,
 * skipping names BTF holds twice (the header renames those) and `skip` names.
 */
function layoutAsserts(btf: Btf, filter: (index: number) => boolean, skip: Set<string> = new Set()): { lines: string[]; structs: number } {
  const count = new Map<string, number>();
  for (const t of btf.types)
    if ((t.kind === Kind.Struct || t.kind === Kind.Union || t.kind === Kind.Enum || t.kind === Kind.Enum64 || t.kind === Kind.Fwd) && t.name) count.set(t.name, (count.get(t.name) ?? 0) + 1);
  const lines: string[] = [];
  let index = 0;
  let structs = 0;
  for (const t of btf.types) {
    if ((t.kind !== Kind.Struct && t.kind !== Kind.Union) || !t.name || count.get(t.name) !== 1 || skip.has(t.name)) continue;
    if (!filter(index++)) continue;
    structs++;
    const tag = `${t.kind === Kind.Union ? "union" : "struct"} ${t.name}`;
    lines.push(`_Static_assert(sizeof(${tag}) == ${t.size}, "sizeof(${tag})");`);
    for (const m of t.members)
      if (m.name && !m.bitSize)
        lines.push(`_Static_assert(__builtin_offsetof(${tag}, ${m.name}) == ${m.bitOffset / 8}, "offsetof(${tag}, ${m.name})");`);
  }
  // Typedefs of anonymous structs/unions (only reachable through the typedef's name).
  const typedefs = new Map<string, number>();
  for (const t of btf.types) if (t.kind === Kind.Typedef) typedefs.set(t.name, (typedefs.get(t.name) ?? 0) + 1);
  for (const t of btf.types) {
    if (t.kind !== Kind.Typedef || typedefs.get(t.name) !== 1 || skip.has(t.name)) continue;
    const target = btf.types[t.type]!;
    if ((target.kind === Kind.Struct || target.kind === Kind.Union) && target.name === "" && filter(index++)) {
      structs++;
      lines.push(`_Static_assert(sizeof(${t.name}) == ${target.size}, "sizeof(${t.name})");`);
    }
  }
  return { lines, structs };
}

/** vmlinux's BTF and header, built once for the tests that need them. */
let vmlinuxCache: { btf: ParsedBtf; header: string; ms: number } | undefined;
function vmlinux() {
  if (!vmlinuxCache) {
    const btf = parseBtf(readFileSync(VMLINUX), { file: VMLINUX });
    const start = performance.now();
    const header = formatCHeader(btf);
    vmlinuxCache = { btf, header, ms: performance.now() - start };
  }
  return vmlinuxCache;
}

function objectBtf(rel: string): ParsedBtf {
  const elf = readElf(readFileSync(root + rel), rel);
  return parseBtf(elf.section(".BTF")!.data(), { file: rel, section: ".BTF" });
}

test("fixture object: header compiles and every struct has BTF's size and offsets", (t) => {
  const btf = objectBtf("fixtures/objects/kinds.bpfel.o");
  const header = formatCHeader(btf);
  t.is(formatCHeader(btf), header, "deterministic");
  t.is(formatCHeader(objectBtf("fixtures/objects/kinds.bpfeb.o")), header, "same header from either byte order");
  const { lines, structs } = layoutAsserts(btf, () => true);
  t.true(structs >= 5, `${structs} structs`);
  t.regex(header, /^struct packed \{[^}]*\} __attribute__\(\(packed\)\);$/m);
  t.regex(header, /\tunsigned int a: 3;/);
  t.regex(header, /enum small \{[^}]*\} __attribute__\(\(mode\(byte\)\)\);/);
  t.regex(header, /BIG_HUGE = 1234605616436508552ULL,/);
  t.regex(header, /int \(\*callback\)\(int, const char \*restrict, \.\.\.\);/);
  compile(header, [
    '#include "vmlinux.h"',
    ...lines,
    '_Static_assert(sizeof(enum small) == 1, "enum small");',
    '_Static_assert(sizeof(enum big) == 8, "enum big");',
    '_Static_assert(sizeof(((struct event *)0)->wide) == 16, "__int128");',
  ].join("\n") + "\n");
});

test("built BTF: padding, over-aligned and packed structs, name clashes, enums, cycles", (t) => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const u8 = b.int("unsigned char", 1);
  const u32 = b.int("unsigned int", 4);
  const u64 = b.int("long unsigned int", 8);
  // struct gap { int a; /* 12 bytes of hole */ int b; } size 32: needs explicit padding before b and at the end
  b.composite(Kind.Struct, "gap", 32, [{ name: "a", type: int, bitOffset: 0 }, { name: "b", type: int, bitOffset: 128 }]);
  // struct over { int v; } of size 64 (aligned(64) in the source)
  const over = b.composite(Kind.Struct, "over", 64, [{ name: "v", type: int, bitOffset: 0 }]);
  b.composite(Kind.Struct, "holder", 192, [{ name: "c", type: u8, bitOffset: 0 }, { name: "o", type: over, bitOffset: 512 }, { name: "tail", type: u8, bitOffset: 1024 }]);
  // a u64 at offset 1: packed
  b.composite(Kind.Struct, "tight", 9, [{ name: "c", type: u8, bitOffset: 0 }, { name: "x", type: u64, bitOffset: 8 }]);
  // a bitfield straddling its unit: only packed allows it
  b.composite(Kind.Struct, "straddle", 5, [{ name: "c", type: u8, bitOffset: 0 }, { name: "bf", type: u32, bitOffset: 8, bitSize: 30 }], 1);
  // bitfields with a gap between them
  b.composite(Kind.Struct, "bits", 8, [{ name: "lo", type: u32, bitOffset: 0, bitSize: 3 }, { name: "hi", type: u32, bitOffset: 40, bitSize: 5 }], 1);
  // unions larger than their members (members stripped from BTF, or an aligned attribute)
  b.composite(Kind.Union, "wide_u", 24, [{ name: "a", type: int, bitOffset: 0 }]);
  b.composite(Kind.Union, "empty_u", 8, []);
  // two different structs named "dup", a typedef and an enumerator named "clash"
  b.composite(Kind.Struct, "dup", 4, [{ name: "x", type: int, bitOffset: 0 }]);
  b.composite(Kind.Struct, "dup", 8, [{ name: "y", type: u64, bitOffset: 0 }]);
  b.ref(Kind.Typedef, int, "clash");
  b.enum32("e1", 4, [["clash", 1], ["E1_B", -2]], true);
  b.enum32("e8", 8, [["E8_A", 1]]);
  b.enum64("e64", [["E64_MAX", 0xffffffffffffffffn]]);
  b.enum32("", 4, [["ANON_TOP", 7]]);
  // an anonymous enum used by two structs: written once on its own, the users see its integer type
  const shared = b.enum32("", 2, [["SHARED_A", 1]]);
  b.composite(Kind.Struct, "user1", 2, [{ name: "e", type: shared, bitOffset: 0 }]);
  b.composite(Kind.Struct, "user2", 4, [{ name: "x", type: shared, bitOffset: 0 }, { name: "y", type: shared, bitOffset: 16 }]);
  // a pointer cycle through a typedef, and a FWD with the name of a definition
  const nodeFwd = b.fwd("node", false);
  const nodePtr = b.ref(Kind.Ptr, nodeFwd);
  const nodeT = b.ref(Kind.Typedef, nodePtr, "node_p");
  b.composite(Kind.Struct, "node", 16, [{ name: "next", type: nodeT, bitOffset: 0 }, { name: "val", type: int, bitOffset: 64 }]);
  // a typedef'd function pointer, a const array of const char, an anonymous union member
  const cchar = b.ref(Kind.Const, b.int("char", 1, { signed: true, char: true }));
  const arr = b.ref(Kind.Const, b.array(cchar, u32, 8));
  const proto = b.proto(int, [["", nodePtr], ["", 0]]);
  b.ref(Kind.Typedef, b.ref(Kind.Ptr, proto), "visit_fn");
  const anonUnion = b.composite(Kind.Union, "", 8, [{ name: "i", type: int, bitOffset: 0 }, { name: "l", type: u64, bitOffset: 0 }]);
  b.composite(Kind.Struct, "mixed", 24, [{ name: "name", type: arr, bitOffset: 0 }, { name: "", type: anonUnion, bitOffset: 64 }, { name: "done", type: u8, bitOffset: 128 }]);
  const btf = parseBtf(b.build());
  const header = formatCHeader(btf);
  t.regex(header, /^struct dup___2 \{/m);
  t.regex(header, /^\tclash___2 = 1,$/m);
  t.regex(header, /^typedef int clash;$/m);
  t.regex(header, /^struct tight \{[^}]*\} __attribute__\(\(packed\)\);$/m);
  t.regex(header, /^enum \{\n\tANON_TOP = 7,\n\};$/m);
  t.regex(header, /^typedef int \(\*visit_fn\)\(struct node \*, \.\.\.\);$/m);
  t.regex(header, /\tconst char name\[8\];/);
  const { lines } = layoutAsserts(btf, () => true, new Set(["dup"]));
  compile(header, [
    '#include "vmlinux.h"',
    ...lines,
    '_Static_assert(sizeof(struct dup) == 4 && sizeof(struct dup___2) == 8, "dup");',
    '_Static_assert(sizeof(enum e8) == 8 && sizeof(enum e1) == 4, "enum sizes");',
    '_Static_assert(clash___2 == 1 && E1_B == -2 && ANON_TOP == 7 && SHARED_A == 1, "enumerators");',
    "int use(struct node *n, visit_fn f) { return f(n) + n->next->val; }",
  ].join("\n") + "\n");
  t.pass();
});

test("vmlinux: header compiles, CO-RE reads work, and sampled structs match BTF", (t) => {
  if (!existsSync(VMLINUX)) {
    t.log(`kernel feature missing: ${VMLINUX} (CONFIG_DEBUG_INFO_BTF)`);
    if (requireKernel) t.fail("BPF2TS_REQUIRE_KERNEL=1 but the kernel has no BTF");
    else t.pass();
    return;
  }
  const { btf, header, ms } = vmlinux();
  t.log(`vmlinux.h: ${header.length} bytes in ${ms.toFixed(0)} ms`);
  // The same types, under the same names (including `___N` renames), as bpftool defines.
  const defined = (h: string) => [...h.matchAll(/^(?:struct|union|enum) \w+ \{(?:\};)?$|^typedef .*$/gm)].map((m) => m[0].replace(/\s+/g, "")).sort(); // spacing differs (`* const`)
  const bpftool = execFileSync("bpftool", ["btf", "dump", "file", VMLINUX, "format", "c"], { encoding: "utf8", maxBuffer: 256 << 20 });
  const ours = defined(header);
  const theirs = new Set(defined(bpftool));
  t.true(ours.length > 10000);
  t.deepEqual(ours.filter((d) => !theirs.has(d)).slice(0, 10), [], "definitions bpftool does not have");
  t.is(new Set(ours).size, theirs.size);
  // Every 20th uniquely named struct/union (~500), except va_list users: va_list is a pointer for
  // the BPF target and 24 bytes on x86-64, as with bpftool's header.
  const { lines, structs } = layoutAsserts(btf, (i) => i % 20 === 0, new Set(["warn_args"]));
  t.true(structs > 300, `${structs} structs checked`);
  const source = [
    '#include "vmlinux.h"',
    "#include <bpf_helpers.h>",
    "#include <bpf_core_read.h>",
    "#include <bpf_tracing.h>",
    ...lines,
    '_Static_assert(sizeof(struct sk_buff) > 0 && sizeof(struct sock) > 0, "networking types");',
    'char LICENSE[] SEC("license") = "GPL";',
    'SEC("tp_btf/sched_switch")',
    "int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)",
    "{",
    "\tint ppid = BPF_CORE_READ(next, real_parent, tgid);",
    "\tstruct sock *sk = 0;",
    "\tstruct sk_buff *skb = 0;",
    "\tunsigned short family = BPF_CORE_READ(sk, __sk_common.skc_family);",
    "\tunsigned int len = BPF_CORE_READ(skb, len);",
    "\treturn ppid + family + len;",
    "}",
  ].join("\n") + "\n";
  compile(header, source);
});

test("vmlinux: the project's tracers (bpf/*/*.bpf.c) compile against the generated header", (t) => {
  if (!existsSync(VMLINUX)) {
    t.log(`kernel feature missing: ${VMLINUX} (CONFIG_DEBUG_INFO_BTF)`);
    if (requireKernel) t.fail("BPF2TS_REQUIRE_KERNEL=1 but the kernel has no BTF");
    else t.pass();
    return;
  }
  const bpfDir = join(root, "bpf");
  const sources = existsSync(bpfDir)
    ? readdirSync(bpfDir, { withFileTypes: true }).filter((d) => d.isDirectory())
        .map((d) => join(bpfDir, d.name, `${d.name}.bpf.c`)).filter((f) => existsSync(f))
    : [];
  if (sources.length === 0) return t.pass("no tracers in this checkout");
  const dir = tempDir(t, "bpf2ts-vmlinux-h-");
  try {
    writeFileSync(join(dir, "vmlinux.h"), vmlinux().header);
    // One clang process, syntax and semantics only: the header is what is under test.
    execFileSync(CLANG, ["-target", "bpf", "-D__TARGET_ARCH_x86", "-g", "-fsyntax-only", `-I${dir}`, `-I${bpfDir}`, ...sources],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    t.log(`${sources.length} tracers compile`);
    t.pass();
  } catch (e) {
    t.fail(`clang failed:\n${(e as { stderr?: string }).stderr ?? e}`);
  }
});
