#!/bin/bash
# lxgpu top on fake hosts (tests/fixtures/top, tests/cli/toplib.sh): which
# container each GPU process belongs to (Proxmox /lxc/VMID and
# lxc.payload.VMID, plain LXC lxc.payload.NAME, a user's container, nested
# podman, Docker and LXC, cgroup v1 lines, the host's own and LXC's monitor),
# its PID inside (NSpid) and command; NVIDIA's figures through the tests'
# NVML, AMD's and Intel's from two fdinfo samples; the CT filter; the errors;
# and that no other command loads NVML. Every expected value is read from the
# fixtures, never from lxgpu's output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/toplib.sh"
need_root
command -v python3 >/dev/null || skip_all "needs python3 (inotify, for the two DRM samples)"

h=$(nvidia_host nv) || bail "fake NVIDIA host"
NV=$TOPFIX/nvidia

# === NVIDIA: figures of fixtures/top/nvidia/nvml.txt
run --sysroot "$h" top --once --json --interval 0.2
eq "top --once --json: exit 0" "$rc" 0
eq "schema 1" "$(jqr .schema)" 1
eq "the figures span the interval (ms)" "$(jqr '.milliseconds >= 200 and .milliseconds < 2000')" true

# the GPUs: lxgpu's index (PCI order), NVML's UUID, name, memory, utilisation
expected=$(awk '$1 == "gpu" { n++; bus = tolower(substr($3, 5)); printf "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\tnvml\n", n - 1, $2, bus, $4, $5, $6, $7 < 0 ? "-" : $7, $8 < 0 ? "-" : $8 }' "$NV/nvml.txt")
eq "GPUs: index, UUID, PCI, memory, utilisation, encoder, decoder, source" \
	"$(jqr '.gpus[] | [.index, .uuid, .pci, .memory_total, .memory_used, .utilization, (.encoder // "-"), (.decoder // "-"), .source] | @tsv')" "$expected"
eq "GPUs: NVML's names" "$(jqr '.gpus[].model' | sort -u)" "$(sed -n 's/^name //p' "$NV/nvml.txt" | sort -u)"
eq "GPUs: the vendor" "$(jqr '[.gpus[].vendor] | unique | .[]')" nvidia

# every process NVML lists: its container, PID inside, nested container and
# command as fixtures/top/nvidia/procs.tsv says; 4242 is not in /proc
nvpids=$(awk '$1 == "compute" || $1 == "graphics" { print $2 }' "$NV/nvml.txt" | sort -un)
expected=$({ expected_procs "$NV/procs.tsv"; printf '4242\t-\t-\t-\t(gone)\n'; } |
	awk -F'\t' 'NR == FNR { want[$1] = 1; next } want[$1]' <(echo "$nvpids") - | sort -n)
got=$(jqr '[.containers[] | .ct as $c | .processes[] | [.pid, ($c // "-"), (.ct_pid // "-"), (.nested // "-"), .command] | @tsv] | unique | .[]' | sort -n)
eq "processes: container, PID inside, nested, command" "$got" "$expected"
for pid in $nvpids; do
	row=$(grep "^$pid	" <<<"$expected")
	contains "process $pid: in the table of its container $(cut -f2 <<<"$row")" \
		"$(jq -r --argjson p "$pid" '.containers[] | select(any(.processes[]; .pid == $p)) | .ct // "-"' <<<"$out")" \
		"$(cut -f2 <<<"$row")"
done

# a process's memory per GPU: the larger of its compute and graphics entries
per_gpu=$(awk '$1 == "gpu" { g++ } ($1 == "compute" || $1 == "graphics") && $3 > m[g - 1 " " $2] { m[g - 1 " " $2] = $3 } END { for (k in m) print k, m[k] }' "$NV/nvml.txt" | sort)
eq "processes: memory per GPU" "$(jqr '.containers[].processes[] | "\(.gpu) \(.pid) \(.memory)"' | sort)" "$per_gpu"
# SM share: the utilisation sample of each process, 0 without one
sm=$(awk 'NR == FNR { if ($1 == "gpu") g++; if ($1 == "util") s[g - 1 " " $2] = $3; next } { print $1, $2, ($1 " " $2 in s) ? s[$1 " " $2] : 0 }' "$NV/nvml.txt" <(echo "$per_gpu") | sort)
eq "processes: SM share from the utilisation samples" "$(jqr '.containers[].processes[] | "\(.gpu) \(.pid) \(.sm)"' | sort)" "$sm"
eq "processes: no encoder figure on GPU 0 (it has none), GPU 1's samples" \
	"$(jqr '.containers[].processes[] | select(.gpu == 0) | .encoder' | sort -u)" null
