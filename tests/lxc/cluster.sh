#!/bin/bash
# Two cluster nodes on one machine, and a container that moves between them
# (TAP): a selection every node resolves (model=, map:) gets, at its first
# start on the new node, that node's GPU, through lxgpu's start-host hook
# alone: no sync, no edit of the config.
#
#   node1  two-fake-gpus.spec without its second GPU: GPU 0 at 0000:00:06.0,
#          GPU-fa4e0000-0000-4000-8000-000000000000, /dev/nvidia0 (c 195:0)
#   node2  two-fake-gpus.spec without its first GPU: the GPU at 0000:00:07.0,
#          GPU-fa4e0000-0000-4000-8000-000000000001, /dev/nvidia1 (c 195:1)
#   both   nvidiactl 195:255, nvidia-uvm 238:0 and 238:1; the same mapping
#          file (etc/pve/lxgpu/mappings.cfg: "gpus" is node1's GPU 0 and
#          node2's GPU at 07.0); their names in etc/hostname.
# Each node is a fake host root (lxgpu's --sysroot) with its own lxcpath:
# node1's is the testbed's WORKDIR/lxc, node2's WORKDIR/lxc2. The nodes'
# /dev is the real /dev, where the test makes 195:0, 195:1, 195:255, 238:0
# and 238:1 (0666, no driver: ENXIO means the cgroup allowed the open, EPERM
# that it refused it). lxgpu runs with LXGPU_SYSROOT=NODE, so the hook lines
# it writes carry no --sysroot: each node's lxc-start runs with its own
# LXGPU_SYSROOT, and the hooks it runs inherit it, as /usr/bin/lxgpu on each
# node reads its own /.
#
#   priv    a privileged container, attach --gpu "model=NVIDIA H100" on node1
#           (its lines: 195:0, /dev/nvidia0): on node1 /dev/nvidia0 opens
#           (ENXIO) and a self-made 195:1 gives EPERM. Its config is moved to
#           node2's lxcpath, unchanged: it starts there with /dev/nvidia1
#           (ENXIO), no /dev/nvidia0 (the line's node unmounted), a self-made
#           195:0 refused (EPERM: the rule revoked), the uvm nodes open, and
#           the config is the same bytes. Moved back, node1's GPU again.
#   unpriv  an unprivileged container (Proxmox's deny-list), attach --gpu
#           map:gpus on node1, moved to node2: /dev/nvidia1 there (ENXIO),
#           195:0 refused.
#   uuid    a privileged container attached to GPU 0 by its UUID with --guard,
#           moved to node2: lxc-start is refused, the reason in its log ("GPU
#           ... is not on this node").
#   map     a map: selection with no GPU for node2 (a mapping of node1's
#           only): start-host refuses the start on node2, with the reason.
#
# Needs root, lxc, busybox-static and uidmap; skips (1..0 # SKIP) without them,
# when a driver owns char major 195 or 238, or when /dev/nvidia* exists.
# Shares lib.sh's lock and node list; removes its containers, nodes, mounts
# and temp dir on exit.
# shellcheck disable=SC2016 # single-quoted scripts expand inside the container or sh -c
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

U0=GPU-fa4e0000-0000-4000-8000-000000000000
U1=GPU-fa4e0000-0000-4000-8000-000000000001
NODES="nvidia0 nvidia1 nvidiactl nvidia-uvm nvidia-uvm-tools" # as in two-fake-gpus.spec
PRIV=lxgpu-clu-priv
UNPRIV=lxgpu-clu-unpriv
UUIDCT=lxgpu-clu-uuid

lxc_need_root mounts
command -v unshare >/dev/null || skip_all "unshare not installed (util-linux)"
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] && [ -z "${LXGPU_CLUSTER_TEST_NS:-}" ]; then
	LXGPU_CLUSTER_TEST_NS=1 exec unshare -m --propagation private -- "$BASH" "$0" "$@"
fi
lxc_skips
lxc_skip_if_majors 195 238
lxc_lock
lxc_skip_if_nvidia_nodes

lxc_tmp lxgpu-lxc-clu
N1=$TMP/node1
N2=$TMP/node2
aligned=
cleanup() {
	if [ -n "$aligned" ]; then
		"$TB" run "$W" -- sh -c 'umount -R -l "$2/dev" "$3/dev" "$2$1/lxc" "$3$1/lxc" "$3$1/lxc2"' \
			sh "$W" "$N1" "$N2" >/dev/null 2>&1
	fi
	for n in "$PRIV" "$UNPRIV" "$UUIDCT"; do
		lxc-stop -P "$W/lxc2" -n "$n" -k >/dev/null 2>&1
		[ -f "$W/lxc2/$n/config" ] && mv "$W/lxc2/$n/config" "$W/lxc/$n/config"
	done
	lxc_cleanup
}
lxc_traps cleanup

