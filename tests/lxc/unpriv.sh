#!/bin/bash
# Bind mode in an unprivileged container whose /usr/lib/x86_64-linux-gnu
# belongs to the host's root (a root filesystem made by hand), with real LXC
# (TAP). lxc.hook.mount runs as the container's root (host uid 100000), which
# may not create files there.
#
#   - attach predicts it; `driver --mode bind` makes the files to bind onto
#     and the links as the host's root; the container starts with the fake
#     host's driver A bound, read-only, and `check` says so.
#   - the fake host moves to driver B (tests/lxc/driver.sh's update) with no
#     lxgpu run: `check` on the running container names the fix before the
#     restart; the restart still starts (before lxgpu 17's fix the hook
#     failed the start: "create /usr/lib/x86_64-linux-gnu/libcuda.so.B in the
#     container: Permission denied"), without B bound, and the hook's warning
#     is in LXC's log; LXC logs a hook's output at DEBUG only
#     (run_buffer in LXC 5.0 and 6.0), so the test starts with -l DEBUG.
#   - `sync` makes B's targets as the host's root; a restart binds B.
#
# Setup as driver.sh's (its header says how lxgpu sees the testbed): a fake
# host of two-fake-gpus.spec and h100-580.159.04.spec's driver files, fake
# nodes in the real /dev, lxgpu as `lxgpu --sysroot FAKE` in a private mount
# namespace. Needs root, lxc, busybox-static, uidmap, python3; skips as
# driver.sh does.
# shellcheck disable=SC2016 # single-quoted scripts expand inside the container or sh -c
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SPEC=$HOSTS/two-fake-gpus.spec
DRIVER_SPEC=$HOSTS/h100-580.159.04.spec
NODES="nvidia0 nvidia1 nvidiactl nvidia-uvm nvidia-uvm-tools" # as in $SPEC
A=580.159.04
B=590.48.01
CT=lxgpu-unpriv-hostlib
DEB=/usr/lib/x86_64-linux-gnu

lxc_need_root
lxc_skips unshare setpriv
command -v python3 >/dev/null || skip_all "python3 not installed (mkhost writes the ld.so.cache with it)"
lxc_skip_if_majors 195 238
lxc_lock
lxc_skip_if_nvidia_nodes

t0=$(date +%s%N)
lxc_tmp lxgpu-lxc-unpriv
lxc_traps lxc_cleanup

# ---------------------------------------------------------------- setup ----
driver_host "$A" "$B"
lxgpu_for_ct_root
# shellcheck disable=SC2086 # NODES: a list of names
lxc_make_nodes "$FAKE" $NODES

lx() { lx_fake "$@"; }
inside() { lxc-attach -P "$W/lxc" -n "$CT" -- /bin/sh -c "exec 2>&1; $1"; }
# what the container sees: libcuda.so.1's link and text, how many read-only
# mounts on files in $DEB
seen() {
	inside "printf '%s: %s\n' \"\$(readlink $DEB/libcuda.so.1)\" \"\$(cat $DEB/libcuda.so.1)\"
		awk -v d=$DEB/ 'index(\$5, d) == 1 && \$6 ~ /^ro(,|\$)/ { n++ } END { print \"ro binds:\", n + 0 }' /proc/self/mountinfo"
}

tb create "$W" "$CT" unpriv >/dev/null || { tail -n 20 "$TMP/testbed.log" | diag; bail "lxc-create $CT failed"; }
cfg=$W/lxc/$CT/config
root=$W/lxc/$CT/rootfs
# its own library dirs (the busybox template binds this machine's over them)
sed -i -E '\|^lxc\.mount\.entry = /(usr/)?lib(64)? |d' "$cfg"
echo 12.9 >"$root/etc/debian_version"
chown 100000:100000 "$root/etc/debian_version"
mkdir -p "$root$DEB"
chown 0:0 "$root$DEB"
chmod 755 "$root$DEB"
eq "setup: the root is the container's, $DEB the host's root's" \
	"$(stat -c %u "$root/etc" "$root/usr/bin" "$root$DEB" | paste -sd ' ')" "100000 100000 0"

