// bpf2ts and @bpf2ts/runtime as a user gets them: packed from a fresh clone (prepack builds dist/ and
// the prebuilt addons), installed from the tarballs into projects of their own, `npx bpf2ts`
// generating a tracer there, and the tracer running from the prebuilt addon on a host where no
// compiler, header or make is in reach — from CommonJS and ESM projects, compiled by tsc under each
// module setting and run by tsx.

import test from "ava";
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, symlinkSync } from "node:fs";
import { arch } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { requireFeature } from "./helpers/kernel.js";
import { npmInstall, packTarballs, quietNpm, type Packed } from "./helpers/pack.js";
import { tempDir } from "./helpers/temp-dir.js";
import { cli, helloSource, writeFiles } from "./helpers/workflow-project.js";
import { repoRoot, waitFor } from "./tracers-support.js";

const execFileP = promisify(execFile);
const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
const tsx = join(repoRoot, "node_modules/tsx/dist/cli.mjs");
const PACK_TIMEOUT = 20 * 60_000; // a cold pack compiles the addon twice on a shared 2-core machine

let packing: Promise<Packed> | undefined;
const packed = () => (packing ??= packTarballs());

/** The files in a tarball, without npm's `package/` prefix. */
const listTarball = (tgz: string) =>
  execFileSync("tar", ["tzf", tgz], { encoding: "utf8" }).split("\n").filter(Boolean).map((f) => f.replace(/^package\//, "")).sort();

const filesUnder = (dir: string, prefix = ""): string[] =>
  readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? filesUnder(dir, `${prefix}${d.name}/`) : [`${prefix}${d.name}`]));

const readelf = (...args: string[]) => execFileSync("readelf", ["-W", ...args], { encoding: "utf8" });
const triples: Record<string, string> = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };
const crossToolchain = (a: string) => {
  try {
    execFileSync(`${triples[a]}-g++`, ["--version"], { stdio: "ignore" });
    return existsSync(`/usr/lib/${triples[a]}/libbpf.so`);
  } catch {
    return false;
  }
};

/**
 * A user's tracer: load, attach, print where the addon came from (this process's mappings) and each
 * event as a JSON line, then the `.bss` counter. `types` prints only what the module exports. No
 * top-level await, so it runs as CommonJS and as ESM alike.
 */
const tracerMain = `import { readFileSync } from "node:fs";
import { HelloEvent, loadHello, type HelloObjects } from "./hello.js";

async function trace(ms: number): Promise<void> {
  const objs: HelloObjects = await loadHello();
  await objs.attach();
  const addon = readFileSync("/proc/self/maps", "utf8").split("\\n").map((l) => l.split(/\\s+/).pop() ?? "").find((p) => p.endsWith("bpf2ts.node"));
  console.log(JSON.stringify({ attached: true, addon }));
  objs.maps.events.onEvent((e: HelloEvent) => console.log(JSON.stringify({ pid: e.pid, value: e.value })));
  await new Promise((r) => setTimeout(r, ms));
  const counter: bigint = objs.variables.counter.get();
  console.log(JSON.stringify({ counter: counter.toString() }));
  objs.close();
}

if (process.argv[2] === "types") console.log(JSON.stringify({ size: HelloEvent.size, load: typeof loadHello }));
else trace(Number(process.argv[2] ?? 2000)).catch((e: unknown) => { console.error(e); process.exitCode = 1; });
`;

const tsconfig = (compilerOptions: Record<string, unknown>) => ({
  compilerOptions: { target: "ES2022", lib: ["ES2023", "ESNext.Disposable"], strict: true, types: ["node"], skipLibCheck: false, outDir: "dist", ...compilerOptions },
  files: ["main.ts"],
});

/** A user's project holding the tracer's C source and main.ts, with @types/node from this checkout. */
function userProject(t: Parameters<typeof tempDir>[0], type: "module" | "commonjs"): string {
  const app = tempDir(t, `bpf2ts-app-${type}-`);
  writeFiles(app, { "package.json": { name: "app", version: "1.0.0", private: true, type }, "hello.bpf.c": helloSource(), "main.ts": tracerMain, "tsconfig.json": tsconfig({ module: "NodeNext" }) });
  return app;
}

function linkTypesNode(app: string): void {
  mkdirSync(join(app, "node_modules/@types"), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules/@types/node"), join(app, "node_modules/@types/node"));
}

/** Runs the tracer (`cmd args…`, printing JSON lines), makes a process call getpid, returns what it printed. */
async function traceOnce(t: Parameters<typeof tempDir>[0], cmd: string, args: string[], cwd: string): Promise<{ lines: Array<Record<string, unknown>>; trigger: number }> {
  const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  t.true(await waitFor(() => out.includes('"attached"') || child.exitCode !== null, 30_000), `the tracer attached: ${err}`);
  const trigger = spawn("/bin/sh", ["-c", "exit 0"]); // the shell calls getpid() when it starts
  await new Promise((r) => trigger.on("exit", r));
  t.is(await exited, 0, err);
  return { lines: out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), trigger: trigger.pid! };
}

