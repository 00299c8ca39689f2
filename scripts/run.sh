#!/bin/bash
# README command 1: install what lxgpu needs, build it, and run it (the status
# view, or the command given). On a machine with no GPU it runs on the bundled
# sample host: a fake root made from a capture of a real H100 host.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/deps.sh"
# shellcheck disable=SC2086
need_packages $BUILD_PACKAGES

build=$here/build
[ -f "$build/build.ninja" ] || meson setup "$build" "$here" --buildtype=release -Dtests=disabled >&2
meson compile -C "$build" >&2

lxgpu=$build/lxgpu
if "$lxgpu" discover --json | grep -q '"gpus": \[\]'; then
	sample=$build/sample-host
	if [ "$(id -u)" -ne 0 ]; then
		echo "no GPU on this machine, and the sample host needs root (mknod): run as root" >&2
		exit 1
	fi
	"$here/scripts/mkhost" "$here/tests/hosts/sample-host.spec" "$sample"
	echo "No GPU on this machine: lxgpu runs on the bundled sample host $sample"
	echo "(a fake root made from a real H100 host, driver 580.159.04; see tests/hosts/)."
	echo
	exec "$lxgpu" --sysroot "$sample" "$@"
fi
exec "$lxgpu" "$@"
