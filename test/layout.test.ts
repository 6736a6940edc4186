// Layout rules on in-memory BTF graphs (table-driven, no clang): what each C shape becomes in TS.
import test from "ava";
import { Graph } from "./helpers/btf-graph.js";
import { LayoutEngine, type CompositeLayout, type FieldNode, type ValueLayout } from "../generator/layout/layout.js";

function composite(v: ValueLayout): CompositeLayout {
  if (v.kind !== "composite") throw new Error(`expected a composite, got ${v.kind}`);
  return v.ref;
}

/** Field nodes without padding, as [name, offset, kind] triples (union groups as nested arrays). */
function shape(nodes: readonly FieldNode[]): unknown[] {
  return nodes
    .filter((n) => n.node !== "padding")
    .map((n) => (n.node === "union" ? n.alternatives.map(shape) : n.node === "bitfield" ? [n.name, n.offset, `bits:${n.size}/${n.bitOffset}/${n.bits}${n.signed ? "s" : ""}`] : [n.name, n.offset, n.type.kind]));
}

test("scalars map to number, bigint, boolean; typedef names are kept in the C declaration", (t) => {
  const g = new Graph();
  const u8 = g.int("unsigned char", 1);
  const u32 = g.int("unsigned int", 4);
  const s64 = g.int("long long", 8, true);
  const bool = g.int("_Bool", 1, false, true);
  const dbl = g.float("double", 8);
  const i128 = g.int("__int128", 16, true);
  const pid = g.typedef("pid_t", g.typedef("__u32", u32));
  const fixed = g.struct("fixed", 64, [
    ["a", u8, 0],
    ["pid", pid, 32],
    ["big", s64, 64],
    ["ok", bool, 128],
    ["d", dbl, 192],
    ["huge", i128, 256],
    ["p", g.ptr(0), 384],
  ]);
  const c = composite(new LayoutEngine(g.btf(), "exec").layoutRoot(fixed, "x"));
  t.is(c.name, "ExecFixed");
  t.deepEqual(shape(c.fields), [
    ["a", 0, "int"],
    ["pid", 4, "int"],
    ["big", 8, "int"],
    ["ok", 16, "bool"],
    ["d", 24, "float"],
    ["huge", 32, "int"],
    ["p", 48, "pointer"],
  ]);
  const pidField = c.fields.find((f) => f.node === "value" && f.name === "pid");
  t.is(pidField?.node === "value" ? pidField.cDecl : "", "pid_t pid");
  t.is(c.align, 16, "__int128 aligns to 16 on BPF");
  t.deepEqual(
    c.fields.filter((f) => f.node === "padding").map((f) => [f.offset, f.size]),
    [
      [1, 3],
      [17, 7],
      [56, 8],
    ],
  );
});

test("char[N] is a string, __u8[N] and 2-D arrays are typed arrays, arrays of structs nest", (t) => {
  const g = new Graph();
  const ch = g.int("char", 1, true);
  const u8 = g.typedef("__u8", g.int("unsigned char", 1));
  const u32 = g.int("unsigned int", 4);
  const point = g.struct("point", 8, [
    ["x", u32, 0],
    ["y", u32, 32],
  ]);
  const s = g.struct("arrays", 16 + 4 + 24 + 16 + 32, [
    ["comm", g.array(ch, 16), 0],
    ["addr", g.array(u8, 4), 128],
    ["m", g.array(g.array(u32, 3), 2), 160],
    ["pts", g.array(point, 2), 352],
    ["names", g.array(g.array(g.konst(ch), 16), 2), 480],
  ]);
  const c = composite(new LayoutEngine(g.btf(), "t").layoutRoot(s, "x"));
  const types = Object.fromEntries(c.fields.filter((f) => f.node === "value").map((f) => [f.name, f.node === "value" ? f.type : undefined]));
  t.deepEqual(types.comm, { kind: "string", length: 16 });
  t.like(types.addr as object, { kind: "array", length: 4, elem: { kind: "int", size: 1, signed: false } });
  t.like(types.m as object, { kind: "array", length: 2, elem: { kind: "array", length: 3 } });
  t.like(types.pts as object, { kind: "array", length: 2, elem: { kind: "composite" } });
  t.like(types.names as object, { kind: "array", length: 2, elem: { kind: "string", length: 16 } });
});

