#!/usr/bin/env bash
# Regenerates every tracer's TypeScript module and object (bpf/<name>/<name>.ts, <name>_bpfel.o) with
# bpf2ts, from the repository root. Usage: bash bpf/generate.sh [tracer...]   (after `npm run build:ts`)
# With --package DIR, also writes each tracer as a complete npm package under DIR/<name>.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pkgdir=""
tracers=()
while [ $# -gt 0 ]; do
	case "$1" in
	--package) pkgdir=$2; shift 2 ;;
	*) tracers+=("$1"); shift ;;
	esac
done
[ ${#tracers[@]} -gt 0 ] || tracers=($(for f in bpf/*/*.bpf.c; do basename "$f" .bpf.c; done))
for t in "${tracers[@]}"; do
	# x64: one little-endian object built with -D__TARGET_ARCH_x86 (the tracers read x86 pt_regs).
	node bin/bpf2ts.js generate "$t" "bpf/$t/$t.bpf.c" --target x64 --output-dir "bpf/$t" -- -I bpf
	if [ -n "$pkgdir" ]; then
		node bin/bpf2ts.js generate "$t" "bpf/$t/$t.bpf.c" --target x64 --package "$pkgdir/$t" -- -I bpf >/dev/null
		echo "packaged $pkgdir/$t"
	fi
done
