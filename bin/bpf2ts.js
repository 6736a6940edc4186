#!/usr/bin/env node
// The bpf2ts command: all logic lives in the compiled generator (dist/generator/cli/cli.js), bundled into
// dist/generator/cli.bundle.js by `npm run build:ts` and prepack (scripts/bundle-cli.mjs) so it starts
// fast; a checkout compiled by tsc alone runs the modules as they are.

import { statSync } from "node:fs";

/** The bundle, unless it is missing or older than the modules tsc compiled after it. */
function bundled() {
  const bundle = new URL("../dist/generator/cli.bundle.js", import.meta.url);
  const mtime = (u) => statSync(u, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  return mtime(bundle) >= mtime(new URL("../dist/generator/cli/cli.js", import.meta.url)) ? bundle.href : undefined;
}

// `bpf2ts vmlinux | head`: the reader is gone, so stop quietly as a shell tool does, not with a stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e?.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

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
process.exitCode = await cli.main(process.argv.slice(2));
