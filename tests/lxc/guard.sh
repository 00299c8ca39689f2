#!/bin/bash
# lxgpu's pre-start hook in real LXC containers (TAP): the start-time guard
# (attach --guard) and the nodes it makes for unprivileged containers.
#
#   guard:  a privileged container attached to GPU 0 of the fake host
#           tests/hosts/two-fake-gpus.spec with --guard starts while host and
#           config agree (its nodes open with ENXIO: allowed, no driver). The
#           host's nvidia-uvm then moves from major 238 to 237 (/proc/devices
#           and the nodes): the guard refuses the start, with "... run lxgpu
#           sync NAME" in the container's log; after `lxgpu sync` it starts
#           and opens the uvm node again, and a missing /dev/nvidia-uvm-tools
#           is made by the guard on the way (as nvidia-modprobe would). A
#           LXGPU_DEVICES naming a GPU this host lacks is refused ("GPU GPU-...
#           is not on this node"); so is a libnvidia-ml of another version
#           copied into the container. Each reason must be one entry of the
#           log (and, with strace, one write(2) of the hook). The same stale
#           config without the hook line starts (the guard is opt-in), and its
#           uvm node gives EPERM: the rule names the old major.
#   nodes:  an unprivileged container (lxc.idmap 0 100000 65536) attached
#           with --style raw --gid 107 to the Intel iGPU of
#           tests/hosts/intel-n100.spec (renderD128 c 226:128, 0660
#           root:render; the dry run without --gid takes the gids from the
#           container's /etc/group): lxgpu's hook mounts a tmpfs at
#           /run/lxgpu/NAME and makes the node there, owned by the container's
#           root and render group through its idmap (host 100000:100107).
#           Inside it is root:render; a user in render opens it (ENXIO), one
#           who is not gets EACCES. Two restarts: one tmpfs at /run/lxgpu/NAME
#           each time, a new one (born later, the marker and the changed mode
#           left in the last one gone). After each stop, lxgpu's post-stop
#           hook has unmounted the tmpfs and removed its mount point.
#   leaks:  at the end no /dev/nvidia*, no /run/lxgpu mount on the host, and
#           /run/lxgpu as before.
#
# How the two views of the host are aligned. lxgpu runs as `lxgpu --sysroot
# FAKE --lxcpath WORKDIR/lxc`, and so does the hook line it writes: it reads
# and writes host paths below FAKE. LXC resolves lxc.mount.entry sources
# (/dev/nvidia-uvm, /run/lxgpu/NAME/dev/dri/renderD128) on the real host, and
# runs pre-start hooks in its own mount namespace: here the testbed's
# (testbed.sh beside this file), where /sys/fs/cgroup is cgroup2.
# So after the first lxc-create this test adds, in that namespace only:
#   - WORKDIR/lxc bound at FAKE/WORKDIR/lxc (and FAKE2/...): the hook reads
#     LXC_CONFIG_FILE and LXC_ROOTFS_PATH below its --sysroot (as driver.sh);
#   - the real /dev bound at FAKE/dev: the nodes the guard checks and repairs
#     are the very nodes LXC binds into the container. The test makes the fake
#     host's NVIDIA nodes in the real /dev (0666, no driver: majors 195, 238
#     and 237 must be unregistered here), listed in /run/lxgpu-lxc-test.nodes
#     like attach.sh's, before it or the guard can make them;
#   - a directory RUNDIR, made a shared mount and bound at /run/lxgpu and at
#     FAKE2/run/lxgpu: the three are one peer group, so the tmpfs the hook
#     mounts at FAKE2/run/lxgpu/NAME propagates to /run/lxgpu/NAME, where
#     LXC's mount entry looks (a plain second bind would not show it). The
#     real /run/lxgpu is only an (empty) mount point; made if missing.
# lxgpu's own commands (attach, sync) run there too (`testbed.sh run`).
# That namespace goes with the testbed's cleanup, and everything mounted in
# it; where the testbed needs none (pure cgroup2 hosts) the test re-executes
# itself in a private mount namespace, so nothing reaches the host's mounts.
#
# LXGPU_GUARD_TEST_BREAK=noguard|gid|stack|leak runs it deliberately wrong,
# to see the checks fail (below).
#
# Needs root, lxc, busybox-static and uidmap (strace optional); skips (1..0 # SKIP) without them,
# when a driver owns char major 195, 226, 237 or 238 here, or when
# /dev/nvidia* exists already. Shares lib.sh's lock and node list in /run.
# Removes its containers, nodes, mounts and temp dirs on exit, failed or not.
# shellcheck disable=SC2016 # single-quoted scripts expand inside the container or sh -c
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SPEC=$HOSTS/two-fake-gpus.spec
DRI_SPEC=$HOSTS/intel-n100.spec
NODES="nvidia0 nvidia1 nvidiactl nvidia-uvm nvidia-uvm-tools" # as in $SPEC
UUID0=GPU-fa4e0000-0000-4000-8000-000000000000
GONE=GPU-fa4e0000-0000-4000-8000-0000000000ff # on no host
OLDUVM=238                                    # nvidia-uvm's major in $SPEC
NEWUVM=237                                    # ... after the host's "kernel update"
HOSTDRV=580.159.04                            # $SPEC's driver
OTHERDRV=570.86.10
RENDER=107 # the container's render gid (the host's is 104)
VIDEO=44
GUARD=lxgpu-grd-priv
UNPRIV=lxgpu-grd-unpriv
RUNSTATE=/run/lxgpu-lxc-test.rundir # present: this test made /run/lxgpu
# LXGPU_GUARD_TEST_BREAK: a deliberately wrong run, to see the checks fail:
# noguard (attach without --guard), gid (the unprivileged container's render
# gid is taken as 1001), stack (an extra tmpfs at /run/lxgpu/NAME before each
# restart), leak (the real /dev nodes are left for the next run to remove)
BREAK=${LXGPU_GUARD_TEST_BREAK:-}

