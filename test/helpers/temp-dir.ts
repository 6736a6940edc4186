// Temporary directories for tests that are removed when the test ends, pass or fail, so runs leave
// nothing behind in the OS temp dir.

import type { ExecutionContext } from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Removes `dir` and everything in it; a missing dir is fine. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A fresh directory `<tmpdir>/<prefix>XXXXXX`, removed when `t`'s test (or hook) ends. For a
 * directory shared by several tests, use `makeTempDir` and remove it in `test.after.always`.
 */
export function tempDir(t: ExecutionContext<unknown>, prefix: string): string {
  const dir = makeTempDir(prefix);
  t.teardown(() => removeDir(dir));
  return dir;
}

/** A fresh directory `<tmpdir>/<prefix>XXXXXX` that the caller removes (`removeDir`). */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
