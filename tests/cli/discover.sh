#!/bin/bash
# lxgpu discover on fake hosts. Expected values are the facts of the captures
# the specs were written from (tests/hosts/*.spec name them; the H100's is the
# project's GPU test machine, cited by line), not output of the program.
. "$(dirname "$0")/lib.sh"
need_root

h100=$(host h100 h100-580.159.04.spec)

run --sysroot "$h100" discover --json
eq "h100: exit 0" "$rc" 0
eq "h100: schema 1" "$(jqr .schema)" 1
eq "h100: driver version (capture l.104)" "$(jqr '.drivers[0].version')" 580.159.04
eq "h100: open kernel module (capture l.104)" "$(jqr '.drivers[0].kind')" open
eq "h100: CUDA 13.0 (nvidia-smi header, capture l.362)" "$(jqr '.drivers[0].cuda')" 13.0
eq "h100: vendor" "$(jqr '.drivers[0].vendor')" nvidia
eq "h100: one GPU" "$(jqr '.gpus | length')" 1
eq "h100: model (capture l.107)" "$(jqr '.gpus[0].model')" "NVIDIA H100 80GB HBM3"
eq "h100: uuid (capture l.109)" "$(jqr '.gpus[0].uuid')" GPU-14d254be-3087-0aa8-a7aa-03759525cf2f
eq "h100: pci (capture l.114)" "$(jqr '.gpus[0].pci')" 0000:00:06.0
eq "h100: minor (capture l.115)" "$(jqr '.gpus[0].minor')" 0
eq "h100: index" "$(jqr '.gpus[0].index')" 0
eq "h100: kernel driver (capture l.185)" "$(jqr '.gpus[0].kernel_driver')" nvidia
eq "h100: device id (capture l.185)" "$(jqr '.gpus[0].device_id')" 2330
eq "h100: GPU nodes" "$(jqr '.gpus[0].nodes | join(",")')" /dev/nvidia0
eq "h100: node majors and minors (capture l.24-35)" \
	"$(jqr '[.nodes[] | "\(.path)=\(.type)\(.major):\(.minor)/\(.mode)"] | join(" ")')" \
	"/dev/nvidia0=c195:0/0666 /dev/nvidiactl=c195:255/0666 /dev/nvidia-uvm=c238:0/0666 /dev/nvidia-uvm-tools=c238:1/0666 /dev/nvidia-caps/nvidia-cap1=c241:1/0400 /dev/nvidia-caps/nvidia-cap2=c241:2/0444"
eq "h100: owners root" "$(jqr '[.nodes[] | "\(.uid):\(.gid)"] | unique | join(",")')" 0:0
eq "h100: no findings (nvswitch/nvlink/imex majors need no node)" "$(jqr '.findings | length')" 0

run --sysroot "$h100" discover
eq "h100 text: exit 0" "$rc" 0
contains "h100 text: driver line" "$out" "nvidia 580.159.04 (open kernel module), supports CUDA 13.0"
contains "h100 text: GPU row" "$out" "0    0000:00:06.0  NVIDIA H100 80GB HBM3  nvidia  /dev/nvidia0  GPU-14d254be-3087-0aa8-a7aa-03759525cf2f"
contains "h100 text: uvm node" "$out" "/dev/nvidia-uvm               c 238:0    0666  0:0"
contains "h100 text: no findings" "$out" "✓ no findings"
contains "h100 text: says which root" "$out" "host root: $h100"
lacks "h100 text: no colour when piped" "$out" $'\033['

# Global options before or after the command, and from the environment.
run --json --sysroot "$h100" discover
eq "options before the command" "$(jqr '.gpus[0].pci')" 0000:00:06.0
out=$(LXGPU_SYSROOT=$h100 "$LXGPU" discover --json)
eq "LXGPU_SYSROOT" "$(jqr '.drivers[0].version')" 580.159.04

