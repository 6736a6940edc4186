// What the runtime's build scripts share: the check for the tools and libraries a build from source
// needs (named as Debian packages, because node-gyp's own error would be a wall of compiler output),
// and node-gyp itself, pointed at the installed Node headers.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** The Debian packages a build from source needs. */
export const BUILD_PACKAGES = "libbpf-dev libelf-dev zlib1g-dev pkg-config g++ make python3";

/** The prebuilt addon for this platform, as src/addon.ts looks for it first. */
export const prebuiltPath = (platform = process.platform, arch = process.arch) =>
  new URL(`../prebuilds/${platform}-${arch}/bpf2ts.node`, import.meta.url);

/** True when `BPF2TS_BUILD_FROM_SOURCE=1` (or npm's `--build-from-source`) asks to ignore prebuilt addons. */
export const buildFromSourceForced = () =>
  ["1", "true"].includes(process.env.BPF2TS_BUILD_FROM_SOURCE ?? "") || process.env.npm_config_build_from_source === "true";

const runs = (cmd, args) => {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/** What is missing for a build from source on this host; empty when it can build. */
export function buildProblems() {
  const problems = [];
  if (!runs("pkg-config", ["--version"])) problems.push("pkg-config is not installed");
  else if (!runs("pkg-config", ["--exists", "libbpf"])) problems.push("libbpf.pc not found by pkg-config");
  if (!existsSync("/usr/include/bpf/libbpf.h")) problems.push("/usr/include/bpf/libbpf.h is missing");
  if (!existsSync("/usr/include/gelf.h") && !existsSync("/usr/include/libelf.h")) problems.push("libelf headers are missing");
  if (!existsSync("/usr/include/zlib.h")) problems.push("zlib headers are missing");
  if (!runs("g++", ["--version"]) && !runs("c++", ["--version"])) problems.push("no C++ compiler (g++)");
  if (!runs("make", ["--version"])) problems.push("make is not installed");
  return problems;
}

/**
 * Runs node-gyp with `args` in `cwd`. Under npm it is npm's own node-gyp; Debian's nodejs ships the
 * headers in /usr/include/node, which keeps node-gyp from downloading them.
 */
export function nodeGyp(args, { cwd = process.cwd(), env = process.env } = {}) {
  const gyp = process.env.npm_config_node_gyp ? [process.execPath, process.env.npm_config_node_gyp] : ["node-gyp"];
  const nodedir = existsSync("/usr/include/node/node_api.h") ? ["--nodedir=/usr"] : [];
  execFileSync(gyp[0], [...gyp.slice(1), ...args, ...nodedir], { cwd, env, stdio: "inherit" });
}
