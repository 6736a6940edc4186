// The BTF string section: NUL-terminated names addressed by byte offset.
//
// The whole section is decoded once as latin1 (one native call), and each name is a slice of that
// string: no per-name TextDecoder call, which dominates the parse of vmlinux otherwise. Names are
// C identifiers (ASCII); a table holding other bytes falls back to UTF-8 per name.
//
// For split BTF (module BTF on top of vmlinux), offsets below the base table's length address the
// base table, as in the kernel (btf_str_by_offset).

import { Buffer } from "node:buffer";

const utf8 = new TextDecoder("utf-8");

export class StringTable {
  /** Offsets at or above `start` belong to this table; below, to `base`. */
  readonly start: number;
  /** Total addressable length (base + own). */
  readonly end: number;
  /** The section ends in NUL, so every in-range offset names a terminated string. */
  readonly terminated: boolean;
  /**
   * The whole table as one string when a name is simply `flat.slice(off, flat.indexOf("\0", off))`
   * for any off < end (ASCII, NUL-terminated, no base): the decoder's inlined fast path.
   */
  readonly flat: string | undefined;
  private readonly text: string;
  private readonly ascii: boolean;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly base?: StringTable,
  ) {
    this.start = base ? base.end : 0;
    this.end = this.start + bytes.length;
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
    this.ascii = !/[\x80-\xff]/.test(this.text);
    this.terminated = (bytes.length === 0 || bytes[bytes.length - 1] === 0) && (base?.terminated ?? true);
    this.flat = !base && this.ascii && this.terminated ? this.text : undefined;
  }

  /** Whether `off` names a string (0, the empty name, always does); no string is built. */
  valid(off: number): boolean {
    if (off === 0) return true;
    if (off >= this.end) return false;
    return this.terminated || this.get(off) !== undefined;
  }

  /** The string at `off`, or undefined when `off` is out of range or the string is unterminated. */
  get(off: number): string | undefined {
    if (off < this.start) return this.base ? this.base.get(off) : undefined;
    const rel = off - this.start;
    if (rel >= this.bytes.length) return undefined;
    const endIdx = this.text.indexOf("\0", rel);
    if (endIdx < 0) return undefined;
    if (this.ascii) return this.text.slice(rel, endIdx);
    const s = this.text.slice(rel, endIdx);
    return /[\x80-\xff]/.test(s) ? utf8.decode(this.bytes.subarray(rel, endIdx)) : s;
  }
}
