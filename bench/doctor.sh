#!/bin/bash
# bench/doctor.sh [BUILDDIR]: median wall time of `lxgpu doctor` (host checks
# plus every GPU container's checks) on a fake H100 Proxmox host with 50 GPU
# containers, all stopped so that no in-container probe runs (issue 7's
# target: <= 100 ms), against `lxgpu discover` (one scan of the host, the
# least doctor does) in the same run. The host lives on tmpfs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
runs=${RUNS:-50}
cts=${CTS:-50}
dir=$(mktemp -d /tmp/lxgpu-bench.XXXXXX)
mount -t tmpfs -o size=64m tmpfs "$dir"
trap 'umount "$dir"; rmdir "$dir"' EXIT
root=$dir/host
"$here/scripts/mkhost" "$here/tests/hosts/h100-580.159.04.spec" "$here/tests/hosts/pve.spec" "$root"
printf 'arch: amd64\ncores: 4\nhostname: gpu\nmemory: 8192\nostype: debian\nrootfs: local-lvm:vm-100-disk-0,size=32G\n' \
	>"$root/etc/pve/lxc/100.conf"
"$build/lxgpu" --sysroot "$root" attach 100 --quiet
for i in $(seq 101 $((100 + cts - 1))); do
	sed "s/vm-100-/vm-$i-/" "$root/etc/pve/lxc/100.conf" >"$root/etc/pve/lxc/$i.conf"
done
# and as many containers without a GPU, which doctor skips
for i in $(seq 301 $((300 + cts))); do
	printf 'arch: amd64\nhostname: web%d\nmemory: 1024\n' "$i" >"$root/etc/pve/lxc/$i.conf"
done
echo "$cts GPU containers, $cts without; host on $(stat -fc %T "$root"); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
n=$("$build/lxgpu" --sysroot "$root" doctor --json | jq '.containers | length')
echo "doctor checks $n containers"
"$build/bench/bench-harness" "$runs" \
	doctor "$build/lxgpu --sysroot $root doctor --quiet" \
	discover "$build/lxgpu --sysroot $root discover --quiet"