# ---------------------------------------------------------------- setup ----
# node N of the two: two-fake-gpus.spec less the other node's GPU (its PCI
# address), and its name
node_spec() { # N OTHER_PCI
	printf 'remove %s\n' "/proc/driver/nvidia/gpus/$2" "/sys/bus/pci/devices/$2" "/sys/devices/pci0000:00/$2"
	echo "line /etc/hostname node$1"
}
node_spec 1 0000:00:07.0 >"$TMP/node1.spec"
node_spec 2 0000:00:06.0 >"$TMP/node2.spec"
for n in 1 2; do
	"$MKHOST" "$HOSTS/two-fake-gpus.spec" "$TMP/node$n.spec" "$TMP/node$n" >"$TMP/mkhost$n.log" 2>&1 ||
		{ diag <"$TMP/mkhost$n.log"; bail "mkhost node$n failed"; }
	mkdir -p "$TMP/node$n/etc/pve/lxgpu" "$TMP/node$n$W/lxc" "$TMP/node$n$W/lxc2" "$TMP/node$n/proc/net"
	echo "gpus node=node1,gpu=$U0 node=node2,gpu=$U1" >"$TMP/node$n/etc/pve/lxgpu/mappings.cfg"
	echo "only1 node=node1,gpu=$U0" >>"$TMP/node$n/etc/pve/lxgpu/mappings.cfg"
done
mkdir -p "$W/lxc2"
# shellcheck disable=SC2086 # NODES: a list of names
lxc_make_nodes "$N1" $NODES
mkdev /dev/nvidia1 195 1 # node1 has no nvidia1 of its own: node2's (the same /dev)

create() { # NAME priv|unpriv
	tb create "$W" "$1" "$2" >/dev/null || { tail -n 20 "$TMP/testbed.log" 2>&1 | diag; bail "lxc-create $1 failed"; }
}
create "$PRIV" priv
if ! tb run "$W" -- sh -c 'set -e
	mount --bind "$1/lxc" "$2$1/lxc"
	mount --bind "$1/lxc" "$3$1/lxc"
	mount --bind "$1/lxc2" "$3$1/lxc2"
	mount --bind /dev "$2/dev"
	mount --bind /dev "$3/dev"' sh "$W" "$N1" "$N2"; then
	tail -n 5 "$TMP/testbed.log" | diag
	bail "could not align the fake nodes with LXC's view"
fi
aligned=1
create "$UNPRIV" unpriv
create "$UUIDCT" priv

# lx NODE ARGS...: lxgpu on NODE, in LXC's namespace; sets $out, $err, $rc
lx() {
	local node=$1
	shift
	out=$(tb run "$W" -- env LXGPU_SYSROOT="$node" "$LXGPU" --lxcpath "$W/lxc" "$@" 2>"$TMP/stderr")
	rc=$?
	err=$(cat "$TMP/stderr")
}
# start NODE LXCPATH NAME: lxc-start on NODE (its LXGPU_SYSROOT in the
# monitor's environment, which its hooks inherit), log at TRACE; 0 once RUNNING
start() {
	: >"$W/logs/$3.log"
	tb run "$W" -- env LXGPU_SYSROOT="$1" lxc-start -P "$2" -n "$3" -d -l TRACE -o "$W/logs/$3.log" &&
		lxc-wait -P "$2" -n "$3" -s RUNNING -t 10
}
stop_ct() { lxc-stop -P "$1" -n "$2" -k >/dev/null 2>&1; } # LXCPATH NAME
started() { # DESC NODE LXCPATH NAME
	if start "$2" "$3" "$4"; then ok "$1"; else
		not_ok "$1"
		grep -E 'ERROR|WARN|produced output' "$W/logs/$4.log" 2>/dev/null | tail -n 20 | diag
		bail "container $4 did not start"
	fi
}
# probe LXCPATH NAME PATH: open PATH read-write inside: ENXIO, EPERM, ENOENT, ...
probe() {
	lxc-attach -P "$1" -n "$2" -- /bin/sh -c '
		[ -e "$1" ] || { echo ENOENT; exit 0; }
		e=$( { true <>"$1"; } 2>&1 ) && { echo OK; exit 0; }
		case $e in
		*"No such device or address"*) echo ENXIO ;;
		*"Operation not permitted"*) echo EPERM ;;
		*"Permission denied"*) echo EACCES ;;
		*) echo "ERR:$e" ;;
		esac' sh "$3" 2>&1
}
# selfmade LXCPATH NAME MAJ MIN: mknod in the (privileged) container, then open
selfmade() {
	lxc-attach -P "$1" -n "$2" -- /bin/sh -c '
		rm -f /tmp/n; mknod /tmp/n c "$1" "$2" || { echo MKNOD; exit 0; }
		e=$( { true <>/tmp/n; } 2>&1 ) && { echo OK; exit 0; }
		case $e in
		*"No such device or address"*) echo ENXIO ;;
		*"Operation not permitted"*) echo EPERM ;;
		*) echo "ERR:$e" ;;
		esac' sh "$3" "$4" 2>&1
}
# until_open LXCPATH NAME PATH: the probe once it is no longer EPERM, waiting
# up to 2 s (the monitor applies the queued rules as its main loop starts)
until_open() {
	local i r
	for i in $(seq 20); do
		r=$(probe "$1" "$2" "$3")
		[ "$r" != EPERM ] && break
		sleep 0.1
	done
	echo "$r"
}
move() { # NAME FROM TO: the config into the other node's lxcpath, as a migration moves it
	mkdir -p "$3/$1"
	mv "$2/$1/config" "$3/$1/config"
}

