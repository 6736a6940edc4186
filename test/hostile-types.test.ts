// Hostile type graphs (issue 11): cycles, absurd sizes, duplicate members and deep nesting, built as
// BTF blobs and run through the generator in-process and the vmlinux.h writer. Each must end in an
// error that names the BTF type id, quickly: never a stack overflow, a hang or a module tsc rejects.
import test from "ava";
import { Kind, parseBtf, MAX_DEPTH, type Btf, type TypeId } from "../generator/btf/index.js";
import { generate } from "../generator/emit/files.js";
import type { ObjectModel } from "../generator/model/model.js";
import { emptyDocs } from "../generator/source/scan.js";
import { formatCHeader } from "../generator/workflow/vmlinux-h.js";
import { BtfBuilder } from "./helpers/btf-builder.js";

/** A one-variable object whose variable has type `typeId`, through generate(). */
function generateWith(btf: Btf, typeId: TypeId, declaredTypes: string[] = []): string {
  const model: ObjectModel = {
    file: "hostile.o", littleEndian: true, license: "GPL", programs: [], maps: [], externs: [], types: [], missingTypes: [], docs: emptyDocs, btf, warnings: [],
    variables: [{ name: "value", section: ".bss", offset: 0, size: 4, typeId, varTypeId: 0, constant: false, linkage: "global" }],
  };
  const files = generate({ stem: "hostile", version: "0.0.0", source: { name: "hostile.bpf.c", sha256: "00".repeat(32) }, targets: [{ target: "bpfel", object: Uint8Array.of(0), model }], declaredTypes });
  return files[0]!.contents as string;
}

interface Case {
  readonly title: string;
  /** Builds the graph; returns the type the variable has and the id the error must name. */
  readonly build: (b: BtfBuilder) => { root: TypeId; culprit: TypeId };
  readonly generator: RegExp;
  /** What vmlinux.h writing says (undefined: the header is written). */
  readonly header?: RegExp;
}

const cases: Case[] = [
  {
    title: "an ARRAY whose element is itself",
    build: (b) => {
      const int = b.int("int", 4, { signed: true });
      const arr = b.array(2, int, 2); // id 2: itself
      const s = b.composite(Kind.Struct, "holder", 8, [{ name: "a", type: arr, bitOffset: 0 }]);
      return { root: s, culprit: arr };
    },
    generator: /BTF type id 2 \(member holder\.a\): ARRAY contains itself by value/,
    header: /BTF type id 2: types nested deeper than 256 levels \(a cycle\?\)/,
  },
  {
    title: "a struct containing itself by value",
    build: (b) => {
      const int = b.int("int", 4, { signed: true });
      const s = b.composite(Kind.Struct, "ouroboros", 8, [{ name: "x", type: int, bitOffset: 0 }, { name: "self", type: 2, bitOffset: 32 }]);
      return { root: s, culprit: s };
    },
    generator: /STRUCT contains itself by value/,
    header: /BTF type id 2: 'ouroboros' contains itself/,
  },
  {
    title: "a typedef loop",
    build: (b) => {
      const a = b.ref(Kind.Typedef, 2, "loop_a");
      b.ref(Kind.Typedef, 1, "loop_b");
      const s = b.composite(Kind.Struct, "user", 4, [{ name: "l", type: a, bitOffset: 0 }]);
      return { root: s, culprit: a };
    },
    generator: /BTF type id 1: refers to itself \(a cycle through type 1\)/,
    header: /contains itself/,
  },
  {
    title: "an array past 2^32 bytes (offsets would lose precision)",
    build: (b) => {
      const int = b.int("int", 4, { signed: true });
      const inner = b.array(int, int, 1 << 20);
      const outer = b.array(inner, int, 1 << 20);
      const s = b.composite(Kind.Struct, "huge", 8, [{ name: "h", type: outer, bitOffset: 0 }]);
      return { root: s, culprit: outer };
    },
    generator: /larger than BTF can describe/,
    header: /more than 4294967295 bytes/,
  },
  {
    title: "two members with one name",
    build: (b) => {
      const int = b.int("int", 4, { signed: true });
      const s = b.composite(Kind.Struct, "twice", 8, [{ name: "x", type: int, bitOffset: 0 }, { name: "x", type: int, bitOffset: 32 }]);
      return { root: s, culprit: s };
    },
    generator: /members of struct twice \(BTF type id 2\): the C name "x" is declared twice/,
  },
  {
    // vmlinux.h defines types in id order, so each struct's member is already defined: no nesting.
    title: "1,000 nested structs",
    build: (b) => {
      let t = b.int("int", 4, { signed: true });
      for (let i = 0; i < 1000; i++) t = b.composite(Kind.Struct, `s${i}`, 4, [{ name: "m", type: t, bitOffset: 0 }]);
      return { root: t, culprit: -1 };
    },
    generator: new RegExp(`types nested deeper than ${MAX_DEPTH} levels`),
  },
  {
    title: "5,000 nested arrays",
    build: (b) => {
      let t = b.int("int", 4, { signed: true });
      const int = t;
      for (let i = 0; i < 5000; i++) t = b.array(t, int, 1);
      b.ref(Kind.Typedef, t, "deep_t");
      return { root: t, culprit: -1 };
    },
    generator: new RegExp(`types nested deeper than ${MAX_DEPTH} levels`),
    header: new RegExp(`types nested deeper than ${MAX_DEPTH} levels`),
  },
];