# ---------------------------------------------------------------- skips ----
lxc_need_root mounts
command -v unshare >/dev/null || skip_all "unshare not installed (util-linux)"
# Where /sys/fs/cgroup is cgroup2 the testbed runs LXC in the caller's mount
# namespace: then the whole test runs in a private one. (Elsewhere it makes a
# namespace of its own, and must: `unshare --mount=FILE` in a namespace made
# by unshare -m fails now and then with EINVAL on kernel 6.18.)
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] && [ -z "${LXGPU_GUARD_TEST_NS:-}" ]; then
	LXGPU_GUARD_TEST_NS=1 exec unshare -m --propagation private -- "$BASH" "$0" "$@"
fi
lxc_skips
lxc_skip_if_majors 195 226 237 238
lxc_lock
# the /run/lxgpu an earlier run that was killed before its cleanup made
if [ -f "$RUNSTATE" ]; then
	rmdir /run/lxgpu 2>/dev/null
	rm -f "$RUNSTATE"
fi
lxc_skip_if_nvidia_nodes

# -------------------------------------------------------------- cleanup ----
t0=$(date +%s%N)
lxc_tmp lxgpu-lxc-grd # FAKE: two NVIDIA GPUs (the guard part)
FAKE2=$TMP/dri        # an Intel iGPU (the unprivileged part)
RUNDIR=$TMP/run # what /run/lxgpu and FAKE2/run/lxgpu show in LXC's namespace
cleaned=
aligned=
cleanup() {
	[ -n "$cleaned" ] && return 0
	cleaned=1
	[ -z "${creating:-}" ] || wait "$creating" 2>/dev/null
	# the hook's tmpfs and the test's binds live in the testbed's namespace,
	# which goes when its containers are gone and its nsfs file is unmounted
	if [ -n "$aligned" ]; then
		"$TB" run "$W" -- sh -c 'umount -R -l /run/lxgpu "$1" "$2/run/lxgpu" "$3/dev" "$3$4/lxc" "$2$4/lxc"' \
			sh "$RUNDIR" "$FAKE2" "$FAKE" "$W" >/dev/null 2>&1
	fi
	"$TB" cleanup "$W" >/dev/null 2>&1 || true
	[ "$BREAK" = leak ] || lxc_forget_nodes
	if [ -f "$RUNSTATE" ]; then
		rmdir /run/lxgpu 2>/dev/null
		rm -f "$RUNSTATE"
	fi
	lxc_remove_tmp
}
lxc_traps cleanup

