// Codecs: how typed values meet the bytes of maps, globals and events.
//
// Generated modules describe every C struct as a `Struct<T>` made by `struct()` (struct.ts) from its
// field descriptors and the straight-line decoder of whole records. The helpers here are the pieces
// decoders and the encoders built from descriptors share (strings, bitfields, typed arrays, 64-bit
// words, value checks) and the scalar codecs for map keys and values that are plain numbers.

import { endianness } from "node:os";

/** Host byte order. The loader always picks the object built for it, so kernel data is host-endian. */
export const LE: boolean = endianness() === "LE";

export interface Codec<T> {
  /** Size in bytes as the kernel lays it out. */
  readonly size: number;
  readonly align: number;
  /**
   * `length` is the record's size from `offset` (a ring buffer or perf record; the view may hold
   * more, e.g. a ring buffer's pages). A record shorter than `size` decodes what it holds: fields
   * wholly inside as usual, a trailing string or array cut to the bytes present, later fields zero
   * (0, 0n, "", false, empty arrays, zeroed structs); it is never rejected. A longer one decodes its
   * first `size` bytes, except that a flexible array member takes the rest. Default: `size` (for
   * types ending in a flexible array member, the rest of the view).
   */
  decode(view: DataView, offset?: number, length?: number): T;
  encode(value: T, view: DataView, offset?: number): void;
}

export interface FieldInfo {
  readonly offset: number;
  readonly size: number;
  /** Bitfields only: bit offset from `offset`'s storage unit start, and width. */
  readonly bitOffset?: number;
  readonly bitSize?: number;
}

export interface Struct<T> extends Codec<T> {
  /** The C name (`event`), or the generated path name for anonymous types. */
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldInfo>>;
  /**
   * A lazy view: getters (and setters) that read the bytes at access time, no copy. Views are class
   * instances with accessors on the prototype: spread and JSON.stringify see no fields (use decode
   * for a plain object); util.inspect shows the decoded value. Valid only while the bytes are (a ring
   * buffer record: during its callback). Getters read what a record of `length` bytes holds, as
   * decode does.
   */
  view(view: DataView, offset?: number, length?: number): T;
}

function scalar<T>(size: number, get: (v: DataView, o: number) => T, set: (v: DataView, o: number, x: T) => void, zero: T): Codec<T> {
  return {
    size,
    align: size,
    decode: (v, o = 0, n = size) => (n >= size ? get(v, o) : zero),
    encode: (x, v, o = 0) => set(v, o, x),
  };
}


// ---- checked values ----------------------------------------------------------------------------
//
// Encoders check every value before writing it: a value that would be stored as anything else (a
// wrapped integer, a cut string, a number where a bigint goes beyond 2^53) throws instead. The rule:
// integers of up to 32 bits are numbers (integers in the C type's range); 64- and 128-bit integers
// and pointers are bigints in range, or numbers that are safe integers in range; bools are booleans;
// floats are numbers (rounded to the C type as C would); strings fit their char[N] (UTF-8), no NUL
// inside; arrays have at most N elements (fewer: the rest is zero). A wrong type is a TypeError, a
// value out of range a RangeError. `where` is static text from the generated code (the field and
// its C declaration); the map, variable or constant is added by whoever encodes (see `withContext`).
// On the fast path a check is a compare or two: messages are built only on failure.

/** A short description of a value for messages: `42`, `"abc"`, `2n`, `an object`. */
export function describeValue(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (typeof x === "bigint") return `${x}n`;
  if (typeof x === "function") return "a function";
  if (typeof x === "number" && Object.is(x, -0)) return "-0";
  if (x === null || typeof x !== "object") return String(x);
  if (Array.isArray(x)) return `an array of ${x.length}`;
  return `an object (${Object.prototype.toString.call(x).slice(8, -1)})`;
}

function bad(where: string, expected: string, x: unknown, range: boolean): never {
  const message = `${where ? `${where}: ` : ""}expected ${expected}, got ${describeValue(x)}`;
  throw range ? new RangeError(message) : new TypeError(message);
}