for (const c of cases) {
  test(`${c.title}: the generator stops with an error naming the type`, (t) => {
    const b = new BtfBuilder();
    const { root, culprit } = c.build(b);
    const btf = parseBtf(b.build(), { file: "hostile.o" });
    const started = Date.now();
    const err = t.throws(() => generateWith(btf, root, ["struct ouroboros", "struct twice"]));
    t.regex(err!.message, c.generator);
    t.true((err as { bpf2ts?: boolean }).bpf2ts === true || err!.name === "BtfError", `${err!.name} is a known error`);
    const typeId = (err as { typeId?: number }).typeId;
    t.is(typeof typeId, "number", "the error names a type id");
    if (culprit >= 0) t.is(typeId, culprit);
    t.regex(err!.message, new RegExp(`type id ${typeId}\\b`));
    t.true(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  });

  test(`${c.title}: vmlinux.h writing ${c.header ? "stops with an error naming the type" : "writes the header"}`, (t) => {
    const b = new BtfBuilder();
    c.build(b);
    const btf = parseBtf(b.build(), { file: "hostile.btf" });
    const started = Date.now();
    if (!c.header) {
      t.regex(formatCHeader(btf), /#endif \/\* __VMLINUX_H__ \*\//);
      return;
    }
    const err = t.throws(() => formatCHeader(btf));
    t.is(err!.name, "BtfError");
    t.regex(err!.message, c.header);
    t.regex(err!.message, /^vmlinux\.h: BTF type id \d+: /);
    t.is(typeof (err as { typeId?: number }).typeId, "number");
    t.true(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  });
}

test(`nesting up to ${MAX_DEPTH} levels works: structs and arrays`, (t) => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  let s = int;
  for (let i = 0; i < 100; i++) s = b.composite(Kind.Struct, `level${i}`, 4, [{ name: "m", type: s, bitOffset: 0 }]);
  let a = int;
  for (let i = 0; i < 100; i++) a = b.array(a, int, 1);
  const top = b.composite(Kind.Struct, "top", 8, [{ name: "s", type: s, bitOffset: 0 }, { name: "a", type: a, bitOffset: 32 }]);
  const btf = parseBtf(b.build());
  const ts = generateWith(btf, top);
  t.regex(ts, /export interface HostileLevel99 \{/);
  t.regex(formatCHeader(btf), /struct top \{\n\tstruct level99 s;\n\tint a(\[1\]){100};\n\};/);
});
