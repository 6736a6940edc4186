// `bpf2ts generate --package`: a tracer becomes a complete npm package that builds with tsc, packs, and
// installs into another project (npm pack + npm install of the tarballs), where it type-checks,
// imports, runs its CLI and — on a BPF-capable kernel — traces live.

import test from "ava";
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { requireFeature } from "./helpers/kernel.js";
import { linkCount, processKernelIds, repoRoot, waitFor } from "./tracers-support.js";
import { packageFiles, sourceSummary } from "../generator/workflow/package.js";
import { writePackageFiles } from "../generator/workflow/package-dir.js";
import type { ObjectModel } from "../generator/model/model.js";
import { npmInstall, packTarballs, quietNpm } from "./helpers/pack.js";
import { tempDir } from "./helpers/temp-dir.js";
import { cli, helloSource, treeHashes, writeFiles } from "./helpers/workflow-project.js";

const execFileP = promisify(execFile);
const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");

function files(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? (d.name === "node_modules" || d.name === "dist" ? [] : files(join(dir, d.name), `${prefix}${d.name}/`)) : [`${prefix}${d.name}`])).sort();
}

test.serial("generate --package writes an installable package: package.json, README, tsconfig, module, objects, CLI", async (t) => {
  const work = tempDir(t, "bpf2ts-pkg-");
  const pkg = join(work, "execsnoop");
  execFileSync(process.execPath, [join(repoRoot, "bin/bpf2ts.js"), "generate", "execsnoop", "bpf/execsnoop/execsnoop.bpf.c", "--target", "x64", "--package", pkg, "--", "-I", "bpf"], { cwd: repoRoot, stdio: "pipe" });
  t.deepEqual(files(pkg), [".bpf2ts-package.json", "Containerfile", "README.md", "deploy/daemonset.yaml", "package.json", "src/cli.ts", "src/execsnoop.ts", "src/execsnoop_bpfel.o", "src/lib/cli.ts", "src/lib/format.ts", "src/lib/metrics.ts", "tsconfig.json"]);
  const json = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
  t.is(json.name, "execsnoop");
  t.deepEqual(json.os, ["linux"]);
  t.truthy(json.engines.node);
  t.is(json.type, "module");
  t.deepEqual(json.exports["."], { types: "./dist/execsnoop.d.ts", default: "./dist/execsnoop.js" });
  t.deepEqual(json.bin, { execsnoop: "./dist/cli.js" });
  // The runtime, and what its exporter subpaths import (its optional peers), at the ranges it declares: the CLI's --metrics and --otlp run after `npm install`.
  const runtimePeers = (JSON.parse(readFileSync(join(repoRoot, "runtime/package.json"), "utf8")) as { peerDependencies: Record<string, string> }).peerDependencies;
  t.deepEqual(json.dependencies, { "@bpf2ts/runtime": json.dependencies["@bpf2ts/runtime"], ...runtimePeers });
  t.is(json.license, "GPL-2.0-only", "from the object's license string");
  t.regex(json.description, /execve\(\)/, "from the source's leading comment");
  const readme = readFileSync(join(pkg, "README.md"), "utf8");
  for (const name of ["handleExecveEnter", "tracepoint/syscalls/sys_exit_execve", "`events`", "ExecsnoopEvent", "`argsTruncated`", "targComm", "ignoreFailed", "lostEvents", "loadExecsnoop"]) {
    t.true(readme.includes(name), `README mentions ${name}`);
  }
  t.notRegex(readme, /\{\{\w+\}\}/, "every placeholder filled");
  // The CLI's imports of the shared helpers were rewritten to the package layout.
  t.regex(readFileSync(join(pkg, "src/cli.ts"), "utf8"), /from "\.\/lib\/cli\.js"/);
});

