#!/bin/bash
# tests/gpu/sync.sh: on the GPU machine, what a kernel or driver update does to
# a working config, and what `lxgpu sync` and the start guard make of it.
#  1. The guide's lines of tests/fixtures/pve/01-raw-nvidia-privileged.conf
#     (rules for the uvm majors 508 and 511 of another boot): nvidia-smi works
#     (c 195:* passes nvidiactl and nvidia0) but CUDA cannot open nvidia-uvm;
#     sync leaves lines lxgpu did not write; after `lxgpu attach`, which
#     adopts them, the matmul runs.
#  2. A config from `lxgpu attach --guard` whose uvm rules name an old major
#     (508, as after a reboot that renumbered nvidia-uvm): the guard refuses
#     the start with its reason in the container's log; after `lxgpu sync` the
#     container starts and runs the matmul.
#  3. Five such containers and one `lxgpu sync --all` (its worker threads):
#     each starts and lists the GPU, one runs the matmul.
. "$(dirname "$0")/lib.sh"

uvm=$(awk '$2 == "nvidia-uvm" { print $1 }' /proc/devices)
say "host: nvidia-uvm is major ${uvm:-(not loaded)} in /proc/devices"

# --- 1. the guide's lines, majors of another boot
ct=lxgpu-sync
frag=$(mktemp)
cat >"$frag" <<'EOF'
lxc.mount.entry = /dev/dri dev/dri none bind,optional,create=dir
lxc.cgroup2.devices.allow = c 195:* rwm
lxc.cgroup2.devices.allow = c 508:* rwm
lxc.cgroup2.devices.allow = c 511:* rwm
lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
lxc.mount.entry = /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-caps dev/nvidia-caps none bind,optional,create=dir
EOF
"$GPULXC" destroy "$ct" >/dev/null 2>&1
conf=$("$GPULXC" create "$ct" hostro "$frag")
rm -f "$frag"
expect "stale config: container starts" "$GPULXC" start "$ct"
expect "stale config: nvidia-smi -L works (195:* passes nvidiactl, nvidia0)" smi "$ct"
refuse "stale config: CUDA matmul fails (no rule for nvidia-uvm's major)" matmul "$ct"
"$GPULXC" stop "$ct" >/dev/null
# show reports (exit 0, README.md: exit 3 is check's, doctor's and sync --dry-run's)
expect "lxgpu show: names the stale rules and the missing nvidia-uvm rule" bash -c \
	"'$LXGPU' show '$ct' | tee /dev/stderr | grep -q 'major 508 is registered by no driver' &&
	 '$LXGPU' show '$ct' | grep -q 'no lxc.cgroup2.devices.allow line allows /dev/nvidia-uvm'"
# hand-written lines and no record: sync leaves them (docs/ownership.md);
# attach adopts the NVIDIA ones and writes exact rules for today's majors
out=$("$LXGPU" sync "$ct" --dry-run 2>&1)
rc=$?
if [ "$rc" = 0 ]; then ok "lxgpu sync --dry-run: exit 0 (not lxgpu's lines)"; else not_ok "lxgpu sync --dry-run: exit $rc, want 0"; fi
printf '%s\n' "$out" | sed 's/^/#   /'
expect "lxgpu attach $ct" "$LXGPU" attach "$ct"
say "GPU lines after attach:"
grep -E 'LXGPU|devices.allow = c (195|226|2[0-9][0-9]|5[0-9][0-9]):|mount.entry = /dev/(nvidia|dri)' "$conf" | sed 's/^/#   /'
expect "attach: exact rules for nvidia-uvm's major $uvm" grep -q "devices.allow = c $uvm:0 rwm" "$conf"
expect "synced: container starts" "$GPULXC" start "$ct"
expect "synced: nvidia-smi -L lists the GPU" smi "$ct"
expect "synced: CUDA matmul runs" matmul "$ct"
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" destroy "$ct" >/dev/null

