#!/bin/bash
# lxgpu attach/detach against real LXC containers (TAP). What the config lines
# lxgpu writes do to a running container, not just what they look like:
#
#   A fake host with two GPUs (tests/hosts/two-fake-gpus.spec: /dev/nvidia0 c
#   195:0, /dev/nvidia1 c 195:1, nvidiactl 195:255, nvidia-uvm 238:0/1) is the
#   --sysroot; the same nodes are made in the real /dev (mode 0666, no driver
#   behind them). A privileged container attached to GPU 0 opens /dev/nvidia0,
#   nvidiactl and the uvm nodes with ENXIO (the cgroup allowed it; no driver),
#   and a node for GPU 1 that it makes itself with mknod gives EPERM (the
#   cgroup's BPF program refused it). After stop, detach and start, the nodes
#   are gone and a self-made 195:0 gives EPERM. An unprivileged container
#   attached to GPU 0 gets usable nodes (ENXIO, owned by nobody:nogroup).
#
# Containers come from ../shared/lxc-testbed/lxc-testbed.sh (env LXC_TESTBED),
# which keeps them in WORKDIR/lxc/NAME/config and runs LXC where it sees a pure
# cgroup2 /sys/fs/cgroup. lxgpu runs with --sysroot FAKEHOST in a private mount
# namespace in which WORKDIR/lxc is bind-mounted on FAKEHOST/var/lib/lxc, so
# it edits the very configs LXC starts, at the default --lxcpath.
#
# Needs root, lxc, busybox-static and uidmap; skips (1..0 # SKIP) without them,
# when a driver owns major 195 or 238 here, or when /dev/nvidia* exists already.
# Removes its containers, device nodes and temp dirs on exit, failed or not.
# shellcheck disable=SC2016 # single-quoted scripts expand inside the container or sh -c
set -u
: "${LXGPU:?set LXGPU to the lxgpu binary}" "${MKHOST:?}" "${HOSTS:?}"

SPEC=$HOSTS/two-fake-gpus.spec
NODES="nvidia0 nvidia1 nvidiactl nvidia-uvm nvidia-uvm-tools" # as in $SPEC
UUID0=GPU-fa4e0000-0000-4000-8000-000000000000
PRIV=lxgpu-e2e-priv
UNPRIV=lxgpu-e2e-unpriv
LOCK=/run/lxgpu-lxc-test.lock
STATE=/run/lxgpu-lxc-test.nodes # the real /dev nodes this test made

tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
diag() { sed 's/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail() { echo "Bail out! $*"; exit 1; }
# eq DESC ACTUAL EXPECTED
eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"
		printf 'got:      %s\nexpected: %s\n' "$2" "$3" | diag
	fi
}

# ---------------------------------------------------------------- skips ----
[ "$(id -u)" = 0 ] || skip_all "needs root (real containers, mknod in /dev)"
command -v lxc-start >/dev/null || skip_all "lxc-start not installed (apt-get install lxc busybox-static uidmap)"
here=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$(cd "$here/../../.." && pwd)/shared}
TB=${LXC_TESTBED:-$SHARED/lxc-testbed/lxc-testbed.sh}
export TESTBED_NO_INSTALL=1 # never apt-get from a test
[ -x "$TB" ] || skip_all "no LXC testbed at $TB (set LXC_TESTBED)"
for c in busybox newuidmap unshare nsenter flock; do
	command -v "$c" >/dev/null || skip_all "$c not installed (apt-get install lxc busybox-static uidmap)"
done
grep -qw cgroup2 /proc/filesystems || skip_all "kernel has no cgroup2"
# ENXIO means "allowed, no driver" only while no driver owns these majors.
if awk '/^Block/ { exit } $1 == 195 || $1 == 238 { f = 1 } END { exit !f }' /proc/devices; then
	skip_all "a driver owns char major 195 or 238 on this host: the fake nodes would reach it"
fi

exec 9>"$LOCK"
flock -w 300 9 || skip_all "another run of this test holds $LOCK"
# nodes left by an earlier run that was killed before its cleanup
if [ -f "$STATE" ]; then
	while read -r path maj min; do
		[ -c "$path" ] && [ "$(stat -c '%t:%T' "$path")" = "$(printf '%x:%x' "$maj" "$min")" ] &&
			rm -f "$path"
	done <"$STATE"
	rm -f "$STATE"
fi
existing=$(compgen -G '/dev/nvidia*' | paste -sd ' ')
[ -z "$existing" ] || skip_all "real NVIDIA nodes exist ($existing): this test makes its own fake ones"