test.serial("the packed package installs into a new project (from a cold npm cache too), type-checks, imports, runs its CLI and traces", async (t) => {
  const work = tempDir(t, "bpf2ts-pkg-");
  // 1. The package, built with tsc against the runtime the way its own `npm run build` would.
  const pkg = join(work, "execsnoop");
  execFileSync(process.execPath, [join(repoRoot, "bin/bpf2ts.js"), "generate", "execsnoop", "bpf/execsnoop/execsnoop.bpf.c", "--target", "x64", "--package", pkg, "--", "-I", "bpf"], { cwd: repoRoot, stdio: "pipe" });
  mkdirSync(join(pkg, "node_modules/@bpf2ts"), { recursive: true });
  mkdirSync(join(pkg, "node_modules/@types"), { recursive: true });
  symlinkSync(join(repoRoot, "runtime"), join(pkg, "node_modules/@bpf2ts/runtime"));
  symlinkSync(join(repoRoot, "node_modules/@types/node"), join(pkg, "node_modules/@types/node"));
  await execFileP(process.execPath, [tsc, "-p", pkg]);
  t.true(existsSync(join(pkg, "dist/execsnoop.d.ts")) && existsSync(join(pkg, "dist/cli.js")));

  // 2. npm pack the package; the runtime as the user gets it from the registry (packed from a fresh
  // clone, with its prebuilt addon).
  t.timeout(20 * 60_000); // the first pack of the runtime compiles its addons
  const tarballs = join(work, "tarballs");
  mkdirSync(tarballs);
  await execFileP("npm", ["pack", "--ignore-scripts", "--pack-destination", tarballs], { cwd: pkg, env: quietNpm });
  t.deepEqual(readdirSync(tarballs), ["execsnoop-0.1.0.tgz"]);
  const tgz = [join(tarballs, "execsnoop-0.1.0.tgz"), (await packTarballs()).runtime];

  // 3. A fresh project installs them (from the npm cache where it can: node-addon-api comes from the
  // registry when the cache is cold).
  const app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, type: "module" }));
  await npmInstall(app, ["--ignore-scripts", ...tgz]);
  t.true(existsSync(join(app, "node_modules/execsnoop/dist/execsnoop.js")));
  t.true(existsSync(join(app, "node_modules/.bin/execsnoop")), "the CLI is linked as a bin");

  // 4. Consumer code type-checks against the installed declarations — and wrong code does not.
  mkdirSync(join(app, "node_modules/@types"), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules/@types/node"), join(app, "node_modules/@types/node"));
  const tsconfig = { compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2023", "ESNext.Disposable"], strict: true, noEmit: true, skipLibCheck: true, types: ["node"] } };
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ ...tsconfig, files: ["good.ts", "bad.ts"] }));
  writeFileSync(
    join(app, "good.ts"),
    `import { loadExecsnoop, ExecsnoopEvent, type ExecsnoopObjects } from "execsnoop";
const size: number = ExecsnoopEvent.size;
export async function watch(): Promise<string[]> {
  const objs: ExecsnoopObjects = await loadExecsnoop({ constants: { targComm: "ls", ignoreFailed: true } });
  await objs.attach();
  const seen: string[] = [];
  objs.maps.events.onEvent((e: ExecsnoopEvent) => { const pid: number = e.pid; const args: string[] = e.args; seen.push(\`\${pid} \${args.join(" ")} \${e.tsNs + 1n}\`); });
  objs.close();
  return seen.concat(String(size));
}
`,
  );
  writeFileSync(join(app, "bad.ts"), `import { loadExecsnoop } from "execsnoop";\nexport const o = await loadExecsnoop({ constants: { targComm: 42 } });\nexport const x: number = (await o.maps.events.read()).nosuchfield;\n`);
  const diagnostics = await execFileP(process.execPath, [tsc, "-p", app]).then(() => "", (e: { stdout: string }) => e.stdout);
  const errors = diagnostics.split("\n").filter((l) => l.includes("error TS"));
  t.false(errors.some((l) => l.includes("good.ts")), `consumer code type-checks: ${diagnostics}`);
  t.true(errors.some((l) => /bad\.ts\(2,/.test(l) && /'number' is not assignable to type 'string'/.test(l)), "a wrong constant type is a type error");
  t.true(errors.some((l) => /bad\.ts\(3,/.test(l) && /nosuchfield/.test(l)), "an unknown event field is a type error");
  t.is(errors.length, 2, diagnostics);

  // 5. It imports and its CLI runs.
  const { stdout } = await execFileP(process.execPath, ["--input-type=module", "-e", `import * as m from "execsnoop"; console.log(typeof m.loadExecsnoop, m.ExecsnoopEvent.size, typeof m.execsnoopSpec)`], { cwd: app });
  t.is(stdout.trim(), "function 1584 function");
  const help = await execFileP(join(app, "node_modules/.bin/execsnoop"), ["--help"]);
  t.regex(help.stdout, /Usage: execsnoop/);

  // 6. Live, where the kernel allows: the installed runtime's prebuilt addon loads, and the package
  // traces an exec.
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const cli = spawn(join(app, "node_modules/.bin/execsnoop"), ["--json", "--duration", "2", "--comm", "true"], { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  cli.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  // Generous: a loaded machine takes seconds to start node and load the object.
  t.true(await waitFor(() => linkCount(processKernelIds(cli.pid!)) === 2, 30_000), "the installed CLI loaded and attached");
  const token = `pkg-${process.pid}`;
  await execFileP("/bin/true", [token]);
  const code = await new Promise((r) => cli.on("exit", r));
  t.is(code, 0);
  const events = out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { comm: string; args: string[]; ppid: number });
  t.true(events.some((e) => e.comm === "true" && e.args[1] === token && e.ppid === process.pid), out);

  // 7. With --metrics, from the installed dependencies alone (prom-client came with the package).
  const served = spawn(join(app, "node_modules/.bin/execsnoop"), ["--metrics", "127.0.0.1:0", "--duration", "20"], { cwd: app, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  served.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  try {
    t.true(await waitFor(() => /serving metrics at \S+/.test(err), 30_000), err);
    await execFileP("/bin/true", [token]);
    const url = /serving metrics at (\S+)/.exec(err)![1]!;
    let page = "";
    await waitFor(() => {
      void fetch(url).then(async (r) => (page = await r.text()), () => {});
      return /^execsnoop_execs_total\{comm="true"\} [1-9]/m.test(page);
    }, 10_000);
    t.regex(page, /^execsnoop_execs_total\{comm="true"\} [1-9]/m, page);
  } finally {
    served.kill("SIGINT");
  }
});

test("package writing refuses bad names and never clobbers a directory that is not a package", (t) => {
  const model = {} as ObjectModel; // the name is checked before the model is read
  const err = t.throws(() => packageFiles({ stem: "x", generated: new Map([["x.ts", ""]]), model, name: "Bad Name", bpf2tsVersion: "0", runtimeVersion: "0" }));
  t.is(err?.name, "PackageError");
  t.regex(err!.message, /not a valid npm package name/);
  const missing = t.throws(() => packageFiles({ stem: "x", generated: new Map(), model, bpf2tsVersion: "0", runtimeVersion: "0" }));
  t.regex(missing!.message, /no x\.ts/);

  const work = tempDir(t, "bpf2ts-pkg-");
  const precious = join(work, "notes");
  mkdirSync(precious);
  writeFileSync(join(precious, "keep.txt"), "mine");
  const clobber = t.throws(() => writePackageFiles(precious, new Map([["package.json", "{}"]])));
  t.is(clobber?.name, "PackageError");
  t.regex(clobber!.message, /not empty and is not a package bpf2ts made \(no \.bpf2ts-package\.json\)/);
  t.deepEqual(readdirSync(precious), ["keep.txt"], "left untouched");
  // A package bpf2ts made: its stale files go, the user's files stay.
  const pkg = join(work, "pkg");
  writePackageFiles(pkg, new Map([["package.json", "{}"], ["src/old.ts", "old"]]));
  writeFileSync(join(pkg, "CHANGELOG.md"), "mine");
  writePackageFiles(pkg, new Map([["package.json", "{}"], ["src/new.ts", "new"]]));
  t.deepEqual(files(pkg), [".bpf2ts-package.json", "CHANGELOG.md", "package.json", "src/new.ts"]);
  t.deepEqual(readdirSync(work).sort(), ["notes", "pkg"], "no temporary files left behind");
  t.regex(sourceSummary(join(repoRoot, "bpf/tcpstates/tcpstates.bpf.c")) ?? "", /^tcpstates: every TCP state change/);
});

test("generate --package never destroys: user files survive, package.json is merged, edited files are kept, a foreign directory is refused", async (t) => {
  t.timeout(60000);
  if (!(await requireFeature(t, "clang"))) return;
  const work = tempDir(t, "bpf2ts-pkg-");
  const src = join(work, "bpf");
  mkdirSync(src);
  writeFileSync(join(src, "hello.bpf.c"), helloSource());
  const bpf2ts = (...args: string[]) => cli(work, ["generate", "hello", "bpf/hello.bpf.c", ...args]);

  // `--package .` in a project (the report): refused, nothing touched.
  writeFileSync(join(work, "package.json"), '{ "name": "app" }\n');
  const before = treeHashes(work);
  const here = await bpf2ts("--package", ".");
  t.is(here.code, 1);
  t.regex(here.stderr, /write package \.: the directory is not empty and is not a package bpf2ts made \(no \.bpf2ts-package\.json\)/);
  t.deepEqual(treeHashes(work), before);

  const first = await bpf2ts("--package", "pkg", "--name", "@me/hello", "--version", "1.2.3");
  t.is(first.code, 0, first.stderr);
  const pkg = join(work, "pkg");
  const json = () => JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as Record<string, unknown>;
  t.is(json().name, "@me/hello");
  t.is(json().version, "1.2.3");
  const manifest = JSON.parse(readFileSync(join(pkg, ".bpf2ts-package.json"), "utf8")) as { files: Record<string, string> };
  t.deepEqual(Object.keys(manifest.files), ["README.md", "package.json", "src/hello.ts", "src/hello_bpfeb.o", "src/hello_bpfel.o", "tsconfig.json"]);

  // The user works in the package: git, a changelog, tests, installed modules, edits to package.json and README.
  writeFiles(pkg, { ".git/HEAD": "ref: refs/heads/main\n", "CHANGELOG.md": "# 1.2.3\n", "test/a.test.ts": "test\n", "node_modules/x/index.js": "x\n", "dist/hello.js": "built\n", "package-lock.json": "{}\n" });
  const edited = { ...json(), version: "1.3.0", description: "mine", keywords: ["ebpf"], author: "me", scripts: { ...(json().scripts as object), test: "ava" }, dependencies: { ...(json().dependencies as object), left: "^1.0.0" } };
  writeFileSync(join(pkg, "package.json"), JSON.stringify(edited, null, 2) + "\n");
  writeFileSync(join(pkg, "README.md"), readFileSync(join(pkg, "README.md"), "utf8") + "\nMy notes.\n");
  const userFiles = treeHashes(pkg, []);

  // Regenerated with one target only: the bpfeb object it wrote goes, everything of the user's stays.
  const again = await bpf2ts("--package", "pkg", "--target", "bpfel");
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /^removed pkg\/src\/hello_bpfeb\.o \(no longer generated\)$/m);
  t.regex(again.stderr, /^note: kept pkg\/README\.md: changed since bpf2ts wrote it; delete it to get the new version$/m);
  const after = treeHashes(pkg, []);
  for (const f of [".git/HEAD", "CHANGELOG.md", "test/a.test.ts", "node_modules/x/index.js", "dist/hello.js", "package-lock.json", "README.md"]) t.is(after[f], userFiles[f], `${f} survives`);
  t.false(existsSync(join(pkg, "src/hello_bpfeb.o")));
  const merged = json();
  t.is(merged.name, "@me/hello");
  t.is(merged.version, "1.3.0", "the user's version");
  t.is(merged.description, "mine");
  t.deepEqual(merged.keywords, ["ebpf"]);
  t.is(merged.author, "me");
  t.is((merged.scripts as Record<string, string>).test, "ava");
  t.is((merged.scripts as Record<string, string>).build, "tsc -p .");
  t.deepEqual(Object.keys(merged.dependencies as object).sort(), ["@bpf2ts/runtime", "left"]);
  t.deepEqual(merged.exports, { ".": { types: "./dist/hello.d.ts", default: "./dist/hello.js" } }, "layout fields follow the template");
  // --version given explicitly wins over the user's.
  t.is((await bpf2ts("--package", "pkg", "--target", "bpfel", "--version", "2.0.0")).code, 0);
  t.is(json().version, "2.0.0");
  t.is((await bpf2ts("--version", "2.0.0")).code, 2, "--version without --package is a usage error");
});
