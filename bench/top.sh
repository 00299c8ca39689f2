#!/bin/bash
# bench/top.sh [BUILDDIR]: one refresh of lxgpu top with 50 containers and
# 500 processes, after NVML is loaded (issue 18: <= 10 ms). A fake host made
# here: two NVIDIA GPUs (tests/hosts/two-fake-gpus.spec) whose 400 processes
# the tests' stand-in NVML lists (tests/nvml/fake_nvml.c), and an AMD GPU
# (amd-mi300x.spec) with 100 DRM clients in /proc/PID/fdinfo; 50 Proxmox
# containers of 10 processes each (the last 20 processes the host's). Prints
# bench/top_refresh.c's figures: the cold and the warm refresh, and the
# floor measured in the same run (the same files read, nothing else), with
# their ratio; and, for scale, `cat` of those files.
set -euo pipefail
shopt -s nullglob
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
runs=${RUNS:-200}
[ -x "$build/bench/top-refresh" ] && [ -e "$build/tests/nvml/libnvidia-ml.so.1" ] ||
	ninja -C "$build" bench/top-refresh tests/nvml/libnvidia-ml.so.1 >/dev/null
# in memory, as /proc is (tmpfs when there is one)
tmp=/dev/shm
[ -w "$tmp" ] || tmp=${TMPDIR:-/tmp}
top=$(mktemp -d "$tmp/lxgpu-bench-top.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$top"' EXIT

# status as the kernel writes it (the lines before and after NSpid included:
# a refresh reads the whole file)
status() {
	printf 'Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%s\nNgid:\t0\nPid:\t%s\nPPid:\t1\nTracerPid:\t0\n' "$2" "$1" "$1"
	printf 'Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t \nNStgid:\t%s\t%s\nNSpid:\t%s\t%s\nNSpgid:\t%s\t%s\nNSsid:\t1\t1\n' "$1" "$3" "$1" "$3" "$1" "$3"
	printf 'VmPeak:\t 2345678 kB\nVmSize:\t 2345678 kB\nVmRSS:\t  123456 kB\nThreads:\t12\nSigQ:\t0/63348\nSigPnd:\t0000000000000000\n'
	printf 'CapEff:\t000001ffffffffff\nSeccomp:\t0\nCpus_allowed_list:\t0-63\nvoluntary_ctxt_switches:\t1234\n'
}

# host ROOT NVIDIA: 500 processes, the first NVIDIA of them listed by NVML
# ($ROOT/nvml.txt, over the two GPUs), the others AMD's DRM clients
host() {
	local root=$1 nv=$2 specs=("$here/tests/hosts/two-fake-gpus.spec")
	[ "$nv" -lt 500 ] && specs+=("$here/tests/hosts/amd-mi300x.spec")
	"$here/scripts/mkhost" "${specs[@]}" "$here/tests/hosts/pve.spec" "$root" >/dev/null
	{
		echo "gpu GPU-fa4e0000-0000-4000-8000-000000000000 00000000:00:06.0 85520809984 9663676416 61 -1 -1"
		for i in $(seq 0 $((nv / 2 - 1))); do echo "compute $((10000 + i)) $(((i % 7 + 1) * 268435456))"; done
		for i in $(seq 0 $((nv / 2 - 1))); do echo "util $((10000 + i)) $((i % 5)) 1 0 0"; done
		echo "gpu GPU-fa4e0000-0000-4000-8000-000000000001 00000000:00:07.0 85520809984 6442450944 35 20 30"
		for i in $(seq $((nv / 2)) $((nv - 1))); do echo "compute $((10000 + i)) $(((i % 5 + 1) * 134217728))"; done
		for i in $(seq $((nv / 2)) $((nv - 1))); do echo "util $((10000 + i)) $((i % 3)) 1 1 2"; done
	} >"$root/nvml.txt"
	local i pid d
	for i in $(seq 0 499); do
		pid=$((10000 + i)) d=$root/proc/$((10000 + i))
		mkdir -p "$d/fd" "$d/fdinfo"
		if [ "$i" -lt 480 ]; then
			echo "0::/lxc/$((100 + i / 10))/ns/system.slice/worker$((i % 10)).service" >"$d/cgroup"
			status "$pid" python3 "$((i % 10 + 2))" >"$d/status"
		else
			echo "0::/system.slice/host$i.service" >"$d/cgroup"
			status "$pid" python3 "$pid" | sed "s/^\(NS[a-z]*:\t$pid\)\t$pid$/\1/" >"$d/status"
		fi
		printf 'python3\0/srv/job%d/train.py\0--epochs\0100\0' "$i" >"$d/cmdline"
		for fd in 0 1 2; do ln -s /dev/null "$d/fd/$fd"; done
		if [ "$i" -ge "$nv" ]; then
			ln -s /dev/dri/renderD128 "$d/fd/5"
			printf 'pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t1118\ndrm-driver:\tamdgpu\ndrm-client-id:\t%d\ndrm-pdev:\t0000:01:00.0\npasid:\t32774\ndrm-memory-vram:\t%d KiB\ndrm-memory-gtt: \t65536 KiB\ndrm-memory-cpu: \t0 KiB\ndrm-engine-gfx:\t%d ns\ndrm-engine-compute:\t%d ns\n' \
				"$i" "$((i * 1024))" "$((i * 1000000))" "$((i * 500000))" >"$d/fdinfo/5"
		fi
	done
}

echo "runs: $runs warm refreshes; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg); $(uname -r)"
for scenario in nvidia mixed; do
	root=$top/$scenario
	if [ $scenario = nvidia ]; then
		host "$root" 500
		echo "== NVIDIA only: 500 processes through NVML (no fdinfo scan)"
	else
		host "$root" 400
		echo "== NVIDIA and AMD: 400 processes through NVML, 100 DRM clients (every process's fds scanned)"
	fi
	FAKE_NVML=$root/nvml.txt LD_LIBRARY_PATH=$build/tests/nvml "$build/bench/top-refresh" "$root" "$runs"
	files=("$root"/proc/*/cgroup "$root"/proc/*/status "$root"/proc/*/cmdline "$root"/proc/*/fdinfo/*)
	start=$(date +%s%N)
	cat "${files[@]}" >/dev/null
	echo "for scale: cat of its ${#files[@]} files, one process: $((($(date +%s%N) - start) / 1000)) us"
done