# ------------------------------------------------------- privileged, model= ----
echo "# $PRIV: privileged, --gpu model=NVIDIA H100 on node1"
lx "$N1" attach "$PRIV" --gpu "model=NVIDIA H100"
ran "attach $PRIV on node1: exit 0" 0
cfg=$W/lxc/$PRIV/config
eq "node1's lines: GPU 0 (195:0, /dev/nvidia0) and the start-host hook, no --sysroot" \
	"$(grep -E '= LXGPU_DEVICES|= c 195:0 |= /dev/nvidia0 |start-host' "$cfg" | sed "s|$(readlink -f "$LXGPU")|LXGPU|")" \
	"lxc.environment = LXGPU_DEVICES=model=NVIDIA H100
lxc.cgroup2.devices.allow = c 195:0 rwm
lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
lxc.hook.start-host = LXGPU hook"
started "node1: lxc-start $PRIV" "$N1" "$W/lxc" "$PRIV"
eq "node1: /dev/nvidia0 opens (ENXIO)" "$(probe "$W/lxc" "$PRIV" /dev/nvidia0)" ENXIO
eq "node1: no /dev/nvidia1" "$(probe "$W/lxc" "$PRIV" /dev/nvidia1)" ENOENT
eq "node1: a self-made 195:1 is refused (EPERM)" "$(selfmade "$W/lxc" "$PRIV" 195 1)" EPERM
eq "node1: the start-host hook found nothing to do (said nothing)" \
	"$(grep -c 'start-host produced output' "$W/logs/$PRIV.log")" 0
stop_ct "$W/lxc" "$PRIV"

echo "# $PRIV moved to node2's lxcpath, config unchanged"
sum=$(sha256sum <"$cfg")
move "$PRIV" "$W/lxc" "$W/lxc2"
cfg2=$W/lxc2/$PRIV/config
started "node2: lxc-start $PRIV (no sync)" "$N2" "$W/lxc2" "$PRIV"
eq "node2: /dev/nvidia1 opens (ENXIO): node2's GPU" "$(until_open "$W/lxc2" "$PRIV" /dev/nvidia1)" ENXIO
eq "node2: /dev/nvidia0, node1's, is not there" "$(probe "$W/lxc2" "$PRIV" /dev/nvidia0)" ENOENT
eq "node2: a self-made 195:0 is refused (EPERM): its rule revoked" "$(selfmade "$W/lxc2" "$PRIV" 195 0)" EPERM
eq "node2: a self-made 195:1 opens (ENXIO)" "$(selfmade "$W/lxc2" "$PRIV" 195 1)" ENXIO
eq "node2: /dev/nvidia-uvm and nvidiactl open" \
	"$(probe "$W/lxc2" "$PRIV" /dev/nvidia-uvm) $(probe "$W/lxc2" "$PRIV" /dev/nvidiactl)" "ENXIO ENXIO"
eq "node2: /dev/nvidia1 inside is 195:1" \
	"$(lxc-attach -P "$W/lxc2" -n "$PRIV" -- /bin/sh -c 'ls -l /dev/nvidia1' | awk '{print $1, $5, $6}')" "crw-rw-rw- 195, 1"
eq "node2: the config is the same bytes (the start changed nothing in it)" "$(sha256sum <"$cfg2")" "$sum"
log=$W/logs/$PRIV.log
eq "node2: the start-host hook ran (the only hook) and said nothing" \
	"$(grep -c 'Executing script ".* hook" for container "'"$PRIV"'"' "$log") $(grep -c 'start-host produced output' "$log")" "1 0"
