#!/bin/bash
# tests/gpu/ownership.sh: on the GPU machine, docs/ownership.md against the
# real driver. A privileged container with the guide's block (the minors
# 254/255 and by-path's 60 taken for majors; the uvm majors 508/511 of the
# guide author's host) and no driver inside:
#  1. attach --guard + driver --mode bind; `sync --dry-run` exits 0 (the kept
#     508/511 rules are check's, which names --prune); `sync --all`; a restart
#     with the guard: nvidia-smi and the matmul run, and a node of major 195
#     minor 1 that the container makes itself (another GPU's) gives EPERM;
#  2. the rules lxgpu wrote made to carry nvidia-uvm's old major (508), as a
#     kernel update leaves them: the guard refuses the start, sync mends it
#     (its own 508 lines go, the guide's c 508:* stays), and 1's checks pass again.
. "$(dirname "$0")/lib.sh"

uvm=$(awk '$2 == "nvidia-uvm" { print $1 }' /proc/devices)
say "host: nvidia-uvm is major ${uvm:-(not loaded)}; $(nvidia-smi -L | head -n 1)"
ct=lxgpu-own
frag=$(mktemp)
cat >"$frag" <<'EOF'
lxc.cgroup2.devices.allow = c 60:* rwm
lxc.cgroup2.devices.allow = c 195:* rwm
lxc.cgroup2.devices.allow = c 226:* rwm
lxc.cgroup2.devices.allow = c 254:* rwm
lxc.cgroup2.devices.allow = c 255:* rwm
lxc.cgroup2.devices.allow = c 508:* rwm
lxc.cgroup2.devices.allow = c 511:* rwm
lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
lxc.mount.entry = /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-modeset dev/nvidia-modeset none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file
lxc.mount.entry = /dev/dri dev/dri none bind,optional,create=dir
EOF
"$GPULXC" destroy "$ct" >/dev/null 2>&1
conf=$("$GPULXC" create "$ct" overlay "$frag")
rm -f "$frag"

# GPU 1's node made inside: the cgroup must refuse it (a wildcard would let
# it through to the driver, which answers ENXIO or opens a GPU)
OPEN_NODE='import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_RDWR))
    print("opened"); sys.exit(1)
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit(0 if e.errno == errno.EPERM else 1)'
other_gpu_refused() {
	local made
	made=$("$GPULXC" exec "$ct" -- sh -c "rm -f /tmp/nvidia-other; mknod -m 666 /tmp/nvidia-other c 195 1 2>&1")
	if "$GPULXC" exec "$ct" -- test -e /tmp/nvidia-other; then
		"$GPULXC" exec "$ct" -- "$PY" -c "$OPEN_NODE" /tmp/nvidia-other
	else
		# the cgroup's m permission refuses the node before any open
		echo "mknod of 195:1: $made"
		case $made in *"Operation not permitted"*) return 0 ;; *) return 1 ;; esac
	fi
}
works() { # WHEN: nvidia-smi, the matmul and GPU 1's node refused
	expect "$1: nvidia-smi -L lists the GPU" smi "$ct"
	expect "$1: CUDA matmul runs" matmul "$ct"
	expect "$1: a node of 195:1 made inside gives EPERM" other_gpu_refused
}

# --- 1. the guide's block, attach, driver, sync, restart with the guard
expect "attach --guard (adopts the NVIDIA lines)" "$LXGPU" attach "$ct" --guard
expect "driver --mode bind" "$LXGPU" driver "$ct" --mode bind
say "config after attach and driver:"
grep -E 'LXGPU|devices.allow|mount.entry = /dev/(nvidia|dri)|hook' "$conf" | sed 's/^/#   /'
if grep -qE 'devices.allow = c 195:\* ' "$conf"; then not_ok "attach: c 195:* adopted (gone)"; else ok "attach: c 195:* adopted (gone)"; fi
expect "attach: the guide's 226, 60, 254, 255, 508, 511 rules kept" \
	test "$(grep -cE 'devices.allow = c (60|226|254|255|508|511):\* rwm' "$conf")" = 6
out=$("$LXGPU" sync "$ct" --dry-run 2>&1)
rc=$?
[ "$rc" = 0 ] && ok "sync --dry-run: exit 0 (nothing to change)" || not_ok "sync --dry-run: exit $rc, want 0"
printf '%s\n' "$out" | sed 's/^/#   /'
out=$("$LXGPU" check "$ct" 2>&1)
printf '%s\n' "$out" | sed 's/^/#   /'
case $out in *"lxgpu sync $ct --prune"*) ok "check names --prune for the dead majors" ;;
*) not_ok "check names --prune for the dead majors" ;; esac
before=$(sha256sum <"$conf")
expect "sync --all (the boot unit's run)" "$LXGPU" sync --all
[ "$(sha256sum <"$conf")" = "$before" ] && ok "sync --all: config unchanged" || not_ok "sync --all: config unchanged"
expect "container starts (guard and driver hooks)" "$GPULXC" start "$ct"
works "attached"
"$GPULXC" stop "$ct" >/dev/null

# --- 2. lxgpu's uvm rules on an old major, as after a kernel update
sed -i -E "s/c $uvm:([01]) rwm/c 508:\\1 rwm/; s/(LXGPU_WROTE=.*)c$uvm:0,c$uvm:1/\\1c508:0,c508:1/" "$conf"
say "made stale: $(grep -E 'LXGPU_WROTE|c 508:' "$conf" | tr '\n' ' ')"
log=/tmp/lxc-$ct-debug.log
rm -f "$log"
refuse "stale and guarded: the start is refused" timeout 30 lxc-start -n "$ct" -d -l DEBUG -o "$log"
grep -E 'lxgpu: hook' "$log" | sed 's/^.*\(lxgpu: hook\)/\1/' | head -2 | sed 's/^/#   /'
lxc-stop -n "$ct" -k >/dev/null 2>&1
out=$("$LXGPU" sync "$ct" --dry-run 2>&1)
rc=$?
[ "$rc" = 3 ] && ok "stale: sync --dry-run exit 3" || not_ok "stale: sync --dry-run exit $rc, want 3"
printf '%s\n' "$out" | grep -E '^[-+]lxc' | sed 's/^/#   /'
expect "sync --all" "$LXGPU" sync --all
expect "sync: lxgpu's 508 lines gone, the guide's c 508:* kept" \
	test "$(grep -cE 'c 508:' "$conf")-$(grep -c 'c 508:\* rwm' "$conf")" = 1-1
expect "synced: the guarded container starts" "$GPULXC" start "$ct"
works "synced"
"$GPULXC" stop "$ct" >/dev/null
"$GPULXC" destroy "$ct" >/dev/null
done_testing
