#!/bin/bash
# An unprivileged container whose root may not create files in its own
# /usr/lib/x86_64-linux-gnu (the directory belongs to the host's root, as in
# a root filesystem made by hand): lxc.hook.mount runs as that root (LXC's
# child, in the container's user namespace), so it cannot make the files it
# binds onto. attach, driver, check, doctor and sync predict it from the
# config's idmap and the directory's owner and mode; driver --mode bind and
# sync make the targets as the host's root; the hook, run here as the
# container's root in a user namespace of its own (0 -> 100000, as LXC maps
# it), binds nothing and lets the start go on when they are missing.
# shellcheck disable=SC2016,SC2012 # scripts for bash -c; ls counts names
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
command -v unshare >/dev/null || skip_all "unshare not installed"
command -v newuidmap >/dev/null || skip_all "newuidmap not installed (uidmap)"
# unshare --map-users maps a range with newuidmap, which maps only what
# /etc/subuid gives the caller: root's ranges where they are missing, as
# tests/lxc/testbed.sh adds them (suites run in parallel: this one may be first)
for f in /etc/subuid /etc/subgid; do
	grep -qx 'root:100000:65536' "$f" 2>/dev/null || echo 'root:100000:65536' >>"$f" ||
		bail "cannot give root 100000:65536 in $f"
done

V=580.159.04
DEB=usr/lib/x86_64-linux-gnu
h=$(host unpriv h100-580.159.04.spec) || bail "mkhost failed"