# ---------------------------------------------------------------- setup ----
"$MKHOST" "$DRI_SPEC" "$FAKE2" >"$TMP/mkhost2.log" 2>&1 &
mkhost2=$!
if ! "$MKHOST" "$SPEC" "$FAKE" >"$TMP/mkhost.log" 2>&1; then
	diag <"$TMP/mkhost.log"
	bail "mkhost $SPEC failed"
fi
if ! wait "$mkhost2"; then
	diag <"$TMP/mkhost2.log"
	bail "mkhost $DRI_SPEC failed"
fi
mkdir -p "$W/lxc" "$FAKE$W/lxc" "$FAKE2$W/lxc" "$FAKE/proc/net" "$FAKE2/proc/net" \
	"$FAKE2/run/lxgpu" "$RUNDIR"
LXGPU_ABS=$(readlink -f "$LXGPU")
FAKE_ABS=$(cd "$FAKE" && pwd -P)
FAKE2_ABS=$(cd "$FAKE2" && pwd -P)
had_run=$(ls -ld /run/lxgpu 2>&1)
if [ ! -d /run/lxgpu ]; then
	touch "$RUNSTATE"
	mkdir /run/lxgpu || bail "mkdir /run/lxgpu"
fi

# shellcheck disable=SC2086 # NODES: a list of names
lxc_make_nodes "$FAKE" $NODES
# the uvm nodes under the new major may come from the test or from the guard
echo "/dev/nvidia-uvm $NEWUVM 0" >>"$STATE"
echo "/dev/nvidia-uvm-tools $NEWUVM 1" >>"$STATE"
# what the real /dev has: PATH MAJOR:MINOR (decimal), a line each, or "absent"
devs() {
	local p a b
	for p in "$@"; do
		if [ -c "$p" ]; then
			read -r a b < <(stat -c '%t %T' "$p")
			echo "$p $((16#$a)):$((16#$b))"
		else echo "$p absent"; fi
	done
}

