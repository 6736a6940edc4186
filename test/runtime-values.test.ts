// Checked values (issue 11 item 4): keys, values, variables and constants are range- and type-checked
// when encoded. A wrong type is a TypeError, a value out of range a RangeError, and the message names
// the map, variable or constant, the field and the C type. No value is ever stored other than the one
// given: every edge value reads back as itself, and a rejected value leaves the old one in place.
//
// The first tests run the codecs and generated encoders in-process; the others use the `maps` golden
// module (exactly as generated) on the live kernel.

import test, { type ExecutionContext } from "ava";
import { BpfError, codecs, type Codec } from "@bpf2ts/runtime";
import { loadMaps, type MapsObjects } from "../fixtures/golden/maps/maps.js";
import * as types from "../fixtures/golden/types/types.js";
import { requireFeature } from "./helpers/kernel.js";

type ErrorClass = typeof TypeError | typeof RangeError;

function encode<T>(codec: Codec<T>, x: T): Uint8Array {
  const bytes = new Uint8Array(codec.size);
  codec.encode(x, new DataView(bytes.buffer), 0);
  return bytes;
}

const decode = <T>(codec: Codec<T>, bytes: Uint8Array): T => codec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);

// ---- scalar codecs -------------------------------------------------------------------------------

const intCases: Array<[name: string, codec: Codec<number>, min: number, max: number]> = [
  ["u8", codecs.u8, 0, 255],
  ["s8", codecs.s8, -128, 127],
  ["u16", codecs.u16, 0, 65535],
  ["s16", codecs.s16, -32768, 32767],
  ["u32", codecs.u32, 0, 2 ** 32 - 1],
  ["s32", codecs.s32, -(2 ** 31), 2 ** 31 - 1],
];

test("scalar integer codecs: every edge value reads back as itself; others throw naming the C type", (t) => {
  for (const [name, codec, min, max] of intCases) {
    for (const x of [0, -0, 1, min, max, min + 1, max - 1]) {
      t.is(decode(codec, encode(codec, x)), x === 0 ? 0 : x, `${name} ${x}`);
    }
    const range = `expected an integer in ${min}..${max} (${name})`;
    const bad: Array<[unknown, ErrorClass]> = [
      [max + 1, RangeError], [min - 1, RangeError], [1.5, RangeError], [NaN, RangeError], [Infinity, RangeError],
      ["abc", TypeError], ["5", TypeError], [undefined, TypeError], [null, TypeError], [{}, TypeError], [5n, TypeError], [true, TypeError],
    ];
    for (const [x, cls] of bad) {
      const e = t.throws(() => encode(codec, x as number), { instanceOf: cls }, `${name} ${String(x)}`);
      t.true(e?.message.startsWith(range), `${name}: ${e?.message}`);
    }
  }
  // The cases: s8 given 200 was stored as -56; -1 as u32 became 4294967295.
  t.throws(() => encode(codecs.s8, 200), { instanceOf: RangeError, message: "expected an integer in -128..127 (s8), got 200" });
  t.throws(() => encode(codecs.u32, -1), { instanceOf: RangeError, message: "expected an integer in 0..4294967295 (u32), got -1" });
  t.throws(() => encode(codecs.u32, 2 ** 32), { instanceOf: RangeError, message: "expected an integer in 0..4294967295 (u32), got 4294967296" });
});