test("anonymous members flatten as in C; anonymous member types are named from the parent path", (t) => {
  const g = new Graph();
  const u32 = g.int("unsigned int", 4);
  const u64 = g.int("unsigned long long", 8);
  const inner = g.struct("", 8, [
    ["pid", u32, 0],
    ["tid", u32, 32],
  ]);
  const anonStruct = g.struct("", 8, [
    ["lo", u32, 0],
    ["hi", u32, 32],
  ]);
  const anonUnion = g.struct(
    "",
    8,
    [
      ["whole", u64, 0],
      ["", anonStruct, 0],
    ],
    true,
  );
  const s = g.struct("event", 24, [
    ["args", inner, 0],
    ["kind", u32, 64],
    ["", anonUnion, 128],
  ]);
  const engine = new LayoutEngine(g.btf(), "exec");
  const c = composite(engine.layoutRoot(s, "x"));
  t.deepEqual(shape(c.fields), [["args", 0, "composite"], ["kind", 8, "int"], [[["whole", 16, "int"]], [["lo", 16, "int"], ["hi", 20, "int"]]]]);
  t.deepEqual(
    engine.allComposites().map((x) => x.name),
    ["ExecEvent", "ExecEventArgs"],
  );
});

test("bitfields get the smallest unit inside the struct, with sign", (t) => {
  const g = new Graph();
  const u32 = g.int("unsigned int", 4);
  const s32 = g.int("int", 4, true);
  const u64 = g.int("unsigned long long", 8);
  const s = g.struct("bits", 16, [
    ["a", u32, 0, 3],
    ["b", s32, 3, 5],
    ["c", u32, 8, 24],
    ["w", u64, 64, 40],
  ]);
  const c = composite(new LayoutEngine(g.btf(), "t").layoutRoot(s, "x"));
  t.deepEqual(shape(c.fields), [
    ["a", 0, "bits:1/0/3"],
    ["b", 0, "bits:1/3/5s"],
    ["c", 1, "bits:4/0/24"],
    ["w", 8, "bits:8/0/40"],
  ]);
  // A bitfield whose power-of-two unit would pass the end moves back inside the struct.
  const tight = g.struct("tight", 3, [["x", u32, 4, 18]]);
  const tc = composite(new LayoutEngine(g.btf(), "t").layoutRoot(tight, "x"));
  const x = tc.fields.find((f) => f.node === "bitfield");
  t.true(x !== undefined && x.offset + x.size <= 3 && x.offset * 8 + (x.node === "bitfield" ? x.bitOffset : 0) === 4);
});

test("packed structs keep BTF offsets and align to 1; aligned members raise the alignment", (t) => {
  const g = new Graph();
  const u8 = g.int("unsigned char", 1);
  const u32 = g.int("unsigned int", 4);
  const u64 = g.int("unsigned long long", 8);
  const packed = g.struct("packed", 5, [
    ["tag", u8, 0],
    ["value", u32, 8],
  ]);
  const aligned = g.struct("aligned", 32, [
    ["a", u8, 0],
    ["b", u64, 128],
    ["c", u8, 192],
  ]);
  const over = g.struct("over", 8, [["a", u8, 0]]);
  const e = new LayoutEngine(g.btf(), "t");
  const p = composite(e.layoutRoot(packed, "p"));
  t.is(p.align, 1);
  t.deepEqual(shape(p.fields), [
    ["tag", 0, "int"],
    ["value", 1, "int"],
  ]);
  t.is(composite(e.layoutRoot(aligned, "a")).align, 16);
  t.is(composite(e.layoutRoot(over, "o")).align, 8);
});

