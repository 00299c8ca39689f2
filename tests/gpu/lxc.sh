#!/bin/bash
# tests/gpu/lxc.sh: real LXC containers on the GPU machine, for the scenarios
# of tests/gpu/ (root, cgroup2 alone at /sys/fs/cgroup, no package registry,
# no LXC installed). LXC comes as Debian .deb files fetched on a build
# machine, unpacked into a prefix of its own:
#
#   lxc.sh fetch-debs DIR          (build machine, apt reaches Debian) the .debs into DIR
#   lxc.sh setup DIR               (GPU machine) unpack DIR/*.deb into $PREFIX
#   lxc.sh create NAME MODE [FRAG] a container; prints its config's path. MODE:
#          hostro   the rootfs binds the host's /usr, /etc and /opt read-only:
#                   the host's NVIDIA user-space driver is visible inside
#          overlay  a writable overlay of the host's root file system alone:
#                   no NVIDIA user-space driver inside, as in a new container
#          FRAG: a file of LXC config lines appended to the config
#   lxc.sh config NAME             the config's path (edit it, then start)
#   lxc.sh start NAME | stop NAME | destroy NAME
#   lxc.sh exec NAME -- CMD...     CMD inside, with a clean environment
#
# Run every command in one private mount namespace, so that the overlay and
# LXC's mounts go with it:
#   unshare -m --propagation private bash tests/gpu/run.sh
# Never unpack the .debs into /: Debian packages carry ./bin and ./sbin
# directories that would replace the image's merged-/usr symlinks, and the
# machine stops answering.
set -u
PREFIX=${GPU_LXC_PREFIX:-/opt/lxcroot}
LXCPATH=/var/lib/lxc
# the image's own libraries first; the prefix has what the image lacks (liblxc)
export PATH=$PREFIX/usr/bin:$PATH
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:$PREFIX/usr/lib/x86_64-linux-gnu:$PREFIX/lib/x86_64-linux-gnu
die() { echo "gpu lxc.sh: $*" >&2; exit 1; }

# LXC and the libraries it links that an Ubuntu image may lack or have older
DEBS="lxc liblxc1 liblxc-common libapparmor1 libseccomp2 libcap2 libselinux1 libpcre2-8-0"

# config NAME MODE: the container's config (binds per MODE); the device list
# is an allow-list of the standard nodes, as common.conf makes it
config() {
	local binds=
	[ "$2" = hostro ] && binds='lxc.mount.entry = /usr usr none rbind,ro 0 0
lxc.mount.entry = /etc etc none bind,ro 0 0
lxc.mount.entry = /opt opt none rbind,ro 0 0'
	cat <<CFG
lxc.uts.name = $1
lxc.rootfs.path = dir:$LXCPATH/$1/rootfs
lxc.net.0.type = empty
lxc.autodev = 1
lxc.pty.max = 10
lxc.mount.auto = proc:mixed sys:mixed
$binds
lxc.init.cmd = /usr/bin/sleep infinity
lxc.cgroup2.devices.deny = a
lxc.cgroup2.devices.allow = c 1:3 rwm
lxc.cgroup2.devices.allow = c 1:5 rwm
lxc.cgroup2.devices.allow = c 1:7 rwm
lxc.cgroup2.devices.allow = c 1:8 rwm
lxc.cgroup2.devices.allow = c 1:9 rwm
lxc.cgroup2.devices.allow = c 5:0 rwm
lxc.cgroup2.devices.allow = c 5:2 rwm
lxc.cgroup2.devices.allow = c 136:* rwm
CFG
}

cmd=${1:-}
shift || true
case $cmd in
fetch-debs)
	mkdir -p "${1:?DIR}" && cd "$1" || exit 1
	# shellcheck disable=SC2086 # a list of names
	apt-get download $DEBS
	;;
setup)
	mkdir -p "$PREFIX"
	for f in "${1:?DIR}"/*.deb; do dpkg -x "$f" "$PREFIX" || die "cannot unpack $f"; done
	# lxc-start's rootfs mount point (LXC_ROOTFS_MOUNT, built into liblxc) and its run dir
	mkdir -p "$LXCPATH" /run/lxc /usr/lib/x86_64-linux-gnu/lxc/rootfs
	lxc-start --version >/dev/null || die "lxc-start does not run from $PREFIX"
	[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || die "/sys/fs/cgroup is not cgroup2"
	;;
create)
	name=${1:?NAME} mode=${2:?MODE} frag=${3:-}
	c=$LXCPATH/$name
	r=$c/rootfs
	[ ! -e "$c" ] || die "$name exists"
	case $mode in
	hostro)
		mkdir -p "$r"/{usr,etc,opt,proc,sys,dev,tmp,root,run}
		for l in bin sbin lib lib64; do ln -s "usr/$l" "$r/$l"; done
		;;
	overlay)
		mkdir -p "$r" "$c/upper" "$c/work"
		mount -t overlay overlay -o "lowerdir=/,upperdir=$c/upper,workdir=$c/work" "$r" ||
			die "overlay mount failed"
		;;
	*) die "unknown mode $mode (hostro or overlay)" ;;
	esac
	config "$name" "$mode" >"$c/config"
	[ -z "$frag" ] || cat "$frag" >>"$c/config"
	echo "$c/config"
	;;
config) echo "$LXCPATH/${1:?NAME}/config" ;;
start)
	timeout 30 lxc-start -n "${1:?NAME}" -d -l INFO -o "/tmp/lxc-$1.log" &&
		lxc-wait -n "$1" -s RUNNING -t 10
	;;
exec)
	name=${1:?NAME}
	shift
	[ "${1:-}" != -- ] || shift
	timeout 120 lxc-attach -n "$name" --clear-env \
		--set-var PATH=/usr/local/nvidia/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -- "$@"
	;;
stop) timeout 20 lxc-stop -n "${1:?NAME}" -k ;;
destroy)
	name=${1:?NAME}
	c=$LXCPATH/$name
	lxc-stop -n "$name" -k >/dev/null 2>&1
	if mountpoint -q "$c/rootfs"; then umount "$c/rootfs"; fi
	[ ! -d "$c" ] || rm -rf --one-file-system "$c"
	;;
*)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
	exit 2
	;;
esac
