#!/bin/bash
# testbed.sh: real LXC containers for tests/lxc/*.sh (busybox, no network,
# offline), kept in WORKDIR, as root:
#
#   testbed.sh create  WORKDIR NAME priv|unpriv   lxc-create -t busybox
#   testbed.sh start   WORKDIR NAME               lxc-start -d, log at DEBUG; 0 once RUNNING
#   testbed.sh stop    WORKDIR NAME [-k]          clean stop, or -k: kill
#   testbed.sh attach  WORKDIR NAME -- CMD...     CMD inside the container
#   testbed.sh probe   WORKDIR NAME PATH [r|w|rw] open PATH inside: OK, EPERM,
#                                                 EACCES, ENXIO, ENOENT or ERR:...
#   testbed.sh run     WORKDIR -- CMD...          CMD where LXC runs (see below)
#   testbed.sh cleanup WORKDIR                    every container gone, and the namespace
#
# Layout: WORKDIR/lxc/NAME/config (pass -P WORKDIR/lxc to lxc-* yourself),
# WORKDIR/logs/NAME.log (lxc-start's log: what a hook printed is in its DEBUG
# entries), WORKDIR/logs/NAME.create.out (lxc-create's output).
#
# Where LXC runs. Proxmox VE 8 and 9 hosts mount cgroup2 alone at
# /sys/fs/cgroup; there LXC runs in the caller's mount namespace. On a host
# with cgroup v1 hierarchies beside cgroup2 (/sys/fs/cgroup/unified), LXC 5
# ignores every lxc.cgroup2.* key ("Ignoring cgroup2 limits on legacy cgroup
# system") and would enforce v1 device rules instead, which is not what a
# Proxmox host does. There the testbed keeps one mount namespace per WORKDIR,
# held by a bind mount of its nsfs file at WORKDIR/ns/mnt, in which
# /sys/fs/cgroup is a plain cgroup2 mount, and runs lxc-start (and `run`) in
# it. lxc-attach, lxc-info and lxc-stop work from outside too: they talk to
# the container's monitor through its abstract socket.
#
# Unprivileged containers are mapped to host ids 100000-165535, as Proxmox
# maps them, and get Proxmox's device deny-list (everything allowed; the
# lines of pve-container's src/lxc-pve-userns.conf). lxc-start maps them with
# newuidmap, which needs root's ranges in /etc/subuid and /etc/subgid: create
# adds the line `root:100000:65536` to each where it is missing. Their root
# (host uid 100000) must traverse WORKDIR to reach the rootfs: create gives
# WORKDIR and WORKDIR/lxc o+x (a mktemp -d directory is 0700), and WORKDIR
# must lie below world-traversable directories (/tmp, not /root).
#
# Never installs packages: the caller checks that lxc, busybox-static and
# uidmap are there (tests/lxc/lib.sh lxc_skips).
# shellcheck disable=SC2016 # single-quoted scripts expand inside the container or sh -c
set -euo pipefail

