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
# Containers come from testbed.sh (beside this file), which keeps them in
# WORKDIR/lxc/NAME/config and runs LXC where it sees a pure cgroup2
# /sys/fs/cgroup. lxgpu runs with --sysroot FAKEHOST in a private mount
# namespace in which WORKDIR/lxc is bind-mounted on FAKEHOST/var/lib/lxc, so
# it edits the very configs LXC starts, at the default --lxcpath.
#
# Needs root, lxc, busybox-static and uidmap; skips (1..0 # SKIP) without them,
# when a driver owns major 195 or 238 here, or when /dev/nvidia* exists already.
# Removes its containers, device nodes and temp dirs on exit, failed or not.
# shellcheck disable=SC2016 # single-quoted scripts expand inside the container or sh -c
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SPEC=$HOSTS/two-fake-gpus.spec
NODES="nvidia0 nvidia1 nvidiactl nvidia-uvm nvidia-uvm-tools" # as in $SPEC
UUID0=GPU-fa4e0000-0000-4000-8000-000000000000
PRIV=lxgpu-e2e-priv
UNPRIV=lxgpu-e2e-unpriv
OWN=lxgpu-e2e-own

# ---------------------------------------------------------------- skips ----
lxc_need_root
lxc_skips unshare
lxc_skip_if_majors 195 226 238
lxc_lock
lxc_skip_if_nvidia_nodes

# -------------------------------------------------------------- cleanup ----
lxc_tmp lxgpu-lxc
lxc_traps lxc_cleanup

# ---------------------------------------------------------------- setup ----
if ! "$MKHOST" "$SPEC" "$FAKE" >"$TMP/mkhost.log" 2>&1; then
	diag <"$TMP/mkhost.log"
	bail "mkhost $SPEC failed"
fi
mkdir -p "$W/lxc" "$FAKE/var/lib/lxc"

# shellcheck disable=SC2086 # NODES: a list of names
lxc_make_nodes "$FAKE" $NODES
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
create() { # NAME priv|unpriv
	tb create "$W" "$1" "$2" >/dev/null || { tail -n 20 "$TMP/testbed.log" | diag; bail "lxc-create $1 failed"; }
}
probe() { tb probe "$W" "$1" "$2" rw; }
inside() { local n=$1; shift; tb attach "$W" "$n" -- /bin/sh -c "$*"; }

EXPECTED="lxc.environment = LXGPU_DEVICES=$UUID0
lxc.environment = LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no
lxc.environment = LXGPU_WROTE=c195:0,c195:255,c238:0,c238:1,/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools
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

# ------------------------- hand-written lines beside lxgpu's (ownership) ----
# docs/ownership.md: a hand-written `c 226:*` (an iGPU's, here a node the
# container makes itself, 226:128) stays; sync --all, as the boot unit runs
# it, neither widens lxgpu's rules nor takes the 226 rule away
echo "# privileged container $OWN: a hand-written c 226:* rwm, GPU 0 attached, sync --all, restart"
create "$OWN" priv
cfg=$W/lxc/$OWN/config
echo "lxc.cgroup2.devices.allow = c 226:* rwm" >>"$cfg"
cp "$cfg" "$TMP/own.before"
lx_ok "attach $OWN --gpu 0: exit 0" attach "$OWN" --gpu 0
eq "attach: GPU 0's lines added, the hand-written c 226:* kept" "$(change "$TMP/own.before" "$cfg")" "$EXPECTED"
cp "$cfg" "$TMP/own.attached"
lx_ok "sync --all (the boot unit's run): exit 0" sync --all
if cmp -s "$TMP/own.attached" "$cfg"; then ok "sync --all: $OWN's config unchanged (no wildcard, 226 kept)"; else
	not_ok "sync --all: $OWN's config unchanged (no wildcard, 226 kept)"
	diff "$TMP/own.attached" "$cfg" | diag
fi
start "$OWN"
stop "$OWN"
start "$OWN"
inside "$OWN" 'mknod -m 666 /dev/renderD128 c 226 128; mknod -m 666 /dev/nvidia1 c 195 1' || true
eq "$OWN, restarted: open /dev/nvidia0 -> ENXIO (GPU 0 allowed)" "$(probe "$OWN" /dev/nvidia0)" ENXIO
eq "$OWN: open self-made 226:128 (the iGPU-like node) -> ENXIO (c 226:* kept)" \
	"$(probe "$OWN" /dev/renderD128)" ENXIO
eq "$OWN: open self-made /dev/nvidia1 (GPU 1) -> EPERM (no wildcard)" "$(probe "$OWN" /dev/nvidia1)" EPERM
stop "$OWN"

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

done_testing
