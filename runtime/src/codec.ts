// Codecs: how typed values meet the bytes of maps, globals and events.
//
// Generated modules describe every C struct as a `Struct<T>` whose decode/encode/view are straight-line
// code with constant offsets. The helpers here are the few pieces that generated code shares (strings,
// bitfields, typed arrays) and the scalar codecs for map keys and values that are plain numbers.

import { endianness } from "node:os";

/** Host byte order. The loader always picks the object built for it, so kernel data is host-endian. */
export const LE: boolean = endianness() === "LE";

export interface Codec<T> {
  /** Size in bytes as the kernel lays it out. */
  readonly size: number;
  readonly align: number;
  decode(view: DataView, offset?: number): T;
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
  /** A lazy view: getters (and setters) that read the bytes at access time, no copy. */
  view(view: DataView, offset?: number): T;
}

function scalar<T>(size: number, get: (v: DataView, o: number) => T, set: (v: DataView, o: number, x: T) => void): Codec<T> {
  return {
    size,
    align: size,
    decode: (v, o = 0) => get(v, o),
    encode: (x, v, o = 0) => set(v, o, x),
  };
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8");

/**
 * A NUL-terminated C string of at most `n` bytes. ASCII is decoded by hand: for the short strings of
 * tracing (comm, filenames) that is several times faster than a TextDecoder call.
 */
function cstring(v: DataView, o: number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    const c = v.getUint8(o + i);
    if (c === 0) return s;
    if (c >= 0x80) return utf8.decode(cbytes(v, o, n));
    s += String.fromCharCode(c);
  }
  return s;
}

/** The bytes of a C string up to (not including) the first NUL. */
function cbytes(v: DataView, o: number, n: number): Uint8Array {
  const all = new Uint8Array(v.buffer, v.byteOffset + o, n);
  const end = all.indexOf(0);
  return all.subarray(0, end < 0 ? n : end);
}

const encoder = new TextEncoder();

/** Writes `s` as UTF-8 into `n` bytes, truncated and NUL-padded (always NUL-terminated when n > 0). */
function setCstring(v: DataView, o: number, n: number, s: string): void {
  const dst = new Uint8Array(v.buffer, v.byteOffset + o, n);
  dst.fill(0);
  if (n === 0) return;
  const { written } = encoder.encodeInto(s, dst.subarray(0, n - 1));
  dst.fill(0, written);
}

/** A copy of `n` raw bytes. */
function bytes(v: DataView, o: number, n: number): Uint8Array {
  return new Uint8Array(v.buffer.slice(v.byteOffset + o, v.byteOffset + o + n));
}

function setBytes(v: DataView, o: number, n: number, src: ArrayLike<number>): void {
  const dst = new Uint8Array(v.buffer, v.byteOffset + o, n);
  dst.fill(0);
  dst.set(src.length > n ? Array.prototype.slice.call(src, 0, n) : src);
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

/**
 * A copy of `n` elements as a typed array. On a host-endian buffer this is a plain slice; typed arrays
 * need element alignment, so the copy is made into a fresh buffer.
 */
function typedArray<A>(ctor: TypedArrayCtor<A>, v: DataView, o: number, n: number): A {
  const len = n * ctor.BYTES_PER_ELEMENT;
  const copy = v.buffer.slice(v.byteOffset + o, v.byteOffset + o + len);
  return new ctor(copy, 0, n);
}

/** Writes a typed array (or any array of numbers/bigints) of at most `n` elements. */
function setTypedArray(ctor: TypedArrayCtor<unknown>, v: DataView, o: number, n: number, src: ArrayLike<number | bigint>): void {
  const width = ctor.BYTES_PER_ELEMENT;
  const dst = new Uint8Array(v.buffer, v.byteOffset + o, n * width);
  const tmp = new ctor(new ArrayBuffer(n * width), 0, n) as unknown as { [i: number]: number | bigint };
  for (let i = 0; i < Math.min(n, src.length); i++) tmp[i] = src[i]!;
  dst.set(new Uint8Array((tmp as unknown as { buffer: ArrayBuffer }).buffer));
}

export const codecs = {
  u8: scalar(1, (v, o) => v.getUint8(o), (v, o, x: number) => v.setUint8(o, x)),
  s8: scalar(1, (v, o) => v.getInt8(o), (v, o, x: number) => v.setInt8(o, x)),
  u16: scalar(2, (v, o) => v.getUint16(o, LE), (v, o, x: number) => v.setUint16(o, x, LE)),
  s16: scalar(2, (v, o) => v.getInt16(o, LE), (v, o, x: number) => v.setInt16(o, x, LE)),
  u32: scalar(4, (v, o) => v.getUint32(o, LE), (v, o, x: number) => v.setUint32(o, x, LE)),
  s32: scalar(4, (v, o) => v.getInt32(o, LE), (v, o, x: number) => v.setInt32(o, x, LE)),
  u64: scalar(8, (v, o) => v.getBigUint64(o, LE), (v, o, x: bigint) => v.setBigUint64(o, BigInt(x), LE)),
  s64: scalar(8, (v, o) => v.getBigInt64(o, LE), (v, o, x: bigint) => v.setBigInt64(o, BigInt(x), LE)),
  f32: scalar(4, (v, o) => v.getFloat32(o, LE), (v, o, x: number) => v.setFloat32(o, x, LE)),
  f64: scalar(8, (v, o) => v.getFloat64(o, LE), (v, o, x: number) => v.setFloat64(o, x, LE)),
  bool: scalar(1, (v, o) => v.getUint8(o) !== 0, (v, o, x: boolean) => v.setUint8(o, x ? 1 : 0)),
  cstring,
  cbytes,
  setCstring,
  bytes,
  setBytes,
  getBits,
  setBits,
  typedArray,
  setTypedArray,
};

/** A raw byte codec for keys/values without a better type (e.g. `--no-global-types`). */
export function rawCodec(size: number, align = 1): Codec<Uint8Array> {
  return {
    size,
    align,
    decode: (v, o = 0) => bytes(v, o, size),
    encode: (x, v, o = 0) => setBytes(v, o, size, x),
  };
}

/** Encodes `value` into a fresh buffer of `codec.size` bytes. */
export function toBytes<T>(codec: Codec<T>, value: T): Uint8Array {
  const buf = new Uint8Array(codec.size);
  codec.encode(value, new DataView(buf.buffer), 0);
  return buf;
}

/** Decodes a whole buffer (a map value, an event) with `codec`. */
export function fromBytes<T>(codec: Codec<T>, bytes: Uint8Array): T {
  return codec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
}
