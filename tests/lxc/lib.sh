# shellcheck shell=bash
# What the real-LXC tests (attach.sh, driver.sh, guard.sh) share: TAP
# helpers, the checks that make them skip, the lock they take, and the fake
# NVIDIA nodes they make in the real /dev. Sourced; defines functions and
# constants and checks the environment, nothing more.
#
# The nodes are mode 0666 with no driver behind them, so in a container ENXIO
# means "the cgroup allowed the open" and EPERM "the cgroup refused it"; that
# holds only while no driver owns their majors here (lxc_skip_if_majors).
# Every node made goes first into $STATE; cleanup removes those, and so does
# the next run when a killed one left them.
set -u
: "${LXGPU:?set LXGPU to the lxgpu binary}" "${MKHOST:?}" "${HOSTS:?}"

# The lock and the node list are the host's, wherever the tests run: in a
# chroot that shares this /dev (scripts/test-trixie.sh) LXGPU_LXC_TEST_RUN
# names where the host's /run is mounted.
LOCK=${LXGPU_LXC_TEST_RUN:-/run}/lxgpu-lxc-test.lock   # one real-LXC test at a time: they share /dev
STATE=${LXGPU_LXC_TEST_RUN:-/run}/lxgpu-lxc-test.nodes # the real /dev nodes these tests made

# ------------------------------------------------------------------ TAP ----
# shellcheck source=../tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
bail() { echo "Bail out! $*"; exit 1; }
# ran DESC EXPECTED_RC: the last lx (or driver.sh's lx_host) exited so; lx
# sets $out, $err and $rc
# shellcheck disable=SC2154 # lx sets them
ran() {
	if [ "$rc" = "$2" ]; then ok "$1"; else
		not_ok "$1"
		printf 'exit %s, expected %s\nstdout: %s\nstderr: %s\n' "$rc" "$2" "$out" "$err" | diag
	fi
}
line() { sed -n "$1p"; } # line N <<<TEXT
# change BEFORE AFTER: what turned config BEFORE into AFTER: added lines as
# they are, removed lines with a leading "-"
change() { diff --unchanged-line-format= --old-line-format='-%L' --new-line-format='%L' "$1" "$2"; }

# ------------------------------------------------------------ testbed ----
# after lxc_skips: TB, and W (the testbed's WORKDIR) from lxc_tmp
tb() { "$TB" "$@" 2>>"$TMP/testbed.log"; }
stop() { tb stop "$W" "$1" -k; }
# start NAME [WHY]: lxc-start NAME as a test; when it fails, the errors of
# LXC's log, and bail out (nothing after it can run)
start() {
	if tb start "$W" "$1"; then ok "lxc-start $1${2:+ ($2)}"; else
		not_ok "lxc-start $1${2:+ ($2)}"
		grep -E 'ERROR|WARN|lxgpu' "$W/logs/$1.log" 2>/dev/null | tail -n 20 | diag
		bail "container $1 did not start"
	fi
}

