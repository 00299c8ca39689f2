#!/bin/bash
# bench/discover.sh [BUILDDIR]: bench/run.sh's discover figures alone:
# `lxgpu discover --json` against the floor (bench/discover_floor.c: the same
# files read and nodes stat'ed, nothing else) and against `nvidia-smi -L`,
# run alternately in one run; and discover's peak RSS. Targets (issue 15):
# discover/floor <= 1.3 (binding on the GPU machine), discover/nvidia-smi
# <= 0.1, peak RSS <= 4 MiB. On a machine without an NVIDIA driver it
# measures on the bundled sample host. RUNS: runs each (300).
set -euo pipefail
exec "$(dirname "$0")/run.sh" --only discover "$@"