test("u64/s64: bigints in range, or safe integer numbers; beyond is a RangeError", (t) => {
  const u64Edges = [0n, 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
  for (const x of u64Edges) t.is(decode(codecs.u64, encode(codecs.u64, x)), x);
  const s64Edges = [0n, -1n, -(2n ** 63n), 2n ** 63n - 1n];
  for (const x of s64Edges) t.is(decode(codecs.s64, encode(codecs.s64, x)), x);
  // Numbers: one rule for both the scalar codec and generated fields: safe integers only.
  for (const x of [0, 5, 2 ** 53 - 1]) t.is(decode(codecs.u64, encode(codecs.u64, x as unknown as bigint)), BigInt(x));
  t.is(decode(codecs.s64, encode(codecs.s64, -(2 ** 53 - 1) as unknown as bigint)), -(2n ** 53n - 1n));
  const u64 = "expected a bigint (or safe integer) in 0..18446744073709551615 (u64)";
  t.throws(() => encode(codecs.u64, 2n ** 64n), { instanceOf: RangeError, message: `${u64}, got 18446744073709551616n` });
  t.throws(() => encode(codecs.u64, -1n), { instanceOf: RangeError, message: `${u64}, got -1n` });
  t.throws(() => encode(codecs.u64, 2 ** 53 as unknown as bigint), { instanceOf: RangeError, message: `${u64}, got 9007199254740992` });
  t.throws(() => encode(codecs.u64, 1.5 as unknown as bigint), { instanceOf: RangeError });
  t.throws(() => encode(codecs.u64, "5" as unknown as bigint), { instanceOf: TypeError, message: `${u64}, got "5"` });
  t.throws(() => encode(codecs.s64, 2n ** 63n), { instanceOf: RangeError, message: /\(s64\), got 9223372036854775808n/ });
});

test("bool takes booleans only; floats take numbers", (t) => {
  t.is(decode(codecs.bool, encode(codecs.bool, true)), true);
  t.is(decode(codecs.bool, encode(codecs.bool, false)), false);
  for (const x of [1, 0, "true", undefined]) t.throws(() => encode(codecs.bool, x as unknown as boolean), { instanceOf: TypeError, message: /expected a boolean \(bool\)/ });
  for (const x of [0, -0, 1.5, -1e300, Number.MAX_VALUE, Infinity]) t.true(Object.is(decode(codecs.f64, encode(codecs.f64, x)), x));
  t.true(Number.isNaN(decode(codecs.f64, encode(codecs.f64, NaN))));
  t.throws(() => encode(codecs.f64, "1" as unknown as number), { instanceOf: TypeError, message: /expected a number \(float\/double\), got "1"/ });
});

// ---- generated encoders ------------------------------------------------------------------------

test("generated encoders name the field and its C declaration; bitfields and strings are checked", (t) => {
  const bits: types.TypesBits = { a: 7, b: -16, c: 0xffffff, d: 1, e: 1023, wide: 2n ** 40n - 1n, swide: -(2 ** 19), on: true, tint: types.TypesColor.GREEN, tail: 99, wbits: types.TypesWide64.W_NEG };
  t.deepEqual(decode(types.TypesBits, encode(types.TypesBits, bits)), bits);
  // A 3-bit field set to 9 stored 1.
  t.throws(() => encode(types.TypesBits, { ...bits, a: 9 }), { instanceOf: RangeError, message: "field a (__u32 a : 3): expected an integer in 0..7 (unsigned 3-bit field), got 9" });
  t.throws(() => encode(types.TypesBits, { ...bits, b: 16 }), { instanceOf: RangeError, message: /field b \(.*: 5\): expected an integer in -16..15 \(signed 5-bit field\), got 16/ });
  t.throws(() => encode(types.TypesBits, { ...bits, on: 1 as unknown as boolean }), { instanceOf: TypeError, message: /field on \(.*\): expected a boolean \(bool\), got 1/ });
  t.throws(() => encode(types.TypesBits, { ...bits, wide: 2n ** 40n }), { instanceOf: RangeError, message: "field wide (__u64 wide : 40): expected a bigint (or safe integer) in 0..1099511627775 (unsigned 40-bit field), got 1099511627776n" });

  const s = decode(types.TypesScalars, new Uint8Array(types.TypesScalars.size));
  const max: types.TypesScalars = { ...s, u8: 255, s8: -128, u16: 65535, s16: 32767, u32: 2 ** 32 - 1, s32: -(2 ** 31), u64: 2n ** 64n - 1n, s64: -(2n ** 63n), flag: true, u128: 2n ** 128n - 1n, s128: -(2n ** 127n), ptr: 2n ** 64n - 1n };
  t.deepEqual(decode(types.TypesScalars, encode(types.TypesScalars, max)), max);
  t.throws(() => encode(types.TypesScalars, { ...s, u32: 2 ** 40 }), { instanceOf: RangeError, message: "field u32 (__u32 u32): expected an integer in 0..4294967295 (u32), got 1099511627776" });
  t.throws(() => encode(types.TypesScalars, { ...s, u64: "x" as unknown as bigint }), { instanceOf: TypeError, message: /field u64 \(__u64 u64\): expected a bigint/ });
  t.throws(() => encode(types.TypesScalars, { ...s, u128: 2n ** 128n }), { instanceOf: RangeError, message: /field u128 \(.*\): .*\(u128\)/ });
  // A u64 field takes a safe integer number as the scalar codec does (before: "Cannot convert 5 to a BigInt").
  t.is(decode(types.TypesScalars, encode(types.TypesScalars, { ...s, u64: 5 as unknown as bigint })).u64, 5n);

  const arrays = decode(types.TypesArrays, new Uint8Array(types.TypesArrays.size));
  t.throws(() => encode(types.TypesArrays, { ...arrays, comm: "x".repeat(17) }), { instanceOf: RangeError, message: /^field comm \(char comm\[16\]\): expected a string of at most 16 UTF-8 bytes \(char\[16\]\)/ });
  t.throws(() => encode(types.TypesArrays, { ...arrays, comm: "a\0b" }), { instanceOf: RangeError, message: /without NUL characters/ });
  t.throws(() => encode(types.TypesArrays, { ...arrays, ports: Uint16Array.of(1, 2, 3, 4) }), { instanceOf: RangeError, message: /^field ports \(__u16 ports\[3\]\): expected at most 3 elements/ });
  t.throws(() => encode(types.TypesArrays, { ...arrays, ports: [1, 70000] as unknown as Uint16Array }), { instanceOf: RangeError, message: /^field ports \(__u16 ports\[3\]\): expected an integer in 0..65535 \(u16\), got 70000/ });
  t.throws(() => encode(types.TypesArrays, { ...arrays, points: [{ x: 1, y: 2 }, 5 as never] }), { instanceOf: TypeError, message: /^field points \(struct point points\[2\]\): element: expected an object, got 5/ });
  t.throws(() => encode(types.TypesArrays, { ...arrays, names: ["a", "b", "c", "d"] }), { instanceOf: RangeError, message: /^field names \(char names\[3\]\[8\]\): expected at most 3 elements/ });
  const full = { ...arrays, comm: "x".repeat(16), ports: [1, 2, 65535] as unknown as Uint16Array };
  const back = decode(types.TypesArrays, encode(types.TypesArrays, full));
  t.is(back.comm, "x".repeat(16), "a string may fill its whole array");
  t.deepEqual(Array.from(back.ports), [1, 2, 65535]);
});

// ---- maps, variables and constants on the kernel -------------------------------------------------

async function withMaps(t: ExecutionContext, body: (obj: MapsObjects) => void | Promise<void>): Promise<void> {
  if (!(await requireFeature(t, "root", "bpf"))) return;
  const obj = await loadMaps({ programs: ["handle_exec"] });
  try {
    await body(obj);
  } finally {
    obj.close();
  }
}

test("map keys and values: the issue's cases throw naming the map, the field and the C type", (t) =>
  withMaps(t, (obj) => {
    const { counts, hists, lastSeen, names } = obj.maps;
    const u32 = "expected an integer in 0..4294967295 (u32)";
    // A struct key's field.
    const cases: Array<[unknown, ErrorClass, string]> = [
      ["abc", TypeError, '"abc"'], [NaN, RangeError, "NaN"], [undefined, TypeError, "undefined"], [{}, TypeError, "an object (Object)"], [2 ** 32, RangeError, "4294967296"], [-1, RangeError, "-1"],
    ];
    for (const [pid, cls, got] of cases) {
      t.throws(() => counts.set({ pid: pid as number, cpu: 0 }, 1n), { instanceOf: cls, message: `map counts: key: field pid (__u32 pid): ${u32}, got ${got}` });
      t.throws(() => counts.get({ pid: pid as number, cpu: 0 }), { instanceOf: cls, message: `map counts: key: field pid (__u32 pid): ${u32}, got ${got}` });
    }
    // A struct given something that is not an object: the struct is named, not its first field.
    t.throws(() => counts.set(5 as never, 1n), { instanceOf: TypeError, message: "map counts: key: struct key: expected an object, got 5" });
    t.throws(() => counts.get(null as never), { instanceOf: TypeError, message: "map counts: key: struct key: expected an object, got null" });
    t.throws(() => hists.set(0, 5 as never), { instanceOf: TypeError, message: "map hists: value: struct hist: expected an object, got 5" });
    // A scalar key (an array's index) and a scalar value.
    for (const [key, cls] of [["abc", TypeError], [NaN, RangeError], [undefined, TypeError], [{}, TypeError], [2 ** 32, RangeError], [-1, RangeError]] as const) {
      t.throws(() => hists.get(key as number), { instanceOf: cls, message: new RegExp(`^map hists: key: expected an integer in 0\\.\\.4294967295 \\(u32\\), got `) });
    }
    t.throws(() => counts.set({ pid: 1, cpu: 0 }, 2n ** 64n), { instanceOf: RangeError, message: "map counts: value: expected a bigint (or safe integer) in 0..18446744073709551615 (u64), got 18446744073709551616n" });
    t.throws(() => counts.set({ pid: 1, cpu: 0 }, 2 ** 53 as unknown as bigint), { instanceOf: RangeError, message: /^map counts: value: .*\(u64\), got 9007199254740992$/ });
    t.throws(() => lastSeen.get(2n ** 64n), { instanceOf: RangeError, message: /^map last_seen: key: .*\(u64\), got 18446744073709551616n$/ });
    // A struct value's field (per CPU), and a string value.
    const cpus = lastSeen.cpus;
    t.throws(() => lastSeen.set(1n, Array.from({ length: cpus }, () => ({ pid: 2 ** 40, cpu: 0 }))), { instanceOf: RangeError, message: `map last_seen: value: field pid (__u32 pid): ${u32}, got 1099511627776` });
    t.throws(() => lastSeen.set(1n, [{ pid: 1, cpu: 0 }].slice(0, cpus === 1 ? 0 : 1)), { instanceOf: RangeError, message: /^map last_seen: value: per-CPU value: expected \d+ values/ });
    t.throws(() => names.set(1, "a-name-longer-than-16"), { instanceOf: RangeError, message: /^map names: value: char\[16\]: expected a string of at most 16 UTF-8 bytes \(char\[16\]\), got "a-name-longer-than-16"$/ });
    t.throws(() => hists.set(0, { slots: new BigUint64Array(9), total: 0n }), { instanceOf: RangeError, message: /^map hists: value: field slots \(__u64 slots\[8\]\): expected at most 8 elements/ });
    // An update flag outside UpdateFlag (also an Object.prototype name) is a TypeError naming the call.
    for (const flag of ["sometimes", "toString", 1]) {
      t.throws(() => counts.set({ pid: 1, cpu: 0 }, 1n, flag as never), { instanceOf: TypeError, message: /^map counts: set: flag must be one of "any", "noexist", "exist", "lock", got / });
      t.throws(() => counts.updateBatch([[{ pid: 1, cpu: 0 }, 1n]], flag as never), { instanceOf: TypeError, message: /^map counts: updateBatch: flag must be one of / });
    }
    // Nothing reached the kernel.
    t.is(counts.get({ pid: 1, cpu: 0 }), undefined);
    t.is(lastSeen.get(1n), undefined);
    t.is(names.get(1), undefined);
  }));

test("no value is stored other than the one given: edge values round-trip through the kernel", (t) =>
  withMaps(t, (obj) => {
    const { counts, hists, names, perCpuTotal } = obj.maps;
    for (const pid of [0, -0, 1, 2 ** 31, 2 ** 32 - 1]) {
      for (const value of [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
        counts.set({ pid, cpu: 7 }, value);
        t.is(counts.get({ pid, cpu: 7 }), value, `counts[${pid}] = ${value}`);
      }
      counts.set({ pid, cpu: 7 }, 2 ** 53 - 1 as unknown as bigint);
      t.is(counts.get({ pid, cpu: 7 }), 2n ** 53n - 1n, "a safe integer number is stored as its bigint");
    }
    const slots = BigUint64Array.of(0n, 1n, 2n ** 64n - 1n, 2n ** 63n, 0n, 0n, 0n, 5n);
    hists.set(3, { slots, total: 2n ** 64n - 1n });
    t.deepEqual(hists.get(3), { slots, total: 2n ** 64n - 1n });
    for (const s of ["", "a", "x".repeat(15), "y".repeat(16), "ünïcode-16byte"]) {
      names.set(1, s);
      t.is(names.get(1), s);
    }
    const perCpu = Array.from({ length: perCpuTotal.cpus }, (_, i) => (i % 2 === 0 ? 2n ** 64n - 1n : BigInt(i)));
    perCpuTotal.set(0, perCpu);
    t.deepEqual(perCpuTotal.get(0), perCpu);
  }));

test("array index past max_entries: the hint says so (not the verifier's limits)", (t) =>
  withMaps(t, (obj) => {
    const { hists } = obj.maps;
    t.is(hists.length, 4);
    const e = t.throws(() => hists.set(4, { slots: new BigUint64Array(8), total: 1n }), { instanceOf: BpfError });
    t.is(e?.code, "E2BIG");
    t.is(e?.hint, "index 4 is past the end of hists: it has max_entries 4 (indexes 0..3)");
    t.notRegex(e?.message ?? "", /verifier/);
    t.is(hists.get(4), undefined, "a lookup past the end is a miss");
  }));

test("variables: checked, named, and a rejected value leaves the old one", (t) =>
  withMaps(t, (obj) => {
    const { lastPid, total, pidRing } = obj.variables;
    lastPid.set(2 ** 32 - 1);
    t.is(lastPid.get(), 2 ** 32 - 1);
    t.throws(() => lastPid.set(-1), { instanceOf: RangeError, message: "variable last_pid: expected an integer in 0..4294967295 (u32), got -1" });
    t.throws(() => lastPid.set("7" as unknown as number), { instanceOf: TypeError, message: 'variable last_pid: expected an integer in 0..4294967295 (u32), got "7"' });
    t.is(lastPid.get(), 2 ** 32 - 1);
    total.set(2n ** 64n - 1n);
    t.throws(() => total.set(2n ** 64n), { instanceOf: RangeError, message: /^variable total: .*\(u64\), got 18446744073709551616n$/ });
    t.is(total.get(), 2n ** 64n - 1n);
    pidRing.set(Uint32Array.of(1, 2, 3, 4));
    t.throws(() => pidRing.set(Uint32Array.of(1, 2, 3, 4, 5)), { instanceOf: RangeError, message: /^variable pid_ring: u32\[4\]: expected at most 4 elements/ });
    t.throws(() => pidRing.set([9, 9, -1] as unknown as Uint32Array), { instanceOf: RangeError, message: /^variable pid_ring: u32\[4\]: expected an integer in 0..4294967295 \(u32\), got -1$/ });
    t.deepEqual(Array.from(pidRing.get()), [1, 2, 3, 4], "nothing half-written");
  }));

test("constants: checked and named at load; nothing is loaded with a wrong value", async (t) => {
  if (!(await requireFeature(t, "root", "bpf"))) return;
  const load = (constants: Record<string, unknown>) => loadMaps({ programs: ["handle_exec"], constants });
  const u32 = "expected an integer in 0..4294967295 (u32)";
  await t.throwsAsync(load({ targetPid: -1 }), { instanceOf: RangeError, message: `load maps: constant targetPid (target_pid): ${u32}, got -1` });
  await t.throwsAsync(load({ targetPid: "abc" }), { instanceOf: TypeError, message: `load maps: constant targetPid (target_pid): ${u32}, got "abc"` });
  await t.throwsAsync(load({ targetPid: 2 ** 40 }), { instanceOf: RangeError, message: `load maps: constant targetPid (target_pid): ${u32}, got 1099511627776` });
  await t.throwsAsync(load({ minArgs: 2 ** 31 }), { instanceOf: RangeError, message: /^load maps: constant minArgs \(min_args\): expected an integer in -2147483648..2147483647 \(s32\)/ });
  await t.throwsAsync(load({ verbose: 1 }), { instanceOf: TypeError, message: "load maps: constant verbose: expected a boolean (bool), got 1" });
  await t.throwsAsync(load({ prefix: "longer-than-8" }), { instanceOf: RangeError, message: /^load maps: constant prefix: char\[8\]: expected a string of at most 8 UTF-8 bytes/ });
  const obj = await load({ targetPid: 2 ** 32 - 1, minArgs: -(2 ** 31), verbose: true, prefix: "12345678" });
  try {
    t.is(obj.constants.targetPid!.get(), 2 ** 32 - 1);
    t.is(obj.constants.minArgs!.get(), -(2 ** 31));
    t.is(obj.constants.verbose!.get(), true);
    t.is(obj.constants.prefix!.get(), "12345678");
  } finally {
    obj.close();
  }
});
