#!/bin/bash
# lxgpu metrics: Prometheus' text format that promtool accepts (Debian's
# prometheus package), with the figures of the fixtures (tests/fixtures/top)
# as labelled gauges; and the systemd timer and service that write it for
# node_exporter's textfile collector, atomically.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/toplib.sh"
need_root

h=$(nvidia_host nv) || bail "fake NVIDIA host"
NV=$TOPFIX/nvidia
# one more process, on GPU 1 (the last "gpu" of nvml.txt), whose program
# name needs escaping in a label
mkdir -p "$h/proc/7777"
echo "0::/lxc.payload.web/init.scope" >"$h/proc/7777/cgroup"
printf 'Name:\tx\nNSpid:\t7777\t77\n' >"$h/proc/7777/status"
printf '/opt/we"ird\\dir/run"x\\y\0--flag\0' >"$h/proc/7777/cmdline"
cp "$NV/nvml.txt" "$TMP/nvml.txt"
echo "compute 7777 1048576" >>"$TMP/nvml.txt"

FAKE_NVML=$TMP/nvml.txt run --sysroot "$h" metrics --interval 0.2
eq "metrics: exit 0" "$rc" 0
eq "metrics: nothing on stderr" "$err" ""
printf '%s\n' "$out" >"$TMP/nv.prom"
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts it" promtool check metrics <"$TMP/nv.prom"
	# the check can fail: a sample line without its family's TYPE is refused
	{ cat "$TMP/nv.prom"; echo 'lxgpu_gpu_info{gpu="0" 1'; } >"$TMP/bad.prom"
	if promtool check metrics <"$TMP/bad.prom" >/dev/null 2>&1; then not_ok "promtool refuses a broken line"
	else ok "promtool refuses a broken line"; fi
else
	echo "# promtool (Debian's prometheus package) is not installed: its check is skipped"
fi

# HELP and TYPE gauge before each family; every sample line "name{labels} value"
families=$(grep -c '^# TYPE lxgpu_[a-z_]* gauge$' "$TMP/nv.prom")
eq "HELP and TYPE for each family" "$(grep -c '^# HELP lxgpu_' "$TMP/nv.prom")" "$families"
eq "samples only of declared families, no timestamp" \
	"$(grep -v '^#' "$TMP/nv.prom" | grep -cvE '^lxgpu_[a-z_]+\{.*\} [0-9.e+-]+$')" 0
for f in gpu_memory_used_bytes gpu_memory_total_bytes gpu_utilization_ratio container_gpu_memory_bytes \
	container_sm_utilization_ratio process_gpu_memory_bytes process_sm_utilization_ratio; do
	contains "family lxgpu_$f" "$(grep '^# TYPE' "$TMP/nv.prom")" "lxgpu_$f gauge"
done

# value SERIES-PREFIX: the value of the one sample whose line starts so
value() { grep -F -- "$1" "$TMP/nv.prom" | awk '{ print $NF }'; }
g0='vendor="nvidia",gpu="0",uuid="GPU-fa4e0000-0000-4000-8000-000000000000",pci="0000:00:06.0",model="NVIDIA H100 80GB HBM3"'
eq "GPU 0's memory in use, labelled with index, UUID, PCI address and model" \
	"$(value "lxgpu_gpu_memory_used_bytes{$g0}")" "$(awk '$1 == "gpu" { print $5; exit }' "$NV/nvml.txt")"
eq "GPU 0's utilisation as a ratio" "$(value "lxgpu_gpu_utilization_ratio{$g0}")" \
	"$(awk '$1 == "gpu" { printf "%g\n", $6 / 100; exit }' "$NV/nvml.txt")"
eq "GPU 0 has no encoder: no sample" "$(grep -c "^lxgpu_gpu_encoder_utilization_ratio{$g0}" "$TMP/nv.prom")" 0
# CT 101 on GPU 0: 1201, 1202 (the larger of its two entries) and 1400
eq "container 101's memory on GPU 0" "$(value "lxgpu_container_gpu_memory_bytes{$g0,container=\"101\"}")" \
	"$(awk '$1 == "gpu" { g++ } g == 1 && ($2 == 1201 || $2 == 1202 || $2 == 1400) && $3 > m[$2] { m[$2] = $3 } END { printf "%.0f\n", m[1201] + m[1202] + m[1400] }' "$NV/nvml.txt")"