function badInt(x: unknown, where: string, ctype: string, min: number | bigint, max: number | bigint): never {
  const wide = typeof min === "bigint";
  const expected = `${wide ? "a bigint (or safe integer)" : "an integer"} in ${min}..${max} (${ctype})`;
  const isNumeric = typeof x === "number" || (wide && typeof x === "bigint");
  return bad(where, expected, x, isNumeric);
}

const U64_MAX = (1n << 64n) - 1n;
const S64_MIN = -(1n << 63n);
const S64_MAX = (1n << 63n) - 1n;
const U128_MAX = (1n << 128n) - 1n;
const S128_MIN = -(1n << 127n);
const S128_MAX = (1n << 127n) - 1n;

// For numbers, `(x & 0xff) === x` is false for NaN, fractions and out-of-range values.
function checkU8(x: number, where = ""): number {
  if (typeof x === "number" && (x & 0xff) === x) return x;
  return badInt(x, where, "u8", 0, 255);
}
function checkS8(x: number, where = ""): number {
  if (typeof x === "number" && ((x << 24) >> 24) === x) return x;
  return badInt(x, where, "s8", -128, 127);
}
function checkU16(x: number, where = ""): number {
  if (typeof x === "number" && (x & 0xffff) === x) return x;
  return badInt(x, where, "u16", 0, 65535);
}
function checkS16(x: number, where = ""): number {
  if (typeof x === "number" && ((x << 16) >> 16) === x) return x;
  return badInt(x, where, "s16", -32768, 32767);
}
function checkU32(x: number, where = ""): number {
  if (typeof x === "number" && x >>> 0 === x) return x;
  return badInt(x, where, "u32", 0, 4294967295);
}
function checkS32(x: number, where = ""): number {
  if (typeof x === "number" && (x | 0) === x) return x;
  return badInt(x, where, "s32", -2147483648, 2147483647);
}

function wideInt(x: bigint | number, where: string, ctype: string, min: bigint, max: bigint): bigint {
  if (typeof x === "bigint") {
    if (x >= min && x <= max) return x;
  } else if (Number.isSafeInteger(x)) {
    const b = BigInt(x);
    if (b >= min && b <= max) return b;
  }
  return badInt(x, where, ctype, min, max);
}

/** A u64 (or pointer) as a bigint: bigints in range, or safe integer numbers (converted). */
function checkU64(x: bigint | number, where = ""): bigint {
  // In range iff wrapping to 64 bits leaves it as it is: V8 compiles asUintN(64)/asIntN(64) and
  // bigint equality to a few machine instructions, bigint < and > (~10 ns each) it does not.
  if (typeof x === "bigint" && BigInt.asUintN(64, x) === x) return x;
  return wideInt(x, where, "u64", 0n, U64_MAX);
}
function checkS64(x: bigint | number, where = ""): bigint {
  if (typeof x === "bigint" && BigInt.asIntN(64, x) === x) return x;
  return wideInt(x, where, "s64", S64_MIN, S64_MAX);
}
function checkU128(x: bigint | number, where = ""): bigint {
  return wideInt(x, where, "u128", 0n, U128_MAX);
}
function checkS128(x: bigint | number, where = ""): bigint {
  return wideInt(x, where, "s128", S128_MIN, S128_MAX);
}

function checkBool(x: boolean, where = ""): boolean {
  if (x === true || x === false) return x;
  return bad(where, "a boolean (bool)", x, false);
}

function checkFloat(x: number, where = ""): number {
  if (typeof x === "number") return x;
  return bad(where, "a number (float/double)", x, false);
}

/** An integer bitfield of `bits` ≤ 32 bits (a number). */
function checkBits(x: number, bits: number, signed: boolean, where = ""): number {
  if (typeof x === "number" && Number.isInteger(x)) {
    const lo = signed ? -(2 ** (bits - 1)) : 0;
    const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    if (x >= lo && x <= hi) return x;
    return badInt(x, where, `${signed ? "signed" : "unsigned"} ${bits}-bit field`, lo, hi);
  }
  const lo = signed ? -(2 ** (bits - 1)) : 0;
  return badInt(x, where, `${signed ? "signed" : "unsigned"} ${bits}-bit field`, lo, signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1);
}

