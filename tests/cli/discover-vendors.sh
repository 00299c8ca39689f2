#!/bin/bash
# lxgpu discover on AMD, Intel, mixed, MIG, nouveau, vfio-pci and odd hosts,
# built from the public captures the specs cite. Expected values come from the
# captures (tests/hosts/SOURCES.md §N), not from the program.
. "$(dirname "$0")/lib.sh"
need_root

# AMD APU (§1.5): Display controller class 0x0380, card0/renderD128, kfd 234
amd=$(host amd amd-strix-halo.spec)
run --sysroot "$amd" discover --json
eq "amd: one GPU (audio and NPU functions are not GPUs)" "$(jqr '.gpus | length')" 1
eq "amd: vendor, pci, driver" "$(jqr '.gpus[0] | "\(.vendor) \(.pci) \(.kernel_driver) \(.vendor_id):\(.device_id)"')" \
	"amd 0000:c5:00.0 amdgpu 1002:1586"
eq "amd: drm nodes mapped through sysfs" "$(jqr '.gpus[0].drm | "\(.card) \(.render) \(.by_path)"')" \
	"/dev/dri/card0 /dev/dri/renderD128 /dev/dri/by-path/pci-0000:c5:00.0-render"
eq "amd: GPU nodes" "$(jqr '.gpus[0].nodes | join(" ")')" "/dev/dri/card0 /dev/dri/renderD128"
eq "amd: kfd shared, major from /proc/devices (234)" \
	"$(jqr '.nodes[] | select(.role == "kfd") | "\(.path) \(.major):\(.minor) \(.mode) \(.gid) \(.gpu)"')" \
	"/dev/kfd 234:0 0660 992 null"
eq "amd: render node owned by render (992)" "$(jqr '.nodes[] | select(.role == "render") | "\(.major):\(.minor) \(.gid)"')" \
	"226:128 992"
eq "amd: in-kernel amdgpu, version = kernel release (§1.8: no module version)" \
	"$(jqr '.drivers[] | "\(.vendor) \(.name) \(.version) \(.kind) \(.cuda)"')" \
	"amd amdgpu 6.17.0-35-generic in-kernel null"
eq "amd: usable, no findings" "$(jqr '"\(.gpus[0].usable) \(.findings | length)"')" "true 0"

# AMD Instinct with the DKMS driver, class 0x1200, and a partition without PCI parent (§1.8, §1.10)
mi=$(host mi300x amd-mi300x.spec)
run --sysroot "$mi" discover --json
eq "mi300x: processing-accelerator class is a GPU" "$(jqr '.gpus[0] | "\(.pci) \(.device_id) \(.usable)"')" \
	"0000:01:00.0 74a1 true"
eq "mi300x: DKMS version 6.7.0" "$(jqr '.drivers[0] | "\(.version) \(.kind)"')" "6.7.0 dkms"
eq "mi300x: partition nodes reported, not attached to a GPU" \
	"$(jqr '[.findings[] | select(.id == "drm-node-without-pci-device") | .message | split(" ")[0]] | sort | join(" ")')" \
	"/dev/dri/card192 /dev/dri/renderD191"
eq "mi300x: partition nodes not in the GPU's nodes" "$(jqr '.gpus[0].nodes | join(" ")')" \
	"/dev/dri/card1 /dev/dri/renderD128"
eq "mi300x: kfd major 509" "$(jqr '.nodes[] | select(.role == "kfd") | .major')" 509

# Intel iGPU (§2.1)
intel=$(host intel intel-n100.spec)
run --sysroot "$intel" discover --json
eq "intel: one GPU, host bridge skipped" "$(jqr '.gpus | length')" 1
eq "intel: i915 at 00:02.0" "$(jqr '.gpus[0] | "\(.vendor) \(.pci) \(.kernel_driver) \(.device_id)"')" \
	"intel 0000:00:02.0 i915 46d1"
eq "intel: drm" "$(jqr '.gpus[0].drm | "\(.card) \(.render) \(.by_path)"')" \
	"/dev/dri/card0 /dev/dri/renderD128 /dev/dri/by-path/pci-0000:00:02.0-render"
eq "intel: driver entry" "$(jqr '.drivers[0] | "\(.vendor) \(.name) \(.kind)"')" "intel i915 in-kernel"
eq "intel: no kfd, no findings" "$(jqr '"\([.nodes[] | select(.role == "kfd")] | length) \(.findings | length)"')" "0 0"

# Mixed laptop, card numbers against PCI order (§3.1)
mixed=$(host mixed intel-nvidia-laptop.spec)
run --sysroot "$mixed" discover --json
eq "mixed: ordered by PCI address" "$(jqr '[.gpus[] | "\(.index):\(.vendor):\(.pci)"] | join(" ")')" \
	"0:intel:0000:00:02.0 1:nvidia:0000:01:00.0"
