#!/bin/bash
# tests/gpu/top.sh: lxgpu top on a real NVIDIA GPU shared by two LXC
# containers and the host. Container A holds a 3 GiB CUDA allocation, B a
# 7 GiB one and keeps the SMs busy, and a process of the host holds 1 GiB;
# `lxgpu top --once --json` must give each job to the right container (its
# PID inside as the job itself reports it) and the host's job to the host,
# with memory of at least the allocation and at most the allocation plus the
# CUDA context (both printed, against nvidia-smi's figure for the same PID),
# B busy and A idle. Also the text table, lxgpu metrics and the live view's
# exit. About a minute; root, in the private mount namespace of run.sh.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP needs jq"; exit 0; }

A=lxgpu-top-a B=lxgpu-top-b
A_GIB=3 B_GIB=7 HOST_GIB=1
CONTEXT_MAX_MIB=${CONTEXT_MAX_MIB:-1536} # a CUDA context (and torch's) on H100/H200: ~500-600 MiB
RUN=/tmp/lxgpu-top-test
# the job: allocate GIB GiB, write "PID(inside) RESERVED-BYTES" to READY, keep the
# SMs busy for BUSY seconds, then hold the memory until killed
JOB='import os, sys, time, torch
gib, ready, busy = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
x = torch.empty(gib << 30, dtype=torch.uint8, device="cuda")
x.fill_(1)
torch.cuda.synchronize()
with open(ready + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {torch.cuda.memory_reserved()}\n")
os.rename(ready + ".tmp", ready)
a = torch.randn(4096, 4096, device="cuda")
end = time.time() + busy
while time.time() < end:
    b = a @ a
    torch.cuda.synchronize()
time.sleep(600)'

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for ct in $A $B; do "$GPULXC" destroy "$ct" >/dev/null 2>&1; done
	rm -rf "$RUN"
}
trap cleanup EXIT
mkdir -p "$RUN"
say "host: $(nvidia-smi --query-gpu=index,name,uuid,memory.used,memory.total --format=csv,noheader)"

for ct in $A $B; do
	"$GPULXC" destroy "$ct" >/dev/null 2>&1
	"$GPULXC" create "$ct" hostro >/dev/null
	expect "attach $ct" "$LXGPU" attach "$ct"
	expect "$ct starts" "$GPULXC" start "$ct"
done

# the jobs: in A (idle), in B (busy for 60 s), on the host; each writes its
# ready file into the container's /tmp (a directory of the host's)
ready_a=/var/lib/lxc/$A/rootfs/tmp/job.ready ready_b=/var/lib/lxc/$B/rootfs/tmp/job.ready
rm -f "$ready_a" "$ready_b"
"$GPULXC" exec $A -- "$PY" -c "$JOB" $A_GIB /tmp/job.ready 0 >"$RUN/a.log" 2>&1 &
pids+=($!)
"$GPULXC" exec $B -- "$PY" -c "$JOB" $B_GIB /tmp/job.ready 60 >"$RUN/b.log" 2>&1 &
pids+=($!)
"$PY" -c "$JOB" $HOST_GIB "$RUN/host.ready" 0 >"$RUN/host.log" 2>&1 &
host_pid=$!
pids+=("$host_pid")
for _ in $(seq 90); do
	[ -s "$ready_a" ] && [ -s "$ready_b" ] && [ -s "$RUN/host.ready" ] && break
	sleep 1