/** A bitfield wider than 32 bits, or in a wide unit: a bigint (or safe integer) in range. */
function checkBigBits(x: bigint | number, bits: number, signed: boolean, where = ""): bigint {
  const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  return wideInt(x, where, `${signed ? "signed" : "unsigned"} ${bits}-bit field`, lo, hi);
}

/** A struct or union value: an object (its fields are checked by its encoder). */
function checkObject<T>(x: T, where = ""): T {
  if (typeof x === "object" && x !== null) return x;
  return bad(where, "an object", x, false);
}

/** An array of at most `n` elements (fewer: the rest is encoded as zero). */
function checkArray<T extends ArrayLike<unknown>>(x: T, n: number, where = ""): T {
  if (typeof x !== "object" || x === null || typeof x.length !== "number") return bad(where, `an array of at most ${n} elements`, x, false);
  if (x.length > n) return bad(where, `at most ${n} elements`, x, true);
  return x;
}

/** Element checks of typed-array fields given plain arrays, by typed array class. */
const elementChecks = new Map<unknown, (x: never, where: string) => unknown>([
  [Uint8Array, checkU8],
  [Int8Array, checkS8],
  [Uint16Array, checkU16],
  [Int16Array, checkS16],
  [Uint32Array, checkU32],
  [Int32Array, checkS32],
  [BigUint64Array, checkU64],
  [BigInt64Array, checkS64],
  [Float32Array, checkFloat],
  [Float64Array, checkFloat],
]);

