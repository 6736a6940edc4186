// The generated codecs against clang's own bytes, for both byte orders. C initialisers of fixture
// structs are compiled for bpfel and bpfeb; the bytes clang puts in .data must decode to the values
// written in C, and encoding those values must give back clang's bytes exactly. Big-endian codecs run
// in a child process that sees a big-endian host (`os.endianness()` answered by a module hook).
import test from "ava";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { run, which } from "../generator/compile/clang.js";
import { readElf } from "@bpf2ts/runtime/object-file";
import { tempDir } from "./helpers/temp-dir.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const clang = ["clang-19", "clang"].map((c) => which(c)).find((p) => p !== undefined);

/** C initialisers (by global name) and the struct codec that must read them. */
const cases: { symbol: string; struct: string; c: string }[] = [
  {
    symbol: "init_bits",
    struct: "TypesBits",
    c: "struct bits init_bits = { .a = 5, .b = -3, .c = 0x123456, .d = 1, .e = 1000, .wide = 0x123456789aULL, .swide = -12345, .on = 1, .tint = BLUE, .tail = 0xdeadbeef, .wbits = W_NEG };",
  },
  {
    symbol: "init_scalars",
    struct: "TypesScalars",
    c: `struct scalars init_scalars = { .u8 = 200, .s8 = -100, .u16 = 60000, .s16 = -30000, .u32 = 4000000000u, .s32 = -2000000000, .u64 = 0xfedcba9876543210ULL,
	.s64 = -0x123456789abcdefLL, .flag = 1, .ch = 'x', .sch = -5, .uch = 250, .f32 = 1.5f, .f64 = -2.25,
	.u128 = ((unsigned __int128)0x0102030405060708ULL << 64) | 0x090a0b0c0d0e0f10ULL, .s128 = -((__int128)1 << 100), .ptr = (void *)0x1000, .name_ptr = 0, .callback = 0 };`,
  },
  { symbol: "init_packed", struct: "TypesPacked", c: "struct packed init_packed = { .tag = 9, .value = 0x11223344, .port = 0x5566, .stamp = 0x0102030405060708ULL, .lo = 0xa, .mid = 0x777 };" },
  {
    symbol: "init_arrays",
    struct: "TypesArrays",
    c: `struct arrays init_arrays = { .comm = "hello", .uname = "héllo", .bytes = {1, 2, 3, 4, 5, 6}, .ports = {80, 443, 8080}, .ints = {-1, 2, -3, 4},
	.words = {1, 0xffffffffffffffffULL}, .swords = {-1, 5}, .floats = {0.5f, -1.0f}, .doubles = {3.25, -0.125},
	.matrix = {{1, 2, 3}, {4, 5, 6}}, .names = {"a", "bb", "ccc"}, .ptrs = {(void *)8, (void *)16}, .bools = {1, 0, 1}, .points = {{1, -2}, {-3, 4}} };`,
  },
  { symbol: "init_nested", struct: "TypesNested", c: "struct nested init_nested = { .kind = 1, .origin = {2, -3}, .ids = {4, 5}, .value = {.as_u32 = 0x01020304}, .lo = 7, .hi = 8, .whole = 0x0000000a00000009ULL };" },
  { symbol: "init_number", struct: "TypesNumber", c: "union number init_number = { .d = 1.5 };" },
  { symbol: "init_enums", struct: "TypesEnums", c: "struct enums init_enums = { .c = GREEN, .s = NEG, .b = HUGE, .w = W_NEG, .level = LEVEL_HIGH };" },
  { symbol: "init_sample", struct: "TypesSampleT", c: "sample_t init_sample = { .pid = 42, .stamp = 7, .where = {-1, 1} };" },
];

/** The values the initialisers spell, as decode must produce them on a host of `target`'s byte order. */
const expected = (target: "bpfel" | "bpfeb"): Record<string, unknown> => ({
  TypesBits: { a: 5, b: -3, c: 0x123456, d: 1, e: 1000, wide: 0x123456789an, swide: -12345, on: true, tint: 4, tail: 0xdeadbeef, wbits: -2n },
  TypesScalars: {
    u8: 200, s8: -100, u16: 60000, s16: -30000, u32: 4000000000, s32: -2000000000, u64: 0xfedcba9876543210n, s64: -0x123456789abcdefn, flag: true, ch: 120, sch: -5, uch: 250,
    f32: 1.5, f64: -2.25, u128: (0x0102030405060708n << 64n) | 0x090a0b0c0d0e0f10n, s128: -(1n << 100n), ptr: 0x1000n, namePtr: 0n, callback: 0n,
  },
  TypesPacked: { tag: 9, value: 0x11223344, port: 0x5566, stamp: 0x0102030405060708n, lo: 0xa, mid: 0x777 },
  TypesArrays: {
    comm: "hello", uname: "héllo", bytes: [1, 2, 3, 4, 5, 6], ports: [80, 443, 8080], ints: [-1, 2, -3, 4], words: [1n, 0xffffffffffffffffn], swords: [-1n, 5n], floats: [0.5, -1],
    doubles: [3.25, -0.125], matrix: [[1, 2, 3], [4, 5, 6]], names: ["a", "bb", "ccc"], ptrs: [8n, 16n], bools: [true, false, true], points: [{ x: 1, y: -2 }, { x: -3, y: 4 }],
  },
  TypesNested: { kind: 1, origin: { x: 2, y: -3 }, ids: { pid: 4, tid: 5 }, value: { asU32: 0x01020304 }, lo: 7, hi: 8, whole: 0x0000000a00000009n,
    // The u64 and the two u32 of the anonymous union overlap: which half is `first` is the byte order's.
    first: target === "bpfel" ? 9 : 10, second: target === "bpfel" ? 10 : 9 },
  TypesNumber: { d: 1.5, u: 0x3ff8000000000000n, s: 0x3ff8000000000000n },
  TypesEnums: { c: 2, s: -1, b: 0xffffffff00000000n, w: -2n, level: 2 },
  TypesSampleT: { pid: 42, stamp: 7n, where: { x: -1, y: 1 } },
});