# in_tb CMD...: CMD in LXC's (the testbed's) mount namespace
in_tb() { "$TB" run "$W" -- "$@" 2>>"$TMP/testbed.log"; }
create() { # NAME priv|unpriv
	tb create "$W" "$1" "$2" >/dev/null || { tail -n 20 "$TMP/testbed.log" "$W/logs/$1.create.out" 2>&1 | diag; bail "lxc-create $1 failed"; }
}
# start NAME: lxc-start (its log, WORKDIR/logs/NAME.log, emptied first); 0 when RUNNING
start() {
	: >"$W/logs/$1.log"
	tb start "$W" "$1"
}
started() { # DESC NAME
	if start "$2"; then ok "$1"; else
		not_ok "$1"
		grep -E 'ERROR|WARN|lxgpu' "$W/logs/$2.log" 2>/dev/null | tail -n 20 | diag
		bail "container $2 did not start"
	fi
}
# refused DESC NAME HEAD TAIL: lxc-start fails, NAME stays stopped, and the
# container's log has lxgpu's reason, "lxgpu: hook NAME: refused: HEAD...TAIL".
# Where: the testbed starts containers with `lxc-start -l DEBUG -o
# WORKDIR/logs/NAME.log`, and LXC 5.0 logs what a hook prints as DEBUG
# entries "Script exec CMD NAME lxc pre-start produced output: TEXT" (at the
# default level, ERROR, only "Failed to run lxc.hook.pre-start"). Two checks:
# the reason (the TEXTs joined), and that it is one entry: LXC logs each read
# of the hook's output apart, so a line written in pieces may come out split
# ("produced output: lxgpu: " and then the rest). Sets $why: the TEXTs joined.
refused() {
	local log=$W/logs/$2.log
	if start "$2"; then
		not_ok "$1"
		echo "it started" | diag
		stop "$2"
	elif [ "$(lxc-info -P "$W/lxc" -n "$2" -sH 2>&1)" != STOPPED ]; then
		not_ok "$1"
		lxc-info -P "$W/lxc" -n "$2" 2>&1 | diag
	else
		ok "$1"
	fi
	why=$(sed -n 's/^.* pre-start produced output: //p' "$log" | tr -d '\n')
	if [[ $why == "lxgpu: hook $2: refused: $3"*"$4" ]]; then ok "$1: the reason in the log"; else
		not_ok "$1: the reason in the log"
		printf 'got:      %s\nexpected: %s...%s\n' "$why" "lxgpu: hook $2: refused: $3" "$4" | diag
		grep -E 'run_buffer|pre-start' "$log" | diag
	fi
	echo "$why" | diag
	eq "$1: the reason is one entry of the log" \
		"$(grep -F "pre-start produced output: lxgpu: hook $2: refused: $3" "$log" | grep -cF "$4")" 1
}
# inside NAME SCRIPT: sh -c SCRIPT in the container, its stderr with its stdout
# (lxc-attach works from outside the testbed's namespace, and is faster)
inside() { lxc-attach -P "$W/lxc" -n "$1" -- /bin/sh -c "exec 2>&1; $2"; }
# probe NAME PATH [USER]: open PATH read-write in the container, as root or
# as USER (su: groups from the container's /etc/group): OK, ENXIO, EACCES,
# EPERM, ENOENT or ERR:...
probe() {
	local open='p=$1
		[ -e "$p" ] || { echo ENOENT; exit 0; }
		e=$( { true <>"$p"; } 2>&1 ) && { echo OK; exit 0; }
		case $e in
		*"Permission denied"*) echo EACCES ;;
		*"No such device or address"*) echo ENXIO ;;
		*"Operation not permitted"*) echo EPERM ;;
		*) echo "ERR:$e" ;;
		esac'
	if [ -n "${3:-}" ]; then
		lxc-attach -P "$W/lxc" -n "$1" -- su -s /bin/sh "$3" -c "set -- $2; $open" 2>&1
	else
		lxc-attach -P "$W/lxc" -n "$1" -- /bin/sh -c "$open" sh "$2" 2>&1
	fi
}
# lx ARGS...: lxgpu --sysroot $HOST --lxcpath W/lxc ARGS in LXC's namespace;
# sets $out, $err, $rc
lx() {
	cat /proc/net/unix >"$HOST/proc/net/unix" # LXC's command sockets: which containers run
	out=$("$TB" run "$W" -- "$LXGPU" --sysroot "$HOST" --lxcpath "$W/lxc" "$@" 2>"$TMP/stderr")
	rc=$?
	err=$(cat "$TMP/stderr")
}
# tmpfs_facts: what LXC's namespace has at /run/lxgpu/$UNPRIV, a line each:
# how many mounts, their types, the node (type, major:minor in hex, mode,
# owner), the birth time of the tmpfs's root (mount ids are reused, that is
# not), the entries
tmpfs_facts() { in_tb sh "$TMP/facts.sh" "/run/lxgpu/$UNPRIV"; }
# host_mounts: the mounts under /run/lxgpu that the host's (pid 1's) namespace has
host_mounts() { awk '$5 ~ "^/run/lxgpu(/|$)" { print $5 }' /proc/1/mountinfo | paste -sd ' '; }

cat >"$TMP/facts.sh" <<'SH'
awk -v p="$1" '$5 == p { n++ } END { print n + 0 }' /proc/self/mountinfo
findmnt -n -o FSTYPE --mountpoint "$1" | paste -sd ' '
stat -c '%F %t:%T %a %u:%g' "$1/dev/dri/renderD128" 2>&1
stat -c %w "$1" 2>&1
ls -A "$1" | paste -sd ' '
SH