/** Annotates an encoding error with what was being encoded: `map counts: key: …` (same class). */
export function withContext(e: unknown, context: string): unknown {
  if (e instanceof RangeError) return new RangeError(`${context}: ${e.message}`, { cause: e });
  if (e instanceof TypeError) return new TypeError(`${context}: ${e.message}`, { cause: e });
  return e;
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8");

/**
 * A NUL-terminated C string of at most `n` bytes. Tracing strings repeat (the same comm, the same
 * paths), so short ASCII strings go through a small direct-mapped cache keyed by their first 16
 * bytes: a hit costs four 32-bit reads and compares, no string is built. Misses build the string with
 * one fixed-arity `String.fromCharCode` call; non-ASCII goes through the UTF-8 decoder.
 */
function cstring(v: DataView, o: number, n: number): string {
  if (n < 16) return buildCstring(v, o, n);
  // The hit path in this one function (a ring reader's loop often has no inlining budget left for
  // it, ~920 bytes of bytecode with the decoder and callback): one call instead of two, 6.7 ns per
  // string instead of 9.2 when not inlined, 4.3 when inlined.
  const a = v.getInt32(o, true);
  const b = v.getInt32(o + 4, true);
  const c = v.getInt32(o + 8, true);
  const d = v.getInt32(o + 12, true);
  const slot = cache[(((((a * 31 + b) | 0) * 31 + c) | 0) * 31 + d) & (cacheSize - 1)];
  if (slot !== undefined && slot.a === a && slot.b === b && slot.c === c && slot.d === d) return slot.s;
  return cacheCstring(v, o, n, a, b, c, d);
}

interface CacheSlot {
  a: number;
  b: number;
  c: number;
  d: number;
  s: string;
}
const cacheSize = 1024;
const cache: (CacheSlot | undefined)[] = new Array(cacheSize).fill(undefined);

/** A cache miss: builds the string of the 16 bytes `a b c d` at `o`, and caches it when it can. */
function cacheCstring(v: DataView, o: number, n: number, a: number, b: number, c: number, d: number): string {
  const s = buildCstring(v, o, n);
  // Cached only when byte 15 is NUL: the string then ends inside the 16 keyed bytes, so the key
  // determines it (in either byte order, `d`'s top byte read little-endian is byte 15).
  if (d >>> 24 === 0) cache[(((((a * 31 + b) | 0) * 31 + c) | 0) * 31 + d) & (cacheSize - 1)] = { a, b, c, d, s };
  return s;
}

function buildCstring(v: DataView, o: number, n: number): string {
  let end = 0;
  let ascii = true;
  for (; end < n; end++) {
    const c = v.getUint8(o + end);
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
  }
  if (end === 0) return "";
  if (!ascii) return utf8.decode(new Uint8Array(v.buffer, v.byteOffset + o, end));
  if (end <= 16) return shortAscii(v, o, end);
  return latin1.decode(new Uint8Array(v.buffer, v.byteOffset + o, end));
}

// fromCharCode with a fixed arity per length: no array, no apply, no cons-string chain.
function shortAscii(v: DataView, o: number, n: number): string {
  const b = (i: number): number => v.getUint8(o + i);
  switch (n) {
    case 1: return String.fromCharCode(b(0));
    case 2: return String.fromCharCode(b(0), b(1));
    case 3: return String.fromCharCode(b(0), b(1), b(2));
    case 4: return String.fromCharCode(b(0), b(1), b(2), b(3));
    case 5: return String.fromCharCode(b(0), b(1), b(2), b(3), b(4));
    case 6: return String.fromCharCode(b(0), b(1), b(2), b(3), b(4), b(5));
    case 7: return String.fromCharCode(b(0), b(1), b(2), b(3), b(4), b(5), b(6));
    case 8: return String.fromCharCode(b(0), b(1), b(2), b(3), b(4), b(5), b(6), b(7));
    default: {
      let s = String.fromCharCode(b(0), b(1), b(2), b(3), b(4), b(5), b(6), b(7));
      for (let i = 8; i < n; i++) s += String.fromCharCode(b(i));
      return s;
    }
  }
}

const encoder = new TextEncoder();

/**
 * Writes `s` as UTF-8 into `n` bytes, NUL-padded (a string of all `n` bytes has no NUL: it reads
 * back the same, as C's `char[n]` holds it). Throws before writing unless it fits and holds no NUL
 * itself: anything else would read back as another string.
 */
function setCstring(v: DataView, o: number, n: number, s: string, where = ""): void {
  if (typeof s !== "string") bad(where, `a string (char[${n}])`, s, false);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: short strings need no byte count.
  if (s.length * 3 > n && Buffer.byteLength(s, "utf8") > n) bad(where, `a string of at most ${n} UTF-8 bytes (char[${n}])`, s, true);
  if (s.includes("\0")) bad(where, `a string without NUL characters (char[${n}])`, s, true);
  const dst = new Uint8Array(v.buffer, v.byteOffset + o, n);
  const { written } = encoder.encodeInto(s, dst);
  dst.fill(0, written);
}

/** A copy of `n` raw bytes. */
function bytes(v: DataView, o: number, n: number): Uint8Array {
  return new Uint8Array(v.buffer.slice(v.byteOffset + o, v.byteOffset + o + n));
}

/** Writes at most `n` bytes (the rest zero); throws on more, or on elements that are not bytes. */
function setBytes(v: DataView, o: number, n: number, src: ArrayLike<number>, where = ""): void {
  checkArray(src, n, where);
  if (!(src instanceof Uint8Array)) for (let i = 0; i < src.length; i++) checkU8(src[i]!, where);
  const dst = new Uint8Array(v.buffer, v.byteOffset + o, n);
  dst.fill(0);
  dst.set(src);
}

/** Reads the storage unit holding a bitfield as an unsigned bigint (storage ≤ 16 bytes). */
function loadUnit(v: DataView, o: number, size: number): bigint {
  let x = 0n;
  for (let i = 0; i < size; i++) {
    const b = BigInt(v.getUint8(o + (LE ? size - 1 - i : i)));
    x = (x << 8n) | b;
  }
  return x;
}

function storeUnit(v: DataView, o: number, size: number, x: bigint): void {
  for (let i = 0; i < size; i++) {
    v.setUint8(o + (LE ? i : size - 1 - i), Number(x & 0xffn));
    x >>= 8n;
  }
}

/**
 * Bitfield read. `o` is the byte offset of the storage unit (of `size` bytes) and `bitOffset` the
 * BTF bit offset inside it, counted from the unit's first byte in memory order as BTF does: on
 * little-endian that is from the least significant bit, on big-endian from the most significant.
 */
function getBits(v: DataView, o: number, size: number, bitOffset: number, bitSize: number, signed: boolean): bigint {
  const unitBits = BigInt(size * 8);
  const shift = LE ? BigInt(bitOffset) : unitBits - BigInt(bitOffset + bitSize);
  const x = (loadUnit(v, o, size) >> shift) & ((1n << BigInt(bitSize)) - 1n);
  return signed ? BigInt.asIntN(bitSize, x) : x;
}

function setBits(v: DataView, o: number, size: number, bitOffset: number, bitSize: number, value: bigint | number): void {
  const unitBits = BigInt(size * 8);
  const shift = LE ? BigInt(bitOffset) : unitBits - BigInt(bitOffset + bitSize);
  const mask = ((1n << BigInt(bitSize)) - 1n) << shift;
  const x = (BigInt.asUintN(bitSize, BigInt(value)) << shift) & mask;
  storeUnit(v, o, size, (loadUnit(v, o, size) & ~mask) | x);
}

type TypedArrayCtor<A> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): A; BYTES_PER_ELEMENT: number };
interface TypedArrayLike<A> {
  readonly buffer: ArrayBufferLike;
  slice(start: number, end: number): A;
}

