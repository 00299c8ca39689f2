# shellcheck shell=bash
# TAP helpers shared by tests/cli/lib.sh, tests/lxc/lib.sh and tests/gpu/lib.sh (sourced).
tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
diag() { sed 's/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }

# eq DESC ACTUAL EXPECTED (with the last command's $err, when a test keeps one)
eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"
		printf 'got:      %s\nexpected: %s\n' "$2" "$3" | diag
		[ -z "${err:-}" ] || printf 'stderr: %s\n' "$err" | diag
	fi
}
# contains DESC HAYSTACK NEEDLE
contains() {
	case $2 in
	*"$3"*) ok "$1" ;;
	*) not_ok "$1"; printf 'missing: %s\nin: %s\n' "$3" "$2" | diag ;;
	esac
}
# lacks DESC HAYSTACK NEEDLE
lacks() {
	case $2 in
	*"$3"*) not_ok "$1"; printf 'unexpected: %s\n' "$3" | diag ;;
	*) ok "$1" ;;
	esac
}