# ------------------------------------------------------------ driver A ----
lx attach "$CT" --gpu 0
ran "attach: exit 0" 0
contains "attach: predicts it from the idmap and the owner" "$out" \
	"container $CT: its root (host uid 100000) may not create the driver's mount targets ($DEB/libcuda.so.$A and "
lx driver "$CT" --mode bind
ran "driver --mode bind: exit 0" 0
contains "driver --mode bind: made them as the host's root" "$out" "more): made them as the host's root"
eq "the placeholder: empty, the container's root's" "$(stat -c '%s %u' "$root$DEB/libcuda.so.$A")" "0 100000"
n=$(ls -A "$root$DEB" | wc -l) # files and links a bind needs there, of any version
lx check "$CT"
ran "check, stopped: exit 0" 0
contains "check, stopped: bound at every start" "$out" "driver bound at every start: the host's $A"
start "$CT" "driver $A"
s=$(seen)
eq "inside: libcuda.so.1 is $A's file" "$(line 1 <<<"$s")" "libcuda.so.$A: stand-in for libcuda.so.$A"
ro=$(line 2 <<<"$s")
if [[ $ro =~ ^ro\ binds:\ ([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 2 ]; then ok "inside: read-only binds in $DEB ($ro)"; else
	not_ok "inside: read-only binds in $DEB"
	echo "$ro" | diag
fi
lx check "$CT"
ran "check, running: exit 0" 0
contains "check, running: $A bound" "$out" "the running container has the host's $A bound ($DEB)"

# ---------------------------------------- driver B, no lxgpu run: skip ----
if ! "$MKHOST" "$TMP/driver-$B.spec" "$FAKE" >"$TMP/mkhost.log" 2>&1; then
	diag <"$TMP/mkhost.log"
	bail "mkhost driver $B failed"
fi
lx check "$CT" --json
ran "check, host now $B: exit 3" 3
contains "check, host now $B: the container's root may not make B's targets" "$out" \
	"may not create $DEB/libcuda.so.$B and "
contains "check, host now $B: names sync and copy" "$out" \
	"lxgpu sync $CT (makes them as the host's root), or lxgpu driver $CT --mode copy"
stop "$CT"
start "$CT" "host $B, no targets: the hook does not fail the start"
eq "running" "$(lxc-info -P "$W/lxc" -n "$CT" -s -H)" RUNNING
warning=$(grep -o "lxgpu: warning: hook $CT: .*" "$W/logs/$CT.log" | head -n 1)
# LXC cuts a log line at its buffer (LXC 6.0 after ~130 characters of the
# hook's output, with this test's long hook command before them): the
# warning's start in the DEBUG log; its whole text is checked in
# tests/cli/unpriv.sh, where the hook's stderr is read directly
contains "LXC's log (DEBUG: the hook's output): the warning" "$warning" \
	"lxgpu: warning: hook $CT: driver $B not bound, the container starts without it"
if grep -q "Script exited with status\|Failed to run mount hooks" "$W/logs/$CT.log"; then
	not_ok "LXC's log: no hook failure"
else ok "LXC's log: no hook failure"; fi
eq "inside: no bind in $DEB" "$(seen | line 2)" "ro binds: 0"
lx check "$CT"
ran "check, started without B: exit 3" 3

# ------------------------------------------------- sync makes B's targets ----
stop "$CT"
lx sync "$CT"
ran "sync: exit 0" 0
contains "sync: made B's targets" "$out" "$CT changed: made "
eq "sync: A's placeholders gone" "$(find "$root$DEB" -name "*.so.$A" | wc -l)" 0
start "$CT" "after sync"
eq "inside: libcuda.so.1 is $B's file" "$(seen | line 1)" "libcuda.so.$B: stand-in for libcuda.so.$B"
lx check "$CT"
ran "check after sync and restart: exit 0" 0
stop "$CT"

echo "# run time $((($(date +%s%N) - t0) / 1000000)) ms"
done_testing