eq "mixed: Intel is card1/renderD128 (§3.1 by-path)" "$(jqr '.gpus[0].drm | "\(.card) \(.render)"')" \
	"/dev/dri/card1 /dev/dri/renderD128"
eq "mixed: NVIDIA is card0/renderD129 (§3.1 by-path)" "$(jqr '.gpus[1].drm | "\(.card) \(.render)"')" \
	"/dev/dri/card0 /dev/dri/renderD129"
eq "mixed: NVIDIA GPU nodes" "$(jqr '.gpus[1].nodes | join(" ")')" \
	"/dev/nvidia0 /dev/dri/card0 /dev/dri/renderD129"
eq "mixed: two drivers" "$(jqr '[.drivers[] | .name] | join(" ")')" "nvidia i915"
eq "mixed: CUDA 12.2 for 535.183.01" "$(jqr '.drivers[0].cuda')" 12.2

# Two NVIDIA GPUs and MIG (§5.1, §5.2, §4.6)
mig=$(host mig two-h100-mig.spec)
run --sysroot "$mig" discover --json
eq "mig: two GPUs, second has minor 5 at index 1" "$(jqr '[.gpus[] | "\(.index):\(.pci):\(.minor):\(.nodes | join(","))"] | join(" ")')" \
	"0:0000:00:06.0:0:/dev/nvidia0 1:0000:62:00.0:5:/dev/nvidia5"
eq "mig: instances of GPU 0 with their cap minors (§5.2)" \
	"$(jqr '[.gpus[0].mig[] | "gi\(.gi)" + (if .ci == null then "" else "/ci\(.ci)" end) + "=\(.minor)"] | join(" ")')" \
	"gi2=21 gi2/ci0=22 gi3=30 gi3/ci0=31 gi3/ci1=32 gi9=84 gi9/ci0=85"
eq "mig: gi9 minor from mig-minors (its access file has none)" \
	"$(jqr '.gpus[0].mig[] | select(.gi == 9 and .ci == null) | "\(.minor) \(.node) \(.node_present)"')" \
	"84 /dev/nvidia-caps/nvidia-cap84 true"
eq "mig: cap nodes labelled" "$(jqr '[.nodes[] | select(.role == "cap") | "\(.minor)=\(.capability)"] | join(" ")')" \
	"0=null 1=mig/config 2=mig/monitor 21=gpu0/mig/gi2/access 22=gpu0/mig/gi2/ci0/access 30=gpu0/mig/gi3/access 31=gpu0/mig/gi3/ci0/access 32=gpu0/mig/gi3/ci1/access 84=gpu0/mig/gi9/access 85=gpu0/mig/gi9/ci0/access"
eq "mig: GPU 1 has no instances" "$(jqr '.gpus[1].mig | length')" 0
eq "mig: no findings" "$(jqr '.findings | length')" 0
rm -f "$mig/dev/nvidia-caps/nvidia-cap85"
run --sysroot "$mig" discover --json
eq "mig: a missing instance node is a finding" "$(jqr '[.findings[] | "\(.id) \(.fix)"] | join("|")')" \
	"nvidia-cap-node-missing nvidia-modprobe -f /proc/driver/nvidia/capabilities/gpu0/mig/gi9/ci0/access"
eq "mig: node_present false" "$(jqr '.gpus[0].mig[] | select(.gi == 9 and .ci == 0) | .node_present')" false

# nouveau (§3.2)
nv=$(host nouveau nouveau-optiplex.spec)
run --sysroot "$nv" discover --json
eq "nouveau: NVIDIA GPU listed, not usable" "$(jqr '.gpus[1] | "\(.vendor) \(.kernel_driver) \(.usable) \(.reason)"')" \
	"nvidia nouveau false bound to nouveau"
eq "nouveau: numbering against PCI order (§3.2 dmesg)" "$(jqr '[.gpus[] | .drm.card] | join(" ")')" \
	"/dev/dri/card1 /dev/dri/card0"
eq "nouveau: one finding" "$(jqr '[.findings[].id] | join(",")')" gpu-nouveau
contains "nouveau: not blacklisted" "$(jqr '.findings[0].message')" "nouveau is not blacklisted"
contains "nouveau: fix blacklists it" "$(jqr '.findings[0].fix')" "blacklist nouveau"
mkdir -p "$nv/etc/modprobe.d"
printf '# from the guide\nblacklist nouveau\noptions nouveau modeset=0\n' >"$nv/etc/modprobe.d/blacklist-nouveau.conf"
run --sysroot "$nv" discover --json
contains "nouveau blacklisted but bound: names the file" "$(jqr '.findings[0].message')" \
	"although /etc/modprobe.d/blacklist-nouveau.conf blacklists it"
