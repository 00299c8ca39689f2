#!/bin/bash
# bench/discover.sh [BUILDDIR]: median wall time of `lxgpu discover --json`
# against the floor (bench/discover_floor.c: the same files read and nodes
# stat'ed, nothing else) and against `nvidia-smi -L`, run alternately in one
# run; and discover's peak RSS. Targets (issue 2): discover/floor <= 1.5,
# discover/nvidia-smi <= 0.1, peak RSS <= 4 MiB.
# On a machine without an NVIDIA driver it measures on the bundled sample host.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
runs=${RUNS:-300}

if [ -e /proc/driver/nvidia/version ]; then
	root=/
	sysroot_arg=""
else
	root=$build/sample-host
	"$here/scripts/mkhost" "$here/tests/hosts/h100-580.159.04.spec" "$root"
	sysroot_arg="--sysroot $root"
	echo "no NVIDIA driver here: measuring on the sample host $root"
fi
args=(discover "$build/lxgpu $sysroot_arg discover --json" floor "$build/bench/discover-floor $root")
if command -v nvidia-smi >/dev/null; then
	args+=(nvidia-smi-L "$(command -v nvidia-smi) -L")
fi
echo "runs: $runs each, alternating; $(nproc) CPUs; $(uname -r)"
"$build/bench/bench-harness" "$runs" "${args[@]}"
