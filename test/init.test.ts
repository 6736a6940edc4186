// `bpf2ts init`: the scaffold generates, type-checks and runs as is (load, attach, an event from a real
// execve read through the ring buffer); existing projects are extended, never clobbered; bad names
// and clashes are errors that write nothing.

import test from "ava";
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { findClangFormat, formatC } from "../generator/workflow/init.js";
import { requireFeature } from "./helpers/kernel.js";
import { cli, makeProject, repoRoot, treeHashes, writeFiles } from "./helpers/workflow-project.js";

const run = promisify(execFile);
const ms = (x: number) => `${Math.round(x)} ms`;

/** node_modules for a scaffolded project: the workspace's runtime and @types/node. */
function linkModules(dir: string): void {
  mkdirSync(join(dir, "node_modules/@bpf2ts"), { recursive: true });
  symlinkSync(join(repoRoot, "runtime"), join(dir, "node_modules/@bpf2ts/runtime"));
  symlinkSync(join(repoRoot, "node_modules/@types"), join(dir, "node_modules/@types"));
}

test("init scaffolds a tracer that generates, compiles and runs: an exec is seen through the ring buffer", async (t) => {
  t.timeout(90000);
  if (!(await requireFeature(t, "root", "btf", "clang", "tracepoint", "ringbuf"))) return;
  const dir = makeProject(t, {});
  const t0 = performance.now();
  const init = await cli(dir, ["init", "snoop"]);
  const t1 = performance.now();
  t.is(init.code, 0, init.stderr);
  for (const f of ["bpf/snoop.bpf.c", "bpf/vmlinux.h", "src/snoop-main.mts", "package.json", "tsconfig.json", ".gitignore", ".clang-format"]) {
    t.true(existsSync(join(dir, f)), f);
  }
  t.regex(init.stdout, /next:\n {2}npm install +#.*\n {2}npm run build +#.*\n {2}sudo npm start +#/);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, Record<string, unknown>>;
  t.deepEqual(pkg.bpf2ts, { programs: [{ source: "bpf/snoop.bpf.c", outputDir: "src", target: "native" }] });
  t.is(pkg.scripts!.start, "node dist/snoop-main.mjs");
  t.is(pkg.scripts!.check, "bpf2ts check");
  const c = readFileSync(join(dir, "bpf/snoop.bpf.c"), "utf8");
  t.regex(c, /SEC\("license"\) = "GPL"/);
  t.regex(c, /BPF_MAP_TYPE_RINGBUF/);
  t.regex(c, /SEC\("tracepoint\/syscalls\/sys_enter_execve"\)/);
  t.notRegex(c, /\{\{/);

  // `npm run build`: bpf2ts generate (from the config init wrote), then tsc.
  const gen = await cli(dir, ["generate"]);
  const t2 = performance.now();
  t.is(gen.code, 0, gen.stderr);
  t.regex(gen.stdout, /snoop: wrote src\/snoop\.ts, src\/snoop_bpfel\.o/);
  linkModules(dir);
  await run(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "."], { cwd: dir });
  t.true(existsSync(join(dir, "dist/snoop-main.mjs")));
  t.log(`init ${ms(t1 - t0)}, generate ${ms(t2 - t1)}, tsc ${ms(performance.now() - t2)}`);

  // --help prints the usage without loading anything; a bad option is bad usage, exit 2.
  const help = await run(process.execPath, ["dist/snoop-main.mjs", "--help"], { cwd: dir });
  t.regex(help.stdout, /^usage: snoop \[--pid N\] \[--duration S\] \[--count N\]\n/);
  const bad = spawnSync(process.execPath, ["dist/snoop-main.mjs", "--count", "many"], { cwd: dir, encoding: "utf8" });
  t.is(bad.status, 2, bad.stderr);
  t.regex(bad.stderr, /^snoop: --count: expected a non-negative integer, got many\nusage: snoop /);

  // Run it (as `npm start` would) and exec a marker binary until it reports it.
  const child = spawn(process.execPath, ["dist/snoop-main.mjs", "--count", "200", "--duration", "20"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  const deadline = Date.now() + 20000;
  while (!/tracing execve/.test(err) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  let seen = false;
  while (!seen && child.exitCode === null && Date.now() < deadline) {
    await run("/bin/true", []);
    await new Promise((r) => setTimeout(r, 100));
    seen = /^\d+\t\d+\t\S+\t\/bin\/true$/m.test(out);
  }
  child.kill("SIGINT");
  const code = await exited;
  t.true(seen, `no event for /bin/true; stdout:\n${out}\nstderr:\n${err}`);
  t.is(code, 0, err);
  t.regex(out, /^PID\tUID\tCOMM\tFILENAME$/m);

  // Piped into a reader that goes away (`sudo npm start | head -1`): it stops quietly, exit 0.
  const piped = spawn(process.execPath, ["dist/snoop-main.mjs", "--duration", "20"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let pipedErr = "";
  piped.stderr.on("data", (b: Buffer) => (pipedErr += b.toString()));
  piped.stdout.once("data", () => piped.stdout.destroy()); // the header line, then the reader is gone
  const pipedExit = new Promise<number | null>((r) => piped.on("exit", r));
  const started = Date.now();
  while (piped.exitCode === null && Date.now() - started < 15000) {
    await run("/bin/true", []);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(await pipedExit, 0, pipedErr);
  t.true(Date.now() - started < 15000, "it stopped when its reader went away, not at --duration");
  t.notRegex(pipedErr, /EPIPE|Error/, pipedErr);
});

test("init extends an existing project and refuses to clobber; bad names write nothing", async (t) => {
  const dir = makeProject(t, {
    "package.json": { name: "mine", scripts: { start: "node app.js", build: "make" }, dependencies: { left: "1.0.0" } },
    "bpf/vmlinux.h": "/* mine */\n",
    ".gitignore": "dist/\nsecrets\n",
  });
  const r = await cli(dir, ["init", "tool"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /note: kept the existing bpf\/vmlinux\.h/);
  t.is(readFileSync(join(dir, "bpf/vmlinux.h"), "utf8"), "/* mine */\n");
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, Record<string, unknown>>;
  t.is(pkg.name as unknown, "mine");
  t.is(pkg.scripts!.start, "node app.js", "user scripts are kept");
  t.is(pkg.scripts!.build, "make");
  t.is(pkg.scripts!["start:tool"], "node dist/tool-main.mjs");
  t.is(pkg.scripts!["build:tool"], "bpf2ts generate && tsc -p .", "a clashing script gets the tracer's name");
  t.is(pkg.scripts!.generate, "bpf2ts generate");
  t.is(pkg.dependencies!.left, "1.0.0");
  t.is(pkg.dependencies!["@bpf2ts/runtime"], "^0.1.0");
  t.regex(r.stdout, /next:\n {2}npm install +#.*\n {2}npm run build:tool +#.*\n {2}sudo npm run start:tool +#/, "next steps name the scripts init added");
  t.is(readFileSync(join(dir, ".gitignore"), "utf8"), "dist/\nsecrets\nnode_modules/\n.bpf2ts-cache/\n");

  // A second tracer joins the config; the same one again is refused without touching anything.
  t.is((await cli(dir, ["init", "other", "--no-vmlinux"])).code, 0);
  const programs = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { bpf2ts: { programs: Array<{ source: string }> } }).bpf2ts.programs;
  t.deepEqual(programs.map((p) => p.source), ["bpf/tool.bpf.c", "bpf/other.bpf.c"]);
  const before = treeHashes(dir);
  const again = await cli(dir, ["init", "tool"]);
  t.is(again.code, 1);
  t.regex(again.stderr, /init: bpf\/tool\.bpf\.c and src\/tool-main\.mts already exist; pass --force to replace/);
  const forced = await cli(dir, ["init", "tool", "--force", "--no-vmlinux"]);
  t.is(forced.code, 1);
  t.regex(forced.stderr, /package\.json: bpf2ts already configures a program "tool"/);
  for (const name of ["Bad", "1x", "a-b"]) {
    const bad = await cli(dir, ["init", name]);
    t.is(bad.code, 2, `${name}: bad usage`);
    t.regex(bad.stderr, new RegExp(`init: "${name}" is not a usable tracer name`), name);
  }
  // A module of the user's where the tracer's generated module would go.
  writeFiles(dir, { "src/mine.ts": "export const mine = 1;\n" });
  const taken = await cli(dir, ["init", "mine", "--no-vmlinux"]);
  t.is(taken.code, 1);
  t.regex(taken.stderr, /init: src\/mine\.ts exists and bpf2ts did not generate it; the tracer's module would replace it: choose another name/);
  delete before["src/mine.ts"];
  const after = treeHashes(dir);
  delete after["src/mine.ts"];
  t.deepEqual(after, before, "failed inits write nothing");

  // With a bpf2ts.config.json, programs go there.
  const withConfig = makeProject(t, { "bpf2ts.config.json": { programs: [{ source: "x.c" }] }, "x.c": "" });
  t.is((await cli(withConfig, ["init", "third", "--no-vmlinux"])).code, 0);
  const cfg = JSON.parse(readFileSync(join(withConfig, "bpf2ts.config.json"), "utf8")) as { programs: unknown[] };
  t.is(cfg.programs.length, 2);
  t.is((JSON.parse(readFileSync(join(withConfig, "package.json"), "utf8")) as { bpf2ts?: unknown }).bpf2ts, undefined);
});

test("the scaffold's C is clang-format clean with its own style", async (t) => {
  if (!findClangFormat()) {
    t.log("no clang-format (npm clang-format or clang-format-19): nothing to check");
    t.pass();
    return;
  }
  const dir = makeProject(t, {});
  t.is((await cli(dir, ["init", "fmt", "--no-vmlinux"])).code, 0);
  const c = readFileSync(join(dir, "bpf/fmt.bpf.c"), "utf8");
  const again = await formatC(c, join(dir, ".clang-format"), "fmt.bpf.c");
  t.is(again.text, c);
  t.is(again.note, undefined);
  // And it does format: a squashed copy comes back as the scaffold.
  const squashed = await formatC(c.replace(/\n\t+/g, "\n"), join(dir, ".clang-format"), "fmt.bpf.c");
  t.is(squashed.text, c);
});

/** Runs the scaffold's `tsc` the way its build script names it. */
async function buildScript(dir: string): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const build = Object.entries(pkg.scripts).find(([k, v]) => /^build(:|$)/.test(k) && v.startsWith("bpf2ts generate && tsc"));
  if (!build) throw new Error(`no build script: ${JSON.stringify(pkg.scripts)}`);
  const tscArgs = build[1].replace(/^bpf2ts generate && tsc /, "").split(" ");
  const gen = await cli(dir, ["generate"]);
  if (gen.code !== 0) throw new Error(gen.stderr);
  await run(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), ...tscArgs], { cwd: dir });
  return build[0];
}

test("init in a CommonJS project (npm init -y): the type and the user's files stay, and the scaffold builds", async (t) => {
  t.timeout(90000);
  if (!(await requireFeature(t, "clang"))) return;
  const userPkg = { name: "cjs-app", version: "1.0.0", description: "", main: "index.js", scripts: { test: 'echo "Error: no test specified" && exit 1' }, keywords: [], author: "", license: "ISC", type: "commonjs" };
  const dir = makeProject(t, { "package.json": userPkg, "index.js": "module.exports = 42;\n" });
  const r = await cli(dir, ["init", "snoop", "--no-vmlinux"]);
  t.is(r.code, 0, r.stderr);
  // vmlinux.h of this kernel is big: the scaffold's tracepoint only needs a few types from it.
  writeFileSync(join(dir, "bpf/vmlinux.h"), readFileSync(join(repoRoot, "bpf/vmlinux.h")));
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
  t.is(pkg.type, "commonjs", "the project's type is kept");
  t.is(pkg.main, "index.js");
  t.is((pkg.scripts as Record<string, string>).test, userPkg.scripts.test);
  t.is(readFileSync(join(dir, "index.js"), "utf8"), "module.exports = 42;\n");
  linkModules(dir);
  t.is(await buildScript(dir), "build");
  // The generated module follows the project (CommonJS); the main module is ESM (.mjs) with its top-level await.
  t.regex(readFileSync(join(dir, "dist/snoop.js"), "utf8"), /exports\.loadSnoop = loadSnoop/);
  t.regex(readFileSync(join(dir, "dist/snoop-main.mjs"), "utf8"), /await loadSnoop\(/);
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", `import { loadSnoop, SnoopEvent } from "./dist/snoop.js"; console.log(typeof loadSnoop, SnoopEvent.size)`], { cwd: dir });
  t.regex(stdout, /^function \d+\n$/, "the CommonJS module imports from ESM with its named exports");
});

test("init in an ESM project with its own tsconfig.json: kept byte for byte, the tracer builds with tsconfig.bpf2ts.json", async (t) => {
  t.timeout(90000);
  if (!(await requireFeature(t, "clang"))) return;
  const tsconfig = '{ "compilerOptions": { "module": "commonjs", "outDir": "lib" }, "include": ["app"] }\n';
  const dir = makeProject(t, {
    "package.json": { name: "esm-app", version: "2.0.0", type: "module", scripts: { build: "tsc", start: "node lib/app.js", watch: "tsc -w" } },
    "tsconfig.json": tsconfig,
    "app/app.ts": "export const answer = 42;\n",
  });
  const r = await cli(dir, ["init", "snoop", "--no-vmlinux"]);
  t.is(r.code, 0, r.stderr);
  t.is(readFileSync(join(dir, "tsconfig.json"), "utf8"), tsconfig, "the user's tsconfig.json is untouched");
  t.regex(r.stderr, /note: kept your tsconfig\.json; the tracer builds with tsconfig\.bpf2ts\.json .*merge/);
  t.regex(r.stdout, /npm run build:snoop +# bpf2ts generate, then tsc\n {2}sudo npm run start:snoop +#.*\n {2}npm run watch:snoop/);
  const scripts = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  t.deepEqual([scripts.build, scripts.start, scripts.watch], ["tsc", "node lib/app.js", "tsc -w"], "the user's scripts are kept");
  writeFileSync(join(dir, "bpf/vmlinux.h"), readFileSync(join(repoRoot, "bpf/vmlinux.h")));
  linkModules(dir);
  t.is(await buildScript(dir), "build:snoop");
  t.true(existsSync(join(dir, "dist/snoop-main.mjs")) && existsSync(join(dir, "dist/snoop.js")));
  t.false(existsSync(join(dir, "dist/app.js")), "the tracer's build compiles only the tracer");
  // A second tracer joins the same side tsconfig.
  t.is((await cli(dir, ["init", "other", "--no-vmlinux"])).code, 0);
  t.deepEqual((JSON.parse(readFileSync(join(dir, "tsconfig.bpf2ts.json"), "utf8")) as { files: string[] }).files, ["src/snoop.ts", "src/snoop-main.mts", "src/other.ts", "src/other-main.mts"]);
});
