#!/bin/bash
# tests/gpu/isolation.sh: per-GPU isolation on a host with two or more NVIDIA
# GPUs. Container A attached to GPU 0 and container B to GPU 1 each see
# exactly their GPU in nvidia-smi, run a CUDA matmul on it, and cannot open
# the other GPU's node (made inside with mknod: the cgroup says EPERM); a
# container attached to all sees every GPU. Once with the selection by UUID,
# once by PCI address. GPUs, UUIDs, addresses and minors are read live from
# nvidia-smi and /proc/driver/nvidia; skips on a one-GPU machine.
. "$(dirname "$0")/lib.sh"

mapfile -t rows < <(nvidia-smi --query-gpu=index,uuid,pci.bus_id --format=csv,noheader)
if [ ${#rows[@]} -lt 2 ]; then
	echo "1..0 # SKIP needs two GPUs, this machine has ${#rows[@]}"
	exit 0
fi
say "host: nvidia-smi --query-gpu=index,name,uuid,pci.bus_id:"
nvidia-smi --query-gpu=index,name,uuid,pci.bus_id --format=csv,noheader | sed 's/^/#   /'

# GPU i: UUID, PCI address as lxgpu writes it (4-digit domain, lower case), and
# the minor of its /dev/nvidiaN from the driver's own information file
uuid=() pci=() minor=()
for r in "${rows[@]}"; do
	IFS=', ' read -r _ u bus <<<"$r"
	dom=${bus%%:*}
	addr=$(printf '%04x:%s' "$((16#$dom))" "${bus#*:}" | tr 'A-F' 'a-f')
	m=$(sed -n 's/^Device Minor:[[:space:]]*//p' "/proc/driver/nvidia/gpus/$addr/information")
	uuid+=("$u") pci+=("$addr") minor+=("$m")
	say "GPU ${#uuid[@]}: $u at $addr, /dev/nvidia$m"
done

# the GPUs nvidia-smi inside CT sees, as "uuid,uuid"
seen() { "$GPULXC" exec "$1" -- nvidia-smi --query-gpu=uuid --format=csv,noheader | paste -sd, -; }
# the other GPU's node, made by the host in the container's /tmp (a host
# directory): present inside, so only the cgroup stands between; opening it
# passes on EPERM only. mknod inside is refused by the cgroup as well.
# argv[2] "denied": passes on EPERM only; "allowed": passes when it opens
OPEN_NODE='import errno, os, sys
path, want = sys.argv[1], sys.argv[2]
try:
    os.close(os.open(path, os.O_RDWR))
except OSError as e:
    print(f"open {path}: {e.strerror} (errno {errno.errorcode[e.errno]})")
    sys.exit(0 if want == "denied" and e.errno == errno.EPERM else 1)
print(f"open {path}: opened")
sys.exit(0 if want == "allowed" else 1)'
node_open() { # CT MINOR allowed|denied
	local node=/var/lib/lxc/$1/rootfs/tmp/nvidia-$2
	rm -f "$node" && mknod -m 666 "$node" c 195 "$2" &&
		"$GPULXC" exec "$1" -- "$PY" -c "$OPEN_NODE" "/tmp/nvidia-$2" "$3"
}
mknod_refused() { # CT MINOR: passes when mknod inside fails with EPERM
	local out
	out=$("$GPULXC" exec "$1" -- mknod /dev/nvidia-other c 195 "$2" 2>&1) && return 1
	echo "$out"
	case $out in *"Operation not permitted"*) return 0 ;; esac
	return 1
}
MATMUL_EACH='import torch
for i in range(torch.cuda.device_count()):
    d = f"cuda:{i}"
    a = torch.randn(4096, 4096, device=d)
    b = torch.randn(4096, 4096, device=d)
    c = a @ b
    torch.cuda.synchronize(d)
    err = (c.cpu() - a.cpu() @ b.cpu()).abs().max().item()
    print(f"matmul 4096x4096 on {d} {torch.cuda.get_device_name(i)}: max error vs CPU {err:.2e}")
    assert err < 1e-1
assert torch.cuda.device_count() > 0'
matmul_each() { "$GPULXC" exec "$1" -- "$PY" -c "$MATMUL_EACH"; }

all=$(IFS=,; echo "${uuid[*]}")
for ct in lxgpu-iso-a lxgpu-iso-b lxgpu-iso-all; do
	"$GPULXC" destroy "$ct" >/dev/null 2>&1
	"$GPULXC" create "$ct" hostro >/dev/null
done

# UUIDs first: A GPU 0, B GPU 1. Then PCI addresses, swapped (A GPU 1, B GPU
# 0): attach with another selection replaces lxgpu's lines; ALL detached and
# attached with both addresses.
for by in uuid pci; do
	if [ $by = uuid ]; then
		a=0 b=1 sel=("${uuid[@]}")
	else
		a=1 b=0 sel=("${pci[@]}")
		expect "detach ALL" "$LXGPU" detach lxgpu-iso-all
	fi
	say "selection by $by"
	expect "attach A --gpu ${sel[$a]}" "$LXGPU" attach lxgpu-iso-a --gpu "${sel[$a]}"
	expect "attach B --gpu ${sel[$b]}" "$LXGPU" attach lxgpu-iso-b --gpu "${sel[$b]}"
	if [ $by = uuid ]; then
		expect "attach ALL --gpu all" "$LXGPU" attach lxgpu-iso-all --gpu all
	else
		expect "attach ALL --gpu ${sel[0]} --gpu ${sel[1]}" "$LXGPU" attach lxgpu-iso-all \
			--gpu "${sel[0]}" --gpu "${sel[1]}"
	fi
	for ct in lxgpu-iso-a lxgpu-iso-b lxgpu-iso-all; do
		"$GPULXC" start "$ct" >/dev/null || not_ok "$ct starts"
	done

	for ct in lxgpu-iso-a lxgpu-iso-b; do
		if [ $ct = lxgpu-iso-a ]; then mine=$a other=$b; else mine=$b other=$a; fi
		got=$(seen $ct 2>&1)
		if [ "$got" = "${uuid[$mine]}" ]; then ok "$by: $ct sees exactly GPU $mine ($got)"
		else not_ok "$by: $ct sees exactly GPU $mine"; say "  got: $got"; fi
		expect "$by: $ct nvidia-smi -L" smi $ct
		expect "$by: $ct runs a CUDA matmul on its GPU" matmul_each $ct
		expect "$by: $ct opens its own GPU's node made in /tmp (control)" \
			node_open $ct "${minor[$mine]}" allowed
		expect "$by: $ct cannot open GPU $other's node (195:${minor[$other]})" \
			node_open $ct "${minor[$other]}" denied
		expect "$by: $ct cannot mknod GPU $other's node" mknod_refused $ct "${minor[$other]}"
		refuse "$by: $ct nvidia-smi -i ${uuid[$other]} fails" \
			"$GPULXC" exec $ct -- nvidia-smi -i "${uuid[$other]}" --query-gpu=name --format=csv,noheader
	done
	got=$(seen lxgpu-iso-all 2>&1)
	if [ "$got" = "$all" ]; then ok "$by: ALL sees every GPU ($got)"
	else not_ok "$by: ALL sees every GPU"; say "  got: $got"; fi
	expect "$by: ALL runs a CUDA matmul on each GPU" matmul_each lxgpu-iso-all

	for ct in lxgpu-iso-a lxgpu-iso-b lxgpu-iso-all; do
		"$GPULXC" stop "$ct" >/dev/null
	done
	say "A's config lines ($by):"
	grep -E 'LXGPU|devices.allow|mount.entry = /dev/nvidia' "$("$GPULXC" config lxgpu-iso-a)" |
		sed 's/^/#   /'
done

for ct in lxgpu-iso-a lxgpu-iso-b lxgpu-iso-all; do
	"$GPULXC" destroy "$ct" >/dev/null
done
done_testing
