#!/bin/bash
# test-trixie.sh: lxgpu on Debian 13 "trixie", the base of Proxmox VE 9, in a
# root of its own on this machine (the host's kernel runs trixie's LXC 6.0 and
# its containers). As root:
#   1. a trixie root from Debian's package registry (mmdebstrap, its default
#      mirror) with what the build and the tests need, kept in
#      $LXGPU_TRIXIE_ROOT (default /var/cache/lxgpu-test/trixie) and made
#      again only when the package list below changes or LXGPU_TRIXIE_FRESH=1;
#   2. in it, on a copy of this tree: trixie's gcc builds lxgpu with -Werror
#      (the project's werror=true); the unit, CLI and real-LXC suites run
#      (meson test); scripts/package.sh builds the .deb, runs lintian,
#      installs it, runs it, removes and purges it.
# Prints the compiler, LXC and Debian versions, meson's results and the time
# taken. Exits 0 (after "SKIP") when not root.
#
# The root is entered in a private mount namespace, with its own /proc, a
# sysfs with cgroup2 alone at /sys/fs/cgroup (the layout of Proxmox VE 9,
# whatever this host has), tmpfs /run and /tmp, and this host's /dev: the
# real-LXC tests make their fake NVIDIA nodes there, so they take the host's
# lock and list (tests/lxc/lib.sh), through the host's /run bound at
# /run/host. It is entered with pivot_root, not chroot: the kernel refuses a
# new user namespace (an unprivileged container) to a chrooted process, and
# lxc-start pivots into each container's root, which needs the trixie root
# to be the namespace's root mount.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "test-trixie: SKIP: needs root (mmdebstrap, mounts, pivot_root)"
	exit 0
fi
# shellcheck source-path=SCRIPTDIR source=deps.sh
. "$here/scripts/deps.sh"
need_packages mmdebstrap git

root=${LXGPU_TRIXIE_ROOT:-/var/cache/lxgpu-test/trixie}
# scripts/test.sh's packages as trixie names them, less the fuzzer's and the
# format check's (they run on the host), plus what a minimal root lacks;
# systemd-dev has systemd.pc, where meson finds trixie's unit directory
# (/usr/lib/systemd/system: /lib is an alias there, which lintian refuses)
packages=(meson ninja-build gcc pkg-config libjansson-dev libcurl4-openssl-dev python3
	libcmocka-dev jq bsdutils python3-jsonschema podman tmux groff-base man-db bash-completion
	build-essential debhelper dpkg-dev lintian lxc busybox-static uidmap
	systemd systemd-dev util-linux mount procps strace git ca-certificates)
start=$(date +%s)
say() { echo "test-trixie: $*"; }

mkdir -p "$(dirname "$root")"
exec 8>"$root.lock" # one run at a time makes and uses the root
flock -w 1800 8 || { say "another run holds $root.lock"; exit 1; }

# ------------------------------------------------------------ the root ----
stamp=$root/etc/lxgpu-test-packages
want=$(printf '%s\n' "${packages[@]}")
if [ "${LXGPU_TRIXIE_FRESH:-}" = 1 ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	say "making a trixie root in $root (mmdebstrap --variant=apt)"
	# never rm -rf through a mount (the runs mount in a namespace of their own)
	if grep -qF " $root" /proc/self/mountinfo; then say "something is mounted below $root"; exit 1; fi
	rm -rf "$root.new"
	if ! mmdebstrap --variant=apt --include="$(IFS=,; echo "${packages[*]}")" trixie "$root.new" \
		>"$root.log" 2>&1; then
		tail -n 30 "$root.log"
		say "mmdebstrap failed (log: $root.log)"
		exit 1
	fi
	printf '%s\n' "$want" >"$root.new/etc/lxgpu-test-packages"
	rm -rf "$root"
	mv "$root.new" "$root"
	say "root made in $(($(date +%s) - start)) s"
else
	say "using the trixie root in $root (LXGPU_TRIXIE_FRESH=1 makes it again)"
fi

# -------------------------------------------------- this tree, copied in ----
src=$root/src/lxgpu
rm -rf "$root/src"
mkdir -p "$src"
chmod 755 "$root/src" "$src" # an unprivileged container's hook (uid 100000) runs lxgpu from here
(cd "$here" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$src"

# ------------------------------------------------------------- in it ----
# shellcheck disable=SC2016 # expanded by the shells that run it
inner='set -euo pipefail
cd /src/lxgpu
# scripts/package.sh copies the tree with git ls-files
git init -q && git add -A
echo "test-trixie: Debian $(cat /etc/debian_version), $(gcc --version | head -n 1), LXC $(lxc-start --version), meson $(meson --version)"
echo "test-trixie: build (werror=true)"
meson setup build . -Dtests=enabled >build-setup.log 2>&1 || { cat build-setup.log; exit 1; }
ninja -C build >build.log 2>&1 || { cat build.log; exit 1; }
[ "$(meson introspect build --buildoptions | jq -r ".[] | select(.name == \"werror\") | .value")" = true ] ||
	{ echo "test-trixie: the build does not have werror on"; exit 1; }
echo "test-trixie: meson test (unit, cli, lxc)"
rc=0
meson test -C build --print-errorlogs --suite unit --suite cli --suite lxc || rc=1
echo "test-trixie: skipped suites: $(grep -c "^1\.\.0 # SKIP" build/meson-logs/testlog.txt || true)"
grep -B1 "^1\.\.0 # SKIP" build/meson-logs/testlog.txt | sed "s/^/test-trixie:   /" || true
scripts/package.sh || rc=1
exit $rc'
rc=0
# shellcheck disable=SC2016 # its own arguments
unshare -m --propagation private -- bash -c '
	set -e
	r=$1 inner=$2
	mount --bind "$r" "$r"
	mount -t proc proc "$r/proc"
	mount -t sysfs sysfs "$r/sys"
	mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup"
	mount --rbind /dev "$r/dev"
	mount -t tmpfs -o mode=755 tmpfs "$r/run"
	mkdir "$r/run/host"
	mount --bind /run "$r/run/host"
	mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
	cd "$r"
	mkdir -p .host-root
	pivot_root . .host-root
	umount -l /.host-root
	exec /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		LXGPU_LXC_TEST_RUN=/run/host bash -c "$inner"' sh "$root" "$inner" || rc=$?
say "$( ((rc == 0)) && echo ok || echo "FAILED (exit $rc)"), $(($(date +%s) - start)) s in all"
exit $rc