# --- 2. the guard: attached with --guard, then the uvm rules go stale
ct=lxgpu-guard
"$GPULXC" destroy "$ct" >/dev/null 2>&1
conf=$("$GPULXC" create "$ct" hostro)
expect "lxgpu attach --guard" "$LXGPU" attach "$ct" --guard
grep -E 'hook' "$conf" | sed 's/^/#   /'
expect "guarded: container starts" "$GPULXC" start "$ct"
expect "guarded: CUDA matmul runs" matmul "$ct"
"$GPULXC" stop "$ct" >/dev/null
# the config as a reboot with nvidia-uvm on 508 would have left it
sed -i -E "s/c $uvm:([01]) rwm/c 508:\\1 rwm/; s/(LXGPU_WROTE=.*)c$uvm:0,c$uvm:1/\\1c508:0,c508:1/" "$conf"
say "made stale: $(grep -E "LXGPU_WROTE|c 508:" "$conf" | tr '\n' ' ')"
# LXC logs a hook's output at DEBUG only (tests/gpu/lxc.sh starts at INFO): started
# here as an admin looking for the reason would, lxc-start -l DEBUG
log=/tmp/lxc-$ct-debug.log
rm -f "$log"
refuse "stale and guarded: the start is refused" timeout 30 lxc-start -n "$ct" -d -l DEBUG -o "$log"
say "the container's log says:"
grep -E 'lxgpu: hook' "$log" | sed 's/^.*\(lxgpu: hook\)/\1/' | head -3 | sed 's/^/#   /'
if grep -q "lxgpu: hook $ct: refused: .*run lxgpu sync $ct" "$log"; then
	ok "the log names the cause and the fix"
else
	not_ok "the log names the cause and the fix"
fi
lxc-stop -n "$ct" -k >/dev/null 2>&1
expect "lxgpu sync $ct" "$LXGPU" sync "$ct"
expect "synced: the guarded container starts" "$GPULXC" start "$ct"
expect "synced: nvidia-smi -L lists the GPU" smi "$ct"
expect "synced: CUDA matmul runs" matmul "$ct"
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" destroy "$ct" >/dev/null

# --- 3. one sync --all for several stale containers: configs read, planned
# and written on worker threads, several at once (src/cli/sync.c)
cts=(lxgpu-all-1 lxgpu-all-2 lxgpu-all-3 lxgpu-all-4 lxgpu-all-5)
for ct in "${cts[@]}"; do
	"$GPULXC" destroy "$ct" >/dev/null 2>&1
	conf=$("$GPULXC" create "$ct" hostro)
	"$LXGPU" attach "$ct" --guard --quiet >/dev/null || not_ok "attach $ct"
	sed -i -E "s/c $uvm:([01]) rwm/c 508:\\1 rwm/; s/(LXGPU_WROTE=.*)c$uvm:0,c$uvm:1/\\1c508:0,c508:1/" "$conf"
done
stale=0
for ct in "${cts[@]}"; do grep -q "c 508:0 rwm" "$("$GPULXC" config "$ct")" && stale=$((stale + 1)); done
expect "5 containers made stale" test "$stale" = 5
refuse "stale and guarded: ${cts[0]} is refused" timeout 60 "$GPULXC" start "${cts[0]}"
lxc-stop -n "${cts[0]}" -k >/dev/null 2>&1
out=$("$LXGPU" sync --all 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
expect "lxgpu sync --all: exit 0" test "$rc" = 0
expect "lxgpu sync --all: 5 changed" grep -q "^0 in line, 5 changed, 0 failed$" <<<"$out"
for ct in "${cts[@]}"; do
	expect "sync --all: $ct starts" "$GPULXC" start "$ct"
	expect "sync --all: nvidia-smi -L in $ct" smi "$ct"
done
expect "sync --all: CUDA matmul runs in ${cts[4]}" matmul "${cts[4]}"
for ct in "${cts[@]}"; do
	"$GPULXC" stop "$ct" >/dev/null
	"$GPULXC" destroy "$ct" >/dev/null
done
done_testing
