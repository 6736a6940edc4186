// Generated decoders on records shorter than their struct (a program that submits only the bytes it
// filled), through the compiled goldens: at every length, nothing is read past the record, fields
// wholly inside decode as in the whole record, fields past its end are zero, views agree with
// decode; and crafted records check the cut of strings, arrays, nested structs and scalars exactly.
import test from "ava";
import { codecs, fromBytes, rawCodec, recordsOf, type Struct } from "@bpf2ts/runtime";
import * as bench from "../fixtures/golden/bench/bench.js";
import * as maps from "../fixtures/golden/maps/maps.js";
import * as types from "../fixtures/golden/types/types.js";

type AnyStruct = Struct<Record<string, unknown>>;

const all: [string, AnyStruct][] = [types, maps, bench].flatMap((mod) =>
  Object.entries(mod as Record<string, unknown>)
    .filter(([, v]) => typeof v === "object" && v !== null && "decode" in v && "view" in v && "fields" in v)
    .map(([k, v]) => [k, v as AnyStruct] as [string, AnyStruct]),
);

function randomBytes(n: number, seed: number): Uint8Array {
  let x = seed | 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Plain data: views read through their accessors, typed arrays as arrays, invalid UTF-8 as one placeholder. */
function materialize(x: unknown): unknown {
  if (typeof x === "string") return x.includes("\uFFFD") ? "<invalid utf-8>" : x;
  if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<unknown>);
  if (Array.isArray(x)) return x.map(materialize);
  if (typeof x === "object" && x !== null) {
    const proto = Object.getPrototypeOf(x) as object;
    const keys = proto === Object.prototype ? Object.keys(x) : Object.entries(Object.getOwnPropertyDescriptors(proto)).filter(([, d]) => d.get).map(([k]) => k);
    return Object.fromEntries(keys.map((k) => [k, materialize((x as Record<string, unknown>)[k])]));
  }
  return x;
}

/** The zero value of a field past the record's end: 0, 0n, false, "", an empty array, a struct of zeros. */
function isZero(x: unknown): boolean {
  if (x === 0 || x === 0n || x === false || x === "") return true;
  if (Array.isArray(x)) return x.length === 0;
  if (typeof x === "object" && x !== null) return Object.values(x).every(isZero);
  return false;
}

/** The first `n` bytes in a buffer of exactly `n` bytes: any read past the record throws. */
function exact(bytes: Uint8Array, n: number): DataView {
  return new DataView(bytes.slice(0, n).buffer);
}

test("every golden struct decodes every shorter record: nothing read past it, fields inside as whole, the rest zero", (t) => {
  t.true(all.length >= 15, `found ${all.length} structs`);
  for (const [name, s] of all) {
    const bytes = randomBytes(s.size + 16, 977 + s.size);
    const wide = new DataView(bytes.buffer);
    const whole = materialize(s.decode(wide, 0, s.size)) as Record<string, unknown>;
    t.deepEqual(materialize(s.decode(new DataView(bytes.slice(0, s.size).buffer))), whole, `${name}: the default length is the struct's`);
    for (let n = 0; n <= s.size; n++) {
      let got: Record<string, unknown>;
      try {
        got = materialize(s.decode(exact(bytes, n), 0, n)) as Record<string, unknown>;
      } catch (e) {
        t.fail(`${name}, ${n} bytes: ${String(e)}`);
        continue;
      }
      t.deepEqual(materialize(s.decode(wide, 0, n)), got, `${name}, ${n} bytes: bytes past the record do not matter`);
      t.deepEqual(materialize(s.view(exact(bytes, n), 0, n)), got, `${name}, ${n} bytes: the view reads what decode does`);
      for (const [field, f] of Object.entries(s.fields)) {
        if (f.size === 0) continue; // a flexible array member: checked below
        if (f.offset + f.size <= n) t.deepEqual(got[field], whole[field], `${name}.${field} inside ${n} bytes`);
        else if (f.offset >= n) t.true(isZero(got[field]), `${name}.${field} past ${n} bytes: ${JSON.stringify(got[field], (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`);
      }
    }
    // Longer records decode their first `size` bytes (a flexible array member takes the rest: above).
    if (!Object.values(s.fields).some((f) => f.size === 0)) t.deepEqual(materialize(s.decode(wide, 0, s.size + 16)), whole, `${name}: a longer record`);
  }
});