/**
 * Whole-buffer typed arrays by element type, over the last buffer seen: an aligned copy then reads
 * elements from it straight into a fresh (small, on-heap) typed array. Measured faster than `slice`
 * (which allocates an off-heap buffer) and than DataView reads (which box every 64-bit element as a
 * bigint). A one-entry cache in front of the map serves the common loop over one buffer and type.
 */
const sourceViews = new Map<unknown, { buffer: ArrayBufferLike; view: unknown }>();
let lastCtor: unknown;
let lastBuffer: ArrayBufferLike | undefined;
let lastView: unknown;

function sourceView<A>(ctor: TypedArrayCtor<A>, buffer: ArrayBufferLike): A {
  if (ctor === lastCtor && buffer === lastBuffer) return lastView as A;
  let entry = sourceViews.get(ctor);
  if (entry === undefined || entry.buffer !== buffer) {
    entry = { buffer, view: new ctor(buffer, 0, Math.floor(buffer.byteLength / ctor.BYTES_PER_ELEMENT)) };
    sourceViews.set(ctor, entry);
  }
  lastCtor = ctor;
  lastBuffer = buffer;
  lastView = entry.view;
  return entry.view as A;
}

type Indexed = { [i: number]: number | bigint };

/**
 * A copy of `n` elements as a typed array (data is host-endian, like typed arrays). Unaligned input
 * (packed structs) is copied bytewise into a fresh buffer.
 */
function typedArray<A>(ctor: TypedArrayCtor<A> & { new (length: number): A }, v: DataView, o: number, n: number): A {
  if (n === 0) return new ctor(0); // also past the view's end: a short record's absent array
  const width = ctor.BYTES_PER_ELEMENT;
  const at = v.byteOffset + o;
  if (n < 0 || o < 0 || o + n * width > v.byteLength) throw new RangeError(`codecs.typedArray: ${n} elements of ${width} bytes at offset ${o} pass the end of a ${v.byteLength}-byte view`);
  if (at % width === 0) {
    const src = sourceView(ctor, v.buffer) as unknown as Indexed;
    const out = new ctor(n);
    const dst = out as unknown as Indexed;
    const first = at / width;
    for (let i = 0; i < n; i++) dst[i] = src[first + i]!;
    return out;
  }
  const copy = new Uint8Array(n * width);
  copy.set(new Uint8Array(v.buffer, at, n * width));
  return new ctor(copy.buffer, 0, n);
}

/**
 * The 64-bit words of a decoded record, for generated decoders: `u64[at]` (`s64[at]`) is the record's
 * first word. Reading them as typed-array elements compiles to an inline load, where `getBigUint64`
 * calls a builtin. Aligned records get a shared instance over the whole buffer: decoders copy `u64`,
 * `s64` and `at` to locals before decoding anything nested, which reuses it.
 */