test("enums keep their values; ENUM64 is wide", (t) => {
  const g = new Graph();
  const e32 = g.enum("sign", 4, [["NEG", -1n], ["POS", 1n]], true);
  const e64 = g.enum("big", 8, [["HUGE", 0xffffffff00000000n]], false, true);
  const s = g.struct("enums", 16, [
    ["s", e32, 0],
    ["b", e64, 64],
  ]);
  const engine = new LayoutEngine(g.btf(), "x");
  engine.layoutRoot(s, "s");
  t.deepEqual(
    engine.allEnums().map((e) => [e.name, e.size, e.signed, e.wide, e.values.map((v) => v.value)]),
    [
      ["XBig", 8, false, true, [0xffffffff00000000n]],
      ["XSign", 4, true, false, [-1n, 1n]],
    ],
  );
});

test("a flexible array member at the end is marked and takes no size", (t) => {
  const g = new Graph();
  const u8 = g.typedef("__u8", g.int("unsigned char", 1));
  const u32 = g.int("unsigned int", 4);
  const s = g.struct("flex", 4, [
    ["len", u32, 0],
    ["data", g.array(u8, 0), 32],
  ]);
  const c = composite(new LayoutEngine(g.btf(), "t").layoutRoot(s, "x"));
  const data = c.fields.find((f) => f.node === "value" && f.name === "data");
  t.true(data?.node === "value" && data.flexible === true && data.offset === 4);
});

test("typedefs of named structs become aliases; of anonymous structs, the type's name", (t) => {
  const g = new Graph();
  const u32 = g.int("unsigned int", 4);
  const point = g.struct("point", 4, [["x", u32, 0]]);
  const pointT = g.typedef("point_t", point);
  const anon = g.typedef("sample_t", g.struct("", 4, [["y", u32, 0]]));
  const engine = new LayoutEngine(g.btf(), "t");
  t.is(composite(engine.layoutRoot(pointT, "v")).name, "TPoint");
  t.is(composite(engine.layoutRoot(anon, "w")).name, "TSampleT");
  t.deepEqual(engine.allAliases().map((a) => [a.name, a.target]), [["TPointT", "TPoint"]]);
});

test("unsupported members fail naming the BTF type id and the member path", (t) => {
  const g = new Graph();
  const fn = g.func("f");
  const bad = g.struct("bad", 8, [["callback", fn, 0]]);
  const err = t.throws(() => new LayoutEngine(g.btf(), "t").layoutRoot(bad, "x"));
  t.is(err?.name, "LayoutError");
  t.regex(err!.message, /BTF type id \d+ \(member bad\.callback\): BTF kind FUNC cannot be the type of a value/);
  t.is((err as unknown as { member: string }).member, "bad.callback");

  const fwd = g.fwd("opaque");
  const holder = g.struct("holder", 8, [["o", fwd, 0]]);
  const err2 = t.throws(() => new LayoutEngine(g.btf(), "t").layoutRoot(holder, "x"));
  t.regex(err2!.message, /member holder\.o\): struct opaque is only forward-declared/);

  const u64 = g.int("unsigned long long", 8);
  const overrun = g.struct("overrun", 4, [["x", u64, 0]]);
  t.throws(() => new LayoutEngine(g.btf(), "t").layoutRoot(overrun, "x"), { message: /overruns the 4-byte STRUCT/ });
});

test("member name clashes name both C names", (t) => {
  const g = new Graph();
  const u32 = g.int("unsigned int", 4);
  const s = g.struct("clash", 8, [
    ["pid_tgid", u32, 0],
    ["pidTgid", u32, 32],
  ]);
  const err = t.throws(() => new LayoutEngine(g.btf(), "t").layoutRoot(s, "x"));
  t.is(err?.name, "NameClashError");
  t.regex(err!.message, /"pid_tgid" and "pidTgid"/);
});
