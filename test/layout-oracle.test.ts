// Layout against an independent oracle: clang itself. For every struct/union bpf2ts lays out from a
// fixture, a C file of `_Static_assert`s on offsetof/sizeof/_Alignof (and enum values) is compiled
// with the fixture for bpfel and bpfeb; a wrong offset is a compile error. Bitfields, which offsetof
// cannot reach, are checked through initialised globals: clang writes the bits into .data, and the
// bytes must show exactly the bits the layout says (in memory order for each byte order).
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { codecs } from "@bpf2ts/runtime";
import { Kind, type Btf, type TypeId } from "../generator/btf/index.js";
import { run, which } from "../generator/compile/clang.js";
import { readElf } from "@bpf2ts/runtime/object-file";
import { layoutModule } from "../generator/layout/roots.js";
import type { BitfieldLayout, CompositeLayout, FieldNode, ValueLayout } from "../generator/layout/layout.js";
import { buildOutputs } from "../generator/pipeline/run.js";
import { tempDir } from "./helpers/temp-dir.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const clang = ["clang-19", "clang"].map((c) => which(c)).find((p) => p !== undefined);
const fixtures = ["types", "maps", "bench"];

interface Probe {
  readonly symbol: string;
  readonly what: string;
  readonly field: BitfieldLayout;
  /** Byte offset of the field's composite inside the probe variable. */
  readonly value: "ones" | "one";
}

function leaves(nodes: readonly FieldNode[], out: Exclude<FieldNode, { node: "padding" | "union" }>[] = []) {
  for (const n of nodes) {
    if (n.node === "union") n.alternatives.forEach((a) => leaves(a, out));
    else if (n.node !== "padding") out.push(n);
  }
  return out;
}

function typedefNaming(btf: Btf, id: TypeId): string | undefined {
  for (const t of btf.types) {
    if (t.kind !== Kind.Typedef) continue;
    let target = t.type;
    while (btf.types[target]?.kind === Kind.Const || btf.types[target]?.kind === Kind.Volatile) target = (btf.types[target] as { type: TypeId }).type;
    if (target === id) return t.name;
  }
  return undefined;
}

/** The C assertions for every composite (and enum) laid out, plus bitfield probes. */
function oracleSource(name: string, composites: readonly CompositeLayout[], enums: ReturnType<ReturnType<typeof layoutModule>["engine"]["allEnums"]>, btf: Btf) {
  const lines: string[] = [`#include "${name}.bpf.c"`, ""];
  const probes: Probe[] = [];
  const spelling = new Map<TypeId, string>();
  for (const c of composites) {
    if (c.cName) spelling.set(c.typeId, `${c.kind} ${c.cName}`);
    else {
      const td = typedefNaming(btf, c.typeId);
      if (td) spelling.set(c.typeId, td);
    }
  }
  let checked = 0;
  let pending = [...composites];
  // Anonymous composites get their spelling from a parent's member (`__typeof__`), so iterate.
  for (let round = 0; round < 8 && pending.length > 0; round++) {
    const next: CompositeLayout[] = [];
    for (const c of pending) {
      const s = spelling.get(c.typeId);
      if (!s) {
        next.push(c);
        continue;
      }
      checked++;
      const tag = `${c.name}`;
      lines.push(`_Static_assert(sizeof(${s}) == ${c.size}, "${tag}: sizeof");`);
      lines.push(`_Static_assert(_Alignof(${s}) == ${c.align}, "${tag}: _Alignof");`);
      for (const f of leaves(c.fields)) {
        if (f.node === "bitfield") {
          for (const value of ["ones", "one"] as const) {
            const symbol = `probe_${probes.length}`;
            const v = value === "one" ? "1" : f.signed ? "-1" : f.type.kind === "bool" ? "1" : `${(1n << BigInt(f.bits)) - 1n}ULL`;
            lines.push(`${s} ${symbol} = { .${f.cName} = ${v} };`);
            probes.push({ symbol, what: `${tag}.${f.name}`, field: f, value });
          }
          continue;
        }
        lines.push(`_Static_assert(__builtin_offsetof(${s}, ${f.cName}) == ${f.offset}, "${tag}.${f.name}: offset");`);
        if (!f.flexible) lines.push(`_Static_assert(sizeof(((${s} *)0)->${f.cName}) == ${f.size}, "${tag}.${f.name}: sizeof");`);
        let t: ValueLayout = f.type;
        let sub = `((${s} *)0)->${f.cName}`;
        while (t.kind === "array") {
          t = t.elem;
          sub += "[0]";
        }
        if (t.kind === "composite" && !spelling.has(t.ref.typeId)) spelling.set(t.ref.typeId, `__typeof__(${sub})`);
      }
    }
    pending = next;
  }
  for (const e of enums) {
    if (e.cName) lines.push(`_Static_assert(sizeof(enum ${e.cName}) == ${e.size}, "${e.name}: sizeof");`);
    for (const v of e.values) {
      lines.push(
        e.wide
          ? `_Static_assert((unsigned long long)(${v.name}) == ${BigInt.asUintN(64, v.value)}ULL, "${e.name}.${v.name}");`
          : `_Static_assert((long long)(${v.name}) == ${v.value}LL, "${e.name}.${v.name}");`,
      );
    }
  }
  return { text: `${lines.join("\n")}\n`, probes, checked, unspelled: pending.map((c) => c.name) };
}

