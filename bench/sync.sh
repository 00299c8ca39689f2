#!/bin/bash
# bench/sync.sh [BUILDDIR]: bench/run.sh's boot- and start-time figures
# alone (its groups sync and hook; what they measure and against what is in
# its header). Targets (issue 15):
# 1. `lxgpu sync --all` over generated Proxmox configs (bench/pve-configs.awk)
#    against `cp -r` of the same tree: 10k configs all changed (nvidia-uvm's
#    major moved) <= 3, every changed config renamed into place after an fsync
#    and left as sync must leave it; 10k configs 2.5% changed <= 1.5; time per
#    config at 1k, 10k, 100k, flat: 100k/1k <= 1.5.
# 2. the start hook as LXC runs it, each run in a fresh mount namespace:
#    bind mode (`hook NAME lxc mount`) <= 2 ms median, the guard (`hook
#    --guard` as lxc.hook.pre-start) <= 1 ms; against bench-null and
#    discover-floor.
# Environment, as before: RUNS (timed syncs per size: run.sh's SYNC_RUNS),
# HOOK_RUNS (the hooks' runs: run.sh's RUNS), SIZES, BUDGET, BENCH_DIR.
set -euo pipefail
if [ -n "${RUNS:-}" ]; then export SYNC_RUNS=$RUNS; fi
unset RUNS
if [ -n "${HOOK_RUNS:-}" ]; then export RUNS=$HOOK_RUNS; fi
exec "$(dirname "$0")/run.sh" --only sync,hook "$@"
