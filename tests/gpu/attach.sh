#!/bin/bash
# tests/gpu/attach.sh: on the GPU machine, a real LXC container whose config
# came from `lxgpu attach` runs nvidia-smi -L and a CUDA matmul; detached, it
# cannot. The container sees the host's driver through its read-only /usr
# (tests/gpu/lxc.sh "hostro"), so only the device nodes and cgroup rules are tested.
. "$(dirname "$0")/lib.sh"

ct=lxgpu-attach
"$GPULXC" destroy "$ct" >/dev/null 2>&1
"$GPULXC" create "$ct" hostro >/dev/null
conf=$("$GPULXC" config "$ct")
say "host: $(nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,driver_version --format=csv,noheader)"


"$GPULXC" start "$ct" >/dev/null
refuse "before attach: nvidia-smi -L fails" smi "$ct"
"$GPULXC" stop "$ct" >/dev/null

expect "lxgpu attach (real host, no --sysroot)" "$LXGPU" attach "$ct"
say "config lines written:"
grep -E 'LXGPU|devices.allow = c (195|[0-9]+):|mount.entry = /dev/nvidia' "$conf" | sed 's/^/#   /'
expect "lxgpu show: healthy" "$LXGPU" show "$ct"
expect "container starts" "$GPULXC" start "$ct"
expect "attached: nvidia-smi -L lists the GPU" smi "$ct"
expect "attached: CUDA matmul runs" matmul "$ct"
"$GPULXC" stop "$ct" >/dev/null

expect "lxgpu detach" "$LXGPU" detach "$ct"
expect "container starts" "$GPULXC" start "$ct"
refuse "detached: nvidia-smi -L fails" smi "$ct"
refuse "detached: CUDA matmul fails" matmul "$ct"
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" destroy "$ct" >/dev/null
done_testing
