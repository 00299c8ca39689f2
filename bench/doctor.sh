#!/bin/bash
# bench/doctor.sh [BUILDDIR]: bench/run.sh's doctor figure alone: median wall
# time of `lxgpu doctor` (host checks plus every GPU container's checks) on a
# fake H100 Proxmox host with 50 GPU containers (CTS), all stopped so that no
# in-container probe runs (issue 7's target: <= 100 ms), against `lxgpu
# discover` (one scan of the host, the least doctor does) in the same run.
# The host lives on tmpfs. RUNS: runs each (50).
set -euo pipefail
exec "$(dirname "$0")/run.sh" --only doctor "$@"
