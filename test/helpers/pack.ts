// bpf2ts and @bpf2ts/runtime packed as a fresh clone packs them, for the tests that install them into
// projects of their own. The files a clone has (this checkout's tracked and untracked, not ignored,
// files under the packages' inputs) are copied to a scratch directory whose node_modules holds this
// checkout's packages, except the workspace link @bpf2ts/runtime, which points at the copy's runtime/
// as `npm ci` in a clone makes it (so nothing built in this checkout is in reach). There the README's
// `npm pack && npm pack -w @bpf2ts/runtime` runs, in that order: prepack builds dist/ and the
// prebuilt addons from nothing, and nothing in this checkout (its dist/ and build/, which other tests
// use meanwhile) is touched.
// The tarballs are cached by the content of those files, so the test files of one run share one pack;
// a lock keeps concurrent test processes from packing twice.

import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { cacheDir, repoRoot } from "./kernel.js";

const execFileP = promisify(execFile);

/** npm without its chatter (update notices, funding, audit). */
export const quietNpm: NodeJS.ProcessEnv = { ...process.env, npm_config_loglevel: "error", npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };

export interface Packed {
  /** The bpf2ts tarball (the generator and its CLI). */
  readonly bpf2ts: string;
  /** The @bpf2ts/runtime tarball (the TypeScript API and the prebuilt addons). */
  readonly runtime: string;
}

/** What the two packages are made from: everything else in the checkout cannot change them. */
const inputs = [/^bin\//, /^generator\//, /^templates\//, /^runtime\//, /^scripts\/bundle-cli\.mjs$/, /^package(-lock)?\.json$/, /^tsconfig[^/]*\.json$/, /^README\.md$/, /^LICENSE/];

function packInputs(): string[] {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" });
  return [...new Set(listed.split("\0"))].filter((f) => f && inputs.some((re) => re.test(f)) && existsSync(join(repoRoot, f))).sort();
}

function tarballs(dir: string): Packed {
  const names = readdirSync(dir);
  const find = (re: RegExp) => {
    const name = names.find((n) => re.test(n));
    if (!name) throw new Error(`npm pack left no ${re.source} in ${dir}: ${names.join(", ")}`);
    return join(dir, name);
  };
  return { bpf2ts: find(/^bpf2ts-\d.*\.tgz$/), runtime: find(/^bpf2ts-runtime-\d.*\.tgz$/) };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The two tarballs, packed from a clean copy of this checkout (a few minutes the first time: the
 * runtime's prepack compiles the addon for each architecture; cached afterwards). Callers give
 * their test a timeout of several minutes (`t.timeout`).
 */
export async function packTarballs(): Promise<Packed> {
  const files = packInputs();
  const hash = createHash("sha256").update(readFileSync(fileURLToPath(import.meta.url))); // how they are packed, too
  for (const f of files) hash.update(f).update("\0").update(readFileSync(join(repoRoot, f))).update("\0");
  const out = join(cacheDir, "packs", hash.digest("hex").slice(0, 16));
  const lock = `${out}.lock`;
  mkdirSync(dirname(out), { recursive: true });
  for (;;) {
    if (existsSync(out)) return tarballs(out);
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch {
      let holder = 0; // 0 while the holder has yet to write its pid
      try {
        holder = Number(readFileSync(join(lock, "pid"), "utf8"));
      } catch {
        // the lock is gone: try again
      }
      if (holder > 0 && !alive(holder)) rmSync(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const work = `${out}.work-${process.pid}`;
  try {
    const clone = join(work, "clone");
    for (const f of files) {
      mkdirSync(dirname(join(clone, f)), { recursive: true });
      copyFileSync(join(repoRoot, f), join(clone, f));
    }
    const modules = join(clone, "node_modules");
    mkdirSync(join(modules, "@bpf2ts"), { recursive: true });
    for (const entry of readdirSync(join(repoRoot, "node_modules"))) {
      if (entry !== "@bpf2ts") symlinkSync(join(repoRoot, "node_modules", entry), join(modules, entry));
    }
    symlinkSync("../../runtime", join(modules, "@bpf2ts/runtime"));
    const dest = join(work, "tarballs");
    mkdirSync(dest);
    const pack = (...args: string[]) =>
      execFileP("npm", ["pack", ...args, "--pack-destination", dest], { cwd: clone, env: quietNpm, maxBuffer: 64 << 20 }).catch((e: { message: string; stdout?: string }) => {
        throw new Error(`${e.message}${e.stdout ?? ""}`); // tsc reports on stdout
      });
    await pack();
    await pack("-w", "@bpf2ts/runtime");
    tarballs(dest); // both are there
    renameSync(dest, out);
    return tarballs(out);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(lock, { recursive: true, force: true });
  }
}

/** `npm install` in `cwd`, from the cache where it can and the registry where it must (a cold cache). */
export async function npmInstall(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = quietNpm): Promise<void> {
  await execFileP("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...args], { cwd, env, maxBuffer: 64 << 20 });
}