eq "nouveau blacklisted but bound: fix rebuilds the initramfs" "$(jqr '.findings[0].fix')" \
	"update-initramfs -u -k all && reboot"
rm "$nv/etc/modprobe.d/blacklist-nouveau.conf"
mkdir -p "$nv/proc" && printf 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 modprobe.blacklist=radeon,nouveau quiet\n' >"$nv/proc/cmdline"
run --sysroot "$nv" discover --json
contains "nouveau blacklisted on the command line" "$(jqr '.findings[0].message')" "although the kernel command line"

# vfio-pci (§4.2)
vfio=$(host vfio vfio.spec)
run --sysroot "$vfio" discover --json
eq "vfio: both GPUs listed, audio function not" "$(jqr '[.gpus[] | .pci] | join(" ")')" "0000:01:00.0 0000:07:00.0"
eq "vfio: not usable" "$(jqr '[.gpus[] | "\(.usable):\(.reason)"] | unique | join(",")')" \
	"false:given to a VM (vfio-pci)"
eq "vfio: findings, not 'module not loaded'" "$(jqr '[.findings[].id] | join(",")')" "gpu-vfio,gpu-vfio"
contains "vfio: fix says how to take it back" "$(jqr '.findings[0].fix')" "/sys/bus/pci/drivers/vfio-pci/unbind"

# Odd: information without Device Minor (§4.6) on a 340.29 driver (§4.4)
old=$(host oldnv nvidia-no-minor.spec)
run --sysroot "$old" discover --json
eq "no minor: GPU listed, minor null, not usable" "$(jqr '.gpus[0] | "\(.minor) \(.usable) \(.reason)"')" \
	"null false its device minor is unknown"
contains "no minor: finding" "$(jqr '[.findings[].id] | join(",")')" nvidia-minor-unknown
contains "340.29: older than CUDA 7.0's 346.46" "$(jqr '[.findings[].id] | join(",")')" nvidia-driver-too-old
eq "340.29: no CUDA version" "$(jqr '.drivers[0].cuda')" null
eq "no minor: /dev/nvidia0 belongs to no listed GPU" "$(jqr '.nodes[] | select(.path == "/dev/nvidia0") | .gpu')" null

# Odd: a render node that is a plain file (§2.3)
rf=$(host renderfile intel-render-file.spec)
run --sysroot "$rf" discover --json
eq "render file: finding" "$(jqr '[.findings[] | "\(.id):\(.severity)"] | join(",")')" "node-not-a-device:error"
eq "render file: listed as not a device" "$(jqr '.nodes[] | select(.role == "render") | "\(.type) \(.mode)"')" "- 0000"
eq "render file: fix" "$(jqr '.findings[0].fix')" "rm -f /dev/dri/renderD128 && udevadm trigger --subsystem-match=drm"

# Odd: a by-path link that points to another node
ln -sfn ../card0 "$intel/dev/dri/by-path/pci-0000:00:02.0-render"
run --sysroot "$intel" discover --json
eq "stale by-path: finding" "$(jqr '[.findings[].id] | join(",")')" drm-by-path-stale
eq "stale by-path: falls back to the card link" "$(jqr '.gpus[0].drm.by_path')" \
	"/dev/dri/by-path/pci-0000:00:02.0-card"

# Odd: the kernel's number and the node's disagree
intel2=$(host intel2 intel-n100.spec)
printf '226:129\n' >"$intel2/sys/devices/pci0000:00/0000:00:02.0/drm/renderD128/dev"
run --sysroot "$intel2" discover --json
contains "node vs sysfs dev: finding" "$(jqr '.findings[0].message')" \
	"/dev/dri/renderD128 is 226:128 but the kernel's renderD128 is 226:129"
rm "$intel2/dev/dri/renderD128"
run --sysroot "$intel2" discover --json
eq "missing render node: finding" "$(jqr '[.findings[].id] | join(",")')" drm-node-missing
eq "missing render node: GPU has only its card" "$(jqr '.gpus[0].drm | "\(.card) \(.render)"')" "/dev/dri/card0 null"
# AMD without kfd
rm "$amd/dev/kfd"
run --sysroot "$amd" discover --json
eq "amd without /dev/kfd: finding" "$(jqr '[.findings[] | "\(.id) \(.fix)"] | join(",")')" \
	"amd-kfd-missing udevadm trigger --name-match=kfd"

done_testing