eq "processes: encoder and decoder of process 1600 on GPU 1" \
	"$(jqr '.containers[].processes[] | select(.pid == 1600) | "\(.encoder) \(.decoder)"')" \
	"$(awk '$1 == "util" && $2 == 1600 { print $5, $6 }' "$NV/nvml.txt")"

# containers: their processes summed
declare -A mem=() smsum=() gpus=()
while read -r g pid m; do
	c=$(ct_of "$pid" "$NV/procs.tsv")
	mem[$c]=$((${mem[$c]:-0} + m))
	gpus[$c]="${gpus[$c]:-} $g"
done <<<"$per_gpu"
while read -r g pid s; do
	c=$(ct_of "$pid" "$NV/procs.tsv")
	smsum[$c]=$((${smsum[$c]:-0} + s))
done <<<"$sm"
expected=$(for c in "${!mem[@]}"; do
	printf '%s\t%s\t%s\t%s\n' "$c" "${mem[$c]}" "${smsum[$c]}" "$(tr ' ' '\n' <<<"${gpus[$c]}" | grep . | sort -un | paste -sd,)"
done | sort)
eq "containers: memory, SM share and GPUs summed over their processes" \
	"$(jqr '.containers[] | [(.ct // "-"), .memory, .sm, (.gpus | map(tostring) | join(","))] | @tsv' | sort)" "$expected"
eq "containers: by memory, the host's last" "$(jqr '[.containers[].ct] | .[-1]')" null
eq "containers: the first uses the most" "$(jqr '[.containers[] | select(.ct) | .memory] | . == (sort | reverse)')" true
eq "the host's processes: ollama, the LXC monitor, a kernel thread and one gone from /proc" \
	"$(jqr '.containers[] | select(.ct == null) | [.processes[].pid] | sort | map(tostring) | join(" ")')" "900 950 960 4242"

# === the text table, piped: every container and process, no escape
run --sysroot "$h" top --once --interval 0.2
eq "top --once: exit 0" "$rc" 0
eq "text: no escape sequence when piped" "$(grep -c $'\033' <<<"$out")" 0
for header in "GPU  MODEL" "CT  " "PID  "; do
	contains "text: the table headed '$header'" "$out" "$header"
done
for c in 101 102 103 web c1 '(host)'; do
	contains "text: a row for $c" "$(grep -F -- "$c " <<<"$out")" "$c"
done
contains "text: a process of nested podman shows as 101/podman" "$(grep '^1400 ' <<<"$out")" "101/podman"
contains "text: its command" "$(grep '^1201 ' <<<"$out")" "python3 train.py --epochs 10"
contains "text: ENC and DEC columns (GPU 1 has them)" "$(grep -m1 '^GPU ' <<<"$out")" "ENC  DEC"

# === CT arguments: only those, each listed even when idle
run --sysroot "$h" top 101 web 104 --once --json --interval 0.2
eq "top 101 web 104: exit 0" "$rc" 0
eq "top 101 web 104: those containers alone" "$(jqr '[.containers[].ct] | sort | join(" ")')" "101 104 web"
eq "top 101 web 104: the idle 104 is listed with nothing" \
	"$(jqr '.containers[] | select(.ct == "104") | "\(.memory) \(.sm) \(.processes | length)"')" "0 null 0"
eq "top 101 web 104: web's processes" \
	"$(jqr '.containers[] | select(.ct == "web") | [.processes[].pid] | sort | map(tostring) | join(" ")')" \
	"$(rows "$NV/procs.tsv" | awk -F'\t' '$2 == "web" { print $1 }' | sort -n | paste -sd' ')"
run --sysroot "$h" top 999 --once
eq "top 999 (no such CT): exit 1" "$rc" 1
check "top 999: one line on stderr" one_line_error
run --sysroot "$h" top ../x --once
eq "top ../x: a usage error" "$rc" 2
for bad in 0 0.01 abc 1e9 -1; do
	run --sysroot "$h" top --once --interval "$bad"
	eq "--interval $bad: a usage error" "$rc" 2
done

