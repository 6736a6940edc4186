// The in-process `llvm-strip -g` (generator/compile/strip-debug.ts) against llvm-strip-19 itself, on
// every tracer and fixture, both byte orders: the same sections in the same order with the same
// bytes, the same symbols, and in fact the same file. Malformed objects are refused with an ElfError
// naming the file, and the stripped object loads with libbpf.

import test from "ava";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { loadObjectSync } from "@bpf2ts/runtime";
import { readElf, type ElfFile } from "@bpf2ts/runtime/object-file";
import { compile, findClang, which, type Endian } from "../generator/compile/clang.js";
import { buildStringTable, stripDebug } from "../generator/compile/strip-debug.js";
import { descriptor, requireFeature } from "./helpers/kernel.js";
import { tempDir } from "./helpers/temp-dir.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const LLVM_STRIP = "llvm-strip-19";

/** Every tracer (as bpf/bpf2ts.config.json builds it) and every fixture (as fixtures/build.sh does). */
const sources = [
  ...readdirSync(join(root, "bpf"), { withFileTypes: true })
    .filter((d) => d.isDirectory() && readdirSync(join(root, "bpf", d.name)).includes(`${d.name}.bpf.c`))
    .map((d) => ({ source: `${d.name}/${d.name}.bpf.c`, cwd: join(root, "bpf"), cflags: ["-I", "."] })),
  ...readdirSync(join(root, "fixtures"))
    .filter((f) => f.endsWith(".bpf.c"))
    .map((f) => ({ source: `fixtures/${f}`, cwd: root, cflags: ["-Ifixtures/include"] })),
];

const run = promisify(execFile);

