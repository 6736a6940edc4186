#!/usr/bin/env node
// The bpf2ts command: all logic lives in the compiled generator (dist/generator/cli.js).
let cli;
try {
  cli = await import("../dist/generator/cli.js");
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist/generator/cli.js")) throw e;
  process.stderr.write("bpf2ts: dist/generator/ is missing: this is a source checkout of bpf2ts, build it with `npm run build:ts` (the npm package ships it built)\n");
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
