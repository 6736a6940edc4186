// Builds the native addon from source (build/Release/bpf2ts.node), incrementally: node-gyp configures
// only when binding.gyp changed, make rebuilds only what changed (`--clean` for a full rebuild).
// First checks for libbpf and the build tools and fails early naming the Debian packages; `--check`
// stops after that.
import { existsSync, statSync } from "node:fs";
import { buildProblems, BUILD_PACKAGES, nodeGyp } from "./native.mjs";

const problems = buildProblems();
if (problems.length > 0) {
  console.error(`@bpf2ts/runtime: cannot build the native addon: ${problems.join("; ")}.\nInstall the Debian packages: apt-get install ${BUILD_PACKAGES}`);
  process.exit(1);
}
if (process.argv.includes("--check")) process.exit(0);

// `rebuild` would delete build/ first, breaking every process that loads the addon meanwhile.
const clean = process.argv.includes("--clean");
const makefile = "build/Makefile";
try {
  if (clean || !existsSync(makefile) || statSync("binding.gyp").mtimeMs > statSync(makefile).mtimeMs) nodeGyp([clean ? "rebuild" : "configure"]);
  if (!clean) nodeGyp(["build"]);
} catch (e) {
  process.exit(typeof e.status === "number" ? e.status : 1);
}
