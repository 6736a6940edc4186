// ELF64 reader: sections, symbols and relocations of real objects (both byte orders) against
// readelf, and clear errors on malformed files.

import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readElf, EM_BPF, SHT_NOBITS, STT_SECTION, type ElfFile } from "@bpf2ts/runtime/object-file";

const root = fileURLToPath(new URL("../..", import.meta.url));
const objects = ["kinds", "minimal"].flatMap((stem) => ["bpfel", "bpfeb"].map((target) => `fixtures/objects/${stem}.${target}.o`));

const readelf = ["readelf", "llvm-readelf-19"].find((cmd) => {
  try {
    execFileSync(cmd, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});

function run(args: string[]): string {
  return execFileSync(readelf!, ["-W", ...args], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
}

const load = (rel: string): ElfFile => readElf(readFileSync(rel.startsWith("/") ? rel : root + rel), rel);

/** `readelf -S -W` rows: index, name, type, addr, offset, size, entsize, flags, link, info, align. */
function readelfSections(file: string) {
  const rows = [];
  for (const line of run(["-S", file]).split("\n")) {
    const m = /^\s*\[\s*(\d+)\]\s+(.*?)\s+(\S+)\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([A-Za-z]*)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (!m || m[1] === "0") continue;
    rows.push({ index: Number(m[1]), name: m[2], offset: parseInt(m[5]!, 16), size: parseInt(m[6]!, 16),
      entsize: parseInt(m[7]!, 16), link: Number(m[9]), info: Number(m[10]), addralign: Number(m[11]) });
  }
  return rows;
}

for (const rel of objects) {
  test(`${rel}: sections, symbols and relocations match readelf`, (t) => {
    if (!readelf) return t.fail("neither readelf nor llvm-readelf-19 is installed (bash scripts/setup.sh)");
    const elf = load(rel);
    t.is(elf.machine, EM_BPF);
    t.is(elf.littleEndian, rel.includes("bpfel"));
    t.is(elf.type, 1);

    const expected = readelfSections(rel);
    t.true(expected.length > 5);
    t.deepEqual(
      elf.sections.slice(1).map((s) => ({ index: s.index, name: s.name, offset: s.offset, size: s.size, entsize: s.entsize, link: s.link, info: s.info, addralign: s.addralign })),
      expected,
    );

    // Symbols: Num, Value, Size, Type, Bind, Vis, Ndx, Name.
    const symRows = run(["-s", rel]).split("\n")
      .map((l) => /^\s*(\d+):\s+([0-9a-f]+)\s+(\d+)\s+(\w+)\s+(\w+)\s+(\w+)\s+(\w+)\s*(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && m[1] !== "0");
    const types = ["NOTYPE", "OBJECT", "FUNC", "SECTION", "FILE"];
    const binds = ["LOCAL", "GLOBAL", "WEAK"];
    t.deepEqual(
      elf.symbols().map((s) => ({ index: s.index, value: s.value, size: s.size, type: types[s.type], bind: binds[s.bind],
        shndx: s.shndx === 0 ? "UND" : String(s.shndx), name: s.type === STT_SECTION ? s.sectionName : s.name })),
      symRows.map((m) => ({ index: Number(m[1]), value: parseInt(m[2]!, 16), size: Number(m[3]), type: m[4], bind: m[5], shndx: m[7], name: m[8] })),
    );
    for (const s of elf.symbols()) if (s.shndx !== 0 && s.shndx < 0xff00) t.is(s.sectionName, elf.sections[s.shndx]!.name);

    // Relocations per target section: offset and r_info.
    const relocText = run(["-r", rel]);
    let count = 0;
    for (const block of relocText.split("Relocation section '").slice(1)) {
      const relName = block.slice(0, block.indexOf("'"));
      const relSec = elf.section(relName)!;
      const target = elf.sections[relSec.info]!;
      const rows = block.split("\n").map((l) => /^([0-9a-f]{16})\s+([0-9a-f]{16})\s/.exec(l)).filter((m) => m !== null);
      const ours = elf.relocations(target).filter((r) => r !== undefined);
      t.deepEqual(ours.map((r) => ({ offset: r.offset, info: (BigInt(r.symbol) << 32n) | BigInt(r.type) })),
        rows.map((m) => ({ offset: parseInt(m![1]!, 16), info: BigInt("0x" + m![2]!) })), relName);
      count += rows.length;
    }
    t.true(count > 0);
  });
}

test("section data is a view into the file; .bss has none", (t) => {
  const bytes = readFileSync(root + "fixtures/objects/kinds.bpfel.o");
  const elf = readElf(bytes, "kinds.bpfel.o");
  const btf = elf.section(".BTF")!;
  const data = btf.data();
  t.is(data.buffer, bytes.buffer);
  t.is(data.length, btf.size);
  t.is(data[0], 0x9f);
  t.is(data[1], 0xeb);
  const bss = elf.section(".bss")!;
  t.is(bss.type, SHT_NOBITS);
  t.true(bss.size > 0);
  t.is(bss.data().length, 0);
  t.is(elf.section("no such section"), undefined);
  t.deepEqual(elf.relocations("no such section"), []);
  const license = elf.section("license")!;
  t.is(Buffer.from(license.data()).toString("latin1"), "GPL\0");
});

test("a host executable (x86-64, ET_DYN) lists the same sections as readelf", (t) => {
  const exe = "/bin/true";
  if (!existsSync(exe) || !readelf) return t.pass();
  const elf = load(exe);
  t.true(elf.littleEndian);
  const expected = readelfSections(exe);
  t.deepEqual(elf.sections.slice(1).map((s) => ({ index: s.index, name: s.name, offset: s.offset, size: s.size, entsize: s.entsize, link: s.link, info: s.info, addralign: s.addralign })), expected);
});

// ---- malformed files ----

function patched(patch: (b: Uint8Array, v: DataView) => void, rel = "fixtures/objects/minimal.bpfel.o"): Uint8Array {
  const b = new Uint8Array(readFileSync(root + rel));
  patch(b, new DataView(b.buffer));
  return b;
}

const errorCases: { title: string; bytes: () => Uint8Array; match: RegExp; section?: string }[] = [
  { title: "empty file", bytes: () => new Uint8Array(0), match: /^x\.o: not an ELF file \(bad magic\)$/ },
  { title: "bad magic", bytes: () => patched((b) => { b[1] = 0x46; }), match: /not an ELF file/ },
  { title: "ELFCLASS32", bytes: () => patched((b) => { b[4] = 1; }), match: /32-bit ELF \(ELFCLASS32\) is not supported, only ELF64/ },
  { title: "unknown data encoding", bytes: () => patched((b) => { b[5] = 3; }), match: /unknown ELF data encoding 3/ },
  { title: "truncated header", bytes: () => patched(() => {}).subarray(0, 40), match: /ELF header truncated/ },
  { title: "section header table past end", bytes: () => patched((_, v) => v.setUint32(40, 0x100000, true)), match: /section header 0 extends past end of file \(offset 0x100000, size 0x40, file size 0x[0-9a-f]+\)/ },
  { title: "small section header size", bytes: () => patched((_, v) => v.setUint16(58, 10, true)), match: /section header size 10/ },
  { title: "section name table past end", section: "#1",
    bytes: () => patched((_, v) => v.setUint32(Number(v.getBigUint64(40, true)) + 64 + 32, 0xfffff, true)),
    match: /^x\.o: section #1 \(section names\) extends past end of file \(offset 0x[0-9a-f]+, size 0xfffff, file size 0x[0-9a-f]+\)$/ },
  { title: ".BTF data past end", section: ".BTF",
    bytes: () => patched((b, v) => {
      const elf = readElf(b);
      v.setUint32(Number(v.getBigUint64(40, true)) + elf.section(".BTF")!.index * 64 + 32, 0x100000, true);
    }),
    match: /^x\.o: section \.BTF: data extends past end of file \(offset 0x[0-9a-f]+, size 0x100000, file size 0x[0-9a-f]+\)$/ },
  { title: "huge 64-bit offset", bytes: () => patched((_, v) => v.setUint32(44, 0xffffffff, true)), match: /64-bit value at offset 0x28 is too large/ },
  { title: "section name index out of range", bytes: () => patched((_, v) => v.setUint16(62, 500, true)), match: /section name table index 500 out of range/ },
  { title: "section name offset past string table",
    bytes: () => patched((_, v) => v.setUint32(Number(v.getBigUint64(40, true)) + 64, 0xffff, true)),
    match: /name of section #1: string offset 0xffff past end of string table/ },
];

for (const c of errorCases)
  test(`error: ${c.title}`, (t) => {
    const err = t.throws(() => readElf(c.bytes(), "x.o"));
    t.is(err?.name, "ElfError");
    t.regex(err!.message, c.match);
    t.is((err as unknown as { file?: string }).file, "x.o");
    if (c.section) t.is((err as unknown as { section?: string }).section, c.section);
  });

test("error: symbol table linked to a non-string section", (t) => {
  const bytes = readFileSync(root + "fixtures/objects/minimal.bpfel.o");
  const elf = readElf(bytes, "m.o");
  const symtab = elf.sections.find((s) => s.name === ".symtab")!;
  const b = new Uint8Array(bytes);
  const v = new DataView(b.buffer, b.byteOffset);
  const shoff = Number(v.getBigUint64(40, true));
  v.setUint32(shoff + symtab.index * 64 + 40, symtab.index, true); // sh_link → itself
  const err = t.throws(() => readElf(b, "m.o").symbols());
  t.is(err?.name, "ElfError");
  t.regex(err!.message, /section \.symtab: sh_link \d+ is not a string table/);
});

test("extended section numbering (e_shnum = 0, e_shstrndx = SHN_XINDEX) reads counts from section 0", (t) => {
  const original = readFileSync(root + "fixtures/objects/minimal.bpfeb.o");
  const expected = readElf(original, "m.o");
  const b = new Uint8Array(original);
  const v = new DataView(b.buffer, b.byteOffset);
  const shoff = Number(v.getBigUint64(40, false));
  const shnum = v.getUint16(60, false);
  const shstrndx = v.getUint16(62, false);
  v.setUint16(60, 0, false);
  v.setUint16(62, 0xffff, false);
  v.setBigUint64(shoff + 32, BigInt(shnum), false); // sh_size of section 0
  v.setUint32(shoff + 40, shstrndx, false); // sh_link of section 0
  const elf = readElf(b, "m.o");
  t.deepEqual(elf.sections.slice(1).map((s) => s.name), expected.sections.slice(1).map((s) => s.name));
  t.is(elf.symbols().length, expected.symbols().length);
});