test("strings, arrays, nested structs and scalars cut by the record's end", (t) => {
  const A = types.TypesArrays;
  const value: types.TypesArrays = {
    comm: "hello", uname: "héllo", bytes: Uint8Array.of(1, 2, 3, 4, 5, 6), ports: Uint16Array.of(80, 443, 8080), ints: Int32Array.of(-1, 2, -3, 4),
    words: BigUint64Array.of(1n, 2n), swords: BigInt64Array.of(-1n, 5n), floats: Float32Array.of(0.5, -1), doubles: Float64Array.of(3.25, -0.125),
    matrix: [Uint32Array.of(1, 2, 3), Uint32Array.of(4, 5, 6)], names: ["a", "bb", "ccc"], ptrs: BigUint64Array.of(8n, 16n), bools: [true, false, true],
    points: [{ x: 1, y: -2 }, { x: -3, y: 4 }],
  };
  const bytes = new Uint8Array(A.size);
  A.encode(value, new DataView(bytes.buffer));
  const cut = (n: number) => materialize(A.decode(exact(bytes, n), 0, n)) as Record<string, unknown>;
  const f = A.fields;
  t.is(cut(3)["comm"], "hel", "a string keeps the bytes present");
  t.deepEqual(cut(3)["uname"], "", "and the next one is empty");
  t.deepEqual(cut(f["ports"]!.offset + 3)["ports"], [80], "a numeric array keeps its whole elements");
  t.deepEqual(cut(f["matrix"]!.offset + 12 + 5)["matrix"], [[1, 2, 3], [4]], "rows of a 2-D array, the last cut in turn");
  t.deepEqual(cut(f["names"]!.offset + 8 + 1)["names"], ["a", "b"], "an array of strings: those begun, the last cut");
  t.deepEqual(cut(f["points"]!.offset + 8 + 4)["points"], [{ x: 1, y: -2 }, { x: -3, y: 0 }], "an array of structs: the last one partial");
  t.deepEqual(cut(f["bools"]!.offset + 2)["bools"], [true, false]);
  t.deepEqual(cut(f["words"]!.offset + 15)["words"], [1n], "64-bit words too");

  const S = types.TypesScalars;
  const sb = new Uint8Array(S.size).fill(0xff);
  const scalars = S.decode(exact(sb, S.fields["u32"]!.offset + 2), 0, S.fields["u32"]!.offset + 2);
  t.like(scalars, { u8: 255, s8: -1, u16: 65535, s16: -1, u32: 0, s32: 0, u64: 0n, flag: false, f64: 0, u128: 0n, ptr: 0n }, "a scalar the record cuts through is zero");

  const N = types.TypesNested;
  const nb = new Uint8Array(N.size);
  N.encode({ kind: 1, origin: { x: 2, y: -3 }, ids: { pid: 4, tid: 5 }, value: { asU32: 0x01020304 }, lo: 7, hi: 8, whole: 0x0000000a00000009n }, new DataView(nb.buffer));
  t.like(N.decode(exact(nb, 8), 0, 8), { kind: 1, origin: { x: 2, y: 0 }, ids: { pid: 0, tid: 0 }, lo: 0, whole: 0n }, "a nested struct the record cuts through");

  const B = types.TypesBits;
  const bb = new Uint8Array(B.size);
  B.encode({ a: 5, b: -3, c: 0x123456, d: 1, e: 1000, wide: 0x123456789an, swide: -12345, on: true, tint: 4, tail: 0xdeadbeef, wbits: -2n }, new DataView(bb.buffer));
  t.like(B.decode(exact(bb, 5), 0, 5), { a: 5, b: -3, c: 0x123456, d: 1, e: 0, wide: 0n, on: false, tint: 0, wbits: 0n }, "bitfields whose storage unit the record holds");

  const F = types.TypesFlex;
  t.deepEqual(materialize(F.decode(exact(Uint8Array.of(1, 0, 0, 0, 2), 5), 0, 5)), { len: 1, kind: 0, data: [] }, "a flexible struct shorter than its fixed part");
});

test("runtime codecs: scalars, raw bytes, fromBytes and recordsOf take the record's length", (t) => {
  const v = new DataView(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10).buffer);
  t.is(codecs.u32.decode(v, 0, 3), 0);
  t.is(codecs.u32.decode(v, 0, 4), 0x04030201);
  t.is(codecs.u64.decode(v, 0, 7), 0n);
  t.is(codecs.bool.decode(v, 0, 0), false);
  t.deepEqual(Array.from(rawCodec(8).decode(v, 0, 3)), [1, 2, 3]);
  t.deepEqual(Array.from(rawCodec(8).decode(v, 0)), [1, 2, 3, 4, 5, 6, 7, 8]);
  t.is(codecs.present(-4, 4, 3), 0);
  t.is(codecs.present(7, 4, 3), 1);
  t.is(codecs.present(100, 4, 3), 3);
  t.is(codecs.present(9, 8, 3, 1), 2, "elements begun");
  const short = fromBytes(bench.BenchEvent, Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0, 9));
  t.like(short, { seq: 7n, ts: 0n, comm: "" });
  const R = recordsOf(bench.BenchEvent);
  const long = new Uint8Array(bench.BenchEvent.size + 3);
  long.set([0xaa, 0xbb, 0xcc], bench.BenchEvent.size);
  const r = R.decode(new DataView(long.buffer), 0, long.length);
  t.is(r.length, long.length);
  t.deepEqual(Array.from(r.tail), [0xaa, 0xbb, 0xcc]);
  const again = new Uint8Array(long.length);
  R.encode(r, new DataView(again.buffer));
  t.deepEqual(Array.from(again), Array.from(long), "encode writes the event and its tail");
  t.is(R.decode(new DataView(long.buffer), 0, 20).tail.length, 0);
});