# ------------------------------------------------- the two views, aligned ----
create "$GUARD" priv # also makes the testbed's namespace, where the binds go
if ! in_tb sh -c 'set -e
	mount --bind "$1/lxc" "$2$1/lxc"
	mount --bind "$1/lxc" "$3$1/lxc"
	mount --bind /dev "$2/dev"
	mount --bind "$4" "$4"
	mount --make-private "$4"
	mount --make-shared "$4"
	mount --bind "$4" /run/lxgpu
	mount --bind "$4" "$3/run/lxgpu"' sh "$W" "$FAKE" "$FAKE2" "$RUNDIR"; then
	tail -n 5 "$TMP/testbed.log" | diag
	bail "could not align the fake hosts with LXC's view"
fi
aligned=1
# the unprivileged container meanwhile (lxc-create takes seconds)
tb create "$W" "$UNPRIV" unpriv >/dev/null 2>"$TMP/create-unpriv.log" &
creating=$!
eq "real /dev has the fake host's nodes; LXC's namespace sees them at FAKE/dev" \
	"$(in_tb sh -c 'cd "$1/dev" && stat -c "%n %t:%T %a" $2' sh "$FAKE" "$NODES" | tr '\n' ';')" \
	"nvidia0 c3:0 666;nvidia1 c3:1 666;nvidiactl c3:ff 666;nvidia-uvm ee:0 666;nvidia-uvm-tools ee:1 666;"

# ------------------------------------------- guard, privileged container ----
echo "# --guard: privileged container $GUARD, fake host with nvidia-uvm on $OLDUVM"
HOST=$FAKE
cfg=$W/lxc/$GUARD/config
cp "$cfg" "$TMP/guard.before"
if [ "$BREAK" = noguard ]; then lx attach "$GUARD" --gpu 0; else lx attach "$GUARD" --gpu 0 --guard; fi
ran "attach $GUARD --gpu 0 --guard: exit 0" 0
eq "attach --guard: GPU 0's lines and the pre-start hook line with --guard" "$(change "$TMP/guard.before" "$cfg")" \
	"lxc.environment = LXGPU_DEVICES=$UUID0
lxc.environment = LXGPU_REQUEST=v2,style=raw,rules=exact,guard=yes
lxc.environment = LXGPU_WROTE=c195:0,c195:255,c$OLDUVM:0,c$OLDUVM:1,/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools
lxc.cgroup2.devices.allow = c 195:0 rwm
lxc.cgroup2.devices.allow = c 195:255 rwm
lxc.cgroup2.devices.allow = c $OLDUVM:0 rwm
lxc.cgroup2.devices.allow = c $OLDUVM:1 rwm
lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
lxc.mount.entry = /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file
lxc.hook.pre-start = $LXGPU_ABS --sysroot $FAKE_ABS hook --guard"

started "guard, host and config agree: lxc-start $GUARD" "$GUARD"
eq "guard: no lxgpu line in the container's log" "$(grep -cF 'lxgpu: ' "$W/logs/$GUARD.log")" 0
eq "guard: open /dev/nvidia0 -> ENXIO (allowed, no driver)" "$(probe "$GUARD" /dev/nvidia0)" ENXIO
eq "guard: open /dev/nvidia-uvm -> ENXIO" "$(probe "$GUARD" /dev/nvidia-uvm)" ENXIO
stop "$GUARD"

echo "# the host's nvidia-uvm moves to major $NEWUVM (/proc/devices and its nodes); config not synced"
sed -i "s/^$OLDUVM nvidia-uvm\$/$NEWUVM nvidia-uvm/" "$FAKE/proc/devices"
eq "fake host: /proc/devices has nvidia-uvm on $NEWUVM" "$(grep nvidia-uvm "$FAKE/proc/devices")" "$NEWUVM nvidia-uvm"
mkdev /dev/nvidia-uvm "$NEWUVM" 0
mkdev /dev/nvidia-uvm-tools "$NEWUVM" 1
cp "$cfg" "$TMP/guard.stale"
refused "guard, uvm major changed, config stale: lxc-start refused" "$GUARD" \
	"no lxc.cgroup2.devices.allow line allows /dev/nvidia-uvm ($NEWUVM:0)" ": run lxgpu sync $GUARD"
