// The generated codecs, exercised through the compiled goldens: round trips over random bytes,
// views reading and writing the same bytes as decode/encode, and the mapping rules on crafted values.
import test from "ava";
import { codecs, LE, type Struct } from "@bpf2ts/runtime";
import * as bench from "../fixtures/golden/bench/bench.js";
import * as maps from "../fixtures/golden/maps/maps.js";
import * as types from "../fixtures/golden/types/types.js";

type AnyStruct = Struct<Record<string, unknown>>;

function structsOf(mod: Record<string, unknown>): [string, AnyStruct][] {
  return Object.entries(mod)
    .filter(([, v]) => typeof v === "object" && v !== null && "decode" in v && "encode" in v && "view" in v && "fields" in v)
    .map(([k, v]) => [k, v as AnyStruct] as [string, AnyStruct])
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

const all = [...structsOf(types), ...structsOf(maps), ...structsOf(bench)];

/** Deterministic bytes (xorshift32), so a failure reproduces. */
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

/**
 * A plain deep copy: reads accessors (views), copies typed arrays, so views compare with decodes.
 * Strings holding invalid UTF-8 (random bytes) decode with U+FFFD and cannot round-trip byte for
 * byte; they compare as one placeholder.
 */
function materialize(x: unknown): unknown {
  if (typeof x === "string") return x.includes("\uFFFD") ? "<invalid utf-8>" : x;
  if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<unknown>);
  if (Array.isArray(x)) return x.map(materialize);
  if (typeof x === "object" && x !== null) return Object.fromEntries(keysOf(x).map((k) => [k, materialize((x as Record<string, unknown>)[k])]));
  return x;
}

/** Own keys of a plain object; the accessor names of a view (they live on its class's prototype). */
function keysOf(x: object): string[] {
  const proto = Object.getPrototypeOf(x) as object | null;
  if (proto === Object.prototype || proto === null) return Object.keys(x);
  return Object.entries(Object.getOwnPropertyDescriptors(proto))
    .filter(([, d]) => d.get !== undefined)
    .map(([k]) => k);
}

/** True when every leaf is an integer, bigint or integer typed array (strings, floats and bools normalise). */
function exactlyEncodable(x: unknown): boolean {
  if (typeof x === "string" || typeof x === "boolean") return false;
  if (typeof x === "number") return Number.isInteger(x);
  if (ArrayBuffer.isView(x)) return !(x instanceof Float32Array || x instanceof Float64Array);
  if (Array.isArray(x)) return x.every(exactlyEncodable);
  if (typeof x === "object" && x !== null) return Object.values(x).every(exactlyEncodable);
  return true;
}

/** Bytes (bits) some field covers, from `fields`: the rest is padding encode leaves zero. */
function meaningful(s: AnyStruct): Uint8Array {
  const mask = new Uint8Array(s.size);
  for (const f of Object.values(s.fields)) {
    if (f.bitSize === undefined) {
      // Size 0 is a flexible array member: it owns everything from its offset on.
      const end = f.size === 0 ? s.size : Math.min(s.size, f.offset + f.size);
      for (let i = f.offset; i < end; i++) mask[i] = 0xff;
      continue;
    }
    // Host is little-endian in these tests: bit k of the unit is bit k%8 of byte k/8.
    for (let b = f.bitOffset!; b < f.bitOffset! + f.bitSize; b++) mask[f.offset + (b >> 3)]! |= 1 << (b & 7);
  }
  return mask;
}

/**
 * Random bytes with the string fields' bytes made ASCII: a char array of random bytes is mostly
 * invalid UTF-8, which decodes to U+FFFD (3 bytes each) and then no longer fits its array, which
 * encode (rightly) refuses instead of cutting.
 */
