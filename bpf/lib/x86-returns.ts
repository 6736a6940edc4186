// Finds the RET instructions of an x86-64 function, to place "return" uprobes on them: uretprobes
// rewrite the return address on the stack, which breaks Go (its stacks move and its unwinder checks
// return addresses), so Go tracers probe each RET instead. Scanning bytes for 0xC3 is not enough
// (0xC3 also appears inside other instructions), so this walks the function one instruction at a time
// with a length decoder covering the general-purpose, SSE, VEX and EVEX encodings compilers emit.

export class X86DecodeError extends Error {
  override name = "X86DecodeError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

// One-byte opcodes followed by a ModRM byte.
const MODRM_1 = new Set<number>([
  ...range(0x00, 0x03), ...range(0x08, 0x0b), ...range(0x10, 0x13), ...range(0x18, 0x1b),
  ...range(0x20, 0x23), ...range(0x28, 0x2b), ...range(0x30, 0x33), ...range(0x38, 0x3b),
  0x63, 0x69, 0x6b, ...range(0x80, 0x8f), 0xc0, 0xc1, 0xc6, 0xc7, ...range(0xd0, 0xd3),
  ...range(0xd8, 0xdf), 0xf6, 0xf7, 0xfe, 0xff,
]);
// One-byte opcodes with an 8-bit immediate (or rel8).
const IMM8_1 = new Set<number>([
  0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x6a, 0x6b, ...range(0x70, 0x7f), 0x80, 0x82, 0x83,
  0xa8, ...range(0xb0, 0xb7), 0xc0, 0xc1, 0xc6, 0xcd, ...range(0xe0, 0xe7), 0xeb,
]);
// One-byte opcodes with a 16/32-bit immediate (z: 2 bytes under the 0x66 prefix, else 4).
const IMMZ_1 = new Set<number>([0x05, 0x0d, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x68, 0x69, 0x81, 0xa9, 0xc7]);
// Two-byte (0F xx) opcodes *without* ModRM.
const NO_MODRM_0F = new Set<number>([
  0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, ...range(0x30, 0x37), 0x77, ...range(0x80, 0x8f), 0xa0, 0xa1,
  0xa2, 0xa8, 0xa9, 0xaa, ...range(0xc8, 0xcf),
]);
// Two-byte opcodes with an 8-bit immediate.
const IMM8_0F = new Set<number>([0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6, 0x0f]);

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

function isLegacyPrefix(b: number): boolean {
  return b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x26 || b === 0x64 || b === 0x65 || b === 0x66 || b === 0x67;
}

/** Bytes taken by a ModRM byte at `p` and what follows it (SIB, displacement); not the immediate. */
function modrmLength(code: Uint8Array, p: number): number {
  const modrm = code[p];
  if (modrm === undefined) throw new X86DecodeError("truncated ModRM", p);
  const mod = modrm >> 6;
  const rm = modrm & 7;
  if (mod === 3) return 1;
  let n = 1;
  if (rm === 4) {
    const sib = code[p + 1];
    if (sib === undefined) throw new X86DecodeError("truncated SIB", p);
    n++;
    if (mod === 0 && (sib & 7) === 5) n += 4;
  } else if (mod === 0 && rm === 5) n += 4; // RIP-relative
  if (mod === 1) n += 1;
  else if (mod === 2) n += 4;
  return n;
}

/** Length in bytes of the instruction starting at `p`. */
export function instructionLength(code: Uint8Array, p: number): number {
  const start = p;
  let opsize16 = false;
  let addr32 = false;
  let rexW = false;
  while (p < code.length && isLegacyPrefix(code[p]!)) {
    if (code[p] === 0x66) opsize16 = true;
    if (code[p] === 0x67) addr32 = true;
    p++;
  }
  if (p < code.length && (code[p]! & 0xf0) === 0x40) {
    rexW = (code[p]! & 8) !== 0;
    p++;
  }
  const op = code[p];
  if (op === undefined) throw new X86DecodeError("truncated instruction", start);
  p++;

  // VEX (C4 3-byte, C5 2-byte) and EVEX (62): always ModRM; immediates by map.
  if (op === 0xc4 || op === 0xc5 || op === 0x62) {
    let map: number;
    if (op === 0xc5) {
      map = 1;
      p += 1;
    } else if (op === 0xc4) {
      map = code[p]! & 0x1f;
      p += 2;
    } else {
      map = code[p]! & 0x7;
      p += 3;
    }
    const vop = code[p];
    if (vop === undefined) throw new X86DecodeError("truncated VEX/EVEX instruction", start);
    p++;
    if (map === 1 && vop === 0x77) return p - start; // vzeroupper/vzeroall
    p += modrmLength(code, p);
    if (map === 3 || (map === 1 && IMM8_0F.has(vop))) p += 1;
    return p - start;
  }

  if (op === 0x0f) {
    const op2 = code[p];
    if (op2 === undefined) throw new X86DecodeError("truncated 0F instruction", start);
    p++;
    if (op2 === 0x38) {
      p++; // opcode
      return p + modrmLength(code, p) - start;
    }
    if (op2 === 0x3a) {
      p++;
      return p + modrmLength(code, p) + 1 - start;
    }
    if (op2 >= 0x80 && op2 <= 0x8f) return p + 4 - start; // Jcc rel32
    if (!NO_MODRM_0F.has(op2)) p += modrmLength(code, p);
    if (IMM8_0F.has(op2)) p += 1;
    return p - start;
  }

  if (MODRM_1.has(op)) {
    const reg = (code[p]! >> 3) & 7;
    p += modrmLength(code, p);
    if (op === 0xf6 && reg <= 1) p += 1;
    if (op === 0xf7 && reg <= 1) p += opsize16 ? 2 : 4;
  }
  if (IMM8_1.has(op)) p += 1;
  if (IMMZ_1.has(op)) p += opsize16 ? 2 : 4;
  if (op >= 0xb8 && op <= 0xbf) p += rexW ? 8 : opsize16 ? 2 : 4; // mov r, imm
  if (op >= 0xa0 && op <= 0xa3) p += addr32 ? 4 : 8; // mov moffs
  if (op === 0xe8 || op === 0xe9) p += 4;
  if (op === 0xc2 || op === 0xca) p += 2;
  if (op === 0xc8) p += 3;
  return p - start;
}

/**
 * Offsets (from the function start) of every near RET (C3, C2 iw, and F3 C3 "rep ret") in `code`.
 * Stops at trailing INT3 padding.
 */
export function findReturns(code: Uint8Array): number[] {
  const out: number[] = [];
  let p = 0;
  while (p < code.length) {
    const len = instructionLength(code, p);
    const last = code[p + len - 1];
    const first = code[p];
    if ((len === 1 && first === 0xc3) || (len === 2 && first === 0xf3 && last === 0xc3) || (len === 3 && first === 0xc2)) out.push(p);
    p += len;
  }
  return out;
}
