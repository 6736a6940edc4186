#!/usr/bin/env bash
# Installs everything bpf2ts needs on a Debian machine, idempotently: Debian packages, npm
# dependencies, the runtime's native addon, and the kernel filesystems the tests use.
# Runs as root (it is what `npm test` and `npm run demo` call first).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=(clang-19 llvm-19 libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make g++ python3 iproute2 prometheus)
# <sys/sdt.h>, for the USDT probes of the runtime tests' target program.
need_pkgs+=(systemtap-sdt-dev)
# Go and cilium/ebpf are only for the side-by-side benchmarks and the Go uprobe targets.
[ "${BPF2TS_WITH_GO:-1}" = 1 ] && need_pkgs+=(golang-go golang-github-cilium-ebpf-dev)
# A headless browser for the tests of gotrace's live page (test/tracers-go-live.test.ts).
[ "${BPF2TS_WITH_BROWSER:-1}" = 1 ] && need_pkgs+=(chromium)
# The cross toolchain and arm64 libbpf let `npm pack` of the runtime prebuild its linux-arm64 addon.
with_arm64=0
if [ "${BPF2TS_WITH_ARM64:-1}" = 1 ] && [ "$(dpkg --print-architecture)" = amd64 ]; then
  with_arm64=1
  need_pkgs+=(g++-aarch64-linux-gnu libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64)
fi

missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if [ "$with_arm64" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then dpkg --add-architecture arm64; fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies: `npm ci` when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# The runtime's native addon: its build script is incremental (make rebuilds only what changed).
npm run --silent build:native >/dev/null

# Kernel filesystems used by tracepoints, uprobes and pinning.
if [ "$(id -u)" = 0 ]; then
  mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
  mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || true
fi
