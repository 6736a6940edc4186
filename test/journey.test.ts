// The user's journey, outside this repository, as a test: bpf2ts and @bpf2ts/runtime packed into
// tarballs as a fresh clone packs them (`npm pack` with its prepack: dist/ and the prebuilt addons,
// as the registry would serve them; test/helpers/pack.ts), installed into a fresh project made by
// `npm init -y` — CommonJS (npm 11 writes "type": "commonjs") and ESM — then `npx bpf2ts init`, the
// printed next steps (`npm install`, `npm run build`, `npm start`) tracing live execs, `check` clean
// (from the config and from the modules' build records), a struct edited and `check` naming the field,
// `--package`, and that package installed in another project, its bin tracing live.
//
// npm uses a cache of its own (<tmpdir>/bpf2ts-journey-npm-cache) with --prefer-offline: the first run
// fetches from the registry (a cold cache), later runs mostly not.

import test, { type ExecutionContext } from "ava";
import { execFile, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { requireFeature } from "./helpers/kernel.js";
import { packTarballs } from "./helpers/pack.js";
import { tempDir } from "./helpers/temp-dir.js";
import { repoRoot } from "./helpers/workflow-project.js";

const execFileP = promisify(execFile);
const npmEnv = {
  ...process.env,
  npm_config_cache: process.env.BPF2TS_JOURNEY_NPM_CACHE ?? join(tmpdir(), "bpf2ts-journey-npm-cache"),
  npm_config_prefer_offline: "true",
  npm_config_loglevel: "error",
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
  CI: "1",
};

/** Runs a command in `cwd`; its output on failure says what broke. */
async function run(t: ExecutionContext, cwd: string, cmd: string, args: string[], timeout = 600_000): Promise<string> {
  const t0 = performance.now();
  try {
    const { stdout } = await execFileP(cmd, args, { cwd, env: npmEnv, timeout, maxBuffer: 1 << 26 });
    t.log(`${cmd} ${args.join(" ")}: ${Math.round(performance.now() - t0)} ms`);
    return stdout;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed: ${x.message}\n${x.stdout ?? ""}\n${x.stderr ?? ""}`);
  }
}

/** `cmd args` as a failing command: its exit code and output. */
async function runFailing(cwd: string, cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(cmd, args, { cwd, env: npmEnv, maxBuffer: 1 << 26 });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === "number" ? x.code : -1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

/**
 * Starts `cmd args` (a tracer printing one line per exec), waits until `ready` shows on its stderr,
 * execs `marker` until a line of its stdout matches `seen`, and returns that output once it exits.
 */
async function traceUntil(cwd: string, cmd: string, args: string[], ready: RegExp, marker: string, seen: RegExp): Promise<{ code: number | null; stdout: string; stderr: string; found: boolean }> {
  const child = spawn(cmd, args, { cwd, env: npmEnv, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on("close", r));
  const deadline = Date.now() + 60_000;
  while (!ready.test(stderr) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  let found = false;
  while (!found && child.exitCode === null && Date.now() < deadline) {
    await execFileP(marker, []);
    await new Promise((r) => setTimeout(r, 100));
    found = seen.test(stdout);
  }
  return { code: await exited, stdout, stderr, found };
}

/** `npm init -y` (CommonJS under npm 11), or ESM; the packed bpf2ts installed; `npx bpf2ts init snoop`. */
async function newProject(t: ExecutionContext, flavor: "commonjs" | "module"): Promise<{ app: string; init: string; marker: string }> {
  const { bpf2ts, runtime } = await packTarballs();
  const work = tempDir(t, `bpf2ts-journey-${flavor}-`);
  const app = join(work, "app");
  mkdirSync(app);
  await run(t, app, "npm", ["init", "-y"]);
  if (flavor === "module") await run(t, app, "npm", ["pkg", "set", "type=module"]);
  writeFileSync(join(app, "index.js"), flavor === "module" ? "export const mine = 1;\n" : "module.exports = 1;\n");
  await run(t, app, "npm", ["install", runtime]);
  await run(t, app, "npm", ["install", "--save-dev", bpf2ts]);
  const init = await run(t, app, "npx", ["bpf2ts", "init", "snoop"]);
  const marker = join(work, `journey-marker-${flavor}`);
  copyFileSync("/bin/true", marker);
  return { app, init, marker };
}

/** The printed next steps, run as printed: npm install, the build script, the start script. */
async function nextSteps(t: ExecutionContext, app: string, init: string, marker: string): Promise<void> {
  t.regex(init, /next:\n {2}npm install +#.*\n {2}npm run build +#.*\n {2}sudo npm start +#/);
  await run(t, app, "npm", ["install"]);
  const build = await run(t, app, "npm", ["run", "build"]);
  t.regex(build, /snoop: wrote src\/snoop\.ts, src\/snoop_bpfel\.o/);
  t.true(existsSync(join(app, "dist/snoop-main.mjs")));
  const live = await traceUntil(app, "npm", ["start", "--", "--duration", "8"], /tracing execve/, marker, new RegExp(`^\\d+\\t0\\t\\S+\\t${marker}$`, "m"));
  t.true(live.found, `no event for ${marker}:\n${live.stdout}\n${live.stderr}`);
  t.regex(live.stdout, /^PID\tUID\tCOMM\tFILENAME$/m);
}

test.serial("CommonJS project (npm init -y): install the tarballs, init, build and trace as printed, check clean", async (t) => {
  t.timeout(20 * 60_000);
  if (!(await requireFeature(t, "root", "btf", "clang", "tracepoint", "ringbuf"))) return;
  const { app, init, marker } = await newProject(t, "commonjs");
  const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as Record<string, unknown>;
  t.is(pkg.type, "commonjs", "npm 11's npm init -y, kept");
  await nextSteps(t, app, init, marker);
  t.regex(await run(t, app, "npm", ["run", "check"]), /check: 1 program up to date/);
  t.is(readFileSync(join(app, "index.js"), "utf8"), "module.exports = 1;\n", "the user's code is untouched");
});

test.serial("ESM project: init, build, trace; check clean then naming an edited field; --package installed elsewhere, its bin traces", async (t) => {
  t.timeout(20 * 60_000);
  if (!(await requireFeature(t, "root", "btf", "clang", "tracepoint", "ringbuf"))) return;
  const { app, init, marker } = await newProject(t, "module");
  await nextSteps(t, app, init, marker);

  // check: from the config init wrote, and from the modules' build records (no config needed).
  t.regex(await run(t, app, "npx", ["bpf2ts", "check"]), /check: 1 program up to date/);
  t.regex(await run(t, app, "npx", ["bpf2ts", "check", "src"]), /check: 1 module up to date/);
  const source = join(app, "bpf/snoop.bpf.c");
  const c = readFileSync(source, "utf8");
  writeFileSync(source, c.replace(/__u32 uid;/, "__u64 uid;"));
  for (const args of [["check"], ["check", "src"]]) {
    const stale = await runFailing(app, "npx", ["bpf2ts", ...args]);
    t.is(stale.code, 1, args.join(" "));
    t.regex(stale.stdout, /^API changes in src\/snoop\.ts:\n(.*\n)* {2}field SnoopEvent\.uid: offset 4 → 8, size 4 → 8, type number → bigint, C `__u32 uid` → `__u64 uid`$/m, stale.stdout);
    t.regex(stale.stderr, /check: 1 of 1 (program|module) out of date/);
  }
  writeFileSync(source, c);

  // --package from a hand-written CLI beside the C (as the repository's tracers have), bpf2go-style.
  writeFileSync(
    join(app, "bpf/cli.ts"),
    `#!/usr/bin/env node
import { loadSnoop } from "./snoop.js";
const objs = await loadSnoop();
await objs.attach();
console.error("snoop-cli: ready");
const stop = new AbortController();
setTimeout(() => stop.abort(), Number(process.argv[2] ?? 5) * 1000).unref();
for await (const e of objs.maps.events.events({ signal: stop.signal })) console.log(JSON.stringify({ pid: e.pid, comm: e.comm, filename: e.filename }));
objs.close();
`,
  );
  await run(t, app, "npx", ["bpf2ts", "generate", "snoop", "bpf/snoop.bpf.c", "--target", "native", "--package", "snoop-pkg", "--name", "snoop-tracer", "--version", "1.0.0"]);
  const pkgDir = join(app, "snoop-pkg");
  const { runtime } = await packTarballs();
  // The runtime is not on the registry yet: its tarball stands in for it (not saved: the package keeps ^0.1.0).
  await run(t, pkgDir, "npm", ["install", "--no-save", "--ignore-scripts", runtime]);
  const packed = (await run(t, pkgDir, "npm", ["pack", "--pack-destination", join(app, "..")])).trim().split("\n").pop()!;
  t.is(packed, "snoop-tracer-1.0.0.tgz");

  const consumer = join(app, "..", "consumer");
  mkdirSync(consumer);
  await run(t, consumer, "npm", ["init", "-y"]);
  await run(t, consumer, "npm", ["install", runtime, join(app, "..", packed)]);
  const live = await traceUntil(consumer, "npx", ["snoop", "8"], /snoop-cli: ready/, marker, new RegExp(`"filename":"${marker}"`));
  t.true(live.found, `the installed package's bin saw no exec of ${marker}:\n${live.stdout}\n${live.stderr}`);
  t.is(live.code, 0, live.stderr);
});
