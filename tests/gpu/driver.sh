#!/bin/bash
# tests/gpu/driver.sh: a container with no driver inside (tests/gpu/lxc.sh
# "overlay": the host's root filesystem only; NVIDIA's files live elsewhere)
# gets the host's driver from lxgpu: bound at start (--mode bind), then copied
# (--mode copy); nvidia-smi and a CUDA matmul run inside with each; check
# exits 0, and 3 once the copied files are renamed to another version.
. "$(dirname "$0")/lib.sh"

ct=lxgpu-driver
"$GPULXC" destroy "$ct" >/dev/null 2>&1
"$GPULXC" create "$ct" overlay >/dev/null
root=/var/lib/lxc/$ct/rootfs
host=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)
say "host module: $host"

expect "attach" "$LXGPU" attach "$ct" --quiet
"$GPULXC" start "$ct" >/dev/null
refuse "no driver inside yet: nvidia-smi fails" smi "$ct"
"$GPULXC" stop "$ct" >/dev/null

expect "driver --mode bind" "$LXGPU" driver "$ct" --mode bind
expect "container starts (the hook binds the driver)" "$GPULXC" start "$ct"
expect "bind: nvidia-smi -L inside" smi "$ct"
expect "bind: CUDA matmul inside" matmul "$ct"
expect "bind: libcuda inside is the host's version, read-only" "$GPULXC" exec "$ct" -- sh -c \
	"readlink /usr/lib/x86_64-linux-gnu/libcuda.so.1; grep ' /usr/lib/x86_64-linux-gnu/libcuda.so.$host ' /proc/self/mountinfo | grep -c ' ro,'"
expect "check, running, bind mode: exit 0 (probe inside)" "$LXGPU" check "$ct"
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" start "$ct" >/dev/null
for i in $(seq 20); do
	s=$(date +%s%N)
	unshare -m --propagation private env LXC_ROOTFS_MOUNT="$root" "$LXGPU" hook "$ct" lxc mount
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
done | sort -n | awk '{a[NR]=$1} END {print "# hook alone (unshare + lxgpu hook), median of " NR ": " a[int((NR+1)/2)] " us"}'
"$GPULXC" stop "$ct" >/dev/null

expect "driver --mode copy (stopped)" "$LXGPU" driver "$ct" --mode copy
expect "container starts (no hook now)" "$GPULXC" start "$ct"
expect "copy: nvidia-smi -L inside" smi "$ct"
expect "copy: CUDA matmul inside" matmul "$ct"
expect "check, copy mode: exit 0" "$LXGPU" check "$ct"
"$GPULXC" exec "$ct" -- sh -c "cd /usr/lib/x86_64-linux-gnu &&
	for f in lib*.so.$host; do mv \$f \${f%.$host}.570.86.10; done &&
	for l in libnvidia-ml.so.1 libcuda.so.1; do ln -sfn \${l%.1}.570.86.10 \$l; done"
"$LXGPU" check "$ct" | sed 's/^/#   /'
"$LXGPU" check "$ct" >/dev/null 2>&1
rc=$?
[ $rc = 3 ] && ok "check after renaming the copied files to 570.86.10: exit 3" ||
	not_ok "check after renaming the copied files to 570.86.10: exit 3 (got $rc)"
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" destroy "$ct" >/dev/null
done_testing
