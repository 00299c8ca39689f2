#!/bin/bash
# The Debian package, as CI makes it (scripts/test.sh runs this after the
# meson tests): build it with dpkg-buildpackage in a copy of the tree, lintian,
# install it, run it on the sample host, show that removal takes lxgpu's hooks
# out of the configs (and refuses when it cannot), then purge it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "package: SKIP: needs root (apt install and dpkg --purge of the package)"
	exit 0
fi
if dpkg-query -W -f='${Status}' lxgpu 2>/dev/null | grep -q 'install ok installed'; then
	echo "package: SKIP: an lxgpu package is installed on this machine already; not replacing it"
	exit 0
fi

work=$(mktemp -d /tmp/lxgpu-package.XXXXXX)
ct=/var/lib/lxc/lxgpu-package-test
installed=
# shellcheck disable=SC2317
cleanup() {
	[ -z "$installed" ] || dpkg --purge lxgpu >/dev/null 2>&1 || true
	rm -rf "$work" "$ct"
}
trap cleanup EXIT
# dpkg-buildpackage writes ../*.deb and obj-*/: never in the work tree
mkdir "$work/lxgpu"
(cd "$here" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$work/lxgpu"
echo "package: build (dpkg-buildpackage -us -uc -b)"
(cd "$work/lxgpu" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 ||
	{ tail -n 40 "$work/build.log"; echo "package: build failed"; exit 1; }
deb=$(ls "$work"/lxgpu_*.deb)
echo "package: built $(basename "$deb")"
dpkg-deb --contents "$deb" | awk '{print "package:   " $NF}'

echo "package: lintian"
lintian --fail-on error "$deb" | sed 's/^/package:   /'
echo "package: lintian: no errors"

echo "package: install"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log"; exit 1; }
installed=1
echo "package: smoke: $(lxgpu --version)"
[ "$(command -v lxgpu)" = /usr/bin/lxgpu ]
sample=$work/sample-host
"$here/scripts/mkhost" "$here/tests/hosts/sample-host.spec" "$sample"
lxgpu --sysroot "$sample" discover | sed 's/^/package:   /'
lxgpu --sysroot "$sample" --json discover | grep -q '"GPU-14d254be-3087-0aa8-a7aa-03759525cf2f"'
# installed: each one a check (a missing file ends the run)
have() { [ -f "$1" ] || { echo "package: $1 is not installed"; exit 1; }; echo "package: installed $1"; }
have "$(man -w lxgpu)"
have /usr/share/bash-completion/completions/lxgpu
have /lib/systemd/system/lxgpu-sync.service
have /lib/systemd/system/lxgpu-sync-quorum.service
have /usr/share/lxgpu/start-host.conf

# removal with a container that runs lxgpu's hook: refused while its config
# cannot be edited (over the 1 MiB lxgpu edits), then the hook line taken
# out and the rest kept
mkdir -p "$ct"
{ printf 'lxc.uts.name = lxgpu-package-test\nlxc.hook.mount = /usr/bin/lxgpu hook\n'; head -c 1100000 /dev/zero | tr '\0' '\n'; } >"$ct/config"
if dpkg --remove lxgpu >"$work/remove.log" 2>&1; then
	cat "$work/remove.log"; echo "package: removal went on past a config it could not edit"; exit 1
fi
sed 's/^/package:   /' "$work/remove.log"
[ -x /usr/bin/lxgpu ] || { echo "package: lxgpu went although the prerm refused"; exit 1; }
echo "package: prerm refused: lxgpu stays while a hook cannot be removed"
printf 'lxc.uts.name = lxgpu-package-test\nlxc.hook.mount = /usr/bin/lxgpu hook\n' >"$ct/config"
echo "package: purge"
dpkg --purge lxgpu 2>&1 | sed 's/^/package:   /'
[ "$(cat "$ct/config")" = "lxc.uts.name = lxgpu-package-test" ] ||
	{ cat "$ct/config"; echo "package: the hook line is still there"; exit 1; }
echo "package: prerm removed the hook line: $ct/config is 'lxc.uts.name = lxgpu-package-test'"
if [ -e /usr/bin/lxgpu ] || dpkg-query -W -f='${Status}' lxgpu 2>/dev/null | grep -q installed; then
	echo "package: lxgpu still installed after purge"; exit 1
fi
installed=
echo "package: purged: no /usr/bin/lxgpu, no package"
echo "package: ok"
