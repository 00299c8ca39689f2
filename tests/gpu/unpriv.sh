#!/bin/bash
# tests/gpu/unpriv.sh: an unprivileged container as Proxmox VE makes one:
# Proxmox's default idmap (container root = host uid 100000, 65536 ids) and a
# root filesystem whose directories belong to the container's root. Here the
# rootfs is tests/gpu/lxc.sh's "overlay" of the host's root (no NVIDIA
# user-space inside) whose upper layer holds usr, usr/lib/x86_64-linux-gnu,
# usr/bin, etc, root, tmp, var... owned by 100000: overlayfs takes a merged
# directory's owner from the upper layer.
#  1. healthy: `lxgpu attach --style raw` and `driver --mode bind`; the mount
#     hook, run by LXC as the container's root, binds the host's driver;
#     nvidia-smi -L and the CUDA matmul as root and as uid 1000 inside;
#     `check` and `doctor` exit 0, doctor's CUDA call inside is ok.
#  2. broken: usr/lib/x86_64-linux-gnu back to the host's root and the
#     hook's files of this driver gone (a root made by hand, then a driver
#     update): `check` and `doctor` exit 3 and name the fix (lxgpu sync CT);
#     the container still starts (before issue 17 the hook failed the start),
#     without the driver, and the hook's warning is in LXC's DEBUG log; after
#     `lxgpu sync` (it makes the files as the host's root) and a restart,
#     nvidia-smi and the matmul run again, check and doctor exit 0.
# The mount hook runs as host uid 100000: lxgpu runs from a copy in a tmpfs
# (0755, exec) of this mount namespace. Where the image has newuidmap without a range for
# root in /etc/subuid, it is covered in this mount namespace by an empty
# file, so that LXC (as root) writes the id maps itself, as it does where
# uidmap is not installed.
# Dry run without a GPU (what it can show): LXGPU_SYSROOT names a fake host of
# scripts/mkhost whose /var/lib/lxc is this machine's (bind-mounted), with its
# nodes mirrored in /dev, as tests/lxc/ does; nvidia-smi and the matmul then fail.
. "$(dirname "$0")/lib.sh"

ct=lxgpu-unpriv
c=/var/lib/lxc/$ct
root=$c/rootfs
upper=$c/upper
DEB=/usr/lib/x86_64-linux-gnu
U=100000 # the container's root on the host
USERID=1000
LOG=/tmp/lxc-$ct-debug.log

# a tmpfs of this mount namespace: 0755 and exec whatever /tmp's options are
bin=$(mktemp -d /tmp/lxgpu-unpriv.XXXXXX)
if ! mount -t tmpfs -o mode=0755,size=64m lxgpu-unpriv "$bin" ||
	! cp "$LXGPU" "$bin/lxgpu" || ! chmod 755 "$bin/lxgpu"; then
	echo "Bail out! cannot put $LXGPU in a tmpfs at $bin"
	exit 1
fi
LX=$bin/lxgpu
cleanup() {
	"$GPULXC" destroy "$ct" >/dev/null 2>&1
	for m in "${covered[@]}"; do umount "$m" 2>/dev/null; done
	umount "$bin" 2>/dev/null
	rmdir "$bin" 2>/dev/null
}
covered=()
trap cleanup EXIT