die() { echo "testbed: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root"

# paths WORKDIR: W, LXCPATH, LOGS, NSDIR, NSFILE
paths() {
	[ -n "${1:-}" ] || die "WORKDIR missing"
	mkdir -p "$1/lxc" "$1/logs"
	W=$(cd "$1" && pwd -P)
	LXCPATH=$W/lxc
	LOGS=$W/logs
	NSDIR=$W/ns
	NSFILE=$NSDIR/mnt
}

pure_cgroup2() { [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; }

# ns_up: the namespace with cgroup2 alone at /sys/fs/cgroup, unless there is
# one already or none is needed
ns_up() {
	pure_cgroup2 && return 0
	[ -e "$NSFILE" ] && nsenter --mount="$NSFILE" true 2>/dev/null && return 0
	mkdir -p "$NSDIR"
	# unshare can bind the nsfs file only below a mount that is not shared
	mountpoint -q "$NSDIR" || mount --bind "$NSDIR" "$NSDIR"
	mount --make-private "$NSDIR"
	: >"$NSFILE"
	unshare --mount="$NSFILE" --propagation private sh -c \
		'umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup; mount -t cgroup2 cgroup2 /sys/fs/cgroup' ||
		die "no mount namespace with cgroup2 at /sys/fs/cgroup"
}
ns_down() {
	if [ -e "$NSFILE" ]; then umount "$NSFILE" 2>/dev/null || true; fi
	if mountpoint -q "$NSDIR"; then umount "$NSDIR" 2>/dev/null || umount -l "$NSDIR"; fi
	rm -rf "$NSDIR"
}
# in_ns CMD...: CMD where LXC runs
in_ns() {
	if pure_cgroup2; then "$@"; else
		ns_up
		nsenter --mount="$NSFILE" --wd="$PWD" -- "$@"
	fi
}

# base_config priv|unpriv: what lxc-create starts from; the busybox template
# adds its own lines after these
base_config() {
	printf '%s\n' 'lxc.include = /usr/share/lxc/config/common.conf' 'lxc.net.0.type = empty' \
		'lxc.apparmor.profile = unconfined' # hosts with AppArmor: no profile to load for busybox
	[ "$1" = unpriv ] || return 0
	printf '%s\n' 'lxc.include = /usr/share/lxc/config/userns.conf' \
		'lxc.cgroup2.devices.deny =' 'lxc.cgroup2.devices.allow =' 'lxc.cgroup2.devices.allow = a' \
		'lxc.idmap = u 0 100000 65536' 'lxc.idmap = g 0 100000 65536'
}

# subids: root's ranges for newuidmap/newgidmap
subids() {
	local f
	for f in /etc/subuid /etc/subgid; do
		grep -qx 'root:100000:65536' "$f" 2>/dev/null || echo 'root:100000:65536' >>"$f"
	done
}

create() { # NAME priv|unpriv
	local name=$1 kind=$2
	case $kind in priv | unpriv) ;; *) die "create: priv or unpriv, not '$kind'" ;; esac
	destroy "$name"
	if [ "$kind" = unpriv ]; then
		subids
		chmod o+x "$W" "$LXCPATH"
	fi
	base_config "$kind" >"$LOGS/$name.create.conf"
	in_ns lxc-create -P "$LXCPATH" -n "$name" -t busybox -f "$LOGS/$name.create.conf" \
		>"$LOGS/$name.create.out" 2>&1 || { cat "$LOGS/$name.create.out" >&2; die "lxc-create $name failed"; }
}
start() { # NAME
	in_ns lxc-start -P "$LXCPATH" -n "$1" -d -l DEBUG -o "$LOGS/$1.log" &&
		lxc-wait -P "$LXCPATH" -n "$1" -s RUNNING -t 10
}
stop() { # NAME [-k]
	local state
	state=$(lxc-info -P "$LXCPATH" -n "$1" -sH 2>/dev/null) || return 0
	[ "$state" != STOPPED ] || return 0
	# busybox's init stops on SIGUSR1 (the template's lxc.signal.halt), in ~2 s
	if [ "${2:-}" = -k ] || ! lxc-stop -P "$LXCPATH" -n "$1" -t 10 >/dev/null 2>&1; then
		lxc-stop -P "$LXCPATH" -n "$1" -k >/dev/null 2>&1 || true
	fi
}
destroy() { # NAME
	[ -f "$LXCPATH/$1/config" ] || return 0
	stop "$1" -k
	lxc-destroy -P "$LXCPATH" -n "$1" >/dev/null 2>&1 || rm -rf --one-file-system "${LXCPATH:?}/$1"
}
attach() { # NAME [--] CMD...
	local name=$1
	shift
	[ "${1:-}" != -- ] || shift
	lxc-attach -P "$LXCPATH" -n "$name" -- "$@"
}
# probe NAME PATH [MODE]: the shell's message for a failed open, as an errno name
probe() {
	attach "$1" -- /bin/sh -c '
		[ -e "$1" ] || { echo ENOENT; exit 0; }
		case $2 in
		r) e=$( { true <"$1"; } 2>&1 ) ;;
		w) e=$( { true >"$1"; } 2>&1 ) ;;
		*) e=$( { true <>"$1"; } 2>&1 ) ;;
		esac && { echo OK; exit 0; }
		case $e in
		*"Operation not permitted"*) echo EPERM ;;
		*"Permission denied"*) echo EACCES ;;
		*"No such device or address"*) echo ENXIO ;;
		*"No such file"*) echo ENOENT ;;
		*) echo "ERR:$e" ;;
		esac' sh "$2" "${3:-rw}"
}
cleanup() {
	local d names=()
	for d in "$LXCPATH"/*/; do
		[ -f "$d/config" ] || continue
		names+=("$(basename "$d")")
		destroy "${names[-1]}"
	done
	# LXC 5.0 leaves an empty lxc.monitor.NAME[-N] or lxc.pivot cgroup behind
	# now and then ("Failed to destroy ... busy"); rmdir takes empty ones only
	[ ${#names[@]} -eq 0 ] || in_ns sh -c 'cd /sys/fs/cgroup || exit 0
		for n; do
			for d in lxc.monitor."$n" lxc.monitor."$n"-* lxc.payload."$n" lxc.payload."$n"-* lxc.pivot; do
				[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
			done
		done; true' sh "${names[@]}"
	ns_down
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: testbed.sh create|start|stop|attach|probe|run|cleanup WORKDIR ..."
paths "$2"
shift 2
case $cmd in
create) create "${1:?NAME}" "${2:?priv|unpriv}" ;;
start) start "${1:?NAME}" ;;
stop) stop "${1:?NAME}" "${2:-}" ;;
attach) attach "${1:?NAME}" "${@:2}" ;;
probe) probe "${1:?NAME}" "${2:?PATH}" "${3:-rw}" ;;
run)
	[ "${1:-}" != -- ] || shift
	in_ns "$@"
	;;
cleanup) cleanup ;;
*) die "unknown command '$cmd'" ;;
esac
