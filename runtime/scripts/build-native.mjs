// Builds the native addon (build/Release/bpf2ts.node). First checks for libbpf and the build tools
// and fails early naming the Debian packages (node-gyp's own error would be a wall of compiler
// output); `--check` stops after that. Then runs node-gyp against the installed Node headers,
// incrementally (`--clean` for a full rebuild).
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const problems = [];
const run = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
};
if (run("pkg-config", ["--version"]) === undefined) problems.push("pkg-config is not installed");
else if (run("pkg-config", ["--exists", "libbpf"]) === undefined) problems.push("libbpf.pc not found by pkg-config");
if (!existsSync("/usr/include/bpf/libbpf.h")) problems.push("/usr/include/bpf/libbpf.h is missing");
if (!existsSync("/usr/include/gelf.h") && !existsSync("/usr/include/libelf.h")) problems.push("libelf headers are missing");
if (!existsSync("/usr/include/zlib.h")) problems.push("zlib headers are missing");
if (run("g++", ["--version"]) === undefined && run("c++", ["--version"]) === undefined) problems.push("no C++ compiler (g++)");
if (problems.length > 0) {
  console.error(
    `@bpf2ts/runtime: cannot build the native addon: ${problems.join("; ")}.\n` +
      "Install the Debian packages: apt-get install libbpf-dev libelf-dev zlib1g-dev pkg-config g++ make python3",
  );
  process.exit(1);
}
if (process.argv.includes("--check")) process.exit(0);

// node-gyp fetches Node's headers from the network unless told where they are; Debian's nodejs
// ships them in /usr/include/node.
const gyp = process.env.npm_config_node_gyp ? [process.execPath, process.env.npm_config_node_gyp] : ["node-gyp"];
const nodedir = existsSync("/usr/include/node/node_api.h") ? ["--nodedir=/usr"] : [];
const gypRun = (args) => execFileSync(gyp[0], [...gyp.slice(1), ...args, ...nodedir], { stdio: "inherit" });
// Incremental by default: configure only when binding.gyp changed, then build only what changed.
// (`rebuild` would delete build/ first, breaking every process that loads the addon meanwhile.)
const clean = process.argv.includes("--clean");
const makefile = "build/Makefile";
try {
  if (clean || !existsSync(makefile) || statSync("binding.gyp").mtimeMs > statSync(makefile).mtimeMs) gypRun(clean ? ["rebuild"] : ["configure"]);
  if (!clean) gypRun(["build"]);
} catch (e) {
  process.exit(typeof e.status === "number" ? e.status : 1);
}
