#!/usr/bin/env bash
# Compiles every tracer in bpf/ for the BPF target and loads it into the running kernel (verifier check),
# removing the pins afterwards. Usage: bash bpf/check.sh [tracer...]   (needs root, bpffs)
set -euo pipefail
cd "$(dirname "$0")"
CC=${BPF2TS_CC:-clang-19}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
tracers=("$@")
[ ${#tracers[@]} -gt 0 ] || tracers=($(for f in */*.bpf.c; do basename "$f" .bpf.c; done))
status=0
for t in "${tracers[@]}"; do
	pin=/sys/fs/bpf/bpf2ts-check-$t-$$
	if ! "$CC" -O2 -g -Wall -Werror -target bpfel -D__TARGET_ARCH_x86 -I . -c "$t/$t.bpf.c" -o "$out/$t.o"; then
		echo "FAIL $t: compile"; status=1; continue
	fi
	if bpftool prog loadall "$out/$t.o" "$pin" >"$out/$t.log" 2>&1; then
		echo "ok   $t: $(ls "$pin" | tr '\n' ' ')"
	else
		echo "FAIL $t: load"; tail -30 "$out/$t.log"; status=1
	fi
	rm -rf "$pin"
done
exit $status