function encodableBytes(s: AnyStruct, n: number, seed: number): Uint8Array {
  const bytes = randomBytes(n, seed);
  const first = s.decode(new DataView(bytes.buffer)) as Record<string, unknown>;
  for (const [key, f] of Object.entries(s.fields)) {
    const x = first[key];
    if (typeof x === "string" || (Array.isArray(x) && x.some((e) => typeof e === "string"))) {
      for (let i = f.offset; i < f.offset + f.size; i++) bytes[i]! &= 0x7f;
    }
  }
  try {
    s.encode(s.decode(new DataView(bytes.buffer)), new DataView(new ArrayBuffer(n)));
  } catch (e) {
    // Strings inside nested structs or unions: all bytes ASCII, then.
    if (!(e instanceof RangeError && /char\[/.test(e.message))) throw e;
    for (let i = 0; i < n; i++) bytes[i]! &= 0x7f;
  }
  return bytes;
}

test("every generated struct round-trips random bytes", (t) => {
  // decode → encode normalises (strings cut at their first NUL, padding zeroed); from there
  // decode/encode is a fixpoint, byte for byte. Values without strings or floats keep every
  // meaningful bit of the original bytes.
  t.true(all.length >= 15, `found ${all.length} structs`);
  for (const [name, s] of all) {
    for (let seed = 1; seed <= 64; seed++) {
      const bytes = encodableBytes(s, s.size, seed * 7919 + name.length);
      const first = s.decode(new DataView(bytes.buffer));
      const once = new Uint8Array(s.size).fill(0xa5);
      s.encode(first, new DataView(once.buffer));
      const second = s.decode(new DataView(once.buffer));
      const twice = new Uint8Array(s.size).fill(0x5a);
      s.encode(second, new DataView(twice.buffer));
      t.deepEqual(materialize(s.decode(new DataView(twice.buffer))), materialize(second), `${name}, seed ${seed}: decode after encode`);
      t.deepEqual(Array.from(twice), Array.from(once), `${name}, seed ${seed}: encode(decode(encode(x))) bytes`);
      if (!exactlyEncodable(first)) continue;
      t.deepEqual(materialize(second), materialize(first), `${name}, seed ${seed}: values`);
      const mask = meaningful(s);
      for (let i = 0; i < s.size; i++) {
        if ((once[i]! & mask[i]!) !== (bytes[i]! & mask[i]!)) {
          t.fail(`${name}, seed ${seed}: byte ${i} is ${once[i]} after encode, was ${bytes[i]} (mask ${mask[i]})`);
          break;
        }
        if ((once[i]! & ~mask[i]! & 0xff) !== 0) {
          t.fail(`${name}, seed ${seed}: padding byte ${i} not zeroed by encode`);
          break;
        }
      }
    }
  }
});

test("views read the same values as decode and write through to the bytes", (t) => {
  for (const [name, s] of all) {
    const bytes = randomBytes(s.size, 4242 + s.size);
    const v = new DataView(bytes.buffer);
    t.deepEqual(materialize(s.view(v)), materialize(s.decode(v)), name);
  }
  const buf = new DataView(new ArrayBuffer(types.TypesBits.size));
  const view = types.TypesBits.view(buf);
  view.b = -7;
  view.tint = types.TypesColor.BLUE;
  view.c = 0xabcdef;
  t.like(types.TypesBits.decode(buf), { b: -7, tint: 4, c: 0xabcdef, a: 0 });
  const ev = new DataView(new ArrayBuffer(maps.MapsEvent.size));
  const mv = maps.MapsEvent.view(ev);
  mv.comm = "bash";
  mv.args.argc = 3;
  t.like(maps.MapsEvent.decode(ev), { comm: "bash", args: { argc: 3, first: "" } });
});

test("scalars: 64/128-bit and pointers are bigints, bool is boolean, floats are numbers", (t) => {
  const x: types.TypesScalars = {
    u8: 255, s8: -128, u16: 65535, s16: -32768, u32: 0xffffffff, s32: -(2 ** 31), u64: 2n ** 64n - 1n, s64: -(2n ** 63n),
    flag: true, ch: -5, sch: -1, uch: 200, f32: 1.5, f64: -2.25, u128: 2n ** 127n + 5n, s128: -(2n ** 100n), ptr: 0xffff_8880_dead_beefn,
    namePtr: 0n, callback: 1n,
  };
  const buf = new DataView(new ArrayBuffer(types.TypesScalars.size));
  types.TypesScalars.encode(x, buf);
  t.deepEqual(types.TypesScalars.decode(buf), x);
  t.is(buf.getBigUint64(types.TypesScalars.fields.u128!.offset + 8, true), 2n ** 63n, "__int128 high half");
});

test("bitfields sign-extend and stay inside their bits", (t) => {
  const buf = new DataView(new ArrayBuffer(types.TypesBits.size));
  const x: types.TypesBits = { a: 7, b: -16, c: 0xffffff, d: 1, e: 1023, wide: 2n ** 40n - 1n, swide: -(2 ** 19), on: true, tint: types.TypesColor.GREEN, tail: 99, wbits: types.TypesWide64.W_NEG };
  types.TypesBits.encode(x, buf);
  t.deepEqual(types.TypesBits.decode(buf), x);
  types.TypesBits.encode({ ...x, b: 15, swide: 2 ** 19 - 1 }, buf);
  t.like(types.TypesBits.decode(buf), { b: 15, swide: 2 ** 19 - 1, a: 7, c: 0xffffff });
  // Out-of-range values are refused (naming the field), never truncated or spilled into neighbours.
  const before = new Uint8Array(buf.buffer).slice();
  t.throws(() => types.TypesBits.encode({ ...x, a: 0xff }, new DataView(new ArrayBuffer(types.TypesBits.size))), {
    instanceOf: RangeError,
    message: "field a (__u32 a : 3): expected an integer in 0..7 (unsigned 3-bit field), got 255",
  });
  t.deepEqual(new Uint8Array(buf.buffer), before);
});

test("char arrays are NUL-trimmed strings; numeric arrays typed; 2-D arrays are arrays of typed arrays", (t) => {
  const buf = new DataView(new ArrayBuffer(types.TypesArrays.size));
  const bytes = new Uint8Array(buf.buffer);
  bytes.set(Buffer.from("node\0garbage"), types.TypesArrays.fields.comm!.offset);
  const d = types.TypesArrays.decode(buf);
  t.is(d.comm, "node");
  t.true(d.bytes instanceof Uint8Array && d.bytes.length === 6);
  t.true(d.ports instanceof Uint16Array && d.ports.length === 3);
  t.true(d.words instanceof BigUint64Array && d.swords instanceof BigInt64Array);
  t.true(d.floats instanceof Float32Array && d.doubles instanceof Float64Array);
  t.true(d.ptrs instanceof BigUint64Array);
  t.true(Array.isArray(d.matrix) && d.matrix.length === 2 && d.matrix[0] instanceof Uint32Array && d.matrix[0].length === 3);
  t.deepEqual(d.names, ["", "", ""]);
  t.true(typeof d.uname === "string", "unsigned char[N] spelled as such is text");
  t.deepEqual(d.points.map((p) => [p.x, p.y]), [[0, 0], [0, 0]]);
  // The raw bytes of a string stay reachable through `fields`.
  const f = types.TypesArrays.fields.comm!;
  t.is(Buffer.from(bytes.subarray(f.offset, f.offset + f.size)).toString("latin1").replace(/\0.*$/s, "") + "", "node");
  // A string longer than its array is refused, not cut; UTF-8 survives; all 16 bytes may be used.
  t.throws(() => types.TypesArrays.encode({ ...d, comm: "ünïcode-and-a-long-tail" }, buf), {
    instanceOf: RangeError,
    message: 'field comm (char comm[16]): expected a string of at most 16 UTF-8 bytes (char[16]), got "ünïcode-and-a-long-tail"',
  });
  types.TypesArrays.encode({ ...d, comm: "ünïcode-16byte", names: ["a", "bb", "ccc"] }, buf);
  const e = types.TypesArrays.decode(buf);
  t.is(e.comm, "ünïcode-16byte");
  t.deepEqual(e.names, ["a", "bb", "ccc"]);
  // Typed-array views are live over aligned bytes.
  const live = types.TypesArrays.view(buf).words;
  live[1] = 77n;
  t.is(types.TypesArrays.decode(buf).words[1], 77n);
});

test("64-bit stores (codecs.set64) write the same bytes as DataView, aligned or not, and throw as it does", (t) => {
  const buf = new ArrayBuffer(40);
  const wantBuf = new ArrayBuffer(40);
  for (const [base, o] of [[0, 8], [8, 0], [3, 5], [4, 9]] as const) {
    const v = new DataView(buf, base, 32);
    const want = new DataView(wantBuf, base, 32);
    for (const x of [0n, 1n, 0xfedcba9876543210n, -2n, 2n ** 64n + 7n]) {
      codecs.set64(v, o, x);
      want.setBigUint64(o, x, LE);
      t.deepEqual(new Uint8Array(buf), new Uint8Array(wantBuf), `base ${base}, offset ${o}, value ${x}`);
      t.is(codecs.words(v, o, 8).s64[codecs.words(v, o, 8).at], BigInt.asIntN(64, x));
    }
    t.throws(() => codecs.set64(v, 30, 1n), { instanceOf: RangeError });
    t.throws(() => codecs.set64(v, -8, 1n), { instanceOf: RangeError });
  }
  const moved = new ArrayBuffer(16);
  const mv = new DataView(moved);
  codecs.set64(mv, 8, 5n);
  structuredClone(moved, { transfer: [moved] }); // detaches `moved`
  t.throws(() => codecs.set64(mv, 8, 6n), { instanceOf: TypeError });
});

test("unions decode every member; encode lets the first present member win", (t) => {
  const buf = new DataView(new ArrayBuffer(types.TypesNumber.size));
  types.TypesNumber.encode({ d: 1.0 }, buf);
  const n = types.TypesNumber.decode(buf);
  t.is(n.d, 1.0);
  t.is(n.u, 0x3ff0000000000000n);
  t.deepEqual(Array.from(n.raw!), [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
  types.TypesNumber.encode({ u: 5n, d: 1.0 }, buf);
  t.is(types.TypesNumber.decode(buf).u, 5n, "first member present wins");
  // Anonymous union flattened into the struct.
  const nb = new DataView(new ArrayBuffer(types.TypesNested.size));
  const base = types.TypesNested.decode(nb);
  types.TypesNested.encode({ ...base, whole: undefined, first: 1, second: 2 } as types.TypesNested, nb);
  t.is(types.TypesNested.decode(nb).whole, (2n << 32n) | 1n);
});

test("enums are const objects with their values; ENUM64 values are bigints", (t) => {
  t.deepEqual({ ...types.TypesSign }, { NEG: -1, ZERO: 0, POS: 1 });
  t.is(types.TypesBig.HUGE, 0xffffffff00000000n);
  t.is(types.TypesWide64.W_NEG, -2n);
  const buf = new DataView(new ArrayBuffer(types.TypesEnums.size));
  types.TypesEnums.encode({ c: types.TypesColor.BLUE, s: types.TypesSign.NEG, b: types.TypesBig.HUGE, w: types.TypesWide64.W_NEG, level: types.TypesEnumsLevel.LEVEL_HIGH }, buf);
  t.deepEqual(types.TypesEnums.decode(buf), { c: 4, s: -1, b: 0xffffffff00000000n, w: -2n, level: 2 });
});

test("a flexible array member decodes what the buffer holds past its offset", (t) => {
  const off = types.TypesFlex.fields.data!.offset;
  const buf = new DataView(new ArrayBuffer(off + 10));
  new Uint8Array(buf.buffer).set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], off);
  const d = types.TypesFlex.decode(buf);
  t.deepEqual(Array.from(d.data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  // A record inside a bigger view (a ring buffer's pages): its length bounds the array.
  t.deepEqual(Array.from(types.TypesFlex.decode(buf, 0, off + 4).data), [1, 2, 3, 4]);
  t.deepEqual(Array.from(types.TypesFlex.view(buf, 0, off + 2).data), [1, 2]);
  const small = new DataView(new ArrayBuffer(types.TypesFlex.size));
  t.is(types.TypesFlex.decode(small).data.length, types.TypesFlex.size - off);
  const out = new DataView(new ArrayBuffer(off + 4));
  t.throws(() => types.TypesFlex.encode({ len: 4, kind: 1, data: Uint8Array.of(9, 8, 7, 6, 5) }, out), { instanceOf: RangeError, message: /field data \(__u8 data\[\]\): expected at most 4 elements/ });
  types.TypesFlex.encode({ len: 4, kind: 1, data: Uint8Array.of(9, 8, 7, 6) }, out);
  t.deepEqual(Array.from(types.TypesFlex.decode(out).data), [9, 8, 7, 6], "encode writes what fits");
});

test("packed structs use the offsets clang chose", (t) => {
  t.is(types.TypesPacked.size, 17);
  t.is(types.TypesPacked.align, 1);
  t.deepEqual(
    Object.fromEntries(Object.entries(types.TypesPacked.fields).map(([k, f]) => [k, f.offset])),
    { tag: 0, value: 1, port: 5, stamp: 7, lo: 15, mid: 15 },
  );
  const buf = new DataView(new ArrayBuffer(17));
  types.TypesPacked.encode({ tag: 1, value: 0x01020304, port: 0x0506, stamp: 0x0708090a0b0c0d0en, lo: 0xf, mid: 0xabc }, buf);
  t.deepEqual(types.TypesPacked.decode(buf), { tag: 1, value: 0x01020304, port: 0x0506, stamp: 0x0708090a0b0c0d0en, lo: 0xf, mid: 0xabc });
  t.is(buf.getUint32(1, true), 0x01020304);
});

test("reserved-word members are escaped", (t) => {
  t.deepEqual(Object.keys(types.TypesReserved.fields), ["class_", "constructor_", "__proto___", "new_", "this_", "function_", "delete_", "toString_", "valueOf_", "hasOwnProperty_"]);
  const d = types.TypesReserved.decode(new DataView(new ArrayBuffer(types.TypesReserved.size)));
  t.is(Object.getPrototypeOf(d), Object.prototype, "no __proto__ hijack");
  t.is(typeof d.toString, "function");
});

test("typedef aliases are the same codec", (t) => {
  t.is(types.TypesPointT, types.TypesPoint);
});