# the same hook by hand: its refusal is one write(2), which LXC cannot split
# (LeakSanitizer cannot run under ptrace and would write its own lines)
if command -v strace >/dev/null; then
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 LXC_CONFIG_FILE=$cfg LXC_ROOTFS_PATH=$W/lxc/$GUARD/rootfs in_tb strace -qq -e trace=write -o "$TMP/strace" \
		"$LXGPU" --sysroot "$FAKE" hook --guard "$GUARD" lxc pre-start 2>/dev/null
	eq "guard, by hand: exit 1, the line on stderr in one write" "$?; $(grep -c '^write(2, ' "$TMP/strace")" "1; 1"
fi

lx sync "$GUARD"
ran "sync $GUARD: exit 0" 0
eq "sync: the rules name major $NEWUVM, none $OLDUVM" \
	"$(grep -E "^lxc.cgroup2.devices.allow = c 2(37|38):" "$cfg" | paste -sd ';')" \
	"lxc.cgroup2.devices.allow = c $NEWUVM:0 rwm;lxc.cgroup2.devices.allow = c $NEWUVM:1 rwm"
eq "sync: the guard's hook line stays" "$(grep -c '^lxc.hook.pre-start = .* hook --guard$' "$cfg")" 1
# after a reboot nvidia-uvm-tools has no node until something makes it
rm -f /dev/nvidia-uvm-tools
started "guard, synced (nvidia-uvm-tools missing): lxc-start $GUARD" "$GUARD"
eq "guard made /dev/nvidia-uvm-tools on the host, as nvidia-modprobe would" \
	"$(devs /dev/nvidia-uvm /dev/nvidia-uvm-tools | paste -sd ';')" \
	"/dev/nvidia-uvm $NEWUVM:0;/dev/nvidia-uvm-tools $NEWUVM:1"
eq "guard, synced: open /dev/nvidia-uvm ($NEWUVM:0) -> ENXIO" "$(probe "$GUARD" /dev/nvidia-uvm)" ENXIO
eq "guard, synced: open /dev/nvidia-uvm-tools -> ENXIO" "$(probe "$GUARD" /dev/nvidia-uvm-tools)" ENXIO
eq "guard, synced: open /dev/nvidia0 -> ENXIO" "$(probe "$GUARD" /dev/nvidia0)" ENXIO
stop "$GUARD"

echo "# LXGPU_DEVICES names a GPU that is not on this host"
cp "$cfg" "$TMP/guard.synced"
sed -i "s/LXGPU_DEVICES=$UUID0/LXGPU_DEVICES=$GONE/" "$cfg"
refused "guard, LXGPU_DEVICES names $GONE: lxc-start refused" "$GUARD" \
	"GPU $GONE is not on this node" "with lxgpu attach $GUARD"
# the same at LXC's default log level: what an admin sees without -l DEBUG
in_tb lxc-start -P "$W/lxc" -n "$GUARD" -d -o "$TMP/default-level.log"
echo "lxc-start without -l (level ERROR): exit $?; its log:" | diag
sed 's/^[^ ]* [^ ]* [0-9.]* //' "$TMP/default-level.log" | diag
stop "$GUARD"
cp "$TMP/guard.synced" "$cfg"

echo "# a libnvidia-ml of $OTHERDRV copied into the container; the host's module is $HOSTDRV"
lib=$W/lxc/$GUARD/rootfs/usr/lib/x86_64-linux-gnu
mkdir -p "$lib"
: >"$lib/libnvidia-ml.so.$OTHERDRV"
ln -s "libnvidia-ml.so.$OTHERDRV" "$lib/libnvidia-ml.so.1"
refused "guard, container's driver $OTHERDRV, host's $HOSTDRV: lxc-start refused" "$GUARD" \
	"the container's driver is $OTHERDRV (/usr/lib/x86_64-linux-gnu) but this host's kernel module is $HOSTDRV" \
	": run lxgpu sync $GUARD"
rm -f "$lib/libnvidia-ml.so.$OTHERDRV" "$lib/libnvidia-ml.so.1"
started "guard, that driver removed: lxc-start $GUARD" "$GUARD"
stop "$GUARD"