# === without NVML: one line naming what to install; NVML's own errors
mkdir -p "$TMP/no-nvml"
if ! LD_LIBRARY_PATH=$TMP/no-nvml ldconfig -p | grep -q 'libnvidia-ml\.so\.1 '; then
	LD_LIBRARY_PATH=$TMP/no-nvml run --sysroot "$h" top --once
	eq "no libnvidia-ml.so.1: exit 1" "$rc" 1
	check "no libnvidia-ml.so.1: one line" one_line_error
	contains "no libnvidia-ml.so.1: names it" "$err" "libnvidia-ml.so.1"
	contains "no libnvidia-ml.so.1: says what to install" "$err" "install the NVML library of the host's driver 580.159.04"
	LD_LIBRARY_PATH=$TMP/no-nvml run --sysroot "$h" metrics
	eq "metrics without NVML: exit 1" "$rc" 1
else
	echo "# this machine has a real libnvidia-ml.so.1: the missing-library case is not tested"
fi
FAKE_NVML_INIT=18 run --sysroot "$h" top --once
eq "nvmlInit_v2 fails: exit 1" "$rc" 1
contains "nvmlInit_v2 fails: NVML's message" "$err" "version mismatch"
check "nvmlInit_v2 fails: one line" one_line_error

# === only top and metrics load NVML (FAKE_NVML_LOG: the library's load)
log=$TMP/nvml.log
: >"$log"
for args in "" discover "show 101" "check 101" "sync --all --dry-run" "cdi --dry-run" compat \
	"host status" "unhook --all --dry-run" "doctor 101"; do
	# shellcheck disable=SC2086 # words
	FAKE_NVML_LOG=$log "$LXGPU" --sysroot "$h" $args >/dev/null 2>&1
done
eq "no other command loads libnvidia-ml.so.1" "$(cat "$log")" ""
FAKE_NVML_LOG=$log "$LXGPU" --sysroot "$h" top --once --interval 0.2 >/dev/null 2>&1
eq "top loads it and initialises it" "$(tr '\n' ' ' <"$log")" "load init "
: >"$log"
FAKE_NVML_LOG=$log "$LXGPU" --sysroot "$h" metrics --interval 0.2 >/dev/null 2>&1
eq "metrics loads it too" "$(tr '\n' ' ' <"$log")" "load init "
if command -v readelf >/dev/null; then
	lacks "lxgpu does not link NVML" "$(readelf -d "$LXGPU")" "nvidia-ml"
fi

# === AMD: fixtures/top/amd, two fdinfo samples one second apart
a=$(host amd amd-mi300x.spec pve.spec) || bail "fake AMD host"
AMD=$TOPFIX/amd
mkprocs "$a" "$AMD/procs.tsv"
ct_configs "$a" 201 202
mkfds "$a" "$AMD/fds.tsv" "$AMD/fdinfo" 1
dev=$a/sys/bus/pci/devices/0000:01:00.0
echo 206141652992 >"$dev/mem_info_vram_total"
echo 8589934592 >"$dev/mem_info_vram_used"
: >"$log"
FAKE_NVML_LOG=$log two_samples "$a" "$AMD/fds.tsv" "$AMD/fdinfo" -- --sysroot "$a" top --once --json --interval 1
eq "AMD: exit 0" "$rc" 0
eq "AMD: the second sample was put in place between lxgpu's two" "$swapped" 0
eq "AMD: a host without NVIDIA's driver does not load NVML" "$(cat "$log")" ""
eq "AMD: the GPU, from fdinfo, with amdgpu's VRAM figures" \
	"$(jqr '.gpus[] | [.index, .vendor, .pci, .memory_total, .memory_used, .source] | @tsv')" \
	"$(printf '0\tamd\t0000:01:00.0\t%s\t%s\tfdinfo' "$(cat "$dev/mem_info_vram_total")" "$(cat "$dev/mem_info_vram_used")")"
expected=$(expected_procs "$AMD/procs.tsv" | sort -n)
eq "AMD: processes, containers, PIDs inside, commands" \
	"$(jqr '[.containers[] | .ct as $c | .processes[] | [.pid, ($c // "-"), (.ct_pid // "-"), (.nested // "-"), .command] | @tsv] | .[]' | sort -n)" "$expected"