# ---------------------------------------------------------------- skips ----
# lxc_need_root [ALSO]: skip unless root; ALSO: what else needs it
# shellcheck disable=SC2120 # ALSO is for guard.sh
lxc_need_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (real containers, mknod in /dev${1:+, $1})"
}
# lxc_skips [CMD...]: skip without lxc, busybox, uidmap, nsenter, flock and
# the CMDs, or without cgroup2; sets $TB, the testbed (testbed.sh here)
# shellcheck disable=SC2120 # no CMD for guard.sh
lxc_skips() {
	local c
	TB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/testbed.sh
	command -v lxc-start >/dev/null || skip_all "lxc-start not installed (apt-get install lxc busybox-static uidmap)"
	for c in busybox newuidmap nsenter flock "$@"; do
		command -v "$c" >/dev/null || skip_all "$c not installed (apt-get install lxc busybox-static uidmap)"
	done
	grep -qw cgroup2 /proc/filesystems || skip_all "kernel has no cgroup2"
}
# lxc_skip_if_majors MAJOR...: skip when a driver owns one of these char
# majors here. ENXIO means "allowed, no driver" only while none does.
lxc_skip_if_majors() {
	local list
	if awk -v majors="$*" 'BEGIN { split(majors, m, " "); for (i in m) want[m[i]] = 1 }
		/^Block/ { exit } $1 in want { f = 1 } END { exit !f }' /proc/devices; then
		list=$(printf '%s, ' "$@")
		list=${list%, }
		[ $# -lt 2 ] || list="${list%, *} or ${list##*, }"
		skip_all "a driver owns char major $list on this host: the fake nodes would reach it"
	fi
}

# ----------------------------------------------------------- the nodes ----
# lxc_forget_nodes: remove the nodes listed in $STATE that are still what
# was made (a path reused for another major:minor stays), then the list
lxc_forget_nodes() {
	local path maj min
	[ -f "$STATE" ] || return 0
	while read -r path maj min; do
		[ -c "$path" ] && [ "$(stat -c '%t:%T' "$path")" = "$(printf '%x:%x' "$maj" "$min")" ] &&
			rm -f "$path"
	done <"$STATE"
	rm -f "$STATE"
}
# lxc_lock: wait for the other real-LXC tests, then remove the nodes left by
# an earlier run that was killed before its cleanup
lxc_lock() {
	exec 9>"$LOCK"
	flock -w 300 9 || skip_all "another run of a real-LXC test holds $LOCK"
	lxc_forget_nodes
}
# lxc_skip_if_nvidia_nodes: skip when /dev/nvidia* exists (after lxc_lock:
# then none is ours)
lxc_skip_if_nvidia_nodes() {
	local existing
	existing=$(compgen -G '/dev/nvidia*' | paste -sd ' ')
	[ -z "$existing" ] || skip_all "real NVIDIA nodes exist ($existing): this test makes its own fake ones"
}
# mkdev PATH MAJ MIN: a 0666 node in the real /dev, listed first in $STATE
mkdev() {
	echo "$1 $2 $3" >>"$STATE"
	rm -f "$1"
	mknod -m 0666 "$1" c "$2" "$3" || bail "mknod $1 c $2 $3"
}
# lxc_make_nodes FAKE NAME...: a new $STATE, and /dev/NAME for each NAME as
# the fake host FAKE has it (major:minor)
lxc_make_nodes() {
	local fake=$1 n hex maj min
	shift
	: >"$STATE"
	for n in "$@"; do
		hex=$(stat -c '%t %T' "$fake/dev/$n") || bail "fake host has no /dev/$n"
		read -r maj min <<<"$hex"
		mkdev "/dev/$n" $((16#$maj)) $((16#$min))
	done
}

# ------------------------------------------------------------- cleanup ----
# lxc_tmp PREFIX: TMP, a new temp dir; W, the testbed's WORKDIR in it; FAKE,
# the fake host's root
# shellcheck disable=SC2034 # the caller's
lxc_tmp() {
	TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	# unprivileged containers' root (uid 100000) walks through it: to its
	# rootfs, and in driver.sh its hook to the fake host
	chmod 755 "$TMP"
	W=$TMP/tb
	FAKE=$TMP/host
}
# lxc_remove_tmp: rm -rf $TMP, unless something is mounted below it (then
# rm would reach into the mount)
lxc_remove_tmp() {
	if grep -qF " $TMP" /proc/self/mountinfo; then
		echo "# left $TMP in place: something is still mounted below it" >&2
	else
		rm -rf "$TMP"
	fi
}
# lxc_cleanup: the testbed's containers, the nodes, the temp dir
lxc_cleanup() {
	"$TB" cleanup "$W" >/dev/null 2>&1 || true
	lxc_forget_nodes
	lxc_remove_tmp
}
# lxc_traps CLEANUP: run CLEANUP on exit, also on failure, INT or TERM
lxc_traps() {
	# shellcheck disable=SC2064 # $1 now: the function's name
	trap "$1" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# driver_host A B: the fake host $FAKE ($SPEC with NVIDIA's driver A, the
# driver-files section of $DRIVER_SPEC) and the host specs of the driver for
# mkhost: $TMP/driver-A.spec, and $TMP/driver-B.spec, the host's driver
# updated from A to B in place; $W/lxc made on the host and in $FAKE
driver_host() {
	local a=$1 b=$2
	awk '/^# == driver-files/ { f = 1 } f' "$DRIVER_SPEC" >"$TMP/driver-$a.spec"
	grep -q "^ldcache /etc/ld.so.cache" "$TMP/driver-$a.spec" ||
		bail "$DRIVER_SPEC has no driver-files section with an ldcache"
	{
		echo "# the host's driver updated from $a to $b"
		awk '$1 == "line" || $1 == "elf" { print "remove", $2 }' "$TMP/driver-$a.spec"
		sed "s/${a//./\\.}/$b/g" "$TMP/driver-$a.spec"
		echo "file /proc/driver/nvidia/version <<END"
		echo "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  $b  Release Build  (dvs-builder@U22-I3-AF03-09-1)  "
		echo "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14) "
		echo "END"
		echo "line /sys/module/nvidia/version $b"
		echo "line /sys/module/nvidia_uvm/version $b"
	} >"$TMP/driver-$b.spec"
	if ! "$MKHOST" "$SPEC" "$TMP/driver-$a.spec" "$FAKE" >"$TMP/mkhost.log" 2>&1; then
		diag <"$TMP/mkhost.log"
		bail "mkhost $SPEC + driver $a failed"
	fi
	mkdir -p "$W/lxc" "$FAKE$W/lxc" "$FAKE/proc/net"
}

# lxgpu_for_ct_root: the hook runs `$LXGPU --sysroot $FAKE hook`, in an
# unprivileged container as host uid 100000: that uid must reach the binary
# (else $LXGPU becomes a copy in $TMP/bin)
lxgpu_for_ct_root() {
	setpriv --reuid 100000 --regid 100000 --clear-groups -- "$LXGPU" --help >/dev/null 2>&1 && return
	echo "# $LXGPU is not executable by uid 100000 (an unprivileged container's root): using a copy in $TMP"
	mkdir -p "$TMP/bin"
	cp "$LXGPU" "$TMP/bin/lxgpu"
	chmod 755 "$TMP/bin" "$TMP/bin/lxgpu"
	LXGPU=$TMP/bin/lxgpu
}

# lx_fake ARGS...: lxgpu --sysroot $FAKE --lxcpath $W/lxc ARGS, $W/lxc seen at
# $FAKE$W/lxc and this machine's LXC sockets in $FAKE; sets $out, $err, $rc
lx_fake() {
	cat /proc/net/unix >"$FAKE/proc/net/unix"
	# shellcheck disable=SC2016 # expanded by the inner sh
	out=$(unshare -m --propagation private -- sh -c \
		'mount --bind "$1" "$2" || exit 99; shift 2; exec "$@"' \
		sh "$W/lxc" "$FAKE$W/lxc" "$LXGPU" --sysroot "$FAKE" --lxcpath "$W/lxc" "$@" 2>"$TMP/stderr")
	rc=$?
	err=$(cat "$TMP/stderr")
}