# Colour: only on a terminal, never with NO_COLOR or --no-color.
if command -v script >/dev/null; then
	tty_out=$(script -qec "$LXGPU --sysroot $h100 discover" /dev/null)
	contains "colour on a terminal" "$tty_out" $'\033[1m'
	tty_out=$(NO_COLOR=1 script -qec "$LXGPU --sysroot $h100 discover" /dev/null)
	lacks "NO_COLOR honoured" "$tty_out" $'\033['
	tty_out=$(script -qec "$LXGPU --sysroot $h100 discover --no-color" /dev/null)
	lacks "--no-color honoured" "$tty_out" $'\033['
fi

# After boot: no nvidia-uvm yet.
boot=$(host boot h100-after-boot.spec)
run --sysroot "$boot" discover --json
eq "after boot: exit 0" "$rc" 0
eq "after boot: one finding" "$(jqr '[.findings[].id] | join(",")')" nvidia-uvm-missing
eq "after boot: warning" "$(jqr '.findings[0].severity')" warning
eq "after boot: fix creates uvm nodes like nvidia-modprobe" "$(jqr '.findings[0].fix')" "nvidia-modprobe -u -c 0"
contains "after boot: says the module is not loaded" "$(jqr '.findings[0].message')" "nvidia-uvm module is not loaded"
eq "after boot: GPU still listed" "$(jqr '.gpus[0].uuid')" GPU-14d254be-3087-0aa8-a7aa-03759525cf2f

# A uvm node with a stale major.
stale=$(host stale h100-stale-uvm.spec)
run --sysroot "$stale" discover --json
eq "stale uvm: two findings" "$(jqr '[.findings[] | "\(.id):\(.severity)"] | join(",")')" \
	"node-major-stale:error,node-major-stale:error"
contains "stale uvm: names node and majors" "$(jqr '.findings[0].message')" \
	"/dev/nvidia-uvm is 511:0 but /proc/devices registers nvidia-uvm as major 238"
eq "stale uvm: fix" "$(jqr '.findings[0].fix')" \
	"rm -f /dev/nvidia-uvm /dev/nvidia-uvm-tools && nvidia-modprobe -u -c 0"

# An old proprietary driver that calls major 195 nvidia-frontend.
old=$(host old nvidia-530-frontend.spec)
run --sysroot "$old" discover --json
eq "530: version" "$(jqr '.drivers[0].version')" 530.30.02
eq "530: proprietary" "$(jqr '.drivers[0].kind')" proprietary
eq "530: CUDA 12.1 (Table 3: 12.1 needs 530.30.02)" "$(jqr '.drivers[0].cuda')" 12.1
eq "530: no findings (nvidia-frontend is major 195)" "$(jqr '.findings | length')" 0
eq "530: uvm major 511" "$(jqr '.nodes[] | select(.role == "uvm") | .major')" 511
eq "530: model" "$(jqr '.gpus[0].model')" "NVIDIA GeForce RTX 3080"

# No GPU at all.
none=$(host none no-gpu.spec)
run --sysroot "$none" discover --json
eq "no GPU: exit 0 (a report, not a failure)" "$rc" 0
eq "no GPU: finding" "$(jqr '[.findings[].id] | join(",")')" no-gpu
eq "no GPU: empty lists" "$(jqr '[(.gpus|length), (.drivers|length), (.nodes|length)] | join(",")')" 0,0,0
run --sysroot "$none" discover
contains "no GPU text" "$out" "✗ no-gpu"

# Module not loaded although an NVIDIA GPU is on the bus.
unloaded=$(host unloaded h100-580.159.04.spec)
rm -rf "$unloaded/proc/driver/nvidia" "$unloaded/sys/module/nvidia" "$unloaded/sys/module/nvidia_uvm" \
	"$unloaded/dev/nvidia"* "$unloaded/sys/devices/pci0000:00/0000:00:06.0/driver"
