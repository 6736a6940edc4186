#!/usr/bin/env node
// The bpf2ts command: all logic lives in the compiled generator (dist/generator/cli/cli.js), bundled into
// dist/generator/cli.bundle.js by `npm run build:ts` and prepack (scripts/bundle-cli.mjs) so it starts
// fast; a checkout compiled by tsc alone runs the modules as they are.

import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const dist = (f) => new URL(`../dist/generator/${f}`, import.meta.url);
const mtime = (u) => statSync(u, { throwIfNoEntry: false })?.mtimeMs ?? -1;

const args = process.argv.slice(2);
// `generate <stem> <source>`: clang starts first, while the generator loads (compile/early.ts).
const early = args[0] === "generate" ? await earlyStarter() : undefined;
early?.startEarlyCompiles(args, process.cwd(), process.env);

/**
 * compile/early.js: its bundle (one CommonJS file, required synchronously: see scripts/bundle-cli.mjs)
 * when it is current, else tsc's module; undefined when neither loads (the pipeline then compiles).
 */
async function earlyStarter() {
  try {
    const bundle = dist("early.bundle.cjs");
    if (mtime(bundle) >= mtime(dist("compile/early.js"))) return createRequire(import.meta.url)(fileURLToPath(bundle));
  } catch {
    // a broken bundle: tsc's module below
  }
  return import("../dist/generator/compile/early.js").catch(() => undefined);
}

/** The bundle, unless it is missing or older than the modules tsc compiled after it. */
function bundled() {
  const bundle = dist("cli.bundle.js");
  return mtime(bundle) >= mtime(dist("cli/cli.js")) ? bundle.href : undefined;
}

/**
 * `--help`, `--version`, `<command> --help`: the text the bundle printed for them when it was built
 * (cli.help.json, see scripts/bundle-cli.mjs), at the width it would wrap to now; undefined for
 * anything else, or when that file is missing or older than the bundle.
 */
function memoizedHelp(args) {
  if (args.length === 0 || args.length > 2 || !["--help", "-h", "--version"].includes(args.at(-1))) return undefined;
  const file = dist("cli.help.json");
  if (!bundled() || mtime(file) < mtime(dist("cli.bundle.js"))) return undefined;
  const width = Math.min(110, process.stdout.columns || 100);
  const key = [...args.slice(0, -1), args.at(-1) === "-h" ? "--help" : args.at(-1)].join(" ");
  return JSON.parse(readFileSync(file, "utf8"))[width]?.[key];
}

// `bpf2ts vmlinux | head`: the reader is gone, so stop quietly as a shell tool does, not with a stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e?.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const help = memoizedHelp(args);
if (help !== undefined) {
  process.stdout.write(help);
} else {
  try {
    process.exitCode = await run(args);
  } finally {
    early?.discardEarlyCompiles();
  }
  // `generate` is done: everything is written (stdout and stderr are synchronous on Linux) and nothing
  // runs in the background (the pipeline waits for the compiles it cancels), so exit now instead of
  // after node tears the generator's heap down (~15 ms).
  if (args[0] === "generate") process.exit();
}

/** Loads the generator (the bundle when it is current) and runs the command; resolves to the exit code. */
async function run(args) {
  let cli;
  try {
    cli = await import(bundled() ?? "../dist/generator/cli/cli.js");
  } catch (e) {
    const notBuilt = e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist/generator/cli/cli.js");
    process.stderr.write(
      notBuilt
        ? "bpf2ts: this copy of bpf2ts has no compiled generator (dist/ is missing): install it from the registry or a packed tarball, or in a checkout run `npm run build:ts`\n"
        : `bpf2ts: cannot load the generator: ${e?.message ?? e}\n`,
    );
    process.exit(1);
  }
  return cli.main(args);
}