# ct NAME IDMAP...: an LXC container with a Debian root owned by the
# container's root (host 100000), but for $DEB, which the host's root owns
ct() {
	local name=$1 r=$h/var/lib/lxc/$1/rootfs
	shift
	mkdir -p "$r/etc" "$r/$DEB" "$r/usr/bin"
	echo 12.9 >"$r/etc/debian_version"
	chown -R 100000:100000 "$r"
	chown 0:0 "$r/$DEB"
	{
		echo "lxc.rootfs.path = dir:/var/lib/lxc/$name/rootfs"
		for m in "$@"; do echo "lxc.idmap = $m"; done
	} >"$h/var/lib/lxc/$name/config"
}
# as_ct_root NAME: lxgpu's mount hook for NAME as LXC runs it in an
# unprivileged container: uid and gid 0 of a new user namespace that maps
# 0-65535 to 100000-165535, in a mount namespace of that user namespace;
# prints its stderr, then "rc=N" and the number of mounts on the container's
# /usr; sets $rc
as_ct_root() {
	out=$(unshare --map-users=100000,0,65536 --map-groups=100000,0,65536 --setuid 0 --setgid 0 \
		-m --propagation private -- bash -c '
		LXC_ROOTFS_MOUNT=$1 "$2" --sysroot "$3" hook "$4" lxc mount 2>&1
		echo "rc=$?"
		[ ! -e "$1/'"$DEB"'/libcuda.so.1" ] || cat "$1/'"$DEB"'/libcuda.so.1"
		grep -c " $1/usr/" /proc/self/mountinfo' _ "$h/var/lib/lxc/$1/rootfs" "$LXGPU" "$h" "$1")
	rc=$?
}

# how many names a bind makes in $DEB: those a copy makes in a privileged
# container's (its files, SONAME links and libcuda.so)
mkdir -p "$h/var/lib/lxc/p1/rootfs/etc"
echo 12.9 >"$h/var/lib/lxc/p1/rootfs/etc/debian_version"
echo "lxc.rootfs.path = dir:/var/lib/lxc/p1/rootfs" >"$h/var/lib/lxc/p1/config"
run --sysroot "$h" driver p1 --mode copy --quiet
eq "a privileged container: copy, exit 0" "$rc" 0
N=$(ls -A "$h/var/lib/lxc/p1/rootfs/$DEB" | wc -l)
[ "$N" -gt 20 ] || bail "the copy made only $N names in /$DEB"

# --- attach predicts it
ct u1 "u 0 100000 65536" "g 0 100000 65536"
r=$h/var/lib/lxc/u1/rootfs
run --sysroot "$h" attach u1
eq "attach u1: exit 0" "$rc" 0
contains "attach u1: predicts it in a line, and says which mode works" "$out" \
	"container u1: its root (host uid 100000) may not create the driver's mount targets (/$DEB/libcuda.so.$V and $((N - 1)) more): lxgpu driver u1 --mode copy works, and so does --mode bind, which makes them as the host's root"
run --sysroot "$h" attach p1
eq "attach p1 (privileged): exit 0" "$rc" 0
lacks "attach p1 (privileged): no such line" "$out" "may not create"

# --- driver --mode bind makes the targets as the host's root
run --sysroot "$h" driver u1 --mode bind --dry-run
eq "bind --dry-run: exit 0" "$rc" 0
contains "bind --dry-run: says it would make them" "$out" \
	"container u1: its root (host uid 100000) may not create the driver's mount targets (/$DEB/libcuda.so.$V and $((N - 1)) more): would make them as the host's root"
eq "bind --dry-run: nothing made" "$(ls -A "$r/$DEB" | wc -l)" 0
run --sysroot "$h" check u1 --json
eq "check before bind: no driver yet (exit 3)" "$rc" 3
run --sysroot "$h" driver u1 --mode bind
eq "bind: exit 0" "$rc" 0
contains "bind: says it made them" "$out" "more): made them as the host's root"
eq "bind: the targets, as many as a copy's names" "$(ls -A "$r/$DEB" | wc -l)" "$N"
eq "bind: empty files owned by the container's root" \
	"$(stat -c '%s %u:%g %a' "$r/$DEB/libcuda.so.$V" "$r/$DEB/libnvidia-ml.so.$V" | sort -u)" \
	"0 100000:100000 644"
eq "bind: the SONAME link" "$(readlink "$r/$DEB/libcuda.so.1")" "libcuda.so.$V"
eq "bind: the directory is still the host's root's" "$(stat -c '%u:%g %a' "$r/$DEB")" "0:0 755"
eq "bind: /usr/bin's targets too, owned by the container's root" \
	"$(stat -c '%s %u:%g' "$r/usr/bin/nvidia-smi")" "0 100000:100000"
run --sysroot "$h" driver u1 --mode bind
lacks "bind again: no line (nothing to make)" "$out" "may not create"
run --sysroot "$h" check u1
eq "check after bind: exit 0" "$rc" 0
contains "check after bind: bound at every start" "$out" "✓ driver bound at every start: the host's $V"
as_ct_root u1
eq "hook as the container's root: binds, exit 0" "$out" "rc=0
stand-in for libcuda.so.$V
19"

# --- a driver update: the new version's targets are missing
rm -f "$r/$DEB"/*
run --sysroot "$h" check u1 --json
eq "check, targets missing: exit 3" "$rc" 3
eq "check, targets missing: an error" "$(jqr '.checks[] | select(.id == "driver-targets") | .status')" error
eq "check, targets missing: what" "$(jqr '.checks[] | select(.id == "driver-targets") | .message')" \
	"the driver hook cannot bind: the container's root (host uid 100000) may not create /$DEB/libcuda.so.$V and $((N - 1)) more to bind onto, it starts without the driver"
eq "check, targets missing: the fix names sync and copy" \
	"$(jqr '.checks[] | select(.id == "driver-targets") | .fix')" \
	"lxgpu sync u1 (makes them as the host's root), or lxgpu driver u1 --mode copy"
run --sysroot "$h" check u1
lacks "check, targets missing: no ✓ on the driver row" "$out" "✓ driver bound"
run --sysroot "$h" doctor u1
eq "doctor, targets missing: exit 3" "$rc" 3
contains "doctor, targets missing: the fix" "$out" \
	"fix: lxgpu sync u1 (makes them as the host's root), or lxgpu driver u1 --mode copy"
as_ct_root u1
eq "hook, targets missing: the start goes on, nothing bound or made" "$out" \
	"lxgpu: warning: hook u1: driver $V not bound, the container starts without it: its root may not create /$DEB/libcuda.so.$V (and $((N - 1)) more): run lxgpu sync u1 (makes them as the host's root) or lxgpu driver u1 --mode copy
rc=0
0"
eq "hook, targets missing: nothing left in /$DEB" "$(ls -A "$r/$DEB" | wc -l)" 0
run --sysroot "$h" sync u1 --dry-run
eq "sync --dry-run: exit 3 (would change)" "$rc" 3
contains "sync --dry-run: what it would do" "$out" "u1 would-change: would make $N mount targets of driver $V that its root may not create"
eq "sync --dry-run: nothing made" "$(ls -A "$r/$DEB" | wc -l)" 0
run --sysroot "$h" sync u1
eq "sync: exit 0" "$rc" 0
contains "sync: made them" "$out" "u1 changed: made $N mount targets of driver $V"
run --sysroot "$h" check u1
eq "check after sync: exit 0" "$rc" 0

# --- the kernel's rules, from the config's idmap
ct u2 "u 0 100000 65536" "g 0 100000 65536"
chmod 1777 "$h/var/lib/lxc/u2/rootfs/$DEB"
run --sysroot "$h" attach u2
lacks "a root-owned /$DEB writable by all (1777): nothing predicted" "$out" "may not create"
ct u3 "u 0 200000 65536" "g 0 200000 65536"
chown -R 0:0 "$h/var/lib/lxc/u3/rootfs"
chown 100000:100000 "$h/var/lib/lxc/u3/rootfs/$DEB"
run --sysroot "$h" attach u3
contains "idmap to 200000, /$DEB owned by 100000: predicted from the config's map" "$out" \
	"container u3: its root (host uid 200000) may not create the driver's mount targets"
ct u4 "u 0 200000 65536" "g 0 200000 65536"
chown -R 200000:200000 "$h/var/lib/lxc/u4/rootfs"
run --sysroot "$h" attach u4
lacks "idmap to 200000, its root's own dirs: nothing predicted" "$out" "may not create"
ct u5
run --sysroot "$h" attach u5
lacks "no idmap (privileged), a root-owned /$DEB: nothing predicted" "$out" "may not create"

done_testing
