#!/bin/bash
# The pre-start hook on fake hosts, run by hand as LXC runs it (environment
# of hook version 1, or the three arguments of version 0), each run in a
# private mount namespace so that its tmpfs never reaches this machine:
#  - the nodes of an unprivileged container: a tmpfs at /run/lxgpu/NAME with
#    the host node's numbers and mode, owned by the container's mapped root
#    and group (README.md, "Unprivileged containers and DRI nodes");
#  - the guard: missing NVIDIA nodes made, a start refused with one line when
#    the config no longer matches the host, or its GPU is not on this node,
#    or its copied driver is another version.
# LXC_CONFIG_FILE is LXC's own view of the config: on Proxmox, the one it
# generates from /etc/pve/lxc/<vmid>.conf ("key = value", the raw lxc.* lines,
# lxc.idmap for unprivileged containers); lxc_view makes it here.
. "$(dirname "$0")/lib.sh"
need_root
command -v unshare >/dev/null || skip_all "no unshare"

# lxc_view PVECONF OUT [IDMAP...]: the lxc.* lines of the main section as LXC reads them
lxc_view() {
	local conf=$1 outf=$2; shift 2
	mkdir -p "$(dirname "$outf")"
	{
		sed -n '/^\[/q; s/^\(lxc\.[^:]*\): /\1 = /p' "$conf"
		for m in "$@"; do echo "lxc.idmap = $m"; done
	} >"$outf"
}
# prestart ROOT NAME CONFIG [ARGS...]: the hook as LXC runs it; then SHELL
# (a command run in the same namespace, to look at what the hook made)
SHELL_AFTER=true
prestart() {
	local root=$1 name=$2 config=$3; shift 3
	out=$(unshare -m --propagation private env LXC_NAME="$name" LXC_HOOK_SECTION=lxc \
		LXC_HOOK_TYPE=pre-start LXC_CONFIG_FILE="$config" LXC_ROOTFS_PATH="${ROOTFS:-}" \
		bash -c '"$@" 2>"$0.stderr"; echo "rc=$?"; eval "$SHELL_AFTER"' "$TMP/.hook" \
		"$LXGPU" --sysroot "$root" hook "$@")
	rc=${out##*rc=}
	rc=${rc%%$'\n'*}
	after=${out#*rc=$rc}
	after=${after#$'\n'}
	err=$(cat "$TMP/.hook.stderr")
}
export SHELL_AFTER

# --- unprivileged: the render and card nodes with the container's group
intel=$(host pveintel intel-n100.spec pve.spec) && [ -d "$intel/etc/pve/lxc" ] || bail "mkhost"
printf 'arch: amd64\nhostname: t\nunprivileged: 1\n' >"$intel/etc/pve/lxc/104.conf"
run --sysroot "$intel" attach 104 --style raw --gid render=993,video=44
eq "attach unprivileged DRI: exit 0" "$rc" 0
lxc_view "$intel/etc/pve/lxc/104.conf" "$intel/var/lib/lxc/104/config" \
	"u 0 100000 65536" "g 0 100000 65536"
nodes="$intel/run/lxgpu/104/dev/dri"
SHELL_AFTER="stat -c '%n %F %t:%T %a %u:%g' $nodes/card0 $nodes/renderD128 | sed 's|^$intel||'; stat -f -c %T $intel/run/lxgpu/104; findmnt -n -o FSTYPE,OPTIONS $intel/run/lxgpu/104"
prestart "$intel" 104 /var/lib/lxc/104/config
eq "unprivileged nodes: exit 0, silent" "$rc-$err" "0-"
# host: card0 226:0 root:video 0660, renderD128 226:128 root:render 0660
# (intel-n100.spec); the container's root is host 100000, its render 993 is
# 100993 and its video 44 is 100044 (Proxmox's default map)
eq "unprivileged nodes: numbers and mode of the host's, owners through the idmap" \
	"$(sed -n 1,2p <<<"$after")" \
	"/run/lxgpu/104/dev/dri/card0 character special file e2:0 660 100000:100044
/run/lxgpu/104/dev/dri/renderD128 character special file e2:80 660 100000:100993"
eq "unprivileged nodes: on a tmpfs of their own" "$(sed -n 3p <<<"$after")" tmpfs
# the host's /run is nodev: nodes there could not be opened through a bind
lacks "unprivileged nodes: the tmpfs is not nodev" "$(sed -n 4p <<<"$after")" nodev
contains "unprivileged nodes: the tmpfs is nosuid" "$(sed -n 4p <<<"$after")" nosuid
check "unprivileged nodes: nothing left outside the hook's namespace" \
	test ! -e "$nodes/renderD128"

# a restart in the same namespace (plain LXC runs pre-start in the host's):
# the last start's tmpfs goes, one mount stays
SHELL_AFTER="\"\$@\" >/dev/null 2>&1; findmnt -n $intel/run/lxgpu/104 | wc -l; stat -c %g $nodes/renderD128"
prestart "$intel" 104 /var/lib/lxc/104/config
eq "second start in one namespace: exit 0" "$rc" 0
eq "second start in one namespace: one tmpfs, nodes made again" "$after" "1
100993"

# post-stop (attach wrote lxc.hook.post-stop beside pre-start): after a start
# in the same namespace, the tmpfs and its mount point go; run again, or with
# no tmpfs ever made, it does nothing and says nothing
grep -q "^lxc.hook.post-stop: $LXGPU --sysroot $intel hook\$" "$intel/etc/pve/lxc/104.conf" &&
	ok "attach unprivileged DRI: the post-stop hook line" ||
	not_ok "attach unprivileged DRI: the post-stop hook line"
poststop="env LXC_NAME=104 LXC_HOOK_SECTION=lxc LXC_HOOK_TYPE=post-stop $LXGPU --sysroot $intel hook"
SHELL_AFTER="\"\$@\" >/dev/null 2>&1; findmnt -n $intel/run/lxgpu/104 | wc -l; $poststop; echo post-stop=\$?; findmnt -n $intel/run/lxgpu/104 | wc -l; test -e $intel/run/lxgpu/104 && echo left || echo gone; $poststop; echo again=\$?"
prestart "$intel" 104 /var/lib/lxc/104/config
eq "post-stop after a start: the tmpfs unmounted, its mount point removed, twice fine" "$after" "1
post-stop=0
0
gone
again=0"
rm -rf "$intel/run/lxgpu"
out=$(env -i LXC_NAME=104 LXC_HOOK_SECTION=lxc LXC_HOOK_TYPE=post-stop \
	"$LXGPU" --sysroot "$intel" hook 2>&1)
eq "post-stop with no /run/lxgpu at all: exit 0, silent" "$?-$out" "0-"

# a map of its own: u 0 200000 65536, g 0 300000 65536
lxc_view "$intel/etc/pve/lxc/104.conf" "$intel/var/lib/lxc/104/config" \
	"u 0 200000 65536" "g 0 300000 65536"
SHELL_AFTER="stat -c %u:%g $nodes/renderD128 $nodes/card0"
prestart "$intel" 104 /var/lib/lxc/104/config
eq "own idmap: owners through it" "$rc $(tr '\n' ' ' <<<"$after")" "0 200000:300993 200000:300044 "
# a split map that passes the render group through from the host (the guide's
# subgid trick): g 0 100000 993, g 993 993 1, g 994 100994 64542
lxc_view "$intel/etc/pve/lxc/104.conf" "$intel/var/lib/lxc/104/config" \
	"u 0 100000 65536" "g 0 100000 993" "g 993 993 1" "g 994 100994 64542"
SHELL_AFTER="stat -c %u:%g $nodes/renderD128"
prestart "$intel" 104 /var/lib/lxc/104/config
eq "split idmap: the render group maps to the host's 993" "$rc $after" "0 100000:993"
# the render gid outside every range of the map: refused, nothing made
lxc_view "$intel/etc/pve/lxc/104.conf" "$intel/var/lib/lxc/104/config" \
	"u 0 100000 65536" "g 0 100000 500"
SHELL_AFTER="ls $nodes 2>&1 | wc -l"
prestart "$intel" 104 /var/lib/lxc/104/config
eq "unmapped group: exit 1" "$rc" 1
check "unmapped group: one line" one_line_error
contains "unmapped group: names the gid and the map" "$err" "gid 993 is not in its lxc.idmap"
# version 0 hooks: NAME SECTION TYPE as arguments, the rest from the environment
lxc_view "$intel/etc/pve/lxc/104.conf" "$intel/var/lib/lxc/104/config" \
	"u 0 100000 65536" "g 0 100000 65536"
SHELL_AFTER="stat -c %g $nodes/renderD128"
out=$(unshare -m --propagation private env LXC_CONFIG_FILE=/var/lib/lxc/104/config \
	bash -c '"$@" && eval "$SHELL_AFTER"' _ "$LXGPU" --sysroot "$intel" hook 104 lxc pre-start 2>&1)
eq "hook version 0 arguments: same nodes" "$out" 100993

# --- how it was called
SHELL_AFTER=true
bad() { # DESC NEEDLE ENV...
	local desc=$1 needle=$2; shift 2
	out=$(env -i PATH="$PATH" "$@" "$LXGPU" --sysroot "$intel" hook 2>"$TMP/.stderr")
	rc=$?
	err=$(cat "$TMP/.stderr")
	eq "$desc: exit 1" "$rc" 1
	check "$desc: one line" one_line_error
	contains "$desc: says why" "$err" "$needle"
}
base=(LXC_NAME=104 LXC_HOOK_SECTION=lxc LXC_HOOK_TYPE=pre-start)
bad "pre-start without LXC_CONFIG_FILE" "LXC_CONFIG_FILE is unset" "${base[@]}"
bad "pre-start with a relative config" "not an absolute path" "${base[@]}" LXC_CONFIG_FILE=config
bad "a name that is a path" "container name ../x" LXC_NAME=../x LXC_HOOK_SECTION=lxc \
	LXC_HOOK_TYPE=pre-start LXC_CONFIG_FILE=/var/lib/lxc/104/config
bad "a missing config" "/var/lib/lxc/nope/config" "${base[@]}" LXC_CONFIG_FILE=/var/lib/lxc/nope/config
bad "as a start hook" "(got start)" LXC_NAME=104 LXC_HOOK_SECTION=lxc LXC_HOOK_TYPE=start
out=$(env -i LXC_NAME=104 LXC_HOOK_SECTION=lxc LXC_HOOK_TYPE=post-stop \
	"$LXGPU" --sysroot "$intel" hook --guard 2>&1)
eq "--guard on the post-stop hook: exit 1" "$?" 1
contains "--guard on the post-stop hook: says where it belongs" "$out" \
	"--guard belongs on lxc.hook.pre-start, not post-stop"
out=$(env -i LXC_NAME=104 LXC_HOOK_SECTION=lxc LXC_HOOK_TYPE=mount LXC_ROOTFS_MOUNT=/tmp \
	"$LXGPU" --sysroot "$intel" hook --guard 2>&1)
eq "--guard on the mount hook: exit 1" "$?" 1
contains "--guard on the mount hook: says where it belongs" "$out" "--guard belongs on lxc.hook.pre-start"

# --- the guard, on the H100 host: a privileged container attached with --guard
h=$(host pveh100 h100-580.159.04.spec pve.spec) && [ -d "$h/etc/pve/lxc" ] || bail "mkhost"
printf 'arch: amd64\nhostname: g\n' >"$h/etc/pve/lxc/101.conf"
run --sysroot "$h" attach 101 --guard
eq "attach --guard: exit 0" "$rc" 0
eq "attach --guard: the pre-start hook line, with --guard" \
	"$(grep -c "^lxc.hook.pre-start: $LXGPU --sysroot $h hook --guard\$" "$h/etc/pve/lxc/101.conf")" 1
guarded() { lxc_view "$h/etc/pve/lxc/101.conf" "$h/var/lib/lxc/101/config"; }
guarded
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard, host and config agree: exit 0, silent" "$rc-$err" "0-"

# nodes missing after boot, majors registered: made as nvidia-modprobe makes them
rm "$h/dev/nvidia-uvm" "$h/dev/nvidia-uvm-tools" "$h/dev/nvidiactl"
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard, nodes missing: exit 0" "$rc-$err" "0-"
eq "guard, nodes missing: made with the driver's numbers and mode" \
	"$(stat -c '%n %t:%T %a %u:%g' "$h"/dev/nvidiactl "$h"/dev/nvidia-uvm "$h"/dev/nvidia-uvm-tools | sed "s|^$h||")" \
	"/dev/nvidiactl c3:ff 666 0:0
/dev/nvidia-uvm ee:0 666 0:0
/dev/nvidia-uvm-tools ee:1 666 0:0"

# the uvm major moves (238 -> 511) and the config is not synced: refused
cp "$h/proc/devices" "$TMP/devices.238"
sed -i 's/^238 nvidia-uvm$/511 nvidia-uvm/' "$h/proc/devices"
sha_before=$(sha "$h/etc/pve/lxc/101.conf")
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard, uvm major moved: refused, exit 1" "$rc" 1
check "guard, uvm major moved: one line" one_line_error
contains "guard, uvm major moved: names the hook and the container" "$err" "lxgpu: hook 101: refused: "
contains "guard, uvm major moved: says what no longer matches" "$err" "(511:0)"
contains "guard, uvm major moved: says how to fix it" "$err" ": run lxgpu sync 101"
# it repaired what it safely could: the stale nodes now carry the new major
eq "guard, uvm major moved: the stale nodes remade on 511" \
	"$(stat -c '%t:%T' "$h/dev/nvidia-uvm" "$h/dev/nvidia-uvm-tools" | tr '\n' ' ')" "1ff:0 1ff:1 "
unchanged "guard, uvm major moved: the config untouched" "$h/etc/pve/lxc/101.conf" "$sha_before"
# without --guard the hook has nothing to do for a privileged NVIDIA container
prestart "$h" 101 /var/lib/lxc/101/config
eq "no guard, uvm major moved: starts (the guard is opt-in)" "$rc-$err" "0-"
# after sync, LXC's view of the new config passes
run --sysroot "$h" sync 101
eq "sync after the move: exit 0" "$rc" 0
guarded
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard after sync: exit 0" "$rc-$err" "0-"

# a GPU recorded that this node does not have (a migration without it)
sed -i 's/^lxc.environment = LXGPU_DEVICES=.*/lxc.environment = LXGPU_DEVICES=GPU-00000000-1111-2222-3333-444444444444/' \
	"$h/var/lib/lxc/101/config"
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard, GPU not here: exit 1" "$rc" 1
check "guard, GPU not here: one line" one_line_error
contains "guard, GPU not here: names the GPU" "$err" \
	"refused: GPU GPU-00000000-1111-2222-3333-444444444444 is not on this node"
guarded

# a copied driver of another version in the container's directory rootfs
ROOTFS=$TMP/rootfs101
lib=$ROOTFS/usr/lib/x86_64-linux-gnu
mkdir -p "$lib" "$h$ROOTFS"
mkdir -p "$h$lib"
touch "$h$lib/libnvidia-ml.so.570.86.10"
ln -s libnvidia-ml.so.570.86.10 "$h$lib/libnvidia-ml.so.1"
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard, copied driver 570.86.10 on a 580.159.04 host: exit 1" "$rc" 1
contains "guard, copied driver: both versions and the fix" "$err" \
	"the container's driver is 570.86.10 (/usr/lib/x86_64-linux-gnu) but this host's kernel module is 580.159.04 (Driver/library version mismatch): run lxgpu sync 101"
ROOTFS=dir:$ROOTFS
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard, copied driver, a dir: rootfs path: refused too" "$rc" 1
ln -sfn libnvidia-ml.so.580.159.04 "$h$lib/libnvidia-ml.so.1"
touch "$h$lib/libnvidia-ml.so.580.159.04"
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard, copied driver of the host's version: exit 0" "$rc-$err" "0-"
# bind mode: the mount hook binds the host's files whatever the rootfs holds
ln -sfn libnvidia-ml.so.570.86.10 "$h$lib/libnvidia-ml.so.1"
echo "lxc.hook.mount = $LXGPU --sysroot $h hook" >>"$h/var/lib/lxc/101/config"
prestart "$h" 101 /var/lib/lxc/101/config --guard
eq "guard, bind mode: the rootfs's old files do not matter" "$rc-$err" "0-"
ROOTFS=
guarded

# detach removes the hook line with the rest
run --sysroot "$h" detach 101
eq "detach: exit 0" "$rc" 0
eq "detach: no hook line left" "$(grep -c 'hook' "$h/etc/pve/lxc/101.conf")" 0
cp "$TMP/devices.238" "$h/proc/devices"
done_testing