/** Runs in a child (so the runtime sees the host byte order the test chooses): decodes and encodes. */
const childScript = `
import { readFileSync } from "node:fs";
const [modUrl, inputPath] = process.argv.slice(2);
const mod = await import(modUrl);
const input = JSON.parse(readFileSync(inputPath, "utf8"));
const plain = (x) => typeof x === "bigint" ? { bigint: String(x) } : ArrayBuffer.isView(x) ? { typed: Array.from(x, plain) } : Array.isArray(x) ? x.map(plain)
  : x && typeof x === "object" ? Object.fromEntries(Object.keys(x).map((k) => [k, plain(x[k])])) : x;
const out = {};
for (const c of input) {
  const s = mod[c.struct];
  const bytes = Uint8Array.from(Buffer.from(c.hex, "hex"));
  const value = s.decode(new DataView(bytes.buffer));
  const again = new Uint8Array(s.size).fill(0xee);
  s.encode(value, new DataView(again.buffer));
  out[c.struct] = { decoded: plain(value), encoded: Buffer.from(again).toString("hex") };
}
console.log(JSON.stringify(out));
`;

/** A module hook that makes `node:os` report a big-endian host to the runtime's codec module. */
const bigEndianHook = `
export async function resolve(specifier, context, next) {
  if (specifier === "node:os" && context.parentURL && context.parentURL.endsWith("/runtime/dist/codec.js")) {
    return { url: "data:text/javascript,export const endianness = () => 'BE';", shortCircuit: true };
  }
  return next(specifier, context);
}
`;

function plain(x: unknown): unknown {
  if (typeof x === "bigint") return { bigint: String(x) };
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === "object" && x !== null) return Object.fromEntries(Object.keys(x).map((k) => [k, plain((x as Record<string, unknown>)[k])]));
  return x;
}

/**
 * What to compare: unions decode every member but the initialiser names some, so only named keys
 * count. Typed arrays are in host order: the simulated big-endian child still has little-endian
 * typed arrays, so their elements cannot be checked there (their bytes are, by the encode check).
 */
function pick(decoded: unknown, want: unknown, simulatedBigEndian: boolean): unknown {
  if (typeof decoded === "object" && decoded !== null && "typed" in decoded) {
    return simulatedBigEndian ? want : pick((decoded as { typed: unknown }).typed, want, simulatedBigEndian);
  }
  if (Array.isArray(decoded) && Array.isArray(want)) return decoded.map((d, i) => pick(d, want[i], simulatedBigEndian));
  if (typeof want !== "object" || want === null || Array.isArray(want) || typeof decoded !== "object" || decoded === null || Array.isArray(decoded)) return decoded;
  if ("bigint" in (want as object)) return decoded;
  return Object.fromEntries(Object.keys(want as object).map((k) => [k, pick((decoded as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], simulatedBigEndian)]));
}

for (const target of ["bpfel", "bpfeb"] as const) {
  test(`${target}: decode reads clang's initialised bytes and encode writes them back exactly`, async (t) => {
    if (!clang) {
      t.log("clang not found (install clang-19): cannot compile the initialisers");
      t.pass();
      return;
    }
    const dir = tempDir(t, "bpf2ts-emit-clang-");
    const src = join(dir, "init.c");
    writeFileSync(src, `#include "types.bpf.c"\n${cases.map((c) => c.c).join("\n")}\n`);
    const obj = join(dir, "init.o");
    const r = await run(clang, ["-O2", "-g", "-target", target, "-I", join(root, "fixtures"), "-I", join(root, "fixtures", "include"), "-c", src, "-o", obj]);
    t.is(r.code, 0, r.stderr);
    if (r.code !== 0) return;
    const elf = readElf(new Uint8Array(readFileSync(obj)), obj);
    const data = elf.section(".data")!;
    const bytesOf = new Map(elf.symbols().filter((s) => s.shndx === data.index).map((s) => [s.name, Buffer.from(data.data().subarray(s.value, s.value + s.size))]));
    const input = cases.map((c) => ({ struct: c.struct, hex: bytesOf.get(c.symbol)!.toString("hex") }));
    t.true(input.every((i) => i.hex.length > 0));
    writeFileSync(join(dir, "input.json"), JSON.stringify(input));
    writeFileSync(join(dir, "child.mjs"), childScript);
    writeFileSync(join(dir, "hook.mjs"), bigEndianHook);
    writeFileSync(join(dir, "register.mjs"), `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(join(dir, "hook.mjs")).href)});\n`);
    const modUrl = pathToFileURL(join(root, "dist", "fixtures", "golden", "types", "types.js")).href;
    const args = [...(target === "bpfeb" ? ["--import", pathToFileURL(join(dir, "register.mjs")).href] : []), join(dir, "child.mjs"), modUrl, join(dir, "input.json")];
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root });
    const out = JSON.parse(stdout) as Record<string, { decoded: unknown; encoded: string }>;
    for (const c of input) {
      const got = out[c.struct]!;
      const want = plain(expected(target)[c.struct]);
      t.deepEqual(pick(got.decoded, want, target === "bpfeb"), want, `${target} ${c.struct}: decode`);
      t.is(got.encoded, c.hex, `${target} ${c.struct}: encode(decode(clang bytes)) differs from clang's bytes`);
    }
  });
}
