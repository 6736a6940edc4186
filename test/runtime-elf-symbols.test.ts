// The runtime's ELF symbol reader (uprobe offsets; ElfImage for the tracer CLIs), checked against the
// generator's independent ELF reader: a function's file offset from its section
// (st_value - sh_addr + sh_offset) must equal what ElfImage derives from the program headers.

import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ElfImage, readFunctionSymbols, resolveSymbolOffset, STT_OBJECT, type BpfError } from "@bpf2ts/runtime";
import { readElf, STT_FUNC } from "@bpf2ts/runtime/object-file";
import { buildC, requireFeature } from "./helpers/kernel.js";
import { tempDir } from "./helpers/temp-dir.js";

const source = `
long counter = 7;
static int __attribute__((noinline)) add(int a, int b) { return a + b; }
int main(int argc, char **argv) { counter += add(argc, 1); return (int)counter & 1; }
`;

test("function offsets match the section-based computation; data symbols are ElfImage's only", async (t) => {
  if (!(await requireFeature(t, "gcc"))) return;
  const exe = buildC("elf-symbols", source);
  const elf = readElf(readFileSync(exe), exe);
  const fns = readFunctionSymbols(exe);
  const names = elf.symbols().map((s) => s.name);
  let checked = 0;
  for (const s of elf.symbols()) {
    const home = elf.sections[s.shndx];
    if (s.type !== STT_FUNC || s.value === 0 || !home || names.indexOf(s.name) !== names.lastIndexOf(s.name)) continue;
    t.is(fns.get(s.name)?.offset, s.value - home.addr + home.offset, s.name);
    checked++;
  }
  t.true(checked >= 3, `checked ${checked} functions`);
  t.is(resolveSymbolOffset(exe, "add"), fns.get("add")!.offset);

  const img = new ElfImage(exe);
  const counter = img.symbol("counter");
  t.is(counter?.type, STT_OBJECT);
  t.false(fns.has("counter"), "a data symbol is no uprobe target");
  const add = img.symbol("add")!;
  t.is(img.functionAt(add.address + 1n)?.name, "add");
  t.deepEqual(img.functionBytes(add), readFileSync(exe).subarray(fns.get("add")!.offset, fns.get("add")!.offset + add.size));
});

test("uprobe symbol failures are BpfErrors with an errno, the ELF reader's error as cause", async (t) => {
  if (!(await requireFeature(t, "gcc"))) return;
  const exe = buildC("elf-symbols", source);
  const missing = t.throws<BpfError>(() => resolveSymbolOffset(exe, "nope"))!;
  t.is(missing.name, "BpfError");
  t.is(missing.code, "ENOENT");
  t.is(missing.message, `resolve uprobe symbol: ${exe}: no function symbol "nope"`);

  const text = join(tempDir(t, "bpf2ts-elf-"), "not-elf");
  writeFileSync(text, "#!/bin/sh\necho hi\n");
  const bad = t.throws<BpfError>(() => resolveSymbolOffset(text, "main"))!;
  t.is(bad.code, "EINVAL");
  t.is(bad.message, `resolve uprobe symbol: ${text}: not an ELF file (bad magic)`);
  t.is((bad.cause as Error).name, "ElfSymbolsError");

  const gone = t.throws<BpfError>(() => resolveSymbolOffset(text + ".gone", "main"))!;
  t.is(gone.code, "ENOENT");
  t.regex(gone.message, /^resolve uprobe symbol: read .*not-elf\.gone: ENOENT/);
});
