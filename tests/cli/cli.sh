#!/bin/bash
# The command line itself: help, version, option placement, exit codes.
. "$(dirname "$0")/lib.sh"

run --version
eq "--version: exit 0" "$rc" 0
contains "--version: names the program" "$out" "lxgpu "
run --help
eq "--help: exit 0" "$rc" 0
contains "--help: lists discover" "$out" "discover"
contains "--help: global options" "$out" "--sysroot DIR"
run discover --help
eq "discover --help: exit 0" "$rc" 0
contains "discover --help: usage line" "$out" "usage: lxgpu [GLOBAL] discover"
run -h
eq "-h: exit 0" "$rc" 0
run --lxcpath relative discover
eq "relative --lxcpath: exit 2" "$rc" 2
check "relative --lxcpath: one line" one_line_error
run --sysroot "" discover
eq "empty --sysroot: exit 2" "$rc" 2
run -x
eq "unknown short option: exit 2" "$rc" 2
contains "unknown short option: named" "$err" "-x: unknown option"
run attach 101 --gpu
eq "long option without its value: exit 2" "$rc" 2
eq "long option without its value: named as typed" "$err" "lxgpu: attach: --gpu: needs a value"
run --version attach
eq "--version before a command: exit 0" "$rc" 0
contains "--version before a command: the version" "$out" "lxgpu "
run host install-driver --version
eq "host install-driver --version without V: exit 2" "$rc" 2
eq "host install-driver --version without V: needs a value" "$err" "lxgpu: host: --version: needs a value"

# --- status (no command): this node's GPU containers, and read-only those of
# the other cluster nodes (pmxcfs: /etc/pve/nodes/<node>/lxc; this node's is
# what /etc/pve/lxc links to, pve.spec)
[ "$(id -u)" = 0 ] || { echo "# not root: no fake host for the status tests"; done_testing; exit; }
h=$(host status h100-580.159.04.spec pve.spec) && [ -d "$h/etc/pve/lxc" ] || bail "mkhost"
MOUNT=$'lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file'
printf 'arch: amd64\n%s\n' "$MOUNT" >"$h/etc/pve/lxc/101.conf"
printf 'arch: amd64\n' >"$h/etc/pve/lxc/102.conf"
mkdir -p "$h/etc/pve/nodes/pve2/lxc" "$h/etc/pve/nodes/pve3/lxc"
printf 'arch: amd64\nlxc.environment: LXGPU_DEVICES=GPU-aaaaaaaa-0000-0000-0000-000000000000\n%s\n' "$MOUNT" \
	>"$h/etc/pve/nodes/pve2/lxc/150.conf"
printf 'arch: amd64\n' >"$h/etc/pve/nodes/pve3/lxc/160.conf"
sum=$(cat "$h"/etc/pve/nodes/*/lxc/*.conf | sha256sum)
run --sysroot "$h" --json
eq "status: exit 0" "$rc" 0
eq "status: this node's GPU container" "$(jqr '[.containers[].ct] | join(",")')" 101
eq "status: the other nodes' GPU containers, with their node" \
	"$(jqr '[.other_nodes[] | "\(.node)/\(.ct)/\(.gpus)"] | join(",")')" \
	"pve2/150/GPU-aaaaaaaa-0000-0000-0000-000000000000"
run --sysroot "$h"
contains "status text: another node's CT, read-only" "$out" "CT 150 on node pve2"
contains "status text: where to act on it" "$out" "run lxgpu on pve2"
eq "status: the other nodes' configs untouched" "$(cat "$h"/etc/pve/nodes/*/lxc/*.conf | sha256sum)" "$sum"

done_testing