# -------------------------------------------------------------- cleanup ----
TMP=$(mktemp -d /tmp/lxgpu-lxc.XXXXXX)
chmod 755 "$TMP" # unprivileged containers' root (uid 100000) walks through it
W=$TMP/tb
FAKE=$TMP/host
cleanup() {
	local path maj min
	"$TB" cleanup "$W" >/dev/null 2>&1 || true
	if [ -f "$STATE" ]; then
		while read -r path maj min; do
			[ -c "$path" ] && [ "$(stat -c '%t:%T' "$path")" = "$(printf '%x:%x' "$maj" "$min")" ] &&
				rm -f "$path"
		done <"$STATE"
		rm -f "$STATE"
	fi
	if grep -qF " $TMP" /proc/self/mountinfo; then
		echo "# left $TMP in place: something is still mounted below it" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- setup ----
if ! "$MKHOST" "$SPEC" "$FAKE" >"$TMP/mkhost.log" 2>&1; then
	diag <"$TMP/mkhost.log"
	bail "mkhost $SPEC failed"
fi
mkdir -p "$W/lxc" "$FAKE/var/lib/lxc"

: >"$STATE"
for n in $NODES; do
	hex=$(stat -c '%t %T' "$FAKE/dev/$n") || bail "fake host has no /dev/$n"
	read -r maj min <<<"$hex"
	maj=$((16#$maj)) min=$((16#$min))
	echo "/dev/$n $maj $min" >>"$STATE"
	mknod -m 0666 "/dev/$n" c "$maj" "$min" || bail "mknod /dev/$n c $maj $min"
done
eq "real /dev has the fake host's nodes" \
	"$(for n in $NODES; do stat -c '%n %t:%T %a' "/dev/$n"; done | tr '\n' ';')" \
	"/dev/nvidia0 c3:0 666;/dev/nvidia1 c3:1 666;/dev/nvidiactl c3:ff 666;/dev/nvidia-uvm ee:0 666;/dev/nvidia-uvm-tools ee:1 666;"

# lx ARGS...: lxgpu --sysroot FAKE ARGS, seeing WORKDIR/lxc at FAKE/var/lib/lxc;
# sets $out, $err, $rc
lx() {
	out=$(unshare -m --propagation private -- sh -c \
		'mount --bind "$1" "$2" || exit 99; shift 2; exec "$@"' \
		sh "$W/lxc" "$FAKE/var/lib/lxc" "$LXGPU" --sysroot "$FAKE" "$@" 2>"$TMP/stderr")
	rc=$?
	err=$(cat "$TMP/stderr")
}
lx_ok() { # DESC ARGS...
	local desc=$1; shift
	lx "$@"
	if [ "$rc" = 0 ]; then ok "$desc"; else
		not_ok "$desc"
		printf 'lxgpu %s: exit %s\n%s\n%s\n' "$*" "$rc" "$out" "$err" | diag
	fi
}
tb() { "$TB" "$@" 2>>"$TMP/testbed.log"; }
create() { # NAME priv|unpriv
	tb create "$W" "$1" "$2" >/dev/null || { tail -n 20 "$TMP/testbed.log" | diag; bail "lxc-create $1 failed"; }
}
start() { # NAME
	if tb start "$W" "$1"; then ok "lxc-start $1"; else
		not_ok "lxc-start $1"
		grep -E 'ERROR|WARN' "$W/logs/$1.log" 2>/dev/null | tail -n 20 | diag
		bail "container $1 did not start"
	fi
}
stop() { tb stop "$W" "$1" -k; }
probe() { tb probe "$W" "$1" "$2" rw; }
inside() { local n=$1; shift; tb attach "$W" "$n" -- /bin/sh -c "$*"; }
# change BEFORE AFTER: what turned config BEFORE into AFTER: added lines as
# they are, removed lines with a leading "-"
change() { diff --unchanged-line-format= --old-line-format='-%L' --new-line-format='%L' "$1" "$2"; }

EXPECTED="lxc.environment = LXGPU_DEVICES=$UUID0
lxc.environment = LXGPU_RULES=195:0,195:255,238:0,238:1
lxc.cgroup2.devices.allow = c 195:0 rwm
lxc.cgroup2.devices.allow = c 195:255 rwm
lxc.cgroup2.devices.allow = c 238:0 rwm
lxc.cgroup2.devices.allow = c 238:1 rwm
lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
lxc.mount.entry = /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file
lxc.mount.entry = /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file"

# ------------------------------------------------ privileged container ----
echo "# privileged container $PRIV (common.conf: device allow-list)"
create "$PRIV" priv
cfg=$W/lxc/$PRIV/config
cp "$cfg" "$TMP/priv.before"

lx_ok "attach $PRIV --gpu 0: exit 0" attach "$PRIV" --gpu 0
eq "attach: adds exactly GPU 0's lines (none for GPU 1), removes none" "$(change "$TMP/priv.before" "$cfg")" "$EXPECTED"

start "$PRIV"
eq "priv: /dev/nvidia0 bound in (mode, major, minor)" \
	"$(inside "$PRIV" 'ls -ln /dev/nvidia0 | awk "{print \$1, \$5, \$6}"')" "crw-rw-rw- 195, 0"
eq "priv: open /dev/nvidia0 -> ENXIO (cgroup allows, no driver)" "$(probe "$PRIV" /dev/nvidia0)" ENXIO
eq "priv: open /dev/nvidiactl -> ENXIO" "$(probe "$PRIV" /dev/nvidiactl)" ENXIO
eq "priv: open /dev/nvidia-uvm -> ENXIO" "$(probe "$PRIV" /dev/nvidia-uvm)" ENXIO
eq "priv: open /dev/nvidia-uvm-tools -> ENXIO" "$(probe "$PRIV" /dev/nvidia-uvm-tools)" ENXIO
eq "priv: GPU 1 not bound in (/dev/nvidia1 absent)" "$(probe "$PRIV" /dev/nvidia1)" ENOENT
eq "priv: mknod /dev/nvidia1 c 195 1 inside" \
	"$(inside "$PRIV" 'mknod -m 666 /dev/nvidia1 c 195 1 && ls -ln /dev/nvidia1 | awk "{print \$1, \$5, \$6}"')" \
	"crw-rw-rw- 195, 1"
eq "priv: open self-made /dev/nvidia1 -> EPERM (cgroup denies GPU 1)" "$(probe "$PRIV" /dev/nvidia1)" EPERM
eq "priv: init's environment has LXGPU_DEVICES" \
	"$(inside "$PRIV" 'tr "\0" "\n" </proc/1/environ | grep "^LXGPU_DEVICES="')" "LXGPU_DEVICES=$UUID0"
stop "$PRIV"

lx_ok "detach $PRIV: exit 0" detach "$PRIV"
if cmp -s "$TMP/priv.before" "$cfg"; then ok "detach $PRIV: config byte-identical to before attach"; else
	not_ok "detach $PRIV: config byte-identical to before attach"
	diff "$TMP/priv.before" "$cfg" | diag
fi
start "$PRIV"
eq "priv after detach: /dev/nvidia0 absent" "$(probe "$PRIV" /dev/nvidia0)" ENOENT
eq "priv after detach: /dev/nvidiactl absent" "$(probe "$PRIV" /dev/nvidiactl)" ENOENT
eq "priv after detach: /dev/nvidia-uvm absent" "$(probe "$PRIV" /dev/nvidia-uvm)" ENOENT
inside "$PRIV" 'mknod -m 666 /dev/nvidia0 c 195 0 && mknod -m 666 /dev/nvidia1 c 195 1 &&
	mknod -m 666 /dev/nvidia-uvm c 238 0' || true
eq "priv after detach: self-made /dev/nvidia0 (195:0) -> EPERM" "$(probe "$PRIV" /dev/nvidia0)" EPERM
eq "priv after detach: self-made /dev/nvidia1 (195:1) -> EPERM" "$(probe "$PRIV" /dev/nvidia1)" EPERM
eq "priv after detach: self-made /dev/nvidia-uvm (238:0) -> EPERM" "$(probe "$PRIV" /dev/nvidia-uvm)" EPERM
stop "$PRIV"

# ---------------------------------------------- unprivileged container ----
echo "# unprivileged container $UNPRIV (idmap 0 100000 65536, Proxmox deny-list)"
create "$UNPRIV" unpriv
cfg=$W/lxc/$UNPRIV/config
cp "$cfg" "$TMP/unpriv.before"
start "$UNPRIV"
eq "unpriv before attach: /dev/nvidia0 absent" "$(probe "$UNPRIV" /dev/nvidia0)" ENOENT
stop "$UNPRIV"

lx_ok "attach $UNPRIV --gpu 0: exit 0" attach "$UNPRIV" --gpu 0
eq "attach $UNPRIV: adds exactly GPU 0's lines, removes none" "$(change "$TMP/unpriv.before" "$cfg")" "$EXPECTED"
start "$UNPRIV"
eq "unpriv: /dev/nvidia0 owned by nobody:nogroup (mode, uid, gid, major, minor)" \
	"$(inside "$UNPRIV" 'ls -ln /dev/nvidia0 | awk "{print \$1, \$3, \$4, \$5, \$6}"')" \
	"crw-rw-rw- 65534 65534 195, 0"
eq "unpriv: open /dev/nvidia0 -> ENXIO (usable, no driver)" "$(probe "$UNPRIV" /dev/nvidia0)" ENXIO
eq "unpriv: open /dev/nvidiactl -> ENXIO" "$(probe "$UNPRIV" /dev/nvidiactl)" ENXIO
eq "unpriv: open /dev/nvidia-uvm -> ENXIO" "$(probe "$UNPRIV" /dev/nvidia-uvm)" ENXIO
eq "unpriv: open /dev/nvidia-uvm-tools -> ENXIO" "$(probe "$UNPRIV" /dev/nvidia-uvm-tools)" ENXIO
eq "unpriv: GPU 1 not bound in (/dev/nvidia1 absent)" "$(probe "$UNPRIV" /dev/nvidia1)" ENOENT
stop "$UNPRIV"
lx_ok "detach $UNPRIV: exit 0" detach "$UNPRIV"
if cmp -s "$TMP/unpriv.before" "$cfg"; then ok "detach $UNPRIV: config byte-identical to before attach"; else
	not_ok "detach $UNPRIV: config byte-identical to before attach"
	diff "$TMP/unpriv.before" "$cfg" | diag
fi

echo "1..$tap_n"
[ "$tap_failed" -eq 0 ]