# LXC's own account: the monitor processed two rule commands (the revoke and
# the allow of 195:x), from the hook's queued requests
eq "node2: LXC's monitor processed the queued rule commands" \
	"$(grep -c 'Processed command add_bpf_device_cgroup' "$log")" 2
grep -E 'add_bpf_device_cgroup|RUNNING|start-host' "$log" | sed 's/^[^ ]* [^ ]* //' | diag
stop_ct "$W/lxc2" "$PRIV"
move "$PRIV" "$W/lxc2" "$W/lxc"
started "moved back: lxc-start $PRIV on node1" "$N1" "$W/lxc" "$PRIV"
eq "back on node1: /dev/nvidia0 opens, 195:1 refused" \
	"$(probe "$W/lxc" "$PRIV" /dev/nvidia0) $(selfmade "$W/lxc" "$PRIV" 195 1)" "ENXIO EPERM"
stop_ct "$W/lxc" "$PRIV"

# --------------------------------------------------------- unprivileged, map: ----
echo "# $UNPRIV: unprivileged (deny-list), --gpu map:gpus on node1, moved to node2"
lx "$N1" attach "$UNPRIV" --gpu map:gpus
ran "attach $UNPRIV --gpu map:gpus on node1: exit 0" 0
eq "the record names the mapping" "$(grep -c '^lxc.environment = LXGPU_DEVICES=map:gpus$' "$W/lxc/$UNPRIV/config")" 1
started "node1: lxc-start $UNPRIV" "$N1" "$W/lxc" "$UNPRIV"
eq "node1: /dev/nvidia0 opens (ENXIO)" "$(probe "$W/lxc" "$UNPRIV" /dev/nvidia0)" ENXIO
stop_ct "$W/lxc" "$UNPRIV"
move "$UNPRIV" "$W/lxc" "$W/lxc2"
started "node2: lxc-start $UNPRIV (no sync)" "$N2" "$W/lxc2" "$UNPRIV"
eq "node2: /dev/nvidia1 opens (ENXIO)" "$(until_open "$W/lxc2" "$UNPRIV" /dev/nvidia1)" ENXIO
eq "node2: /dev/nvidia1 shows as nobody's, as a bound node does" \
	"$(lxc-attach -P "$W/lxc2" -n "$UNPRIV" -- /bin/sh -c 'ls -ln /dev/nvidia1' | awk '{print $1, $3, $5, $6}')" \
	"crw-rw-rw- 65534 195, 1"
eq "node2: no /dev/nvidia0" "$(probe "$W/lxc2" "$UNPRIV" /dev/nvidia0)" ENOENT
stop_ct "$W/lxc2" "$UNPRIV"

# ------------------------------------------------------------ refusals ----
# refused_on_node2 NAME HOOK REASON: attached on node1 (the caller), moved to
# node2, lxc-start is refused there, and the container's log has HOOK's
# REASON (LXC logs what a hook prints at DEBUG); then moved back
refused_on_node2() {
	move "$1" "$W/lxc" "$W/lxc2"
	if start "$N2" "$W/lxc2" "$1"; then
		not_ok "node2: lxc-start $1 refused ($2)"
		stop_ct "$W/lxc2" "$1"
	else ok "node2: lxc-start $1 refused ($2)"; fi
	eq "node2: $2's reason in the container's log" \
		"$(sed -n "s/^.* $2 produced output: //p" "$W/logs/$1.log" | tr -d '\n')" "lxgpu: hook $1: refused: $3"
	move "$1" "$W/lxc2" "$W/lxc"
}
echo "# $UUIDCT: bound by UUID with --guard, moved to node2"
lx "$N1" attach "$UUIDCT" --gpu 0 --guard
ran "attach $UUIDCT --gpu 0 --guard: exit 0" 0
refused_on_node2 "$UUIDCT" pre-start \
	"GPU $U0 is not on this node: start the container on the node that has it, or give it one of this node's with lxgpu attach $UUIDCT"
echo "# $PRIV with map:only1 (no GPU of node2's), moved to node2"
lx "$N1" attach "$PRIV" --gpu map:only1
ran "attach $PRIV --gpu map:only1: exit 0" 0
refused_on_node2 "$PRIV" start-host "--gpu map:only1: the mapping has no GPU of node node2 (its nodes: node1)"

cleanup
eq "after the test: no /dev/nvidia* on the host" "$(compgen -G '/dev/nvidia*' | paste -sd ' ')" ""
done_testing
