#!/usr/bin/env bash
# Regenerates the tracers' TypeScript modules and objects (bpf/<name>/<name>.ts, <name>_bpfel.o) from
# bpf/bpf2ts.config.json — incremental: unchanged tracers are skipped. Run from anywhere after
# `npm run build:ts`. `bash bpf/generate.sh --check` verifies the committed files instead (CI);
# `bash bpf/generate.sh --package DIR [tracer...]` also writes each tracer as an npm package in DIR/<name>.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bpf2ts="$root/bin/bpf2ts.js"
config="$root/bpf/bpf2ts.config.json"
case "${1:-}" in
--check)
	exec node "$bpf2ts" check --config "$config"
	;;
--package)
	[ $# -ge 2 ] || { echo "usage: bash bpf/generate.sh --package DIR [tracer...]" >&2; exit 2; }
	mkdir -p "$2"
	out=$(cd "$2" && pwd)
	shift 2
	tracers=("$@")
	[ ${#tracers[@]} -gt 0 ] || tracers=($(cd "$root/bpf" && for f in */*.bpf.c; do basename "$f" .bpf.c; done))
	cd "$root/bpf"
	for t in "${tracers[@]}"; do
		# Same flags as the config: x64 (little-endian, -D__TARGET_ARCH_x86), headers from bpf/.
		node "$bpf2ts" generate "$t" "$t/$t.bpf.c" --target x64 --package "$out/$t" -- -I . >/dev/null
		echo "packaged $out/$t"
	done
	;;
*)
	exec node "$bpf2ts" generate --config "$config" "$@"
	;;
esac
