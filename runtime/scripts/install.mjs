// The package's install hook, as node-gyp-build's: when the prebuilt addon for this platform loads,
// there is nothing to do (the usual case; the host needs no compiler). Otherwise it builds from source
// when the host can, and when it cannot, it says what to install and lets the install succeed — the
// generator's own use of this package (`bpf2ts check` in CI) needs no addon, and loading it later
// fails with the same advice. BPF2TS_BUILD_FROM_SOURCE=1 skips the prebuilt addon.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { buildFromSourceForced, buildProblems, BUILD_PACKAGES, prebuiltPath } from "./native.mjs";

const prebuilt = fileURLToPath(prebuiltPath());
let loadError = "none is shipped for this platform";
if (!buildFromSourceForced() && existsSync(prebuilt)) {
  try {
    createRequire(import.meta.url)(prebuilt);
    process.exit(0);
  } catch (e) {
    loadError = e.message;
  }
}

const problems = buildProblems();
if (problems.length > 0) {
  console.warn(
    `@bpf2ts/runtime: no native addon: the prebuilt one does not load (${loadError}) and building from source is not possible (${problems.join("; ")}).\n` +
      `A prebuilt addon needs libbpf.so.1: apt-get install libbpf1. To build from source: apt-get install ${BUILD_PACKAGES}, then npm rebuild @bpf2ts/runtime`,
  );
  process.exit(0);
}
try {
  execFileSync(process.execPath, [fileURLToPath(new URL("build-native.mjs", import.meta.url))], { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: "inherit" });
} catch (e) {
  process.exit(typeof e.status === "number" ? e.status : 1);
}
