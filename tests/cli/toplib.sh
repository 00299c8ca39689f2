# shellcheck shell=bash
# The fake hosts of lxgpu top's and metrics' tests (sourced after lib.sh):
# processes made from tests/fixtures/top (its README says what each is), the
# tests' stand-in NVML (tests/nvml/fake_nvml.c) first on LD_LIBRARY_PATH.
TOPFIX=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures/top" && pwd)
SWAP=$(dirname "${BASH_SOURCE[0]}")/fdinfo-swap.py
: "${FAKE_NVML_DIR:?set FAKE_NVML_DIR to the folder of the tests libnvidia-ml.so.1}"
export LD_LIBRARY_PATH=$FAKE_NVML_DIR
export FAKE_NVML=$TOPFIX/nvidia/nvml.txt

# rows TSV: the fixture's rows, comments left out
rows() { grep -v '^#' "$1"; }

# ct_of PID TSV: the container a procs.tsv gives PID (- for the host's and
# for a PID it does not have)
ct_of() { awk -F'\t' -v p="$1" '$1 == p { print $2; found = 1 } END { if (!found) print "-" }' <(rows "$2"); }

# mkprocs ROOT TSV: /proc/PID/{cgroup,status,cmdline,comm} for each row of a
# procs.tsv (pid ct ct_pid nested cgroup nspid cmdline comm)
mkprocs() {
	local root=$1 pid ct ctpid nested cg nspid cmd comm d
	while IFS=$'\t' read -r pid ct ctpid nested cg nspid cmd comm; do
		d=$root/proc/$pid
		mkdir -p "$d/fd" "$d/fdinfo"
		printf '%b\n' "$cg" >"$d/cgroup"
		printf 'Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%s\nPid:\t%s\nPPid:\t1\nNSpid:\t%s\nNSsid:\t1\n' \
			"$comm" "$pid" "$pid" "${nspid// /$'\t'}" >"$d/status"
		printf '%s\n' "$comm" >"$d/comm"
		if [ "$cmd" = - ]; then
			: >"$d/cmdline"
		else
			local args
			IFS='|' read -ra args <<<"$cmd"
			printf '%s\0' "${args[@]}" >"$d/cmdline"
		fi
	done < <(rows "$2")
}

# expected_procs TSV: "pid ct ct_pid nested command" as lxgpu top must give
# them (tab-separated; - for none; the command is cmdline's words, or [comm])
expected_procs() {
	local pid ct ctpid nested cg nspid cmd comm
	while IFS=$'\t' read -r pid ct ctpid nested cg nspid cmd comm; do
		[ "$cmd" = - ] && cmd="[$comm]"
		printf '%s\t%s\t%s\t%s\t%s\n' "$pid" "$ct" "$ctpid" "$nested" "${cmd//|/ }"
	done < <(rows "$1")
}

# mkfds ROOT FDS FDINFO SAMPLE: each row of a fds.tsv (pid fd target client)
# as /proc/PID/fd/FD linking to its target and, for a client, fdinfo/FD the
# copy of FDINFO/CLIENT.SAMPLE
mkfds() {
	local root=$1 pid fd target client
	while IFS=$'\t' read -r pid fd target client; do
		ln -sfn "$target" "$root/proc/$pid/fd/$fd"
		[ "$client" = - ] || cp "$3/$client.$4" "$root/proc/$pid/fdinfo/$fd"
	done < <(rows "$2")
}

# two_samples ROOT FDS FDINFO -- LXGPU-ARGS...: runs lxgpu (as run does) while
# fdinfo-swap.py puts the second sample (CLIENT.2) in place of the first
# once lxgpu has read it; $swapped is the helper's exit status
two_samples() {
	local root=$1 fds=$2 fdinfo=$3 pid fd target client pairs=() next=$TMP/next.$RANDOM
	shift 4
	mkdir -p "$next"
	while IFS=$'\t' read -r pid fd target client; do
		[ "$client" = - ] && continue
		cp "$fdinfo/$client.2" "$next/$pid-$fd"
		pairs+=("$root/proc/$pid/fdinfo/$fd=$next/$pid-$fd")
	done < <(rows "$fds")
	rm -f "$TMP/ready"
	python3 "$SWAP" "$TMP/ready" "${pairs[@]}" &
	local helper=$!
	for _ in $(seq 100); do [ -e "$TMP/ready" ] && break; sleep 0.05; done
	run "$@"
	wait "$helper"
	swapped=$?
}

# ct_configs ROOT PVE-VMID... -- LXC-NAME...: containers for the CT arguments
ct_configs() {
	local root=$1 pve=1
	shift
	mkdir -p "$root/etc/pve/lxc"
	for c in "$@"; do
		if [ "$c" = -- ]; then pve=0; continue; fi
		if [ $pve = 1 ]; then
			printf 'arch: amd64\nhostname: ct%s\nostype: debian\n' "$c" >"$root/etc/pve/lxc/$c.conf"
		else
			mkdir -p "$root/var/lib/lxc/$c"
			printf 'lxc.uts.name = %s\n' "$c" >"$root/var/lib/lxc/$c/config"
		fi
	done
}

# nvidia_host NAME: two-fake-gpus.spec (two NVIDIA GPUs) on Proxmox, with the
# processes of fixtures/top/nvidia and configs for their containers
nvidia_host() {
	local h
	h=$(host "$1" two-fake-gpus.spec pve.spec) || return 1
	mkprocs "$h" "$TOPFIX/nvidia/procs.tsv"
	ct_configs "$h" 101 102 103 104 -- web c1
	echo "$h"
}
