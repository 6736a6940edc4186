// Builds the addons @bpf2ts/runtime ships, prebuilds/linux-<arch>/bpf2ts.node, when the package is
// packed (prepack): so that hosts that run tracers need libbpf.so.1 (Debian's libbpf1) and no
// compiler. Each is a clean release build in a scratch copy of binding.gyp and src/, linked against
// the system's shared libbpf (its versioned symbols keep it working with any later libbpf 1.x) and
// stripped. This host's architecture is required; the other one is built when Debian's cross
// toolchain and its multiarch libbpf are installed (scripts/setup.sh installs them), else skipped
// with the packages to install.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nodeGyp, prebuiltPath } from "./native.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const triples = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };
const has = (cmd) => {
  try {
    execFileSync(cmd, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

function build(arch) {
  const triple = triples[arch];
  const native = arch === process.arch;
  const tool = (name) => (native ? name : `${triple}-${name}`);
  const missing = [];
  if (!has(tool("g++"))) missing.push(native ? "g++" : `g++-${triple}`);
  if (!existsSync(`/usr/lib/${triple}/libbpf.so`)) missing.push(native ? "libbpf-dev" : `libbpf-dev:${arch} libelf-dev:${arch} zlib1g-dev:${arch}`);
  if (missing.length > 0) return `skipped: apt-get install ${missing.join(" ")}${native ? "" : ` (after dpkg --add-architecture ${arch})`}`;

  const scratch = mkdtempSync(join(tmpdir(), `bpf2ts-prebuild-${arch}-`));
  try {
    cpSync(join(root, "binding.gyp"), join(scratch, "binding.gyp"));
    cpSync(join(root, "src"), join(scratch, "src"), { recursive: true, filter: (f) => !f.endsWith(".ts") });
    const env = {
      ...process.env,
      // binding.gyp asks node for node-addon-api's include directory, from the scratch directory.
      NODE_PATH: dirname(dirname(require.resolve("node-addon-api/package.json"))),
      ...(native ? {} : { CC: tool("gcc"), CXX: tool("g++"), LINK: tool("g++"), PKG_CONFIG_PATH: `/usr/lib/${triple}/pkgconfig` }),
    };
    nodeGyp(["rebuild", "--release", `--arch=${arch}`, `--jobs=${availableParallelism()}`], { cwd: scratch, env });
    const out = fileURLToPath(prebuiltPath("linux", arch));
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(join(scratch, "build/Release/bpf2ts.node"), out);
    execFileSync(has(tool("strip")) ? tool("strip") : "strip", ["--strip-unneeded", out]);
    if (native) require(out); // it must load here, where libbpf.so.1 is installed
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.platform !== "linux") {
  console.error("@bpf2ts/runtime: prebuilt addons are built on Linux only");
  process.exit(1);
}
rmSync(join(root, "prebuilds"), { recursive: true, force: true });
for (const arch of Object.keys(triples)) {
  let result;
  try {
    result = build(arch);
  } catch (e) {
    console.error(`@bpf2ts/runtime: the prebuilt addon for linux-${arch} failed to build: ${e.message}`);
    process.exit(1);
  }
  if (arch === process.arch && result.startsWith("skipped")) {
    console.error(`@bpf2ts/runtime: cannot build the prebuilt addon for linux-${arch}: ${result}`);
    process.exit(1);
  }
  console.error(`@bpf2ts/runtime: prebuilt linux-${arch}: ${result}`);
}