run --sysroot "$unloaded" discover --json
eq "module not loaded: finding" "$(jqr '[.findings[].id] | join(",")')" nvidia-module-not-loaded
eq "module not loaded: GPU from sysfs, no driver bound" "$(jqr '.gpus[0] | "\(.pci) \(.kernel_driver) \(.uuid)"')" \
	"0000:00:06.0 null null"

# Garbage and unreadable kernel files: findings, never a crash or a hang.
bad=$(host bad h100-580.159.04.spec)
printf 'NVRM version: something else entirely\n' >"$bad/proc/driver/nvidia/version"
run --sysroot "$bad" discover --json
eq "garbage version: exit 0" "$rc" 0
eq "garbage version: finding" "$(jqr '[.findings[].id] | join(",")')" nvidia-version-unparsable
eq "garbage version: version from /sys/module/nvidia/version (capture l.180)" \
	"$(jqr '.drivers[0] | "\(.version) \(.kind)"')" "580.159.04 unknown"

printf 'Model: \t\t Unknown\nIRQ:   \t\t 35\nGPU U' >"$bad/proc/driver/nvidia/gpus/0000:00:06.0/information"
run --sysroot "$bad" discover --json
contains "truncated information (kata-containers#2546): finding" "$(jqr '[.findings[].id] | join(",")')" \
	nvidia-information-unparsable
eq "truncated information: GPU still seen on the PCI bus" "$(jqr '.gpus[0].pci')" 0000:00:06.0

head -c 3000 /dev/urandom >"$bad/proc/driver/nvidia/gpus/0000:00:06.0/information"
run --sysroot "$bad" discover --json
eq "random bytes in information: exit 0" "$rc" 0
check "random bytes in information: valid JSON" jq -e . <<<"$out"

rm -f "$bad/proc/devices"
mkfifo "$bad/proc/devices"
out=$(timeout 10 "$LXGPU" --sysroot "$bad" discover --json 2>/dev/null)
rc=$?
eq "/proc/devices is a FIFO: no hang, exit 0" "$rc" 0
contains "/proc/devices is a FIFO: finding" "$(jqr '[.findings[].id] | join(",")')" proc-devices-unreadable
contains "/proc/devices is a FIFO: says why" "$(jqr '.findings[0].message')" "/proc/devices: not a regular file"

rm -f "$bad/proc/devices"
mkdir "$bad/proc/devices"
run --sysroot "$bad" discover --json
contains "/proc/devices is a directory: finding" "$(jqr '[.findings[].id] | join(",")')" proc-devices-unreadable

ln -s /etc/shadow "$bad/proc/driver/nvidia/gpus/0000:00:06.0/information.lnk"
rm -rf "$bad/proc/driver/nvidia/gpus/0000:00:06.0/information"
ln -s /../../../../etc/passwd "$bad/proc/driver/nvidia/gpus/0000:00:06.0/information"
run --sysroot "$bad" discover --json
contains "symlink out of the sysroot: not followed out" "$(jqr '[.findings[].message] | join("|")')" \
	"/proc/driver/nvidia/gpus/0000:00:06.0/information: No such file or directory"

# Bad arguments: one line, exit 1 or 2.
run --sysroot /nonexistent discover
eq "missing sysroot: exit 1" "$rc" 1
check "missing sysroot: one line" one_line_error
contains "missing sysroot: names it" "$err" "/nonexistent: No such file or directory"
run discover --frobnicate
eq "unknown option: exit 2" "$rc" 2
check "unknown option: one line" one_line_error
run --sysroot "$h100" discover extra
eq "extra argument: exit 2" "$rc" 2
run --sysroot
eq "option without value: exit 2" "$rc" 2
check "option without value: one line" one_line_error
run nosuchcommand
eq "unknown command: exit 2" "$rc" 2
contains "unknown command: named" "$err" "nosuchcommand: unknown command"

done_testing