# memory: resident VRAM when given (c12), else drm-memory-vram; a client
# shared by 2001 and its child 2002 (c11) and one open twice (c14) count once
kib() { awk -v k="$2" '$1 == k":" { printf "%.0f\n", $2 * 1024 }' "$AMD/fdinfo/$1.1"; }
eq "AMD: memory per process, each client once" \
	"$(jqr '.containers[].processes[] | "\(.pid) \(.memory)"' | sort -n | tr '\n' ' ')" \
	"2001 $(kib c11 drm-memory-vram) 2002 $(kib c12 drm-resident-vram) 2003 $(kib c13 drm-memory-vram) 2004 $(kib c14 drm-memory-vram) "
# busy time over the interval (one second, and a little more for the scan)
engine() { awk -v k="drm-engine-$2:" '$1 == k { v = $2 } END { printf "%.0f\n", v }' "$AMD/fdinfo/$1"; }
delta() { echo $(($(engine "$1.2" "$2") - $(engine "$1.1" "$2"))); }
near() { # DESC GOT NS: GOT within 10% below NS / 1e9 s * 100
	local want=$(($3 / 10000000))
	if [ "$2" != null ] && [ "$2" -le "$want" ] && [ "$2" -ge $((want * 9 / 10)) ]; then ok "$1 ($2%)"
	else not_ok "$1"; echo "# got $2, want $want - 10%"; fi
}
p() { jqr ".containers[].processes[] | select(.pid == $1) | .$2"; }
near "AMD: 2001's SM share is its gfx engine's busy time" "$(p 2001 sm)" "$(delta c11 gfx)"
near "AMD: 2002's is its busiest engine's (gfx)" "$(p 2002 sm)" "$(delta c12 gfx)"
near "AMD: 2002's encoder, an engine new in the second sample" "$(p 2002 encoder)" "$(delta c12 enc)"
near "AMD: 2002's decoder" "$(p 2002 decoder)" "$(delta c12 dec)"
eq "AMD: 2003's client is new (another drm-client-id): no share yet" "$(p 2003 sm)" null
eq "AMD: 2004's engine did not move" "$(p 2004 sm)" 0
near "AMD: the GPU's utilisation, its clients' gfx time summed" "$(jqr '.gpus[0].utilization')" \
	"$(($(delta c11 gfx) + $(delta c12 gfx)))"
eq "AMD: containers 201 (2001, 2002), 202 and the host's" \
	"$(jqr '[.containers[] | "\(.ct // "-"):\([.processes[].pid] | sort | map(tostring) | join(","))"] | join(" ")')" \
	"201:2001,2002 202:2004 -:2003"

# === Intel: xe counts cycles (exact shares); plain LXC container "media"
i=$(host intel intel-n100.spec) || bail "fake Intel host"
INTEL=$TOPFIX/intel
mkprocs "$i" "$INTEL/procs.tsv"
ct_configs "$i" -- media
mkfds "$i" "$INTEL/fds.tsv" "$INTEL/fdinfo" 1
two_samples "$i" "$INTEL/fds.tsv" "$INTEL/fdinfo" -- --sysroot "$i" top media --once --json --interval 1
eq "Intel: exit 0" "$rc" 0
eq "Intel: swapped between the samples" "$swapped" 0
cyc() { awk -v k="$2:" '$1 == k { print $2 }' "$INTEL/fdinfo/x3.$1"; }
share() { echo $(((($(cyc 2 "drm-cycles-$1") - $(cyc 1 "drm-cycles-$1")) * 100) / ($(cyc 2 "drm-total-cycles-$1") - $(cyc 1 "drm-total-cycles-$1")))); }
eq "Intel: media's process: render share, video (DEC), no encoder, resident memory" \
	"$(jqr '.containers[] | select(.ct == "media") | .processes[] | "\(.pid) \(.ct_pid) \(.sm) \(.decoder) \(.encoder) \(.memory)"')" \
	"3001 14 $(share rcs) $(share vcs) null $(($(cyc 1 drm-resident-system | tr -dc 0-9) * 1024))"
eq "Intel: the GPU: render and video shares, memory of its clients, no total" \
	"$(jqr '.gpus[0] | "\(.vendor) \(.utilization) \(.decoder) \(.memory_used) \(.memory_total)"')" \
	"intel $(share rcs) $(share vcs) $(($(cyc 1 drm-resident-system | tr -dc 0-9) * 1024)) null"
eq "Intel: the command, with its space" "$(jqr '.containers[0].processes[0].command')" \
	"$(expected_procs "$INTEL/procs.tsv" | cut -f5)"

done_testing
