#!/bin/bash
# tests/gpu/run.sh [SCENARIO...]: the GPU-machine scenarios, in one private
# mount namespace. On the device machine, from the repository root:
#   unshare -m --propagation private bash tests/gpu/run.sh
# with .carry/ holding build/lxgpu (and bench helpers) and debs/, Debian's LXC
# .debs that `tests/gpu/lxc.sh fetch-debs .carry/debs` fetched on a machine
# that reaches Debian's package registry (the GPU machine reaches none).
set -u
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v nvidia-smi >/dev/null || { echo "1..0 # SKIP no NVIDIA GPU"; exit 0; }
bash tests/gpu/lxc.sh setup .carry/debs >/dev/null || exit 1
export PATH=/opt/lxcroot/usr/bin:$PATH
# lxgpu runs lxc-attach itself (check, copy, install): LXC's libraries from the unpacked .debs
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:/opt/lxcroot/usr/lib/x86_64-linux-gnu:/opt/lxcroot/lib/x86_64-linux-gnu
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(discover attach driver cdi isolation top podman unpriv)
rc=0
for s in "${scenarios[@]}"; do
	echo "== tests/gpu/$s.sh"
	case $s in
	discover) bash tests/gpu/discover.sh .carry/build/lxgpu || rc=1 ;;
	*) bash "tests/gpu/$s.sh" || rc=1 ;;
	esac
done
exit $rc
