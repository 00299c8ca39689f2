#!/bin/bash
# README command 2 (and .ci/run): install what the tests need, then build with
# ASan + UBSan and run every test: unit tests (cmocka), CLI tests on fake hosts,
# real LXC containers, the benchmarks' short mode (bench/run.sh --short, suite
# bench: the harness works, no time judged), the Debian package, the same on
# Debian 13 (scripts/test-trixie.sh), fuzz smoke runs, and the format check.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/deps.sh"
# shellcheck disable=SC2086
need_packages $BUILD_PACKAGES libcmocka-dev jq bsdutils clang libclang-rt-14-dev clang-format \
	lxc busybox-static uidmap python3-jsonschema strace podman \
	build-essential debhelper dpkg-dev lintian groff-base man-db bash-completion tmux systemd
# promtool, for lxgpu metrics (tests/cli/metrics.sh skips its check without it)
need_packages prometheus || echo "prometheus (promtool) cannot be installed: lxgpu metrics is not checked by promtool" >&2

build=$here/build-test
[ -f "$build/build.ninja" ] ||
	meson setup "$build" "$here" -Dtests=enabled -Db_sanitize=address,undefined -Db_lundef=false >&2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C "$build" --print-errorlogs "$@"

# the Debian package: build, lintian, install, smoke run, removal, purge
# (scripts/package.sh; skips unless root); not when only some tests were asked for
[ $# -gt 0 ] || "$here/scripts/package.sh"

# Debian 13 / LXC 6.0, Proxmox VE 9's base: the build, the suites and the
# package again in a trixie root (scripts/test-trixie.sh; 1.5 min with its
# cached root, 3 to 6 without); LXGPU_SKIP_TRIXIE=1 leaves it out
if [ $# -eq 0 ] && [ -z "${LXGPU_SKIP_TRIXIE:-}" ]; then
	"$here/scripts/test-trixie.sh"
else
	echo "trixie: not run (LXGPU_SKIP_TRIXIE set, or only some tests asked for)"
fi

echo "fuzz smoke run (scripts/fuzz.sh SECONDS for long runs):"
"$here/scripts/fuzz.sh" 3

echo "format check (clang-format, .clang-format):"
clang-format --dry-run --Werror "$here"/src/*/*.[ch] "$here"/src/*/*/*.[ch] "$here"/tests/unit/*.c "$here"/tests/fuzz/*.c \
	"$here"/tests/prop/*.[ch] "$here"/tests/nvml/*.c \
	"$here"/bench/*.c
echo "format: ok"