# newuidmap maps only ranges /etc/subuid gives the caller
for tool in newuidmap newgidmap; do
	p=$(command -v "$tool") || continue
	f=/etc/sub${tool#new}
	f=${f%map}
	grep -q "^root:$U:65536\$" "$f" 2>/dev/null && continue
	: >"$bin/empty"
	mount --bind "$bin/empty" "$p" && covered+=("$p")
	say "$p covered in this namespace ($f gives root no $U:65536): LXC writes the map itself"
done

# as_root / as_user CMD...: CMD inside as the container's root / as uid 1000
as_root() { "$GPULXC" exec "$ct" -- env HOME=/root "$@"; }
as_user() {
	timeout 120 lxc-attach -n "$ct" --clear-env --uid "$USERID" --gid "$USERID" \
		--set-var PATH=/usr/local/nvidia/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--set-var HOME=/tmp -- "$@"
}
start_ct() { # DESC [LOGLEVEL]: lxc-start, log in $LOG; its errors shown on failure
	local level=${2:-INFO}
	if timeout 30 lxc-start -n "$ct" -d -l "$level" -o "$LOG" && lxc-wait -n "$ct" -s RUNNING -t 10; then
		ok "$1"
	else
		not_ok "$1"
		grep -E 'ERROR|lxgpu' "$LOG" 2>/dev/null | tail -n 15 | sed 's/^/#   /'
	fi
}
stop_ct() { "$GPULXC" stop "$ct" >/dev/null 2>&1; }
exit_is() { # DESC WANT CMD...: CMD exits WANT; shows its output
	local desc=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$desc"; else not_ok "$desc (exit $rc, want $want)"; fi
	printf '%s\n' "$out" | sed 's/^/#   /'
	last=$out
}
has() { # DESC TEXT: the last exit_is's output holds TEXT
	case $last in *"$2"*) ok "$1" ;; *) not_ok "$1"; say "missing: $2" ;; esac
}
# upper_dirs: the upper layer's directories, the host's modes, owned by the
# container's root, as Proxmox's rootfs
upper_dirs() {
	local d
	chown "$U:$U" "$upper"
	chmod 755 "$upper"
	for d in usr usr/bin usr/sbin usr/lib usr/lib/x86_64-linux-gnu usr/local usr/local/bin \
		etc root tmp var var/tmp var/lib var/log home opt run; do
		if [ ! -d "/$d" ] || [ -L "/$d" ]; then continue; fi
		mkdir -p "$upper/$d"
		chmod "$(stat -c %a "/$d")" "$upper/$d"
		chown "$U:$U" "$upper/$d"
	done
}
remount() { # the overlay again: upper's changes seen afresh
	if mountpoint -q "$root"; then umount "$root" || return 1; fi
	mount -t overlay overlay -o "lowerdir=/,upperdir=$upper,workdir=$c/work" "$root"
}

# ---------------------------------------------------------------- setup ----
libcuda=$(ldconfig -p 2>/dev/null | awk '$1 == "libcuda.so.1" { print $NF; exit }')
say "host: libcuda.so.1 is ${libcuda:-not in ld.so.cache}; /dev: $(cd /dev && echo nvidia* | tr '\n' ' ')"
expect "this kernel gives root a user namespace" unshare --user --map-root-user id -u
if command -v setpriv >/dev/null; then
	expect "uid $U (the container's root) runs lxgpu and reads the host's driver version and libcuda" \
		setpriv --reuid $U --regid $U --clear-groups -- sh -c \
		"'$LX' --version && head -n 1 /proc/driver/nvidia/version &&
		{ [ -z '$libcuda' ] || { head -c 4 '$libcuda' >/dev/null && echo '$libcuda: readable'; }; }"
	expect "uid $((U + USERID)) (uid $USERID inside) imports torch" \
		setpriv --reuid $((U + USERID)) --regid $((U + USERID)) --clear-groups -- env HOME=/tmp \
		"$PY" -c 'import torch; print("torch", torch.__version__)'
fi

frag=$(mktemp)
printf 'lxc.idmap = u 0 %s 65536\nlxc.idmap = g 0 %s 65536\n' $U $U >"$frag"
"$GPULXC" destroy "$ct" >/dev/null 2>&1
conf=$("$GPULXC" create "$ct" overlay "$frag")
rm -f "$frag"
umount "$root" # the upper layer's directories first
upper_dirs
remount || not_ok "overlay mounted again"
expect "rootfs as Proxmox makes it: its dirs the container's root's, the host's files root's" \
	sh -c "stat -c '%n %u:%g %a' $root $root/usr/bin $root$DEB $root/etc $root/tmp $root/usr/bin/env
		test \"\$(stat -c %u $root$DEB)\" = $U && test \"\$(stat -c %u $root/usr/bin/env)\" = 0"
say "config: $conf"