eq "container 101's processes on GPU 0" "$(value "lxgpu_container_processes{$g0,container=\"101\"}")" 3
host0=0
for pid in $(awk '$1 == "gpu" { g++ } g == 1 && ($1 == "compute" || $1 == "graphics") { print $2 }' "$NV/nvml.txt" | sort -u); do
	[ "$(ct_of "$pid" "$NV/procs.tsv")" = - ] && host0=$((host0 + 1))
done
eq "the host's processes: container=\"\"" "$(value "lxgpu_container_processes{$g0,container=\"\"}")" "$host0"
eq "process 1201 on GPU 0: container, PIDs, program name" \
	"$(value "lxgpu_process_gpu_memory_bytes{$g0,container=\"101\",pid=\"1201\",ct_pid=\"45\",nested=\"\",command=\"python3\"}")" \
	"$(awk '$1 == "compute" && $2 == 1201 { print $3; exit }' "$NV/nvml.txt")"
contains "a nested container is a label" "$(grep '^lxgpu_process_gpu_memory_bytes.*pid="1400"' "$TMP/nv.prom")" \
	'nested="podman 0123456789ab"'
contains "a label's \" and \\ are escaped" "$(grep 'pid="7777"' "$TMP/nv.prom" | head -1)" \
	'command="run\"x\\y"'

# the AMD host (no NVML): the same families, vendor amd
a=$(host amd amd-mi300x.spec) || bail "fake AMD host"
mkprocs "$a" "$TOPFIX/amd/procs.tsv"
mkfds "$a" "$TOPFIX/amd/fds.tsv" "$TOPFIX/amd/fdinfo" 1
run --sysroot "$a" metrics --interval 0.2
eq "AMD: exit 0" "$rc" 0
printf '%s\n' "$out" >"$TMP/amd.prom"
command -v promtool >/dev/null && check "AMD: promtool accepts it" promtool check metrics <"$TMP/amd.prom"
contains "AMD: container 201's memory" "$(grep '^lxgpu_container_gpu_memory_bytes.*container="201"' "$TMP/amd.prom")" \
	'vendor="amd",gpu="0",uuid="",pci="0000:01:00.0"'
run --sysroot "$a" metrics --json
eq "metrics --json: a usage error (the output is Prometheus')" "$rc" 2

# === lxgpu-metrics.service and .timer
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$TMP/units"
	sed "s|/[^ ]*/lxgpu metrics|$LXGPU metrics|" "$SERVICE" >"$TMP/units/lxgpu-metrics.service"
	cp "$TIMER" "$TMP/units/"
	out=$(systemd-analyze verify --man=no "$TMP/units/lxgpu-metrics.service" "$TMP/units/lxgpu-metrics.timer" 2>&1)
	eq "systemd-analyze verify: no complaint about the service and the timer" "$?-$out" "0-"
else
	echo "# no systemd-analyze: the units are not verified"
fi
prop() { sed -n "s/^$1=//p" "$2"; }
eq "the timer runs the service every 15 s" "$(prop OnUnitActiveSec "$TIMER")" 15s
eq "the timer is enabled into timers.target" "$(prop WantedBy "$TIMER")" timers.target
eq "the service runs once a time" "$(prop Type "$SERVICE")" oneshot
exec_line=$(prop ExecStart "$SERVICE")
contains "the service writes a .tmp file and renames it (atomic for the collector)" "$exec_line" \
	"lxgpu metrics >/var/lib/prometheus/node-exporter/lxgpu.prom.tmp && mv /var/lib/prometheus/node-exporter/lxgpu.prom.tmp /var/lib/prometheus/node-exporter/lxgpu.prom"
# its command, in a directory of the test's, with the lxgpu under test
dir=$TMP/textfile
mkdir -p "$dir"
cmd=$(sed -e "s|^/bin/sh -c '||" -e "s|'\$||" -e "s|/var/lib/prometheus/node-exporter|$dir|g" \
	-e "s|/[^ ]*/lxgpu metrics|$LXGPU --sysroot $a metrics --interval 0.2|" <<<"$exec_line")
sh -c "$cmd"
eq "the command: exit 0" "$?" 0
check "the command: lxgpu.prom written" grep -q '^lxgpu_gpu_info' "$dir/lxgpu.prom"
eq "the command: no .tmp left" "$(ls "$dir")" lxgpu.prom
sum=$(sha "$dir/lxgpu.prom")
LD_LIBRARY_PATH=$TMP/none sh -c "${cmd/--sysroot $a/--sysroot $h}" 2>/dev/null
unchanged "the command, when lxgpu fails: lxgpu.prom stays as it was" "$dir/lxgpu.prom" "$sum"
done_testing
