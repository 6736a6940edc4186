// Where an entry uprobe on a Go function belongs: past its stack-bound check. A Go function (unless
// nosplit) starts by comparing the stack pointer with the goroutine's stack guard (g is in R14 under
// the register ABI) and jumping to a morestack call when it is below: to grow the stack, or because
// the scheduler poisoned the guard to ask the goroutine to yield. morestack then runs the function
// again from its first byte, so a probe there fires twice for one call (seen as a GC cycle starting
// twice). Past the check it fires once per call, with the argument registers as the caller set them.

import { instructionLength } from "./x86-returns.js";

/** `cmp reg, [r14+disp8]`: REX with B set (and W), opcode 3B, ModRM mod=01 rm=110 (R14 with REX.B). */
function comparesWithG(code: Uint8Array, p: number, len: number): boolean {
  const rex = code[p]!;
  return len === 4 && (rex & 0xf9) === 0x49 && code[p + 1] === 0x3b && (code[p + 2]! & 0xc7) === 0x46;
}

/** `jbe rel8` (76) or `jbe rel32` (0F 86). */
function isJbe(code: Uint8Array, p: number, len: number): boolean {
  return (len === 2 && code[p] === 0x76) || (len === 6 && code[p] === 0x0f && code[p + 1] === 0x86);
}

/**
 * Offset of the first instruction after the stack-bound check in the first instructions of `code`,
 * or 0 when the function has none. The check ends `cmp rsp|r12, [r14+guard]; jbe morestack`; before
 * it, a large frame computes r12 (`lea r12, [rsp-N]`, or `mov r12, rsp; sub r12, N; jb morestack`
 * for a huge one) and assembly functions may load g (`mov r14, fs:[-8]`).
 */
export function goBodyOffset(code: Uint8Array): number {
  let p = 0;
  let afterCompare = false;
  for (let i = 0; i < 6 && p < code.length; i++) {
    const len = instructionLength(code, p);
    if (afterCompare && isJbe(code, p, len)) return p + len;
    afterCompare = comparesWithG(code, p, len);
    p += len;
  }
  return 0;
}