function assertTraced(t: Parameters<typeof tempDir>[0], run: { lines: Array<Record<string, unknown>>; trigger: number }, addonDir: string): void {
  const addon = run.lines.find((l) => l.attached)?.addon;
  t.is(addon, realpathSync(join(addonDir, "prebuilds", `linux-${arch()}`, "bpf2ts.node")), "the addon came from prebuilds/");
  t.true(run.lines.some((l) => l.pid === run.trigger && l.value === 1), `an event from the getpid() of pid ${run.trigger}: ${JSON.stringify(run.lines.slice(0, 5))}`);
  t.true(BigInt(String(run.lines.at(-1)?.counter ?? 0)) > 0n, "the .bss counter counted");
}

test.serial("bpf2ts and @bpf2ts/runtime pack complete from a fresh clone: built dist/, templates, prebuilt addons needing only libbpf.so.1; no tests, no orphan source maps", async (t) => {
  t.timeout(PACK_TIMEOUT);
  const p = await packed();
  const gen = listTarball(p.bpf2ts);
  const rt = listTarball(p.runtime);
  t.log(`bpf2ts: ${readFileSync(p.bpf2ts).length} B, ${gen.length} files; @bpf2ts/runtime: ${readFileSync(p.runtime).length} B, ${rt.length} files`);

  // bpf2ts: the CLI, every compiled generator module with its declarations, the templates; nothing else.
  for (const f of ["package.json", "README.md", "bin/bpf2ts.js", "dist/generator/cli/cli.js", "dist/generator/index.d.ts", "templates/package.json", "templates/init/tracer.bpf.c"]) t.true(gen.includes(f), f);
  for (const src of filesUnder(join(repoRoot, "generator")).filter((f) => f.endsWith(".ts"))) {
    const js = `dist/generator/${src.replace(/\.ts$/, ".js")}`;
    t.true(gen.includes(js) && gen.includes(js.replace(/\.js$/, ".d.ts")), `${js} and its declarations`);
  }
  for (const f of filesUnder(join(repoRoot, "templates"))) t.true(gen.includes(`templates/${f}`), `templates/${f}`);
  t.deepEqual(gen.filter((f) => !/^(bin|dist\/generator|templates)\/|^(package\.json|README\.md|LICENSE)$/.test(f)), [], "nothing but the CLI, the generator and the templates");
  t.deepEqual(gen.filter((f) => f.endsWith(".map")), [], "no source maps: their sources are not shipped");

  // @bpf2ts/runtime: the API with declarations, sources for a build from source, the prebuilt addons.
  for (const f of ["package.json", "README.md", "binding.gyp", "dist/index.js", "dist/index.d.ts", "scripts/install.mjs", "scripts/build-native.mjs", "scripts/native.mjs", `prebuilds/linux-${arch()}/bpf2ts.node`]) t.true(rt.includes(f), f);
  for (const f of filesUnder(join(repoRoot, "runtime/src"))) t.true(rt.includes(`src/${f}`), `src/${f}`);
  t.deepEqual(rt.filter((f) => !/^(dist|src|scripts|prebuilds)\/|^(binding\.gyp|package\.json|README\.md|LICENSE)$/.test(f)), [], "no build/, no tsbuildinfo, no tests");
  const unpacked = tempDir(t, "bpf2ts-unpacked-");
  execFileSync("tar", ["xzf", p.runtime, "-C", unpacked]);
  const pkg = join(unpacked, "package");
  for (const map of rt.filter((f) => f.endsWith(".map"))) {
    const sources = (JSON.parse(readFileSync(join(pkg, map), "utf8")) as { sources: string[] }).sources;
    for (const s of sources) t.true(existsSync(join(pkg, map, "..", s)), `${map} → ${s} is shipped`);
  }
  const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as Record<string, any>;
  t.is(manifest.scripts.install, "node scripts/install.mjs");
  t.is(manifest.types, "./dist/index.d.ts", "types for module: commonjs (node10 resolution ignores exports)");
  t.is(manifest.engines.node, ">=20.19", "require(esm) is what lets CommonJS load this ESM package");

  // Each prebuilt addon: its machine, and only libbpf.so.1, libstdc++, libgcc_s and libc needed, with
  // no libbpf symbol version newer than this host's libbpf.so.1 (Debian 12's 1.1) defines.
  const built = rt.filter((f) => f.startsWith("prebuilds/")).map((f) => f.split("/")[1]!).sort();
  t.deepEqual(built, Object.keys(triples).filter((a) => a === arch() || crossToolchain(a)).map((a) => `linux-${a}`).sort(), "this host's architecture, and the other one where its cross toolchain is installed");
  for (const dir of built) {
    const a = dir.replace("linux-", "");
    const addon = join(pkg, "prebuilds", dir, "bpf2ts.node");
    t.regex(readelf("-h", addon), a === "x64" ? /Machine:\s+Advanced Micro Devices X86-64/ : /Machine:\s+AArch64/, dir);
    const needed = [...readelf("-d", addon).matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]!);
    t.deepEqual(needed.filter((l) => !/^(libbpf\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libc\.so\.6|libm\.so\.6|ld-linux-[\w-]+\.so\.\d)$/.test(l)), [], `${dir} needs ${needed.join(", ")}`);
    t.true(needed.includes("libbpf.so.1"));
    const symbols = readelf("--dyn-syms", addon);
    t.regex(symbols, /\sFUNC\s+GLOBAL\s+DEFAULT\s+\d+ napi_register_module_v1$/m, `${dir} is a Node-API module`);
    const wanted = new Set([...symbols.matchAll(/@(LIBBPF_[\d.]+)/g)].map((m) => m[1]!));
    const libbpf = `/usr/lib/${triples[a]}/libbpf.so.1`;
    if (existsSync(libbpf)) {
      const defined = new Set([...readelf("-V", libbpf).matchAll(/Name: (LIBBPF_[\d.]+)/g)].map((m) => m[1]!));
      t.deepEqual([...wanted].filter((v) => !defined.has(v)), [], `${dir}: every libbpf symbol version it needs is in ${libbpf}`);
    }
    t.log(`${dir}: ${readFileSync(addon).length} B, needs ${needed.join(" ")}, libbpf symbols up to ${[...wanted].sort((x, y) => x.localeCompare(y, undefined, { numeric: true })).at(-1)}`);
  }
});