echo "# without --guard: the stale config (rules for major $OLDUVM) minus the hook line"
grep -v '^lxc.hook.pre-start = ' "$TMP/guard.stale" >"$cfg"
eq "no --guard: no hook line left" "$(grep -c '^lxc.hook' "$cfg")" 0
started "no guard, stale config: lxc-start $GUARD starts (the guard is opt-in)" "$GUARD"
eq "no guard, stale: /dev/nvidia-uvm is the host's $NEWUVM:0 node" \
	"$(inside "$GUARD" 'ls -ln /dev/nvidia-uvm | awk "{print \$1, \$5, \$6}"')" "crw-rw-rw- $NEWUVM, 0"
eq "no guard, stale: open /dev/nvidia-uvm -> EPERM (the rule names $OLDUVM:0)" "$(probe "$GUARD" /dev/nvidia-uvm)" EPERM
eq "no guard, stale: open /dev/nvidia0 -> ENXIO (its rule still holds)" "$(probe "$GUARD" /dev/nvidia0)" ENXIO
stop "$GUARD"

# ----------------------------------- nodes for an unprivileged container ----
echo "# unprivileged $UNPRIV (idmap 0 100000 65536), Intel iGPU: renderD128 c 226:128 0660 root:104"
HOST=$FAKE2
if ! wait "$creating"; then
	tail -n 20 "$TMP/create-unpriv.log" "$W/logs/$UNPRIV.create.out" 2>&1 | diag
	bail "lxc-create $UNPRIV failed"
fi
cfg=$W/lxc/$UNPRIV/config
root=$W/lxc/$UNPRIV/rootfs
printf '%s\n' "gpu:x:1000:1000::/tmp:/bin/sh" "other:x:1001:1001::/tmp:/bin/sh" >>"$root/etc/passwd"
printf '%s\n' "video:x:$VIDEO:" "render:x:$RENDER:gpu" "gpu:x:1000:" "other:x:1001:" >>"$root/etc/group"
cp "$cfg" "$TMP/unpriv.before"
lx attach "$UNPRIV" --gpu 0 --style raw --dry-run
ran "attach $UNPRIV --style raw --dry-run (no --gid): exit 0" 0
contains "dry run: the gids come from the container's /etc/group" "$out" "render=$RENDER,video=$VIDEO"
if [ "$BREAK" = gid ]; then lx attach "$UNPRIV" --gpu 0 --style raw --gid 1001; else
	lx attach "$UNPRIV" --gpu 0 --style raw --gid "$RENDER"
fi
ran "attach $UNPRIV --gpu 0 --style raw --gid $RENDER: exit 0" 0
eq "attach: mounts from /run/lxgpu/$UNPRIV, the gids in the request and the hook line (no --guard)" \
	"$(change "$TMP/unpriv.before" "$cfg")" \
	"lxc.environment = LXGPU_DEVICES=0000:00:02.0
lxc.environment = LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no,render=$RENDER,video=$RENDER
lxc.environment = LXGPU_WROTE=c226:0,c226:128,/dev/dri/card0,/dev/dri/renderD128
lxc.cgroup2.devices.allow = c 226:0 rwm
lxc.cgroup2.devices.allow = c 226:128 rwm
lxc.mount.entry = /run/lxgpu/$UNPRIV/dev/dri/card0 dev/dri/card0 none bind,optional,create=file
lxc.mount.entry = /run/lxgpu/$UNPRIV/dev/dri/renderD128 dev/dri/renderD128 none bind,optional,create=file
lxc.hook.pre-start = $LXGPU_ABS --sysroot $FAKE2_ABS hook
lxc.hook.post-stop = $LXGPU_ABS --sysroot $FAKE2_ABS hook"

