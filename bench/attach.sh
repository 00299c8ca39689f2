#!/bin/bash
# bench/attach.sh [BUILDDIR]: bench/run.sh's attach figures alone: median
# wall time of `lxgpu attach` on a 200-line Proxmox config with 5 snapshots
# (issue 4's target: <= 2 ms), each run a real write (attach and detach
# alternate), against the discover floor (the least a process that reads the
# host's GPU files costs) in the same run; the peak RSS of attach and check
# (<= 4 MiB, issue 15). The fake host lives on tmpfs, where fsync costs
# nothing, as on pmxcfs (/etc/pve), which ignores fsync; BENCH_DIR measures
# on another filesystem. RUNS: runs each (300).
set -euo pipefail
exec "$(dirname "$0")/run.sh" --only attach "$@"