# ------------------------------------------------------------ 1. healthy ----
exit_is "attach --style raw: exit 0" 0 "$LX" attach "$ct" --style raw
exit_is "driver --mode bind: exit 0" 0 "$LX" driver "$ct" --mode bind
case $last in *"may not create"*) not_ok "bind: nothing for the host's root to make (the dirs are the container's)" ;;
*) ok "bind: nothing for the host's root to make (the dirs are the container's)" ;; esac
host=$("$LX" --json check "$ct" 2>/dev/null | jq -r '.host_driver // empty')
say "host driver: ${host:-unknown}"
exit_is "check, stopped: exit 0" 0 "$LX" check "$ct"
start_ct "container starts (the hook binds the driver as uid $U)"
expect "the hook's files are the container's root's, bound read-only" sh -c \
	"stat -c '%n %u:%g' $upper$DEB/libcuda.so.$host
	test \"\$(stat -c %u $upper$DEB/libcuda.so.$host)\" = $U &&
	'$GPULXC' exec $ct -- grep ' $DEB/libcuda.so.$host ' /proc/self/mountinfo | grep -c ' ro,'"
expect "root inside: nvidia-smi -L" as_root nvidia-smi -L
expect "root inside: CUDA matmul" as_root "$PY" -c "$MATMUL"
expect "uid $USERID inside: id" as_user id
expect "uid $USERID inside: nvidia-smi -L" as_user nvidia-smi -L
expect "uid $USERID inside: CUDA matmul" as_user "$PY" -c "$MATMUL"
exit_is "check, running: exit 0" 0 "$LX" check "$ct"
exit_is "doctor: exit 0" 0 "$LX" doctor "$ct"
if "$LX" doctor "$ct" --json 2>/dev/null | jq -e '.containers[0].checks[] | select(.id == "cuda" and .status == "ok")' >/dev/null; then
	ok "doctor: the CUDA call inside is ok"
else not_ok "doctor: the CUDA call inside is ok"; fi
stop_ct

# ------------------------------------------------------------- 2. broken ----
# the library dir back to the host's root, and this driver's files gone, as
# after a driver update in a root made by hand
umount "$root"
find "$upper$DEB" -maxdepth 1 \( -name "*.so.$host" -o -lname "*.so.$host" \) -delete
chown 0:0 "$upper$DEB"
remount || not_ok "overlay mounted again"
say "$DEB: $(stat -c '%u:%g %a' "$root$DEB"), $(find "$root$DEB" -maxdepth 1 -name "*.so.$host" | wc -l) files of $host"
exit_is "broken, stopped: check exits 3" 3 "$LX" check "$ct"
has "check: says the container's root may not create them" "may not create $DEB/"
has "check: names the fix" "fix: lxgpu sync $ct"
exit_is "broken, stopped: doctor exits 3" 3 "$LX" doctor "$ct"
has "doctor: names the fix" "fix: lxgpu sync $ct"
rm -f "$LOG"
start_ct "broken: the container still starts (the hook skips the driver)" DEBUG
warning=$(grep -o "lxgpu: warning: hook $ct: .*" "$LOG" 2>/dev/null | head -n 1)
if [ -n "$warning" ]; then ok "broken: the hook's warning in LXC's DEBUG log"; else not_ok "broken: the hook's warning in LXC's DEBUG log"; fi
say "$warning"
refuse "broken: no driver inside, nvidia-smi fails" as_root nvidia-smi -L
exit_is "broken, running: check exits 3" 3 "$LX" check "$ct"
stop_ct

exit_is "the fix: lxgpu sync $ct" 0 "$LX" sync "$ct"
has "sync: made the files its root may not create" "made "
exit_is "fixed, stopped: check exits 0" 0 "$LX" check "$ct"
start_ct "fixed: container starts"
expect "fixed: root inside: nvidia-smi -L" as_root nvidia-smi -L
expect "fixed: root inside: CUDA matmul" as_root "$PY" -c "$MATMUL"
expect "fixed: uid $USERID inside: CUDA matmul" as_user "$PY" -c "$MATMUL"
exit_is "fixed: check exits 0" 0 "$LX" check "$ct"
exit_is "fixed: doctor exits 0" 0 "$LX" doctor "$ct"
stop_ct
done_testing