test.serial("installed with --ignore-scripts, `npx bpf2ts` generates a tracer that runs from the prebuilt addon where no compiler, libbpf header or make is in reach", async (t) => {
  t.timeout(PACK_TIMEOUT);
  const p = await packed();
  const app = userProject(t, "module");
  const started = Date.now();
  await npmInstall(app, ["--ignore-scripts", p.bpf2ts, p.runtime]);
  t.log(`npm install --ignore-scripts of both tarballs: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const runtimeDir = join(app, "node_modules/@bpf2ts/runtime");
  const deps = (JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies;
  t.deepEqual(Object.keys(deps).sort(), ["@bpf2ts/runtime", "bpf2ts"]);

  // The user's own npm scripts and npx find the installed CLI.
  const generated = await execFileP("npx", ["--no-install", "bpf2ts", "generate", "hello", "hello.bpf.c"], { cwd: app, env: quietNpm });
  t.regex(generated.stdout, /wrote hello\.ts/);
  linkTypesNode(app);
  await execFileP(process.execPath, [tsc, "-p", app]);
  t.true(existsSync(join(app, "dist/main.js")));
  const types = await execFileP(process.execPath, ["dist/main.js", "types"], { cwd: app });
  t.deepEqual(JSON.parse(types.stdout), { size: 8, load: "function" });

  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  // The tracer host: a private mount namespace where /usr/include and gcc's own directory (cc1,
  // cc1plus, the C runtime objects) are empty, and PATH holds node alone. The install hook runs
  // there as `npm rebuild` would run it: it must keep the prebuilt addon, building nothing.
  const nodeOnly = join(app, ".node-only");
  mkdirSync(nodeOnly);
  symlinkSync(process.execPath, join(nodeOnly, "node"));
  const host = `set -e
mount -t tmpfs none /usr/include
mount -t tmpfs none /usr/lib/gcc
export PATH=${nodeOnly}
if /usr/bin/g++ -x c++ -c /dev/null -o /dev/null 2>/dev/null; then echo "g++ still compiles" >&2; exit 90; fi
if [ -e /usr/include/bpf/libbpf.h ]; then echo "libbpf headers in reach" >&2; exit 91; fi
for c in g++ c++ cc make pkg-config python3; do if command -v $c >/dev/null; then echo "$c in reach" >&2; exit 91; fi; done
node node_modules/@bpf2ts/runtime/scripts/install.mjs
if [ -e node_modules/@bpf2ts/runtime/build ]; then echo "the install hook built from source" >&2; exit 92; fi
exec node dist/main.js 1500
`;
  const run = await traceOnce(t, "unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", host], app);
  assertTraced(t, run, runtimeDir);
  t.false(existsSync(join(runtimeDir, "build")), "nothing was built");
});

test.serial("CommonJS and ESM projects: the generated module type-checks under module commonjs, node20, nodenext, node16 (ESM), bundler, runs when compiled and under tsx", async (t) => {
  t.timeout(PACK_TIMEOUT);
  const p = await packed();
  for (const type of ["commonjs", "module"] as const) {
    const app = userProject(t, type);
    // With install scripts, as npm runs them by default: the hook keeps the prebuilt addon.
    await npmInstall(app, [p.runtime]);
    t.false(existsSync(join(app, "node_modules/@bpf2ts/runtime/build")), `${type}: the install hook built nothing`);
    linkTypesNode(app);
    const gen = await cli(app, ["generate", "hello", "hello.bpf.c"]);
    t.is(gen.code, 0, gen.stderr);

    const modes: Array<[string, Record<string, unknown>, "run" | "check" | "TS1479"]> =
      type === "commonjs"
        ? [["commonjs", { module: "CommonJS" }, "run"], ["node20", { module: "Node20" }, "run"], ["nodenext", { module: "NodeNext" }, "run"], ["bundler", { module: "Preserve", moduleResolution: "Bundler", noEmit: true }, "check"], ["node16", { module: "Node16" }, "TS1479"]]
        : [["node16", { module: "Node16" }, "run"], ["node20", { module: "Node20" }, "run"], ["nodenext", { module: "NodeNext" }, "run"], ["bundler", { module: "ESNext", moduleResolution: "Bundler" }, "run"]];
    for (const [name, options, expect] of modes) {
      writeFiles(app, { "tsconfig.json": tsconfig({ ...options, outDir: `dist-${name}` }) });
      const diagnostics = await execFileP(process.execPath, [tsc, "-p", app]).then(() => "", (e: { stdout: string }) => e.stdout);
      if (expect === "TS1479") {
        // TypeScript's node16 models Node 16, where require() cannot load ESM: a documented limit.
        t.regex(diagnostics, /error TS1479/, `${type} ${name}`);
        continue;
      }
      t.is(diagnostics, "", `${type} ${name}`);
      if (expect === "check") continue;
      writeFiles(join(app, `dist-${name}`), { "package.json": { type } });
      const { stdout } = await execFileP(process.execPath, [join(app, `dist-${name}`, "main.js"), "types"], { cwd: app });
      t.deepEqual(JSON.parse(stdout), { size: 8, load: "function" }, `${type} ${name} runs`);
    }
    const viaTsx = await execFileP(process.execPath, [tsx, "main.ts", "types"], { cwd: app });
    t.deepEqual(JSON.parse(viaTsx.stdout), { size: 8, load: "function" }, `${type}: tsx runs main.ts`);

    if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) continue;
    assertTraced(t, await traceOnce(t, process.execPath, [tsx, "main.ts", "1500"], app), join(app, "node_modules/@bpf2ts/runtime"));
  }
});

test.serial("with no addon that loads, the error names each place looked and what to install; npm rebuild then builds it from source", async (t) => {
  t.timeout(PACK_TIMEOUT);
  const p = await packed();
  const app = userProject(t, "commonjs");
  await npmInstall(app, ["--ignore-scripts", p.runtime]);
  const runtimeDir = join(app, "node_modules/@bpf2ts/runtime");
  renameSync(join(runtimeDir, "prebuilds"), join(runtimeDir, "prebuilds-gone"));
  const probe = `const r = require("@bpf2ts/runtime"); try { r.libbpfVersion(); } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`;
  const { stdout } = await execFileP(process.execPath, ["-e", probe], { cwd: app });
  const err = JSON.parse(stdout) as { name: string; message: string };
  t.is(err.name, "AddonError");
  t.true(err.message.includes(join(runtimeDir, "prebuilds", `linux-${arch()}`, "bpf2ts.node")), err.message);
  t.true(err.message.includes(join(runtimeDir, "build", "Release", "bpf2ts.node")), err.message);
  t.regex(err.message, /apt-get install libbpf1/);
  t.regex(err.message, /apt-get install libbpf-dev .*npm rebuild @bpf2ts\/runtime/);
  t.notRegex(err.message, /npm run /, "no script of the bpf2ts repository");

  // The fallback, as the message says (this host has the build tools): the package ships what a
  // build from source needs, and the runtime then loads build/Release.
  await execFileP("npm", ["rebuild", "@bpf2ts/runtime"], { cwd: app, env: quietNpm });
  const maps = `const r = require("@bpf2ts/runtime"); r.libbpfVersion(); console.log(require("fs").readFileSync("/proc/self/maps", "utf8").split("\\n").map((l) => l.split(/\\s+/).pop()).find((p) => p.endsWith("bpf2ts.node")));`;
  const loaded = await execFileP(process.execPath, ["-e", maps], { cwd: app });
  t.is(loaded.stdout.trim(), realpathSync(join(runtimeDir, "build", "Release", "bpf2ts.node")));
});
