// The generator's file I/O guarantees, in one place: inputs are read only from regular files and
// only up to a size cap (so `inspect /dev/zero` or a FIFO fails at once instead of filling memory
// or blocking), and outputs are written all-or-nothing (so a failure, even one in the middle of
// renaming, leaves the old files and no temporary ones).

import { closeSync, constants, copyFileSync, fstatSync, linkSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Bpf2tsError } from "./errors.js";

/** Larger than any eBPF object, BTF blob or C source bpf2ts reads (vmlinux BTF is ~6 MiB). */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * The bytes of the regular file `path` (`shown` in messages), at most `max` of them. Devices,
 * FIFOs, sockets and directories are refused before anything is read.
 */
export function readInputFile(path: string, shown: string, max = MAX_INPUT_BYTES): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Bpf2tsError(`${shown}: cannot read: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message}`, { file: shown, cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Bpf2tsError(`${shown}: cannot read: not a regular file (${kindOf(st)})`, { file: shown });
    if (st.size > max) throw new Bpf2tsError(`${shown}: cannot read: ${st.size} bytes, more than the ${max}-byte limit for an input`, { file: shown });
    // Read at most max + 1 bytes: a file that grows while read (or lies about its size) stays bounded.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size - total, 0) + 1, 1 << 20, max + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > max) throw new Bpf2tsError(`${shown}: cannot read: more than the ${max}-byte limit for an input`, { file: shown });
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: import("node:fs").Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

export interface OutputFile {
  /** Relative to the directory written into. */
  readonly path: string;
  readonly contents: string | Uint8Array;
}

/**
 * Writes `files` into `dir` (and deletes `remove`, relative to `dir`) all-or-nothing. Every file
 * goes to a temporary name first; then each is put in place, the file it replaces kept aside under
 * a backup name (a hard link) until all are in place. Any failure — writing, or renaming half-way —
 * puts every old file back, removes the new ones and every temporary file, and throws.
 */
export function writeAllOrNothing(dir: string, files: readonly OutputFile[], remove: readonly string[] = []): void {
  const temp = (final: string, what: string) => join(dirname(final), `.${basename(final)}.${process.pid}.${what}`);
  const temps: Array<{ tmp: string; final: string }> = [];
  const placed: Array<{ final: string; backup?: string }> = [];
  const removed: Array<{ final: string; backup: string }> = [];
  try {
    for (const f of files) {
      const final = join(dir, f.path);
      mkdirSync(dirname(final), { recursive: true });
      const tmp = temp(final, "tmp");
      temps.push({ tmp, final });
      writeFileSync(tmp, f.contents);
    }
    for (const t of temps) {
      const backup = temp(t.final, "old");
      const kept = linkAside(t.final, backup);
      placed.push({ final: t.final, ...(kept && { backup }) });
      renameSync(t.tmp, t.final);
    }
    for (const r of remove) {
      const final = join(dir, r);
      const backup = temp(final, "old");
      renameSync(final, backup);
      removed.push({ final, backup });
    }
  } catch (e) {
    // Undo in reverse order; keep going whatever fails, so as much as possible is restored.
    for (const r of removed.reverse()) attempt(() => renameSync(r.backup, r.final));
    for (const p of placed.reverse()) attempt(() => (p.backup ? renameSync(p.backup, p.final) : rmSync(p.final, { force: true })));
    for (const t of temps) attempt(() => rmSync(t.tmp, { force: true }));
    throw new Bpf2tsError(`write: ${dir}: ${(e as Error).message}; nothing was changed`, { file: dir, cause: e });
  }
  for (const p of placed) if (p.backup) attempt(() => rmSync(p.backup!, { force: true }));
  for (const r of removed) attempt(() => rmSync(r.backup, { force: true }));
}

/** Hard-links `final` to `backup` when it exists; false when there is nothing to keep. */
function linkAside(final: string, backup: string): boolean {
  rmSync(backup, { force: true });
  try {
    linkSync(final, backup);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    copyFileSync(final, backup); // a file system without hard links (a directory fails here too)
    return true;
  }
}

function attempt(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort: the error being reported is the original one
  }
}
