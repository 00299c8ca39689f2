#!/bin/bash
# bench/selftest.sh BUILDDIR: bench/run.sh --short fails, saying why, when a
# benchmark errs. Each case runs it on a copy of BUILDDIR's helpers whose
# lxgpu is a wrapper that puts one fault (FAULT) into the real one:
#   sync-refuses   `sync --all` exits 1
#   half-written   `sync --all` leaves one config cut short
#   no-fsync       `sync --all` renames configs into place from temp files it
#                  never fsync'ed (bench-nofsync.so, BENCH_NOFSYNC; needs strace)
#   hook-fails     the mount hook exits 1
#   guard-refuses  the pre-start guard refuses the start
#   check-fails    `check` exits 3 (a command bench-harness times fails)
# and every case reports the figures its group owed as missing. TAP output;
# meson's suite bench runs it. Skips unless root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: bench/selftest.sh BUILDDIR}" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root"
	exit 0
fi
fake=$(mktemp -d /tmp/lxgpu-bench-selftest.XXXXXX)
trap 'rm -rf "$fake"' EXIT
mkdir "$fake/bench"
for f in bench-harness discover-floor bench-null sync-floor; do
	ln -s "$build/bench/$f" "$fake/bench/$f"
done
cat >"$fake/lxgpu" <<EOF
#!/bin/bash
real=$build/lxgpu
EOF
cat >>"$fake/lxgpu" <<'EOF'
case "${FAULT:-} $*" in
"sync-refuses "*"sync --all"*)
	echo "lxgpu: sync: refused (bench/selftest.sh)" >&2
	exit 1
	;;
"half-written "*"sync --all"*)
	"$real" "$@" || exit
	conf=$2/etc/pve/lxc/100.conf # $2: --sysroot's
	head -c 40 "$conf" >"$conf.cut" && mv "$conf.cut" "$conf"
	exit 0
	;;
"no-fsync "*"sync --all"*)
	# ASan wants its runtime first; the preloaded library comes before it
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 LD_PRELOAD=$BENCH_NOFSYNC \
		exec "$real" "$@"
	;;
"hook-fails "*" hook "*" mount") exit 1 ;;
"guard-refuses "*" hook --guard"*)
	echo "lxgpu: hook 101: refused (bench/selftest.sh)" >&2
	exit 1
	;;
"check-fails "*" check "*) exit 3 ;;
esac
exec "$real" "$@"
EOF
chmod +x "$fake/lxgpu"

n=0 failed=0
# expect GROUP FAULT MESSAGE...: run.sh exits 1 and its table's errors name every MESSAGE
expect() {
	local group=$1 fault=$2 out rc=0 m
	shift 2
	n=$((n + 1))
	out=$(FAULT=$fault BENCH_NOFSYNC=${BENCH_NOFSYNC:-} "$here/bench/run.sh" --short --only "$group" \
		--json "$fake/run.json" "$fake" 2>"$fake/stderr") || rc=$?
	for m in "$@" '"result": "error"'; do
		if ! grep -qF -- "$m" <<<"$out" && ! grep -qF -- "$m" "$fake/run.json"; then
			rc="$rc, no '$m'"
		fi
	done
	if [ "$rc" = 1 ]; then
		echo "ok $n - $fault: bench/run.sh fails"
	else
		echo "not ok $n - $fault: bench/run.sh fails (exit $rc)"
		failed=1
		printf "%s\n" "$out" | sed 's/^/# /'
		tail -n 20 "$fake/stderr" | sed 's/^/# /'
	fi
}

expect sync sync-refuses "sync --all exited 1: lxgpu: sync: refused" "figure sync.all missing"
expect sync half-written "1 configs not as sync must leave them" "figure sync.all missing"
if [ -n "${BENCH_NOFSYNC:-}" ] && [ ! -f "$BENCH_NOFSYNC" ]; then
	n=$((n + 1))
	echo "not ok $n - no-fsync: no $BENCH_NOFSYNC"
	failed=1
elif [ -n "${BENCH_NOFSYNC:-}" ] && command -v strace >/dev/null; then
	expect sync no-fsync "configs renamed into place from a file never fsync'ed" "figure sync.mixed missing"
else
	n=$((n + 1))
	echo "ok $n - no-fsync # SKIP no strace or no BENCH_NOFSYNC"
fi
expect hook hook-fails "the mount hook failed" "figure hook.bind missing"
expect hook guard-refuses "the guard refused the start: lxgpu: hook 101: refused" "figure hook.guard missing"
expect attach check-fails "failed: check (5 runs)" "figure rss.check missing"
echo "1..$n"
exit $failed
