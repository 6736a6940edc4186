// Corrupted objects: thousands of seeded truncations and byte flips of real objects, aimed at the
// ELF header, section headers, the .BTF header, type and string sections and .BTF.ext. Every case
// must end in an ElfError/BtfError or a successful parse, quickly; any other exception (RangeError,
// TypeError, stack overflow) or a slow case fails the test.

import test from "ava";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readElf } from "@bpf2ts/runtime/object-file";
import { parseBtf, resolve, sizeof, alignof, cDeclaration, Kind } from "../generator/btf/index.js";
import { parseBtfExt } from "../generator/btf/ext.js";
import { formatCHeader } from "../generator/workflow/vmlinux-h.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const objects = ["kinds", "minimal"].flatMap((stem) => ["bpfel", "bpfeb"].map((target) => `fixtures/objects/${stem}.${target}.o`));
const CASES_PER_OBJECT = 800;
const MAX_CASE_MS = 1000; // generous: the machine may be loaded; a hang or exponential blow-up takes far longer

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Everything a consumer does with an object: if this returns, the graph was usable throughout. */
function consume(bytes: Uint8Array): void {
  const elf = readElf(bytes, "corrupt.o");
  for (const s of elf.sections) {
    s.data();
    elf.relocations(s);
  }
  elf.symbols();
  const sec = elf.section(".BTF");
  if (!sec) return;
  const btf = parseBtf(sec.data(), { file: "corrupt.o", section: ".BTF" });
  for (const t of btf.types) {
    if (t.kind === Kind.Struct || t.kind === Kind.Union) void t.members.length;
    if (t.kind === Kind.Enum || t.kind === Kind.Enum64) void t.values.length;
    if (t.kind === Kind.FuncProto) void t.params.length;
    if (t.kind === Kind.Datasec) void t.vars.length;
    // The helpers may reject a type (BtfError), but must not crash or hang.
    for (const helper of [resolve, sizeof, alignof, cDeclaration])
      try {
        helper(btf, t.id);
      } catch (e) {
        if ((e as Error).name !== "BtfError") throw e;
      }
  }
  btf.byName("event");
  try {
    formatCHeader(btf);
  } catch (e) {
    if ((e as Error).name !== "BtfError") throw e;
  }
  const ext = elf.section(".BTF.ext");
  if (ext) parseBtfExt(ext.data(), btf, { file: "corrupt.o" });
}

interface Region { name: string; start: number; end: number }

function regions(bytes: Uint8Array): Region[] {
  const elf = readElf(bytes);
  const out: Region[] = [{ name: "ELF header", start: 0, end: 64 }];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(v.getBigUint64(40, elf.littleEndian));
  out.push({ name: "section headers", start: shoff, end: shoff + elf.sections.length * 64 });
  const btf = elf.section(".BTF")!;
  const le = elf.littleEndian;
  const bv = new DataView(bytes.buffer, bytes.byteOffset + btf.offset, btf.size);
  const hdrLen = bv.getUint32(4, le);
  out.push({ name: ".BTF header", start: btf.offset, end: btf.offset + hdrLen });
  const typeOff = btf.offset + hdrLen + bv.getUint32(8, le);
  out.push({ name: ".BTF types", start: typeOff, end: typeOff + bv.getUint32(12, le) });
  const strOff = btf.offset + hdrLen + bv.getUint32(16, le);
  out.push({ name: ".BTF strings", start: strOff, end: strOff + bv.getUint32(20, le) });
  const ext = elf.section(".BTF.ext");
  if (ext) out.push({ name: ".BTF.ext", start: ext.offset, end: ext.offset + ext.size });
  const symtab = elf.section(".symtab")!;
  out.push({ name: ".symtab", start: symtab.offset, end: symtab.offset + symtab.size });
  return out;
}

for (const [index, rel] of objects.entries()) {
  test(`${rel}: ${CASES_PER_OBJECT} seeded truncations and byte flips end in ElfError/BtfError or a parse`, (t) => {
    const original = new Uint8Array(readFileSync(root + rel));
    consume(original); // the pristine object parses
    const targets = regions(original);
    const rand = prng(0xb7f0 + index);
    const pick = (n: number) => Math.floor(rand() * n);
    const outcomes = new Map<string, number>();
    let slowest = 0; let slowWhat = "";
    for (let c = 0; c < CASES_PER_OBJECT; c++) {
      let bytes: Uint8Array;
      let what: string;
      if (c % 4 === 0) {
        const len = pick(original.length);
        bytes = original.slice(0, len);
        what = `truncate at ${len}`;
      } else {
        bytes = original.slice();
        const region = targets[pick(targets.length)]!;
        const flips = 1 + pick(c % 4 === 3 ? 16 : 3);
        for (let f = 0; f < flips; f++) {
          const at = region.start + pick(Math.max(1, region.end - region.start));
          // Half the flips write an extreme byte (0x00/0xff), which hits bounds checks hardest.
          bytes[at] = rand() < 0.5 ? (rand() < 0.5 ? 0 : 0xff) : bytes[at]! ^ (1 << pick(8));
        }
        what = `${flips} flips in ${region.name}`;
      }
      const start = performance.now();
      let outcome = "ok";
      try {
        consume(bytes);
      } catch (e) {
        const name = (e as Error).name;
        if (name !== "ElfError" && name !== "BtfError") {
          t.fail(`case ${c} (${what}): ${name}: ${(e as Error).message}\n${(e as Error).stack}`);
          return;
        }
        outcome = name;
      }
      const ms = performance.now() - start;
      if (ms > slowest) { slowest = ms; slowWhat = `${c} ${what}`; }
      if (ms > MAX_CASE_MS) t.fail(`case ${c} (${what}) took ${ms.toFixed(0)} ms`);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    t.log(`outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")}; slowest case ${slowest.toFixed(1)} ms (${slowWhat})`);
    // Both readers were reached: the corruption hit ELF and BTF checks alike.
    t.true((outcomes.get("ElfError") ?? 0) > 0);
    t.true((outcomes.get("BtfError") ?? 0) > 0);
  });
}