done
for f in "$ready_a" "$ready_b" "$RUN/host.ready"; do
	[ -s "$f" ] || { not_ok "job ready: $f"; cat "$RUN"/*.log | sed 's/^/#   /'; done_testing; exit 1; }
done
ok "three CUDA jobs hold their memory (A ${A_GIB} GiB, B ${B_GIB} GiB, host ${HOST_GIB} GiB)"
read -r a_inside a_reserved <"$ready_a"
read -r b_inside b_reserved <"$ready_b"
read -r h_pid h_reserved <"$RUN/host.ready"
eq "the host job's PID is the one started" "$h_pid" "$host_pid"
say "torch reserved: A $a_reserved, B $b_reserved, host $h_reserved bytes"
say "nvidia-smi --query-compute-apps:"
nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits | sed 's/^/#   /'

sleep 2 # B's busy loop under way
out=$("$LXGPU" top --once --json --interval 2)
eq "lxgpu top --once --json: exit 0" "$?" 0
printf '%s\n' "$out" | jq -c '.gpus[], (.containers[] | {ct, memory, sm, processes: [.processes[] | {pid, ct_pid, gpu, memory, sm, command}]})' |
	sed 's/^/#   /'
eq "schema 1" "$(jq -r .schema <<<"$out")" 1

# proc CT INSIDE-PID: the process of container CT whose PID inside is INSIDE
proc() { jq -c --arg ct "$1" --argjson p "$2" '[.containers[] | select(.ct == $ct) | .processes[] | select(.ct_pid == $p)] | first' <<<"$out"; }
smi_mib() { nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits | awk -F', ' -v p="$1" '$1 == p { print $2 }'; }
# within NAME GIB BYTES HOSTPID: at least the allocation, at most it plus a context
within() {
	local name=$1 gib=$2 bytes=$3 pid=$4 smi
	smi=$(smi_mib "$pid")
	say "$name: allocation $((gib * 1024)) MiB; lxgpu top $((bytes / 1048576)) MiB (allocation + $((bytes / 1048576 - gib * 1024)) MiB of context); nvidia-smi ${smi:-?} MiB"
	if [ "$bytes" -ge $((gib << 30)) ] && [ "$bytes" -le $(((gib << 30) + (CONTEXT_MAX_MIB << 20))) ]; then
		ok "$name: memory within the allocation plus the CUDA context"
	else
		not_ok "$name: memory within the allocation plus the CUDA context (at most $CONTEXT_MAX_MIB MiB)"
	fi
	eq "$name: the same MiB as nvidia-smi for host PID $pid" "$((bytes / 1048576))" "$smi"
}

pa=$(proc $A "$a_inside")
pb=$(proc $B "$b_inside")
found() { if [ "$2" != null ]; then ok "$1"; else not_ok "$1"; fi; }
found "A's job is in container $A, PID $a_inside inside" "$pa"
found "B's job is in container $B, PID $b_inside inside" "$pb"
a_pid=$(jq -r .pid <<<"$pa") b_pid=$(jq -r .pid <<<"$pb")
contains "A's host PID $a_pid is in A's cgroup" "$(cat "/proc/$a_pid/cgroup" 2>&1)" "$A"
contains "B's host PID $b_pid is in B's cgroup" "$(cat "/proc/$b_pid/cgroup" 2>&1)" "$B"
within "A" $A_GIB "$(jq -r .memory <<<"$pa")" "$a_pid"
within "B" $B_GIB "$(jq -r .memory <<<"$pb")" "$b_pid"
contains "A's command" "$(jq -r .command <<<"$pa")" "python3"
ph=$(jq -c --argjson p "$host_pid" '[.containers[] | select(.ct == null) | .processes[] | select(.pid == $p)] | first' <<<"$out")
found "the host's job is the host's (ct null)" "$ph"
within "host" $HOST_GIB "$(jq -r .memory <<<"$ph")" "$host_pid"
eq "the host's job: no PID inside a container" "$(jq -r .ct_pid <<<"$ph")" null
host_pids=" $(jq -r '[.containers[] | select(.ct == null) | .processes[].pid] | map(tostring) | join(" ")' <<<"$out") "
lacks "A's job is not the host's" "$host_pids" " $a_pid "
lacks "B's job is not the host's" "$host_pids" " $b_pid "
b_sm=$(jq -r .sm <<<"$pb") a_sm=$(jq -r .sm <<<"$pa")
say "SM share: A $a_sm%, B $b_sm% (B runs matmuls, A sleeps)"
eq "B, busy, has a share of the SMs" "$([ "$b_sm" != null ] && [ "$b_sm" -gt 0 ] && echo yes)" yes
eq "A, idle, has (almost) none" "$([ "$a_sm" != null ] && [ "$a_sm" -le 5 ] && echo yes)" yes
eq "container B's memory is at least its job's" \
	"$(jq --arg ct $B '.containers[] | select(.ct == $ct) | .memory >= '"$(jq .memory <<<"$pb")" <<<"$out")" true

text=$("$LXGPU" top --once --interval 0.5)
say "lxgpu top --once:"
printf '%s\n' "$text" | sed 's/^/#   /'
contains "text: A's row" "$text" "$A "
contains "text: B's row" "$text" "$B "
contains "text: the host's" "$text" "(host)"
metrics=$("$LXGPU" metrics --interval 0.5)
contains "metrics: A's memory series" "$metrics" "container=\"$A\"} "
contains "metrics: B's" "$metrics" "container=\"$B\"} "
if command -v promtool >/dev/null; then
	expect "promtool check metrics" promtool check metrics <<<"$metrics"
fi
# the live view, with a terminal of its own: q ends it
if command -v script >/dev/null; then
	live=$( (sleep 3; printf q) | timeout 20 script -qfec "$LXGPU top --interval 0.5" /dev/null)
	eq "live view: q ends it, exit 0" "$?" 0
	contains "live view: drew the table" "$live" "$B"
fi
done_testing
