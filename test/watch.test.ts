// `bpf2ts watch` as a user runs it (a child process): first build, a header edit regenerates the
// module, a syntax error prints clang's diagnostics and keeps watching, fixing it regenerates again,
// SIGINT stops it with exit 0. Every wait is bounded.

import test from "ava";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { helloSource, makeProject, repoRoot } from "./helpers/workflow-project.js";

/** A child process whose output can be awaited for a pattern, with a deadline. */
function startCli(cwd: string, args: string[]) {
  const child = spawn(process.execPath, [join(repoRoot, "bin/bpf2ts.js"), ...args], { cwd, env: { ...process.env, CI: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: Array<() => void> = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  child.stdout.on("data", (b: Buffer) => ((stdout += b.toString()), poke()));
  child.stderr.on("data", (b: Buffer) => ((stderr += b.toString()), poke()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => (poke(), r(code))));
  /** Resolves when `pattern` matches the output from `from` on; rejects after `ms`. */
  const waitFor = (stream: "stdout" | "stderr", pattern: RegExp, from: number, ms = 20000) =>
    new Promise<string>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in ${stream}:\n${stdout}\n--- stderr:\n${stderr}`)), ms);
      const check = () => {
        const text = (stream === "stdout" ? stdout : stderr).slice(from);
        if (pattern.test(text)) {
          clearTimeout(timer);
          resolvePromise(text);
        } else if (child.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`exited (${child.exitCode}) before ${pattern}:\n${stdout}\n--- stderr:\n${stderr}`));
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return { child, exited, waitFor, out: () => stdout, err: () => stderr };
}

test("watch regenerates on header and source changes, reports clang errors, and stops on SIGINT", async (t) => {
  t.timeout(60000);
  const dir = makeProject(t, {
    "bpf/common.h": "#define VALUE 7\n",
    "bpf/w.bpf.c": helloSource({ header: "common.h" }),
    "bpf2ts.config.json": { target: "bpfel", programs: [{ source: "bpf/w.bpf.c" }] },
  });
  const w = startCli(dir, ["watch", "--debounce", "50"]);
  try {
    await w.waitFor("stdout", /watching \d+ files of 1 program \(w\.bpf\.c\); Ctrl-C stops/, 0);
    t.regex(w.out(), /\[1\/1\] w: wrote bpf\/w\.ts, bpf\/w_bpfel\.o/);
    const object0 = readFileSync(join(dir, "bpf/w_bpfel.o"));

    // A header edit: rebuilt, and the object really changed.
    let mark = w.out().length;
    writeFileSync(join(dir, "bpf/common.h"), "#define VALUE 8\n");
    await w.waitFor("stdout", /w: bpf\/common\.h changed: wrote bpf\/w\.ts, bpf\/w_bpfel\.o/, mark);
    t.false(readFileSync(join(dir, "bpf/w_bpfel.o")).equals(object0));

    // A syntax error: clang's diagnostic as clang printed it, then the failure; outputs kept.
    const good = readFileSync(join(dir, "bpf/w.bpf.c"), "utf8");
    const before = readFileSync(join(dir, "bpf/w.ts"), "utf8");
    let errMark = w.err().length;
    writeFileSync(join(dir, "bpf/w.bpf.c"), good.replace("counter++;", "counter++ oops;"));
    await w.waitFor("stderr", /bpf\/w\.bpf\.c:\d+:\d+: error: [^\n]*\n[\s\S]*w: failed: clang: compiling bpf\/w\.bpf\.c/, errMark);
    t.is(readFileSync(join(dir, "bpf/w.ts"), "utf8"), before);

    // Fixed (an editor-style save: write a new file, rename it over the old one): rebuilt again, with
    // the header still watched although the failed build produced no dependency list.
    mark = w.out().length;
    writeFileSync(join(dir, "bpf/.w.bpf.c.swp"), good.replace("counter++;", "counter += 2;"));
    (await import("node:fs")).renameSync(join(dir, "bpf/.w.bpf.c.swp"), join(dir, "bpf/w.bpf.c"));
    await w.waitFor("stdout", /w: bpf\/w\.bpf\.c changed: wrote bpf\/w\.ts/, mark);
    mark = w.out().length;
    writeFileSync(join(dir, "bpf/common.h"), "#define VALUE 9\n");
    await w.waitFor("stdout", /w: bpf\/common\.h changed: wrote/, mark);

    // A config edit reloads it and rebuilds (the options are part of what the build depends on).
    mark = w.out().length;
    writeFileSync(join(dir, "bpf2ts.config.json"), JSON.stringify({ target: "bpfel", cflags: "-DEXTRA=1", programs: [{ source: "bpf/w.bpf.c" }] }));
    await w.waitFor("stdout", /bpf2ts\.config\.json changed: reloaded \(1 program\)\n[\s\S]*w: [^\n]*wrote bpf\/w\.ts/, mark);

    errMark = w.err().length;
    w.child.kill("SIGINT");
    const code = await Promise.race([w.exited, new Promise<string>((r) => setTimeout(() => r("still running"), 5000))]);
    t.is(code, 0);
    t.regex(w.out(), /watch: stopped\n$/);
    t.is(w.err().slice(errMark), "");
  } finally {
    if (w.child.exitCode === null) w.child.kill("SIGKILL");
  }
});