# check_nodes N: the checks after start number N; sets $born
check_nodes() {
	local f
	f=$(tmpfs_facts)
	eq "start $1: one mount at /run/lxgpu/$UNPRIV in LXC's namespace, a tmpfs" \
		"$(line 1 <<<"$f") $(line 2 <<<"$f")" "1 tmpfs"
	eq "start $1: no /run/lxgpu mount in the host's namespace (this test's stay in LXC's)" "$(host_mounts)" ""
	eq "start $1: on the host the node is 226:128, 0660, the container's root and render group" \
		"$(line 3 <<<"$f")" "character special file e2:80 660 100000:$((100000 + RENDER))"
	eq "start $1: inside, /dev/dri/renderD128 is root:render 0660" \
		"$(inside "$UNPRIV" 'ls -l /dev/dri/renderD128 | awk "{print \$1, \$3, \$4, \$5, \$6}"')" \
		"crw-rw---- root render 226, 128"
	eq "start $1: a user in render opens it -> ENXIO (no driver)" \
		"$(probe "$UNPRIV" /dev/dri/renderD128 gpu)" ENXIO
	eq "start $1: a user not in render -> EACCES" \
		"$(probe "$UNPRIV" /dev/dri/renderD128 other)" EACCES
	born=$(line 4 <<<"$f")
	[ "$1" = 1 ] && return
	if [ "$born" != "$last" ] && [ "$born" != - ]; then ok "start $1: a new tmpfs (born $born)"; else
		not_ok "start $1: a new tmpfs"
		echo "the tmpfs at /run/lxgpu/$UNPRIV was born $last, now $born" | diag
	fi
	eq "start $1: the last start's file and mode are gone" "$(line 5 <<<"$f")" dev
}

started "unpriv: lxc-start $UNPRIV" "$UNPRIV"
ids=$(lxc-attach -P "$W/lxc" -n "$UNPRIV" -- su -s /bin/sh gpu -c 'id -u; id -G' 2>&1 | tr '\n' ' ')
eq "unpriv: the user gpu is uid 1000, in render (container's /etc/group)" "$ids" "1000 1000 $RENDER "
ids=$(lxc-attach -P "$W/lxc" -n "$UNPRIV" -- su -s /bin/sh other -c 'id -u; id -G' 2>&1 | tr '\n' ' ')
eq "unpriv: the user other is uid 1001, not in render" "$ids" "1001 1001 "
eq "unpriv: inside, /dev/dri/renderD128 has the container's gid $RENDER" \
	"$(inside "$UNPRIV" 'ls -ln /dev/dri/renderD128 | awk "{print \$3, \$4}"')" "0 $RENDER"
eq "unpriv: root opens it -> ENXIO" "$(probe "$UNPRIV" /dev/dri/renderD128)" ENXIO
check_nodes 1
for n in 2 3; do
	last=$born
	# leave traces in this start's tmpfs: a restart must not find them
	in_tb sh -c 'touch "$1/stale" && chmod 0666 "$1/dev/dri/renderD128"' sh "/run/lxgpu/$UNPRIV"
	[ "$BREAK" = stack ] && in_tb mount -t tmpfs stacked "/run/lxgpu/$UNPRIV"
	stop "$UNPRIV"
	eq "stop $((n - 1)): post-stop unmounted the tmpfs at /run/lxgpu/$UNPRIV and removed it" \
		"$(in_tb sh -c 'awk -v p="$1" '"'"'$5 == p { n++ } END { print n + 0 }'"'"' /proc/self/mountinfo; test -e "$1" && echo left || echo gone' sh "/run/lxgpu/$UNPRIV" | paste -sd ' ')" \
		"0 gone"
	started "unpriv: restart $((n - 1)): lxc-start $UNPRIV" "$UNPRIV"
	check_nodes "$n"
done
stop "$UNPRIV"

# ---------------------------------------------------------------- leaks ----
echo "# teardown: containers, namespace, nodes"
cleanup
eq "after the test: no /dev/nvidia* on the host" "$(compgen -G '/dev/nvidia*' | paste -sd ' ')" ""
eq "after the test: no /run/lxgpu mount on the host" "$(host_mounts)" ""
eq "after the test: /run/lxgpu as before" "$(ls -ld /run/lxgpu 2>&1)" "$had_run"
eq "after the test: nothing mounted below $TMP here" "$(grep -cF " $TMP" /proc/self/mountinfo)" 0
eq "after the test: no lxc-start of the testbed's containers runs" \
	"$(pgrep -fc -- "$W/lxc")" 0

echo "# run time $((($(date +%s%N) - t0) / 1000000)) ms"
done_testing
