#!/bin/bash
# bench/attach.sh [BUILDDIR]: median wall time of `lxgpu attach` on a 200-line
# Proxmox config with 5 snapshots (issue 4's target: <= 2 ms), each run a real
# write (attach and detach alternate), against the discover floor (the least
# a process that reads the host's GPU files costs) in the same run. The fake
# host lives on tmpfs, where fsync costs nothing, as on pmxcfs (/etc/pve),
# which ignores fsync (pve-cluster's src/pmxcfs/pmxcfs.c has no fsync operation,
# https://github.com/proxmox/pve-cluster); set BENCH_DIR to measure on
# another filesystem.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
runs=${RUNS:-300}
dir=${BENCH_DIR:-}
if [ -z "$dir" ]; then
	dir=$(mktemp -d /tmp/lxgpu-bench.XXXXXX)
	mount -t tmpfs -o size=64m tmpfs "$dir"
	trap 'umount "$dir"; rmdir "$dir"' EXIT
fi
root=$dir/host
"$here/scripts/mkhost" "$here/tests/hosts/h100-580.159.04.spec" "$here/tests/hosts/pve.spec" "$root"
conf=$root/etc/pve/lxc/200.conf
{
	printf 'arch: amd64\ncores: 8\nhostname: bench\nmemory: 16384\nostype: debian\n'
	printf 'rootfs: local-lvm:vm-200-disk-0,size=64G\nswap: 512\n'
	for i in $(seq 1 8); do printf 'mp%d: /srv/data%d,mp=/data%d\n' "$i" "$i" "$i"; done
	for i in $(seq 1 18); do printf 'lxc.mount.entry: /srv/share%d srv/share%d none bind,create=dir\n' "$i" "$i"; done
	for s in 1 2 3 4 5; do
		printf '\n[snap%d]\narch: amd64\ncores: 8\nhostname: bench\nmemory: 16384\n' "$s"
		printf 'ostype: debian\nrootfs: local-lvm:vm-200-disk-0,size=64G\nsnaptime: 17180000%02d\nswap: 512\n' "$s"
		for i in $(seq 1 7); do printf 'mp%d: /srv/data%d,mp=/data%d\n' "$i" "$i" "$i"; done
		for i in $(seq 1 17); do printf 'lxc.mount.entry: /srv/share%d srv/share%d none bind,create=dir\n' "$i" "$i"; done
	done
} >"$conf"
echo "config: $(wc -l <"$conf") lines, $(grep -c '^\[' "$conf") snapshots; host on $(stat -fc %T "$root")"
echo "runs: $runs each, alternating; $(nproc) CPUs"
"$build/bench/bench-harness" "$runs" \
	attach "$build/lxgpu --sysroot $root attach 200 --quiet" \
	detach "$build/lxgpu --sysroot $root detach 200 --quiet" \
	floor "$build/bench/discover-floor $root"
