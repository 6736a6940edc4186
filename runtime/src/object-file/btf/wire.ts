// BTF wire format: the header, the raw constants of include/uapi/linux/btf.h, the error class, and a
// host-order word view of the type section.
//
// The type section is a sequence of 32-bit words (every record is a multiple of 4 bytes), so the
// decoder reads it through one Uint32Array in host byte order: a blob in the other byte order, or
// one not 4-byte aligned in its file, is copied (and swapped) once up front. That keeps the hot loop
// free of DataView calls and endianness branches.

import { ObjectFileError } from "../errors.js";

/** Raised for any malformed BTF or BTF.ext input. */
export class BtfError extends ObjectFileError {
  override readonly name = "BtfError";
  constructor(message: string, opts: { file?: string; section?: string; typeId?: number; cause?: unknown } = {}) {
    super(message, opts);
  }
}

export const BTF_MAGIC = 0xeb9f;
export const BTF_HEADER_MIN = 24;

// struct btf_type.info: bits 0-15 vlen, 24-28 kind, 31 kind_flag. The INT encoding word: bits 0-7
// nr_bits, 16-23 offset, 24-27 encoding (BTF_INT_*). decode.ts reads them inline.
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;

export interface BtfHeader {
  readonly littleEndian: boolean;
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  /** Absolute offsets (from the start of the blob) and lengths. */
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

export interface Where {
  readonly file?: string;
  readonly section?: string;
}

/** Reads and checks the BTF header: magic in either byte order, version 1, sections inside the blob. */
export function readHeader(bytes: Uint8Array, where: Where): BtfHeader {
  const fail = (detail: string) =>
    new BtfError(`${label(where)}: ${detail}`, { file: where.file, section: where.section });
  if (bytes.length < BTF_HEADER_MIN)
    throw fail(`header truncated (size ${bytes.length}, need ${BTF_HEADER_MIN})`);
  let littleEndian: boolean;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) littleEndian = true;
  else if (bytes[0] === 0xeb && bytes[1] === 0x9f) littleEndian = false;
  else throw fail(`bad magic 0x${hex2(bytes[0]!)}${hex2(bytes[1]!)} (want 0xeb9f)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[2]!;
  if (version !== 1) throw fail(`unsupported version ${version}`);
  const hdrLen = view.getUint32(4, littleEndian);
  if (hdrLen < BTF_HEADER_MIN || hdrLen > bytes.length)
    throw fail(`header length ${hdrLen} out of range (blob size ${bytes.length})`);
  const rel = (o: number) => view.getUint32(o, littleEndian);
  const typeOff = hdrLen + rel(8);
  const typeLen = rel(12);
  const strOff = hdrLen + rel(16);
  const strLen = rel(20);
  checkSection(fail, "type section", typeOff, typeLen, bytes.length);
  checkSection(fail, "string section", strOff, strLen, bytes.length);
  if (typeLen % 4 !== 0) throw fail(`type section length ${typeLen} is not a multiple of 4`);
  return { littleEndian, version, flags: bytes[3]!, hdrLen, typeOff, typeLen, strOff, strLen };
}

function checkSection(fail: (d: string) => Error, what: string, off: number, len: number, size: number): void {
  if (off > size || len > size - off)
    throw fail(`${what} extends past end of blob (offset 0x${off.toString(16)}, size 0x${len.toString(16)}, blob size 0x${size.toString(16)})`);
}

const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes [off, off+len) as host-order 32-bit words, copying/swapping only when needed. */
export function wordsOf(bytes: Uint8Array, off: number, len: number, littleEndian: boolean): Uint32Array {
  const abs = bytes.byteOffset + off;
  if (littleEndian === hostLittleEndian && abs % 4 === 0) return new Uint32Array(bytes.buffer, abs, len >>> 2);
  const words = new Uint32Array(len >>> 2);
  if (littleEndian === hostLittleEndian) {
    new Uint8Array(words.buffer).set(bytes.subarray(off, off + len));
    return words;
  }
  const src = bytes.subarray(off, off + len);
  if (littleEndian)
    for (let i = 0, j = 0; i < words.length; i++, j += 4)
      words[i] = ((src[j + 3]! << 24) | (src[j + 2]! << 16) | (src[j + 1]! << 8) | src[j]!) >>> 0;
  else
    for (let i = 0, j = 0; i < words.length; i++, j += 4)
      words[i] = ((src[j]! << 24) | (src[j + 1]! << 16) | (src[j + 2]! << 8) | src[j + 3]!) >>> 0;
  return words;
}

export function label(where: Where): string {
  const f = where.file ?? "BTF";
  return where.section ? `${f}: section ${where.section}` : f;
}

const hex2 = (b: number) => b.toString(16).padStart(2, "0");