export class Words {
  #s64: BigInt64Array | undefined;
  constructor(
    public u64: BigUint64Array,
    public at: number,
  ) {}
  get s64(): BigInt64Array {
    return (this.#s64 ??= new BigInt64Array(this.u64.buffer, this.u64.byteOffset, this.u64.length));
  }
  rebind(u64: BigUint64Array): void {
    this.u64 = u64;
    this.#s64 = undefined;
  }
}

// Typed arrays are in the machine's byte order and `LE` normally is too (both come from the host),
// but tests simulate the other order by replacing `endianness`: then words are byte-swapped copies,
// so `u64[at]` reads what `getBigUint64(o, LE)` does, and array copies swap back to machine order.
const machineLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const swapped = LE !== machineLE;
const swapView = new DataView(new ArrayBuffer(8));

// The last DataView's geometry, read once: its getters are builtin calls.
let wordsView: DataView | undefined;
let wordsBase = 0;
let wordsLimit = 0;
const sharedWords = new Words(new BigUint64Array(0), 0);

function bindWords(v: DataView): void {
  const buffer = v.buffer as ArrayBuffer & { resizable?: boolean; growable?: boolean };
  // A resizable buffer's views change length: not cached, every record takes the copying path.
  if (buffer.resizable === true || buffer.growable === true) {
    wordsView = undefined;
    wordsLimit = -1;
    return;
  }
  wordsView = v;
  wordsBase = v.byteOffset;
  wordsLimit = v.byteLength;
  sharedWords.rebind(new BigUint64Array(buffer, 0, Math.floor(buffer.byteLength / 8)));
}

/**
 * The words of the `end` bytes at `o`: over the buffer itself when they are 8-aligned there, else
 * over a fresh aligned copy. A detached buffer's words are empty, so it takes the copying path,
 * which throws as a DataView read would.
 */
function words(v: DataView, o: number, end: number): Words {
  if (v !== wordsView) bindWords(v);
  const a = wordsBase + o;
  if (!swapped && a % 8 === 0 && o >= 0 && o + end <= wordsLimit && (a + end) / 8 <= sharedWords.u64.length) {
    sharedWords.at = a / 8;
    return sharedWords;
  }
  return copiedWords(v, o, end);
}

function copiedWords(v: DataView, o: number, end: number): Words {
  if (o < 0 || o + end > v.byteLength) throw new RangeError(`codecs.words: ${end} bytes at offset ${o} pass the end of a ${v.byteLength}-byte view`);
  const copy = new Uint8Array(Math.ceil(end / 8) * 8);
  copy.set(new Uint8Array(v.buffer, v.byteOffset + o, end));
  if (swapped) for (let k = 0; k < copy.length; k += 8) copy.subarray(k, k + 8).reverse();
  return new Words(new BigUint64Array(copy.buffer), 0);
}

/**
 * Stores a 64-bit integer (signed or not: the bits are the same) at `o`, for generated encoders: an
 * element store into the buffer's shared words when aligned, which TurboFan compiles inline, where
 * `setBigUint64` calls a builtin. Otherwise, and for a detached buffer, the DataView store (which
 * throws as it should).
 */
function set64(v: DataView, o: number, x: bigint): void {
  if (v !== wordsView) bindWords(v);
  const a = wordsBase + o;
  if (!swapped && a % 8 === 0 && o >= 0 && o + 8 <= wordsLimit && a / 8 < sharedWords.u64.length) sharedWords.u64[a / 8] = x;
  else v.setBigUint64(o, x, LE);
}

/** A 64-bit unsigned integer at `o`, read as a word when aligned (see `words`). */
function get64(v: DataView, o: number): bigint {
  const w = words(v, o, 8);
  return w.u64[w.at]!;
}

/** A copy of `n` words from `i` (a `u64 x[n]` field), element by element into an on-heap array. */
function u64Array(u: BigUint64Array, i: number, n: number): BigUint64Array {
  const out = new BigUint64Array(n);
  if (swapped) for (let k = 0; k < n; k++) out[k] = swapU64(u[i + k]!);
  else for (let k = 0; k < n; k++) out[k] = u[i + k]!;
  return out;
}

function s64Array(s: BigInt64Array, i: number, n: number): BigInt64Array {
  const out = new BigInt64Array(n);
  if (swapped) for (let k = 0; k < n; k++) out[k] = swapS64(s[i + k]!);
  else for (let k = 0; k < n; k++) out[k] = s[i + k]!;
  return out;
}

function swapU64(x: bigint): bigint {
  swapView.setBigUint64(0, x, true);
  return swapView.getBigUint64(0, false);
}

function swapS64(x: bigint): bigint {
  swapView.setBigInt64(0, x, true);
  return swapView.getBigInt64(0, false);
}

/** A live typed array over the bytes when they are aligned for it (zero-copy views), else a copy. */
function typedArrayView<A>(ctor: TypedArrayCtor<A> & { new (length: number): A }, v: DataView, o: number, n: number): A {
  if (n === 0) return new ctor(0);
  const at = v.byteOffset + o;
  if (at % ctor.BYTES_PER_ELEMENT === 0 && o + n * ctor.BYTES_PER_ELEMENT <= v.byteLength) return new ctor(v.buffer, at, n);
  return typedArray(ctor, v, o, n);
}

/**
 * Writes a typed array (or any array of numbers/bigints) of at most `n` elements; the rest is zeroed.
 * Elements of anything but the same typed array are checked as their C type.
 */
function setTypedArray(ctor: TypedArrayCtor<unknown>, v: DataView, o: number, n: number, src: ArrayLike<number | bigint>, where = ""): void {
  checkArray(src, n, where);
  if (!(src instanceof (ctor as unknown as typeof Uint8Array))) {
    const check = elementChecks.get(ctor) as ((x: number | bigint, where: string) => unknown) | undefined;
    if (check) for (let i = 0; i < src.length; i++) check(src[i]!, where);
  }
  const width = ctor.BYTES_PER_ELEMENT;
  const dst = new Uint8Array(v.buffer, v.byteOffset + o, n * width);
  const tmp = new ctor(new ArrayBuffer(n * width), 0, n) as unknown as { [i: number]: number | bigint; buffer: ArrayBuffer };
  const count = Math.min(n, src.length);
  for (let i = 0; i < count; i++) tmp[i] = src[i]!;
  dst.set(new Uint8Array(tmp.buffer));
}

/**
 * How many of the `max` elements of `stride` bytes a record holds when `bytes` of them are present
 * (negative: the record ends before them): the elements whose first `least` bytes are there — whole
 * numbers, strings and structs from their first byte. For partial decoders of short records.
 */
function present(bytes: number, stride: number, max: number, least = stride): number {
  if (bytes >= stride * max) return max;
  return bytes < least ? 0 : Math.min(max, Math.floor((bytes - least) / stride) + 1);
}

/** Elements of `elemSize` bytes that fit in `bytes` (a flexible array member's share of a record). */
function flexCount(bytes: number, elemSize: number): number {
  return bytes <= 0 ? 0 : Math.floor(bytes / elemSize);
}

/** Zeroes `n` bytes (encoders clear padding and union tails so keys compare equal in the kernel). */
function zero(v: DataView, o: number, n: number): void {
  new Uint8Array(v.buffer, v.byteOffset + o, n).fill(0);
}

/** Bitfield read for units of 1, 2 or 4 bytes and ≤ 32 bits, in plain number arithmetic. */
function getBitsN(v: DataView, o: number, size: number, bitOffset: number, bitSize: number, signed: boolean): number {
  const unit = size === 1 ? v.getUint8(o) : size === 2 ? v.getUint16(o, LE) : v.getUint32(o, LE);
  const shift = LE ? bitOffset : size * 8 - bitOffset - bitSize;
  const up = 32 - bitSize;
  // Move the field to the top of a 32-bit word, then back down: arithmetic shift sign-extends.
  const top = (unit >>> shift) << up;
  return signed ? top >> up : top >>> up;
}

function setBitsN(v: DataView, o: number, size: number, bitOffset: number, bitSize: number, value: number): void {
  const shift = LE ? bitOffset : size * 8 - bitOffset - bitSize;
  const mask = (bitSize === 32 ? 0xffffffff : (2 ** bitSize - 1) * 2 ** shift) >>> 0;
  const bits = ((value * 2 ** shift) >>> 0) & mask;
  if (size === 1) v.setUint8(o, (v.getUint8(o) & ~mask) | bits);
  else if (size === 2) v.setUint16(o, (v.getUint16(o, LE) & ~mask) | bits, LE);
  else v.setUint32(o, ((v.getUint32(o, LE) & ~mask) | bits) >>> 0, LE);
}

/** 128-bit integers as bigints (`__int128`): two 64-bit halves in the host's order. */
function u128(v: DataView, o: number): bigint {
  const lo = v.getBigUint64(o + (LE ? 0 : 8), LE);
  const hi = v.getBigUint64(o + (LE ? 8 : 0), LE);
  return (hi << 64n) | lo;
}

function s128(v: DataView, o: number): bigint {
  return BigInt.asIntN(128, u128(v, o));
}

/** Stores a 128-bit integer (`where` set: checked as unsigned/signed by `signed`). */
function setI128(v: DataView, o: number, x: bigint, where?: string, signed = false): void {
  if (where !== undefined) x = signed ? checkS128(x, where) : checkU128(x, where);
  const u = BigInt.asUintN(128, BigInt(x));
  v.setBigUint64(o + (LE ? 0 : 8), u & 0xffffffffffffffffn, LE);
  v.setBigUint64(o + (LE ? 8 : 0), u >> 64n, LE);
}

export const codecs = {
  // Scalar codecs (map keys and values, variables, constants that are plain numbers): checked.
  u8: scalar(1, (v, o) => v.getUint8(o), (v, o, x: number) => v.setUint8(o, checkU8(x)), 0),
  s8: scalar(1, (v, o) => v.getInt8(o), (v, o, x: number) => v.setInt8(o, checkS8(x)), 0),
  u16: scalar(2, (v, o) => v.getUint16(o, LE), (v, o, x: number) => v.setUint16(o, checkU16(x), LE), 0),
  s16: scalar(2, (v, o) => v.getInt16(o, LE), (v, o, x: number) => v.setInt16(o, checkS16(x), LE), 0),
  u32: scalar(4, (v, o) => v.getUint32(o, LE), (v, o, x: number) => v.setUint32(o, checkU32(x), LE), 0),
  s32: scalar(4, (v, o) => v.getInt32(o, LE), (v, o, x: number) => v.setInt32(o, checkS32(x), LE), 0),
  u64: scalar(8, get64, (v, o, x: bigint) => set64(v, o, checkU64(x)), 0n),
  s64: scalar(8, (v, o) => v.getBigInt64(o, LE), (v, o, x: bigint) => set64(v, o, checkS64(x)), 0n),
  f32: scalar(4, (v, o) => v.getFloat32(o, LE), (v, o, x: number) => v.setFloat32(o, checkFloat(x), LE), 0),
  f64: scalar(8, (v, o) => v.getFloat64(o, LE), (v, o, x: number) => v.setFloat64(o, checkFloat(x), LE), 0),
  bool: scalar(1, (v, o) => v.getUint8(o) !== 0, (v, o, x: boolean) => v.setUint8(o, checkBool(x) ? 1 : 0), false),
  // Checks for generated encoders: each returns its value (a bigint for the wide ones).
  checkU8,
  checkS8,
  checkU16,
  checkS16,
  checkU32,
  checkS32,
  checkU64,
  checkS64,
  checkU128,
  checkS128,
  checkBool,
  checkFloat,
  checkBits,
  checkBigBits,
  checkObject,
  checkArray,
  cstring,
  setCstring,
  bytes,
  setBytes,
  getBits,
  setBits,
  getBitsN,
  setBitsN,
  typedArray,
  typedArrayView,
  setTypedArray,
  words,
  set64,
  u64Array,
  s64Array,
  flexCount,
  present,
  zero,
  u128,
  s128,
  setI128,
};

/** A raw byte codec for keys/values without a better type (e.g. `--no-global-types`). */
export function rawCodec(size: number, align = 1): Codec<Uint8Array> {
  return {
    size,
    align,
    decode: (v, o = 0, n = size) => bytes(v, o, present(n, 1, size)),
    encode: (x, v, o = 0) => setBytes(v, o, size, x),
  };
}

/** Encodes `value` into a fresh buffer of `codec.size` bytes. */
export function toBytes<T>(codec: Codec<T>, value: T): Uint8Array {
  const buf = new Uint8Array(codec.size);
  codec.encode(value, new DataView(buf.buffer), 0);
  return buf;
}

/** Decodes a whole buffer (a map value, an event: a short one decodes as a short record) with `codec`. */
export function fromBytes<T>(codec: Codec<T>, bytes: Uint8Array): T {
  return codec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, bytes.byteLength);
}