/** Runs `jobs` two at a time (the machine has two cores). */
async function twoAtATime<T>(jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

const symbolsOf = (elf: ElfFile) => elf.symbols().map((s) => ({ name: s.name, value: s.value, size: s.size, type: s.type, bind: s.bind, section: s.sectionName }));

test("stripDebug: what llvm-strip-19 -g writes, for every tracer and fixture, both byte orders", async (t) => {
  if (!which(LLVM_STRIP)) return t.fail(`${LLVM_STRIP} is required for this test (bash scripts/setup.sh installs llvm-19)`);
  const clang = await findClang();
  const dir = tempDir(t, "bpf2ts-strip-test-");
  const cases = sources.flatMap((s) => (["bpfel", "bpfeb"] as Endian[]).map((endian) => ({ ...s, endian })));
  t.true(cases.length >= 40, `${cases.length} objects`);
  const results = await twoAtATime(
    cases.map((c, i) => async () => {
      const { object } = await compile({ source: c.source, target: { endian: c.endian, arch: "x86" }, cflags: c.cflags, clang, strip: false, cwd: c.cwd });
      const input = join(dir, `${i}.o`);
      writeFileSync(input, object);
      await run(LLVM_STRIP, ["-g", input, "-o", `${input}.llvm`]);
      return { name: `${c.source} (${c.endian})`, unstripped: object, llvm: readFileSync(`${input}.llvm`) };
    }),
  );
  for (const { name, unstripped, llvm } of results) {
    const ours = stripDebug(unstripped, name);
    const [a, b] = [readElf(ours, name), readElf(llvm, `${name} by llvm-strip`)];
    t.true(readElf(unstripped).sections.some((s) => s.name.startsWith(".debug_")), `${name}: the input has DWARF`);
    t.deepEqual(a.sections.map((s) => s.name), b.sections.map((s) => s.name), `${name}: sections`);
    t.false(a.sections.some((s) => s.name.startsWith(".debug") || s.name.startsWith(".rel.debug")), `${name}: no DWARF left`);
    for (const s of a.sections.slice(1)) {
      const other = b.sections[s.index]!;
      if (s.name === ".symtab" || s.name === ".strtab") continue;
      t.deepEqual([s.type, s.flags, s.link, s.info, s.addralign, s.entsize], [other.type, other.flags, other.link, other.info, other.addralign, other.entsize], `${name}: header of ${s.name}`);
      t.true(Buffer.from(s.data()).equals(other.data()), `${name}: bytes of ${s.name}`);
    }
    t.deepEqual(symbolsOf(a), symbolsOf(b), `${name}: symbols`);
    t.true(Buffer.from(ours).equals(llvm), `${name}: byte-identical to llvm-strip's file`);
    t.true(Buffer.from(stripDebug(ours, name)).equals(ours), `${name}: stripping a stripped object changes nothing`);
  }
});

test("stripDebug: the input is left as it was", async (t) => {
  const clang = await findClang();
  const { object } = await compile({ source: "execsnoop/execsnoop.bpf.c", target: { endian: "bpfel", arch: "x86" }, cflags: ["-I", "."], clang, strip: false, cwd: join(root, "bpf") });
  const copy = Buffer.from(object);
  stripDebug(object, "execsnoop.o");
  t.true(object.equals(copy));
});

test("buildStringTable: LLVM's order (reversed strings, greatest first) with shared tails", (t) => {
  const enc = (s: string) => Buffer.from(s, "latin1");
  const table = buildStringTable(["", ".text", ".rel.text", "b", "ab", "a", ".BTF", ".rel.BTF", ".BTF.ext"].map(enc));
  // Read backwards, greatest first: .rel.text, .text (its tail), .BTF.ext, ab, b (its tail), a, .rel.BTF, .BTF (its tail).
  t.is(Buffer.from(table.bytes).toString("latin1"), "\0.rel.text\0.BTF.ext\0ab\0a\0.rel.BTF\0");
  const expected = { "": 0, ".rel.text": 1, ".text": 5, ".BTF.ext": 11, ab: 20, b: 21, a: 23, ".rel.BTF": 25, ".BTF": 29 };
  t.is(table.offsets.size, Object.keys(expected).length);
  for (const [name, offset] of Object.entries(expected)) t.is(table.offsets.get(name), offset, name);
});

test("stripDebug: malformed or unsupported objects are refused with an ElfError naming the file", async (t) => {
  const clang = await findClang();
  const { object } = await compile({ source: "execsnoop/execsnoop.bpf.c", target: { endian: "bpfel", arch: "x86" }, cflags: ["-I", "."], clang, strip: false, cwd: join(root, "bpf") });
  const refused = (bytes: Uint8Array, message: RegExp, what: string) => {
    const e = t.throws(() => stripDebug(bytes, "bad.o"), { name: "ElfError", message }, what);
    t.is((e as { file?: string } | undefined)?.file, "bad.o", what);
  };
  const patched = (edit: (b: Buffer, v: DataView) => void) => {
    const b = Buffer.from(object);
    edit(b, new DataView(b.buffer, b.byteOffset, b.byteLength));
    return b;
  };
  refused(new Uint8Array(0), /^bad\.o: not an ELF file/, "empty");
  refused(Buffer.from("\x7fELF"), /^bad\.o: ELF header truncated/, "header cut");
  refused(patched((b) => b.write("\x7fELG", 0, "latin1")), /^bad\.o: not an ELF file \(bad magic\)/, "magic");
  refused(patched((b) => (b[4] = 1)), /^bad\.o: ELF class 1 is not supported, only ELF64/, "ELF32");
  refused(patched((_, v) => v.setUint16(16, 2, true)), /^bad\.o: ELF type 2 is not a relocatable object/, "ET_EXEC");
  refused(object.subarray(0, object.length - 100), /^bad\.o: section header table extends past end of file/, "truncated");
  refused(object.subarray(0, 0x200), /past end of file/, "cut short");
  const elf = readElf(object, "x.o");
  const shoff = Number(new DataView(object.buffer, object.byteOffset).getBigUint64(40, true));
  const btf = elf.section(".BTF")!;
  refused(patched((_, v) => v.setBigUint64(shoff + btf.index * 64 + 32, BigInt(object.length), true)), /^bad\.o: section \.BTF: data extends past end of file/, "section past the end");
  refused(patched((_, v) => v.setUint16(62, 999, true)), /^bad\.o: section name table index 999 out of range/, "shstrndx");
  // A relocation that names a debug section's symbol: stripping would break it, so it is refused.
  const debugSymbol = elf.symbols().find((s) => s.sectionName.startsWith(".debug_"))!;
  const relBtf = elf.section(".rel.BTF")!;
  refused(patched((_, v) => v.setUint32(relBtf.offset + 12, debugSymbol.index, true)), new RegExp(`^bad\\.o: section \\.rel\\.BTF: relocation #0 names symbol ${debugSymbol.name.replace(/\./g, "\\.") || "#\\d+"}, which is debug information`), "relocation to a debug symbol");
  refused(patched((_, v) => v.setUint32(relBtf.offset + 12, 9999, true)), /^bad\.o: section \.rel\.BTF: relocation #0 names symbol #9999, which does not exist/, "relocation to no symbol");
  const symtab = elf.section(".symtab")!;
  refused(patched((_, v) => v.setUint32(symtab.offset + 24 * 3, 1 << 30, true)), /^bad\.o: symbol #3: string offset 0x40000000 is past the end of the string table/, "symbol name");
});

test("the stripped object loads with libbpf", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "tracepoint", "ringbuf"))) return;
  const clang = await findClang();
  const { object } = await compile({ source: "execsnoop/execsnoop.bpf.c", target: { endian: "bpfel", arch: "x86" }, cflags: ["-I", "."], clang, strip: false, cwd: join(root, "bpf") });
  const stripped = stripDebug(object, "execsnoop.o");
  const obj = loadObjectSync(descriptor("execsnoop", stripped));
  try {
    t.deepEqual(Object.keys(obj.programs).sort(), ["handle_execve_enter", "handle_execve_exit"]);
    const links = await obj.attach();
    links.close();
  } finally {
    obj.close();
  }
});