/** The bytes clang must have written for a probe, from the layout alone. */
function expectedBits(p: Probe, size: number, littleEndian: boolean): number[] {
  const out = new Array<number>(size).fill(0);
  const start = p.field.offset * 8 + p.field.bitOffset;
  const set = (pos: number): void => {
    const byte = Math.floor(pos / 8);
    out[byte]! |= 1 << (littleEndian ? pos % 8 : 7 - (pos % 8));
  };
  if (p.value === "ones") for (let k = 0; k < p.field.bits; k++) set(start + k);
  else set(littleEndian ? start : start + p.field.bits - 1);
  return out;
}

for (const name of fixtures) {
  test(`${name}: clang agrees with every offset, size, alignment, enum value and bitfield`, async (t) => {
    if (!clang) {
      t.log("clang not found (install clang-19): the layout oracle cannot run here");
      t.pass();
      return;
    }
    const built = await buildOutputs({
      stem: name,
      source: `fixtures/${name}.bpf.c`,
      objects: [`fixtures/golden/${name}/${name}_bpfel.o`, `fixtures/golden/${name}/${name}_bpfeb.o`],
      cflags: ["-Ifixtures/include"],
      cwd: root,
    });
    const dir = tempDir(t, "bpf2ts-oracle-");
    for (const model of built.models) {
      const target = model.littleEndian ? "bpfel" : "bpfeb";
      const layouts = layoutModule(name, model, { globalTypes: true, ...(built.scan && { declaredTypes: built.scan.declaredTypes }) });
      const composites = layouts.engine.allComposites();
      const src = oracleSource(name, composites, layouts.engine.allEnums(), model.btf);
      t.deepEqual(src.unspelled, [], `${target}: every composite can be named in C`);
      t.true(src.checked >= Math.min(composites.length, 3), `${target}: ${src.checked} composites checked`);
      const file = join(dir, `${name}-${target}.c`);
      const obj = join(dir, `${name}-${target}.o`);
      writeFileSync(file, src.text);
      const r = await run(clang, ["-O2", "-g", "-target", target, "-I", join(root, "fixtures"), "-I", join(root, "fixtures", "include"), "-Wno-unused-variable", "-c", file, "-o", obj]);
      t.is(r.code, 0, `${target}: clang rejected the layout:\n${r.stderr}`);
      if (r.code !== 0) continue;
      if (src.probes.length === 0) continue;
      const elf = readElf(new Uint8Array(readFileSync(obj)), obj);
      const dataSection = elf.section(".data")!;
      const data = dataSection.data();
      // In a relocatable object the DATASEC offsets are still 0 (libbpf fills them in): use symbols.
      const dataIndex = dataSection.index;
      const vars = new Map<string, { offset: number; size: number }>();
      for (const sym of elf.symbols()) if (sym.shndx === dataIndex && sym.name.startsWith("probe_")) vars.set(sym.name, { offset: sym.value, size: sym.size });
      for (const p of src.probes) {
        const at = vars.get(p.symbol);
        if (!at) {
          t.fail(`${target}: probe ${p.symbol} (${p.what}) not in .data`);
          continue;
        }
        const bytes = Array.from(data.subarray(at.offset, at.offset + at.size));
        t.deepEqual(bytes, expectedBits(p, at.size, model.littleEndian), `${target}: ${p.what} = ${p.value} lands on other bits than the layout says`);
        if (model.littleEndian) {
          // And the runtime codec reads those bits back (the host here is little-endian).
          const v = new DataView(new Uint8Array(bytes).buffer);
          const got = codecs.getBits(v, p.field.offset, p.field.size, p.field.bitOffset, p.field.bits, p.field.signed);
          const want = p.value === "one" ? 1n : p.field.signed ? -1n : (1n << BigInt(p.field.bits)) - 1n;
          t.is(got, p.field.type.kind === "bool" ? 1n : want, `${p.what}: codecs.getBits`);
        }
      }
      t.log(`${target}: ${src.checked} composites, ${layouts.engine.allEnums().length} enums, ${src.probes.length / 2} bitfields checked by clang`);
    }
  });
}
